"""Tests that kill mutants `make mutate` found alive (docs/mutation.md)."""

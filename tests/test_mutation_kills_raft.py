"""Tests that kill mutants of Raft's invariants, log and node (docs/mutation.md): one rule each, named by what it guards."""

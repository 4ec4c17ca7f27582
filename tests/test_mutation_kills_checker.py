"""Tests that kill mutants of the linearizability checker and the network (docs/mutation.md): one rule each, named by what it guards."""

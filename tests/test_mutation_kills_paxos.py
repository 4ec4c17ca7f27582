"""Tests that kill mutants of Paxos and its ballot helpers (docs/mutation.md): one rule each, named by what it guards."""

"""What the explorer tests share: finding a protocol, and the shortest-counterexample check.

(Not a test file: ``test_explore_protocols.py`` and ``test_explore_deep.py`` import it.)
"""

from __future__ import annotations

import importlib

from consensus_lab.explore import explore

# The twins whose shortest counterexample is 10-11 steps deep (tested in test_explore_deep.py).
# (module, variant, broken invariant, shortest counterexample length)
DEEP_TWINS = [
    # n3 promises n2's ballot, restarts and forgets, then accepts n1's lower ballot
    ("paxos", "forget-promise", "at most one value is chosen", 10),
    # n1 retries with a higher ballot; its own (first) promise reports its old value, not n2's
    ("paxos", "first-promise", "at most one value is chosen", 11),
    # a stale empty AppendEntries cuts n2's committed entry; n2 then wins term 2 without it
    ("raft", "stale-truncate", "leader completeness", 10),
]

# The twins found in the network of partitions (their setups choose it): a step is an
# election, a client command or a cut link (tested in test_explore_partitions.py).
PARTITION_TWINS = [
    # figure 8: leaders in terms 1 to 4, n1 - n2 cut; a term-1 entry counted committed, then lost
    ("raft", "commit-previous-term", "leader completeness", 7),
    # n1 leads, n1 - n2 cut, x=1 chosen on {n1, n3}; n2 leads and puts x=2 in the same slot
    ("multipaxos", "no-recovery", "one value per slot", 5),
    # n1 leads, n1 - n2 cut, n2 leads and writes x=2; n1, deposed unawares, reads x locally
    ("multipaxos", "local-read", "reads are not stale", 5),
]


def spec_of(module: str):
    """The first spec of ``consensus_lab.protocols.<module>`` (a missing module is an error)."""
    return importlib.import_module(f"consensus_lab.protocols.{module}").SPECS[0]


def check_shortest_counterexample(module: str, variant: str, broken: str, length: int):
    """BFS breaks ``broken`` after exactly ``length`` steps; the counterexample replays as a Run."""
    r = explore(spec_of(module), variant=variant, progress=False, time_budget=None)
    assert r.verdict == "violation", r.summary()
    assert r.violation.invariant == broken, r.summary()
    assert r.counterexample_length == length, r.summary()
    run = r.counterexample
    assert run.violations and run.violations[0].invariant == broken
    return r

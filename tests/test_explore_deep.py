"""The broken twins whose shortest counterexample is 10-11 steps deep.

Breadth-first search visits 150,000-250,000 states for each (one to two
minutes of CPU), so they live in a file of their own: ``make test`` runs the
test files in parallel, one file per worker.
"""

from __future__ import annotations

import importlib

import pytest

from consensus_lab.explore import explore

# (module, variant, broken invariant, shortest counterexample length)
DEEP_TWINS = [
    # n3 promises n2's ballot, restarts and forgets, then accepts n1's lower ballot
    ("paxos", "forget-promise", "at most one value is chosen", 10),
    # n1 retries with a higher ballot; its own (first) promise reports its old value, not n2's
    ("paxos", "first-promise", "at most one value is chosen", 11),
    # a stale empty AppendEntries cuts n2's committed entry; n2 then wins term 2 without it
    ("raft", "stale-truncate", "leader completeness", 10),
]


def check_shortest_counterexample(module: str, variant: str, broken: str, length: int):
    """BFS breaks ``broken`` after exactly ``length`` steps; the counterexample replays as a Run."""
    try:
        spec = importlib.import_module(f"consensus_lab.protocols.{module}").SPECS[0]
    except ModuleNotFoundError:
        pytest.skip(f"protocol module {module} has not landed")
    r = explore(spec, variant=variant, progress=False)
    assert r.verdict == "violation", r.summary()
    assert r.violation.invariant == broken, r.summary()
    assert r.counterexample_length == length, r.summary()
    run = r.counterexample
    assert run.violations and run.violations[0].invariant == broken
    return r


@pytest.mark.slow
@pytest.mark.parametrize("module, variant, broken, length", DEEP_TWINS, ids=[f"{m}-{v}" for m, v, *_ in DEEP_TWINS])
def test_bfs_finds_the_shortest_counterexample_of_each_deep_twin(module, variant, broken, length):
    check_shortest_counterexample(module, variant, broken, length)

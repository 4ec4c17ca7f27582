"""The explorer against the course's protocols: every broken twin is caught.

Breadth-first search returns a shortest counterexample, so each twin's
counterexample length is pinned here together with the invariant it breaks
(the lengths were also derived by hand: see the comments).  The correct
protocols explore the same bounded space without a violation.

Bounds come from each protocol's exploration setup
(:mod:`consensus_lab.explore.setups`); twins whose shortest counterexample is
deep (more than ~10 steps) are searched with the setup's narrower bounds.
"""

from __future__ import annotations

import importlib

import pytest

from consensus_lab.explore import explore
from consensus_lab.testing import stress_mode


def spec_of(module: str):
    try:
        mod = importlib.import_module(f"consensus_lab.protocols.{module}")
    except ModuleNotFoundError:
        pytest.skip(f"protocol module {module} has not landed")
    return mod.SPECS[0]


# (module, variant, broken invariant, shortest counterexample length)
TWINS = [
    # acknowledged before stored: the add, then a crash of the node that took it
    ("broadcast", "ack-before-store", "durability", 2),
    # the coordinator's first retry tick is its vote deadline: the request, the tick
    ("twopc", "timeout-commit", "validity", 2),
    # request, 2 prepares, 2 votes (commit at n1), n2's ask timer: n2 aborts alone
    ("twopc", "uncertain-abort", "atomicity", 6),
    # n2 votes yes, crashes and forgets, so the Commit it gets finds no vote: abort
    ("twopc", "no-vote-log", "atomicity", 8),
    # commit not logged: crash and restart n1, then an uncertain n2 asks and hears abort
    ("twopc", "no-decision-log", "decisions are final", 9),
    # n1's own acceptor accepts and one promise arrives: n1 learns alone
    ("paxos", "minority-learner", "only a chosen value is learned", 3),
    # v-n1 chosen by {n1, n2}; n2's higher ballot learns of it and proposes v-n2 anyway
    ("paxos", "ignore-accepted", "at most one value is chosen", 8),
    # n2 votes for n1, crashes, forgets; n3 wins the same term with n2's second vote
    ("raft", "volatile-vote", "election safety", 8),
    # an entry commits on {n1, n3}; n2, which lacks it, wins term 2 anyway
    ("raft", "no-up-to-date-check", "leader completeness", 9),
]

# shortest counterexamples that need BFS to depth 10-11: 150,000-250,000 states and one
# to two minutes each, so they run with the stress batteries (make stress)
DEEP_TWINS = [
    # n3 promises n2's ballot, restarts and forgets, then accepts n1's lower ballot
    ("paxos", "forget-promise", "at most one value is chosen", 10),
    # n1 retries with a higher ballot; its own (first) promise reports its old value, not n2's
    ("paxos", "first-promise", "at most one value is chosen", 11),
    # a stale empty AppendEntries cuts n2's committed entry; n2 then wins term 2 without it
    ("raft", "stale-truncate", "leader completeness", 10),
]


@pytest.mark.parametrize("module, variant, broken, length", TWINS, ids=[f"{m}-{v}" for m, v, *_ in TWINS])
def test_bfs_finds_the_shortest_counterexample_of_each_twin(module, variant, broken, length):
    spec = spec_of(module)
    r = explore(spec, variant=variant, progress=False)
    assert r.verdict == "violation", r.summary()
    assert r.violation.invariant == broken, r.summary()
    assert r.counterexample_length == length, r.summary()
    run = r.counterexample
    assert run.violations and run.violations[0].invariant == broken
    assert len([e for e in run.trace if e.kind not in ("start", "send", "reply", "complete", "invoke")]) >= length


@pytest.mark.slow
@pytest.mark.skipif(not stress_mode(), reason="BFS to depth 10-11 takes minutes: runs in make stress")
@pytest.mark.parametrize("module, variant, broken, length", DEEP_TWINS, ids=[f"{m}-{v}" for m, v, *_ in DEEP_TWINS])
def test_deep_twins(module, variant, broken, length):
    spec = spec_of(module)
    r = explore(spec, variant=variant, progress=False)
    assert r.verdict == "violation" and r.violation.invariant == broken
    assert r.counterexample_length == length


@pytest.mark.parametrize(
    "module, depth",
    [("broadcast", 8), ("twopc", 8), ("paxos", 7), ("raft", 6)],
)
def test_correct_protocols_survive_the_bounded_search(module, depth):
    spec = spec_of(module)
    r = explore(spec, depth=depth, progress=False)
    assert r.verdict == "no violation", r.summary()
    assert r.complete and r.states > 100
    reached = [g for g, d in r.goals.items() if d is not None]
    assert reached, r.summary()  # progress is possible within the bounds


def test_dfs_and_random_walks_find_twopc_bugs_too():
    spec = spec_of("twopc")
    bfs = explore(spec, variant="uncertain-abort", progress=False)
    for strategy in ("dfs", "random"):
        r = explore(spec, variant="uncertain-abort", strategy=strategy, seed=1, walks=2000, progress=False)
        assert r.verdict == "violation"
        assert r.counterexample_length >= bfs.counterexample_length


def test_twopc_counterexample_replays_and_draws():
    from consensus_lab.explore import replay
    from consensus_lab.viz.spacetime import plot_spacetime

    spec = spec_of("twopc")
    r = explore(spec, variant="no-vote-log", progress=False)
    again = replay(spec, r.path, variant="no-vote-log")
    assert again.trace_hash == r.counterexample.trace_hash
    assert [e.kind for e in again.trace].count("crash") == 1
    fig = plot_spacetime(r.counterexample)
    assert fig.axes


def test_every_registered_variant_is_listed_here_or_known():
    """A new broken twin should get a pinned counterexample above."""
    from consensus_lab import protocols

    covered = {(m, v) for m, v, *_ in TWINS + DEEP_TWINS}
    known_open = {
        ("broadcast", "no-retry"),  # a liveness bug: no safety invariant breaks
        ("raft", "commit-previous-term"),  # the figure-8 schedule: beyond these bounds
    }
    by_module = {"broadcast": "broadcast", "twopc": "twopc", "paxos": "paxos", "raft": "raft"}
    for name, module in by_module.items():
        try:
            spec = protocols.get(name)
        except KeyError:
            continue
        for variant in list(spec.variants)[1:]:
            assert (module, variant) in covered | known_open, f"{name} {variant} has no explorer test"


@pytest.mark.parametrize("module, depth", [("twopc", 5), ("paxos", 4), ("raft", 4)])
def test_fast_state_handling_agrees_with_deep_copies(module, depth):
    """The invariants of these protocols remember (observers, monitors, watch caches):
    deep copies of everything, printed fingerprints and the explorer's own handling
    must still see exactly the same states and transitions."""
    from consensus_lab.explore.naive import NaiveWorld

    spec = spec_of(module)
    fast = explore(spec, depth=depth, progress=False)
    naive = explore(spec, depth=depth, progress=False, world_class=NaiveWorld)
    assert (fast.states, fast.transitions, fast.goals) == (naive.states, naive.transitions, naive.goals)

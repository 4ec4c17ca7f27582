"""The explorer against the course's protocols: every broken twin is caught.

Breadth-first search returns a shortest counterexample, so each twin's
counterexample length is pinned here together with the invariant it breaks
(the lengths were also derived by hand: see the comments); the twins whose
shortest counterexample is 10-11 steps deep are in ``test_explore_deep.py``.  The correct
protocols explore the same bounded space without a violation.

Bounds come from each protocol's exploration setup
(:mod:`consensus_lab.explore.setups`); twins whose shortest counterexample is
deep (more than ~10 steps) are searched with the setup's narrower bounds.
"""

from __future__ import annotations

import pytest
from explore_twins import DEEP_TWINS, PARTITION_TWINS, check_shortest_counterexample, spec_of

from consensus_lab.explore import explore

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
    # the article's sketches: n3 flips yes and commits on its own yes, before n2 has voted
    ("twopc", "article", "validity", 2),
    # ... n1's own acceptor promises and accepts its value, and one Accepted decides
    ("paxos", "article", "only a chosen value is learned", 1),
    # ... n1 wins term 1 with n2's vote; n1, already leader, votes for n3 in the same term
    ("raft", "article", "election safety", 6),
    # n1's election (timer, Prepare to n2, Promise), then the write: n1's own Accepted is enough
    ("multipaxos", "minority-commit", "replicas learn only chosen commands", 4),
]

@pytest.mark.parametrize("module, variant, broken, length", TWINS, ids=[f"{m}-{v}" for m, v, *_ in TWINS])
def test_bfs_finds_the_shortest_counterexample_of_each_twin(module, variant, broken, length):
    r = check_shortest_counterexample(module, variant, broken, length)
    run = r.counterexample
    assert len([e for e in run.trace if e.kind not in ("start", "send", "reply", "complete", "invoke")]) >= length


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

    covered = {(m, v) for m, v, *_ in TWINS + DEEP_TWINS + PARTITION_TWINS}
    known_open = {
        ("broadcast", "no-retry"),  # a liveness bug: no safety invariant breaks
        ("raft", "log-by-reference"),  # guards the storage copy: the battery's persist scenario finds it
    }
    by_module = {"broadcast": "broadcast", "twopc": "twopc", "paxos": "paxos", "multi-paxos": "multipaxos",
                 "raft": "raft"}
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


# Raft's figure 8 in three nodes, step by step: n1 leads term 1 and appends x=1
# (nobody else gets it); n2 leads term 2 with n3's vote and appends x=2; n1 wins
# term 3 with n3's vote and copies x=1 to n3 -- stored on a majority, but of an
# earlier term; n2 then wins term 4 with n3's vote (its last term, 2, beats 1).
FIGURE_8 = [
    ("timer", "n1", None), ("deliver", "n2", "RequestVote"),
    ("deliver", "n1", "RequestVoteReply"), ("request", "n1", None),
    ("timer", "n2", None), ("deliver", "n3", "RequestVote"), ("deliver", "n2", "RequestVoteReply"),
    ("request", "n2", None), ("deliver", "n1", "RequestVote"),
    ("timer", "n1", None), ("deliver", "n3", "RequestVote"), ("deliver", "n1", "RequestVoteReply"),
    ("deliver", "n3", "AppendEntries"), ("deliver", "n1", "AppendEntriesReply"),
    ("deliver", "n3", "AppendEntries"), ("deliver", "n1", "AppendEntriesReply"),
    ("deliver", "n2", "RequestVote"), ("timer", "n2", None), ("deliver", "n3", "RequestVote"),
    ("deliver", "n2", "RequestVoteReply"),
]


def _walk(world, plan):
    """Follow ``plan`` (kind, node, message type); among equal candidates take the
    newest message (highest term, most entries).  Returns the first problem and its step."""
    s = world.initial()
    for k, (kind, node, mtype) in enumerate(plan, 1):
        cands = []
        for a in world.actions(s):
            st = world.describe(s, a)
            if st.kind == kind and st.node == node and (mtype is None or type(st.msg).__name__ == mtype):
                m = st.msg
                cands.append(((getattr(m, "term", 0), len(getattr(m, "entries", ()) or ())), a))
        if not cands:
            return ("no such step", f"step {k}: {kind} at {node}"), k
        s = world.step(s, max(cands, key=lambda c: c[0])[1])
        problem = world.check(s)
        if problem is not None:
            return problem, k
    return None, len(plan)


@pytest.mark.parametrize("variant", ["commit-previous-term", "correct"])
def test_the_figure_8_schedule_is_in_the_explorers_space(variant):
    """BFS over single deliveries cannot reach 20 steps deep, but the schedule is in
    that space: the twin breaks leader completeness at its last step, the correct
    Raft never.  (Breadth-first search finds figure 8 in the network of partitions.)"""
    from consensus_lab.explore import make_world

    spec_of("raft")
    _, setup = make_world("raft", variant="commit-previous-term")  # two writes, elections only
    world, _ = make_world("raft", variant=variant, setup=setup, network="async", faults=0)
    problem, step = _walk(world, FIGURE_8)
    if variant == "correct":
        assert problem is None, problem
    else:
        assert problem is not None and problem[0] == "leader completeness", problem
        assert step == len(FIGURE_8) == 20

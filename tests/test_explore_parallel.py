"""Breadth-first search on several processes finds what one process finds.

The parallel search (``workers=2``) splits each level's frontier between
forked workers and merges their successors in the serial order, so every
figure of the result -- states, transitions, depth, verdict, the shortest
counterexample step by step, goals -- must be the serial search's.
"""

from __future__ import annotations

import json

import pytest

from consensus_lab.explore import explore

CASES = [
    dict(protocol="twopc", nodes=3, depth=6),  # exhausts its bound
    dict(protocol="paxos", nodes=3, depth=5),
    dict(protocol="paxos", nodes=3, depth=5, reduction="sleep-sets"),
    dict(protocol="twopc", variant="uncertain-abort"),  # a violation, 6 steps
    dict(protocol="multi-paxos", variant="no-recovery"),  # a violation in the network of partitions
    dict(protocol="twopc", nodes=3, depth=6, goal="a transaction committed"),  # stops at a goal
    dict(protocol="paxos", nodes=3, depth=5, max_states=700),  # stops at the state budget
]


def _answer(r) -> tuple:
    return (r.verdict, r.states, r.transitions, r.transitions_avoided, r.depth, r.frontier_left,
            r.depth_complete, r.complete, r.counterexample_length, [str(s) for s in r.path], r.goals,
            r.violation.invariant if r.violation else None)


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_two_workers_find_what_one_finds(kw):
    serial = explore(progress=False, time_budget=None, **kw)
    parallel = explore(progress=False, time_budget=None, workers=2, **kw)
    assert _answer(parallel) == _answer(serial)
    assert parallel.workers == 2 and serial.workers == 1
    if serial.verdict == "no violation" and kw.get("goal") is None:
        assert len(parallel.worker_cpu) == 2  # the frontier really was split between two processes
    if serial.verdict == "violation":
        run = parallel.counterexample
        assert run is not None and run.violations[0].invariant == serial.violation.invariant


def test_parallel_search_keeps_its_time_budget():
    r = explore("raft", depth=12, progress=False, time_budget=0.5, workers=2)
    assert r.verdict == "budget exhausted"
    assert r.depth_complete is not None and r.depth_complete < 12


@pytest.mark.parametrize("bad", [0, -1, True, "2", 1.5])
def test_workers_must_be_a_whole_number(bad):
    with pytest.raises(ValueError, match="workers"):
        explore("twopc", depth=2, progress=False, workers=bad)


def test_workers_apply_to_breadth_first_search_only():
    with pytest.raises(ValueError, match="breadth-first"):
        explore("twopc", depth=2, progress=False, workers=2, strategy="dfs")


def test_cli_workers_gives_the_serial_answer(capsys):
    from consensus_lab.cli import main

    answers = []
    for w in ("1", "2"):
        code = main(["explore", "twopc", "--variant", "uncertain-abort", "--workers", w, "--json", "-"])
        d = json.loads(capsys.readouterr().out)
        answers.append((code, d["verdict"], d["states"], d["counterexample_length"], d["path"]))
        assert d["workers"] == int(w)
    assert answers[0] == answers[1] and answers[0][0] == 1


def _entries(owners, copies):
    """nxt rows as _level builds them: [owner, link, sleep set, index, {owner: index} or None]."""
    return [[o, ("link", k), frozenset(), k, c] for k, (o, c) in enumerate(zip(owners, copies, strict=True))]


def test_balance_moves_states_to_the_workers_holding_copies():
    from consensus_lab.explore.parallel import _balance

    # every state at worker 0, each with a copy at worker 1
    nxt = _entries([0] * 64, [{1: 1000 + k} for k in range(64)])
    _balance(nxt, 2)
    assert [e[1] for e in nxt] == [("link", k) for k in range(64)]  # the serial order stays
    assert [e[0] for e in nxt] == [1] * 32 + [0] * 32  # the first ones in the serial order move
    assert [e[3] for e in nxt] == [1000 + k for k in range(32)] + list(range(32, 64))  # with the copy's index


def test_balance_moves_only_states_with_a_copy_and_only_to_a_lighter_worker():
    from consensus_lab.explore.parallel import _balance

    nxt = _entries([0] * 64, [None] * 60 + [{1: 7}, {1: 8}, {1: 9}, {1: 10}])
    _balance(nxt, 2)
    assert [e[0] for e in nxt] == [0] * 60 + [1] * 4
    assert [e[3] for e in nxt[60:]] == [7, 8, 9, 10]
    even = _entries([0, 1] * 8, [{1: 99}, {0: 98}] * 8)
    _balance(even, 2)
    assert [e[0] for e in even] == [0, 1] * 8  # already even: nothing moves
    three = _entries([0] * 9, [{1: 50 + k, 2: 60 + k} for k in range(9)])
    _balance(three, 3)
    assert sorted(sum(e[0] == w for e in three) for w in range(3)) == [3, 3, 3]


def test_deep_parallel_search_is_balanced_and_finds_what_one_finds(monkeypatch):
    """Deep enough that successors found by both workers are moved between them: the shares
    of the next level come out more even than they were found, and the answer is still the
    serial search's."""
    from consensus_lab.explore import parallel

    shares = []
    balance = parallel._balance

    def spying(nxt, workers):
        before = [sum(e[0] == k for e in nxt) for k in range(workers)]
        balance(nxt, workers)
        shares.append((before, [sum(e[0] == k for e in nxt) for k in range(workers)]))

    monkeypatch.setattr(parallel, "_balance", spying)
    kw = dict(protocol="paxos", nodes=3, depth=7, variant="forget-promise")
    parallel_r = explore(progress=False, time_budget=None, workers=2, **kw)
    serial = explore(progress=False, time_budget=None, **kw)
    assert _answer(parallel_r) == _answer(serial)
    before, after = shares[-1]
    assert sum(before) == sum(after) > 1000
    assert max(after) - min(after) < (max(before) - min(before)) / 2

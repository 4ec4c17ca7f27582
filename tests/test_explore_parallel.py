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

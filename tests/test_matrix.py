"""The consistency matrix and the property mapping behind ``--check``."""

from __future__ import annotations

import dataclasses
import json

import pytest
from test_sessions import brute_force_sessions

from consensus_lab import run
from consensus_lab.checkers import check_session_guarantees
from consensus_lab.cli import main
from consensus_lab.history import pair_operations
from consensus_lab.matrix import FAULTS, STORES, compute_matrix, scenario_for
from consensus_lab.properties import (
    PROPERTIES,
    Siblings,
    check_property,
    checked_history,
    evaluate,
    final_states,
    run_settled,
    settle,
    version_order,
)

SESSIONS = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads")


@pytest.fixture(scope="module")
def matrix():
    return compute_matrix(STORES, seeds=range(2), faults=("none", "partition", "clock-skew"))


def test_every_cell_is_decided(matrix):
    assert len(matrix.cells) == len(STORES) * 3 * len(PROPERTIES)
    undecided = [k for k, c in matrix.cells.items() if c.status == "unknown"]
    assert not undecided, undecided


def test_primary_backup_keeps_every_promise(matrix):
    for prop in PROPERTIES:
        assert matrix.holds("primary-backup", prop), (prop, matrix.counterexample("primary-backup", prop))


def test_quorums_that_do_not_intersect_lose_writes_without_any_fault(matrix):
    for prop in ("linearizable", "read-your-writes", "no-lost-writes"):
        assert matrix.cell("quorum 1+1<=3", "none", prop).status == "violated", prop
    assert matrix.holds("quorum 2+2>3", "no-lost-writes")
    assert matrix.holds("quorum 2+2>3, read repair", "linearizable")


def test_the_eventual_store(matrix):
    lww = "gossip lww"
    assert matrix.cell(lww, "none", "read-your-writes").status == "violated"
    assert matrix.holds(lww, "convergent")
    assert matrix.cell(lww, "none", "no-lost-writes").status == "holds"
    assert matrix.cell(lww, "clock-skew", "no-lost-writes").status == "violated"
    for store in ("gossip vv", "gossip crdt"):
        assert matrix.holds(store, "no-lost-writes") and matrix.holds(store, "convergent")
    for store in ("gossip lww + sessions", "gossip vv + sessions", "gossip crdt + sessions"):
        for g in SESSIONS:
            assert matrix.holds(store, g), (store, g, matrix.counterexample(store, g))
        assert not matrix.holds(store, "linearizable")
    for store in ("gossip lww", "gossip vv", "gossip crdt"):
        assert matrix.cell(store, "none", "read-your-writes").status == "violated"


def test_a_counterexample_seed_replays_to_the_same_violation(matrix):
    fault, seed = matrix.counterexample("gossip lww", "no-lost-writes")
    r = matrix.replay("gossip lww", fault, seed)
    assert evaluate("no-lost-writes", r).violated
    again = matrix.replay("quorum 1+1<=3", "none", prop="linearizable")
    assert evaluate("linearizable", again).violated


def test_renderings(matrix):
    md = matrix.to_markdown("none")
    assert md.count("\n| ") == len(STORES) + 1 and "✗" in md and "✓" in md
    summary = matrix.summary_markdown()
    assert "| primary-backup | ✓ | ✓ |" in summary
    assert "lin=linearizable" in matrix.to_text()
    rows = matrix.to_rows()
    assert {r["status"] for r in rows} <= {"holds", "violated", "unknown"}
    from consensus_lab.viz.matrix_plot import plot_matrix

    fig = plot_matrix(matrix)
    assert fig.axes and len(fig.axes[0].patches) == len(matrix.cells)


def test_session_checks_on_store_runs_agree_with_the_definitions():
    """Real histories: version vectors, siblings, timestamps, a CRDT's sets."""
    for store in STORES:
        for fault in ("none", "partition"):
            r = run(scenario_for(store, fault, 1, duration=1.0))
            model, history = checked_history(r)
            version = version_order(r)
            if model == "register" and version is not None:
                history = [dataclasses.replace(op, value=Siblings(op.value))
                           if op.type == "ok" and op.f == "read" and isinstance(op.value, tuple) else op
                           for op in history]
            expected = brute_force_sessions(pair_operations(history), version)
            results = check_session_guarantees(history, version=version)
            for name in SESSIONS:
                got = [(v.session, v.first.index, v.second.index, v.observer.index if v.observer else None)
                       for v in results[name].violations]
                assert got == [w[:4] for w in expected[name]], (store.label, fault, name, results[name].detail)
                assert evaluate(name, r).holds == results[name].holds


def test_run_settled_is_the_plain_run_plus_its_quiet_period():
    sc = scenario_for(STORES[9], "partition", 4)
    plain, both = run(sc), run_settled(sc)
    assert plain.history == both.history and plain.storage == both.storage
    assert final_states(plain) == final_states(both)
    assert final_states(settle(plain)) == final_states(settle(both))


def test_check_property_names_and_errors():
    r = run("gossip", seed=0, duration=1.0)
    holds, detail = check_property("convergent", r)
    assert holds and "converged" in detail
    with pytest.raises(ValueError, match="unknown property"):
        check_property("serializable", r)
    assert set(PROPERTIES) == {"linearizable", "sequential", *SESSIONS, "convergent", "no-lost-writes"}


def test_cli_reports_each_requested_check_and_exits_1_when_one_fails(capsys):
    code = main(["run", "quorum", "--set", "r=1", "--set", "w=1", "--duration", "3",
                 "--check", "linearizable,convergent,no-lost-writes", "--json", "-"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(obj["checks"]) == {"linearizable", "convergent", "no-lost-writes"}
    assert obj["checks"]["linearizable"]["holds"] is False and obj["checks"]["convergent"]["holds"] is True
    code = main(["run", "primary-backup", "--nemesis", "random", "--check", ",".join(PROPERTIES), "--json", "-"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and all(c["holds"] for c in obj["checks"].values()), obj["checks"]


def test_cli_store_options_and_clock_skew(capsys):
    code = main(["run", "gossip", "--set", "conflict=vv", "--set", "sessions=on", "--nemesis", "clock-skew",
                 "--check", "read-your-writes,no-lost-writes", "--json", "-"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and obj["checks"]["read-your-writes"]["holds"]
    code = main(["run", "quorum", "--set", "read-repair=on", "--set", "n=3", "--check", "linearizable"])
    assert code == 0
    assert main(["run", "gossip", "--set", "conflict=newest"]) == 2


def test_faults_are_the_contract_kinds():
    assert FAULTS == ("none", "partition", "crash", "clock-skew")

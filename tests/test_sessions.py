"""Session guarantees (Terry et al.) and convergence, each both ways."""

from __future__ import annotations

from typing import Any

import pytest

from consensus_lab.checkers import (
    SESSION_GUARANTEES,
    check_convergence,
    check_monotonic_reads,
    check_monotonic_writes,
    check_no_lost_writes,
    check_read_your_writes,
    check_session_guarantees,
    check_writes_follow_reads,
    lost_writes,
)
from consensus_lab.history import Op, pair_operations


def do(p: int, f: str, value: Any = None, out: Any = None, key: Any = "x") -> list[Op]:
    """One complete operation: invoke then ok."""
    return [Op(p, "invoke", f, key, value), Op(p, "ok", f, key, value if out is None else out)]


def history(*parts: list[Op]) -> list[Op]:
    return [e for part in parts for e in part]


# --- read-your-writes --------------------------------------------------------


def test_read_your_writes_holds() -> None:
    h = history(do(1, "add", 1), do(1, "read", out=[1]), do(2, "read", out=[]))
    assert check_read_your_writes(h).holds


def test_read_your_writes_breaks_and_names_session_and_operations() -> None:
    h = history(do(1, "add", 1), do(2, "read", out=[]), do(1, "read", out=[]))
    r = check_read_your_writes(h)
    assert not r.holds
    v = r.violations[0]
    assert (v.session, v.first.index, v.second.index, v.missing) == (1, 0, 2, 1)
    assert r.detail == "read-your-writes violated: session 1: op #0 x:add(1), then its own op #2 x:r->[] did not see 1"


def test_read_your_writes_on_a_register_uses_versions() -> None:
    # session 1 writes 1, then reads the older value 0 (written before by session 2)
    h = history(do(2, "write", 0), do(1, "write", 1), do(1, "read", out=0))
    assert not check_read_your_writes(h).holds
    # with the store's own version order saying 0 is newer, the read is fine
    assert check_read_your_writes(h, version=lambda key, v: {0: 2, 1: 1}[v]).holds
    # reading nothing after writing is always a violation
    assert not check_read_your_writes(history(do(1, "write", 1), [Op(1, "invoke", "read", "x"), Op(1, "ok", "read", "x", None)])).holds


# --- monotonic reads ---------------------------------------------------------


def test_monotonic_reads_holds() -> None:
    h = history(do(1, "add", 1), do(2, "read", out=[]), do(2, "read", out=[1]), do(2, "read", out=[1]))
    assert check_monotonic_reads(h).holds


def test_monotonic_reads_breaks() -> None:
    h = history(do(1, "add", 1), do(2, "read", out=[1]), do(2, "read", out=[]))
    r = check_monotonic_reads(h)
    assert not r.holds
    v = r.violations[0]
    assert (v.session, v.first.index, v.second.index) == (2, 1, 2)
    assert "session 2" in r.detail and "op #1" in r.detail and "op #2" in r.detail


def test_sessions_can_be_given_explicitly() -> None:
    # two processes that form one session (e.g. a client that reconnects)
    h = history(do(1, "add", 1), do(2, "read", out=[1]), do(3, "read", out=[]))
    assert check_monotonic_reads(h).holds
    same = {2: "s", 3: "s", 1: "w"}
    assert not check_monotonic_reads(h, session=lambda op: same[op.process]).holds


# --- monotonic writes --------------------------------------------------------


def test_monotonic_writes_holds() -> None:
    h = history(do(1, "add", 1), do(1, "add", 2), do(2, "read", out=[1]), do(2, "read", out=[1, 2]))
    assert check_monotonic_writes(h).holds


def test_monotonic_writes_breaks() -> None:
    h = history(do(1, "add", 1), do(1, "add", 2), do(2, "read", out=[2]))
    r = check_monotonic_writes(h)
    assert not r.holds
    v = r.violations[0]
    assert (v.session, v.first.index, v.second.index, v.observer.index) == (1, 0, 1, 2)
    assert "process 2" in r.detail


# --- writes follow reads -----------------------------------------------------


def test_writes_follow_reads_holds() -> None:
    h = history(do(1, "add", 1), do(2, "read", out=[1]), do(2, "add", 2), do(3, "read", out=[1, 2]))
    assert check_writes_follow_reads(h).holds


def test_writes_follow_reads_breaks() -> None:
    h = history(do(1, "add", 1), do(2, "read", out=[1]), do(2, "add", 2), do(3, "read", out=[2]))
    r = check_writes_follow_reads(h)
    assert not r.holds
    v = r.violations[0]
    assert (v.session, v.first.index, v.second.index, v.observer.index) == (2, 1, 2, 3)


# --- all together ------------------------------------------------------------


def test_all_guarantees_by_name() -> None:
    h = history(do(1, "add", 1), do(1, "read", out=[1]))
    results = check_session_guarantees(h)
    assert list(results) == list(SESSION_GUARANTEES)
    assert all(r.holds for r in results.values())
    assert all(r.detail.endswith("holds in every session") for r in results.values())


def test_failed_writes_are_ignored_and_paired_operations_accepted() -> None:
    h = [Op(1, "invoke", "add", "x", 1), Op(1, "fail", "add", "x", 1)] + do(1, "read", out=[])
    assert check_read_your_writes(h).holds
    assert check_read_your_writes(pair_operations(h)).holds


def test_guarantees_are_per_key() -> None:
    h = history(do(1, "add", 1, key="a"), do(1, "read", out=[], key="b"))
    assert check_read_your_writes(h).holds


# --- convergence -------------------------------------------------------------


def test_converged_replicas() -> None:
    r = check_convergence({"n1": {"x": 2}, "n2": {"x": 2}, "n3": {"x": 2}}, [("x", 1), ("x", 2)])
    assert r.holds and r.lost_holds
    assert r.groups == [["n1", "n2", "n3"]]


def test_diverged_replicas_are_named() -> None:
    r = check_convergence({"n1": {"x": 1}, "n2": {"x": 2}, "n3": {"x": 1}})
    assert not r.holds
    assert r.groups == [["n1", "n3"], ["n2"]]
    assert "n1, n3" in r.detail and "n2" in r.detail


def test_lost_acknowledged_write_is_reported_separately() -> None:
    # all replicas agree, but on the older of two acknowledged writes
    states = {"n1": {"x": 1}, "n2": {"x": 1}}
    r = check_convergence(states, [("x", 1), ("x", 2)])
    assert r.holds and not r.lost_holds
    assert r.lost_writes == ["'x'=2"]
    assert not check_no_lost_writes(states, [("x", 1), ("x", 2)]).holds


def test_concurrent_overwrite_is_not_a_loss() -> None:
    # writes 1 and 2 overlap in time: either may win
    h = [Op(0, "invoke", "write", "x", 1), Op(1, "invoke", "write", "x", 2),
         Op(0, "ok", "write", "x", 1), Op(1, "ok", "write", "x", 2)]
    ops = pair_operations(h)
    assert lost_writes({"n1": {"x": 1}}, ops) == []
    # sequential writes: the later one must survive
    h2 = [Op(0, "invoke", "write", "x", 1), Op(0, "ok", "write", "x", 1),
          Op(1, "invoke", "write", "x", 2), Op(1, "ok", "write", "x", 2)]
    assert lost_writes({"n1": {"x": 1}}, pair_operations(h2)) == ["op #1 write(2)"]


def test_sets_must_contain_every_acknowledged_element() -> None:
    assert check_no_lost_writes({"a": {1, 2}, "b": {1, 2}}, [(None, 1), (None, 2)]).holds
    assert check_no_lost_writes({"a": {1}, "b": {1}}, [(None, 1), (None, 2)]).lost_writes == ["2"]


def test_convergence_needs_states() -> None:
    with pytest.raises(ValueError, match="final_states"):
        check_convergence({})

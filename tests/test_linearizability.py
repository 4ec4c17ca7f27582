"""The linearizability checker: textbook cases, Jepsen's outcomes, budgets,
and a differential test against the brute-force definition."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consensus_lab.checkers import (
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    UNKNOWN,
    brute_force_linearizable,
    check_linearizable,
    get_model,
    linearization_points,
)
from consensus_lab.history import Op, Operation, pair_operations
from consensus_lab.testing import examples


def ev(p: int, t: str, f: str, value: Any = None, key: Any = None) -> Op:
    return Op(p, t, f, key, value)


def check_witness(history: list[Op], result, model_name: str) -> None:
    """The witness must respect real time and be accepted by the model."""
    ops = pair_operations(history)
    model = get_model(model_name)
    for part, order in result.witness.items():
        states: dict[Any, Any] = {}
        for a, i in enumerate(order):
            op = ops[i]
            assert op.status != "fail"
            for j in order[a + 1 :]:
                assert not ops[j].ret < op.call, f"op {j} finished before {i} began but comes later"
            key = model.partition_key(op)
            legal, states[key] = model.step(states.get(key, model.init()), op)
            assert legal, f"model rejects op {i} in the witness"
        placed = set(order)
        for op in ops:
            if op.status == "ok" and model.partition_key(op) == part:
                assert op.index in placed


# --- textbook histories ------------------------------------------------------


def test_sequential_history_is_linearizable_with_its_own_order() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1), ev(1, "invoke", "read"), ev(1, "ok", "read", 1)]
    r = check_linearizable(h, "register")
    assert r.verdict == LINEARIZABLE and r.ok and r.holds
    assert r.witness == {None: [0, 1]}
    check_witness(h, r, "register")


def test_stale_read_after_completed_write_is_not_linearizable() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1), ev(1, "invoke", "read"), ev(1, "ok", "read", None)]
    r = check_linearizable(h, "register")
    assert r.verdict == NOT_LINEARIZABLE and not r.ok
    assert r.longest_prefix == [0]
    assert r.unplaceable == [1]
    assert "#1 r->nil" in r.detail


def test_concurrent_read_may_see_old_or_new_value() -> None:
    for seen in (None, 1):
        h = [ev(0, "invoke", "write", 1), ev(1, "invoke", "read"), ev(1, "ok", "read", seen), ev(0, "ok", "write", 1)]
        assert check_linearizable(h, "register").ok


def test_new_then_old_value_is_not_linearizable() -> None:
    # Herlihy-Wing: once a read has seen the new value, a later read may not see the old one.
    h = [
        ev(0, "invoke", "write", 1),
        ev(1, "invoke", "read"), ev(1, "ok", "read", 1),
        ev(2, "invoke", "read"), ev(2, "ok", "read", None),
        ev(0, "ok", "write", 1),
    ]
    r = check_linearizable(h, "register")
    assert r.verdict == NOT_LINEARIZABLE
    assert r.unplaceable == [2]


# --- Jepsen's outcomes -------------------------------------------------------


def test_failed_write_never_happened() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "fail", "write", 1), ev(1, "invoke", "read"), ev(1, "ok", "read", 1)]
    assert check_linearizable(h, "register").verdict == NOT_LINEARIZABLE


def test_info_write_may_never_happen() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "info", "write", 1), ev(1, "invoke", "read"), ev(1, "ok", "read", None)]
    r = check_linearizable(h, "register")
    assert r.ok
    assert r.witness == {None: [1]}


def test_info_write_stays_open_to_the_end() -> None:
    """The trap: an info operation may take effect long after its info line."""
    h = [
        ev(0, "invoke", "write", 1), ev(0, "info", "write", 1),
        ev(1, "invoke", "read"), ev(1, "ok", "read", None),
        ev(1, "invoke", "read"), ev(1, "ok", "read", 1),
    ]
    r = check_linearizable(h, "register")
    assert r.ok
    assert r.witness == {None: [1, 0, 2]}


def test_unmatched_invocation_is_treated_as_info() -> None:
    h = [ev(0, "invoke", "write", 1), ev(1, "invoke", "read"), ev(1, "ok", "read", None),
         ev(1, "invoke", "read"), ev(1, "ok", "read", 1)]
    assert check_linearizable(h, "register").ok


def test_info_write_cannot_take_effect_before_its_invocation() -> None:
    h = [ev(1, "invoke", "read"), ev(1, "ok", "read", 1), ev(0, "invoke", "write", 1), ev(0, "info", "write", 1)]
    assert check_linearizable(h, "register").verdict == NOT_LINEARIZABLE


def test_operations_paired_by_the_caller_are_accepted() -> None:
    ops = [
        Operation(0, 0, "write", None, 1, 1, "ok", 0.0, 10.0),
        Operation(1, 1, "read", None, None, 1, "ok", 5.0, 6.0),
    ]
    assert check_linearizable(ops, "register").ok


def test_a_sub_history_keeps_the_numbers_of_the_full_one() -> None:
    h = [ev(0, "invoke", "write", 1, "x"), ev(0, "ok", "write", 1, "x"),
         ev(1, "invoke", "write", 1, "y"), ev(1, "ok", "write", 1, "y"),
         ev(2, "invoke", "read", None, "y"), ev(2, "ok", "read", 2, "y")]
    y = [op for op in pair_operations(h) if op.key == "y"]  # operations #1 and #2
    r = check_linearizable(y, "register", prechecks=False)
    assert r.unplaceable == [2] and r.detail.endswith("no order can place #2 y:r->2")
    pre = check_linearizable(y, "register")  # the pre-check names the same operation
    assert pre.unplaceable == [2] and pre.precheck == "unwritten value" and "#2 y:r->2" in pre.detail
    ok = check_linearizable(y[:1], "register")
    assert ok.linearization == [1] and list(linearization_points(ok)) == [1]


# --- budgets and arguments ---------------------------------------------------


def hard_history(n: int = 14) -> list[Op]:
    """Many concurrent writes and a read nobody wrote: exhaustive and hopeless."""
    h = [ev(p, "invoke", "write", p) for p in range(n)]
    h += [ev(n, "invoke", "read"), ev(n, "ok", "read", 99)]
    h += [ev(p, "ok", "write", p) for p in range(n)]
    return h


def test_memory_bound_gives_unknown() -> None:
    r = check_linearizable(hard_history(), "register", max_states=500, prechecks=False)
    assert r.verdict == UNKNOWN and not r.ok
    assert "configurations" in r.reason and r.budget == "states"


def test_time_budget_gives_unknown() -> None:
    r = check_linearizable(hard_history(22), "register", timeout=0.05, prechecks=False)
    assert r.verdict == UNKNOWN
    assert "time budget" in r.detail and r.budget == "time"
    assert r.seconds < 2


def test_failing_key_is_found_even_when_another_key_is_hopeless() -> None:
    hopeless = [Op(o.process, o.type, o.f, "slow", o.value) for o in hard_history(22)]
    broken = [ev(100, "invoke", "write", 1, "k"), ev(100, "ok", "write", 1, "k"),
              ev(101, "invoke", "read", None, "k"), ev(101, "ok", "read", 2, "k")]
    r = check_linearizable(hopeless + broken, "kv", timeout=20, prechecks=False)
    assert r.verdict == NOT_LINEARIZABLE
    assert r.partition == "k"
    assert r.seconds < 5


def test_bad_arguments_are_refused_early() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    with pytest.raises(ValueError, match="unknown model"):
        check_linearizable(h, "registr")
    with pytest.raises(ValueError, match="timeout"):
        check_linearizable(h, "register", timeout=0)
    with pytest.raises(ValueError, match="cas-register"):
        check_linearizable([ev(0, "invoke", "cas", (1, 2)), ev(0, "ok", "cas", (1, 2))], "register")
    for model, f, value in (("register", "write", [1]), ("kv", "append", {"x": 1})):
        with pytest.raises(ValueError, match="operation 0 .*unhashable; use a tuple"):
            check_linearizable([ev(0, "invoke", f, value), ev(0, "ok", f, value)], model)


def test_linearization_points_lie_inside_intervals_and_in_order() -> None:
    h = [
        ev(0, "invoke", "write", 1), ev(1, "invoke", "read"), ev(0, "ok", "write", 1),
        ev(2, "invoke", "write", 2), ev(1, "ok", "read", 1), ev(2, "info", "write", 2),
        ev(1, "invoke", "read"), ev(1, "ok", "read", 2),
    ]
    r = check_linearizable(h, "register")
    assert r.ok
    pts = linearization_points(r)
    order = r.linearization
    assert [pts[i] for i in order] == sorted(pts[i] for i in order)
    for i in order:
        op = r.operations[i]
        assert op.call <= pts[i] <= min(op.ret, 9)


# --- differential test against brute force -----------------------------------

MODELS = ("register", "cas-register", "kv", "set", "append")


def _invocation(draw, model: str) -> tuple[str, Any, Any]:
    """(f, key, value) of a random operation for ``model``."""
    if model in ("register", "cas-register"):
        fs = ["read", "write"] + (["cas"] if model == "cas-register" else [])
        f = draw(st.sampled_from(fs))
        if f == "write":
            return f, None, draw(st.integers(0, 2))
        if f == "cas":
            return f, None, (draw(st.sampled_from([None, 0, 1, 2])), draw(st.integers(0, 2)))
        return f, None, None
    if model == "kv":
        key = draw(st.sampled_from(["a", "b"]))
        f = draw(st.sampled_from(["get", "put", "append"]))
        return f, key, None if f == "get" else draw(st.sampled_from(["1", "2"]))
    f = draw(st.sampled_from(["read", "add" if model == "set" else "append"]))
    return f, None, None if f == "read" else draw(st.integers(1, 3))


def _output(draw, model: str, f: str, value: Any) -> Any:
    if f in ("write", "put", "append", "add", "cas"):
        return value
    if model in ("register", "cas-register"):
        return draw(st.sampled_from([None, 0, 1, 2]))
    if model == "kv":
        return draw(st.sampled_from(["", "1", "2", "11", "12", "21", "2 "]))
    if model == "set":
        return frozenset(draw(st.sets(st.integers(1, 3), max_size=3)))
    return tuple(draw(st.lists(st.integers(1, 3), max_size=3)))


@st.composite
def histories(draw, model: str) -> list[Op]:
    """Random concurrent histories with ok, fail and info outcomes."""
    procs = list(range(draw(st.integers(1, 3))))
    budget = draw(st.integers(1, 7))
    events: list[Op] = []
    open_ops: dict[int, tuple[str, Any, Any]] = {}
    next_pid = 10
    while budget or open_ops:
        choices = [("invoke", p) for p in procs if p not in open_ops] if budget else []
        choices += [("complete", p) for p in sorted(open_ops)]
        if not budget:
            choices.append(("stop", -1))  # leave the rest open forever
        action, p = draw(st.sampled_from(choices))
        if action == "stop":
            break
        if action == "invoke":
            f, key, value = _invocation(draw, model)
            open_ops[p] = (f, key, value)
            events.append(Op(p, "invoke", f, key, value))
            budget -= 1
            continue
        f, key, value = open_ops.pop(p)
        outcome = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
        out = _output(draw, model, f, value) if outcome == "ok" else value
        events.append(Op(p, outcome, f, key, out))
        if outcome == "info":  # the process crashed; a fresh one takes its place
            procs[procs.index(p)] = next_pid
            next_pid += 1
    return events


def _agree(history: list[Op], model: str) -> None:
    fast = check_linearizable(history, model)
    slow = brute_force_linearizable(history, model)
    assert fast.verdict != UNKNOWN
    assert fast.ok == (slow is not None), (fast.detail, slow)
    if fast.ok:
        check_witness(history, fast, model)
    else:
        assert fast.unplaceable, "a refusal must name the operations it cannot place"


_DIFF = settings(max_examples=examples(2000), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("model", MODELS)
@_DIFF
@given(data=st.data())
def test_fast_checker_agrees_with_brute_force(model: str, data: st.DataObject) -> None:
    """5 models x 2000 examples = 10,000 random histories."""
    _agree(data.draw(histories(model)), model)


def test_random_histories_cover_both_verdicts() -> None:
    """Guard against a generator that only ever produces one kind of history."""
    import random

    verdicts = {v: 0 for v in (True, False)}
    rng = random.Random(7)
    for _ in range(300):
        h: list[Op] = []
        open_: dict[int, Any] = {}
        for _ in range(8):
            p = rng.randrange(3)
            if p in open_:
                f, v = open_.pop(p)
                h.append(Op(p, "ok", f, None, v if f == "write" else rng.choice([None, 0, 1])))
            else:
                f = rng.choice(["read", "write"])
                v = rng.choice([0, 1]) if f == "write" else None
                open_[p] = (f, v)
                h.append(Op(p, "invoke", f, None, v))
        verdicts[check_linearizable(h, "register").ok] += 1
    assert min(verdicts.values()) > 30, verdicts

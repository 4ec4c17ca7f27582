"""Each sequential model, with a textbook history that holds and one that breaks,
plus the contract a student's own model relies on."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from consensus_lab.checkers import (
    MODELS,
    CASRegisterModel,
    KVModel,
    ListAppendModel,
    Model,
    RegisterModel,
    SetModel,
    check_linearizable,
    check_sequential,
    get_model,
)
from consensus_lab.history import Op, Operation, pair_operations


def ev(p: int, t: str, f: str, value: Any = None, key: Any = None) -> Op:
    return Op(p, t, f, key, value)


def seq(*ops: tuple[int, str, Any, Any]) -> list[Op]:
    """Non-overlapping operations (process, f, value, output), one after another."""
    out = []
    for p, f, value, output in ops:
        out += [ev(p, "invoke", f, value), ev(p, "ok", f, output)]
    return out


def test_models_by_name() -> None:
    assert {"append", "cas-register", "kv", "register", "set"} <= set(MODELS)  # capstone may add txn-kv
    for name in MODELS:
        assert get_model(name).name == name
    m = RegisterModel()
    assert get_model(m) is m
    with pytest.raises(ValueError, match="choose one of"):
        get_model("queue")


# --- register ----------------------------------------------------------------


def test_register_holds() -> None:
    h = seq((0, "write", 1, 1), (1, "read", None, 1), (0, "write", 2, 2), (1, "read", None, 2))
    assert check_linearizable(h, "register").ok


def test_register_breaks() -> None:
    h = seq((0, "write", 1, 1), (0, "write", 2, 2), (1, "read", None, 1))
    r = check_linearizable(h, "register")
    assert not r.ok and r.unplaceable == [2]


def test_register_initial_value() -> None:
    h = seq((0, "read", None, 0))
    assert not check_linearizable(h, RegisterModel()).ok
    assert check_linearizable(h, RegisterModel(initial=0)).ok


# --- compare-and-set register ------------------------------------------------


def test_cas_register_holds() -> None:
    h = seq((0, "write", 1, 1), (1, "cas", (1, 2), (1, 2)), (0, "read", None, 2))
    assert check_linearizable(h, "cas-register").ok


def test_cas_register_breaks() -> None:
    # the cas claims success although the register held 1, not 0
    h = seq((0, "write", 1, 1), (1, "cas", (0, 2), (0, 2)))
    assert not check_linearizable(h, "cas-register").ok


def test_failed_cas_is_dropped() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1),
         ev(1, "invoke", "cas", (1, 2)), ev(1, "fail", "cas", (1, 2)),
         ev(0, "invoke", "read"), ev(0, "ok", "read", 1)]
    assert check_linearizable(h, "cas-register").ok


def test_info_cas_applies_only_if_it_matches() -> None:
    h = [ev(1, "invoke", "cas", (0, 2)), ev(1, "info", "cas", (0, 2)),
         ev(0, "invoke", "read"), ev(0, "ok", "read", 2)]
    assert not check_linearizable(h, "cas-register").ok  # register holds nil, not 0
    h2 = [ev(1, "invoke", "cas", (None, 2)), ev(1, "info", "cas", (None, 2)),
          ev(0, "invoke", "read"), ev(0, "ok", "read", 2)]
    assert check_linearizable(h2, "cas-register").ok


# --- key-value map -----------------------------------------------------------


def test_kv_holds_and_is_split_by_key() -> None:
    h = [
        ev(0, "invoke", "put", "x", "a"), ev(1, "invoke", "append", "y", "b"),
        ev(0, "ok", "put", "x", "a"), ev(1, "ok", "append", "y", "b"),
        ev(0, "invoke", "append", "z", "a"), ev(0, "ok", "append", "z", "a"),
        ev(1, "invoke", "get", None, "a"), ev(1, "ok", "get", "xz", "a"),
        ev(1, "invoke", "get", None, "b"), ev(1, "ok", "get", "y", "b"),
        ev(1, "invoke", "get", None, "c"), ev(1, "ok", "get", "", "c"),
    ]
    r = check_linearizable(h, "kv")
    assert r.ok
    assert set(r.witness) == {"a", "b", "c"}


def test_kv_breaks_on_one_key() -> None:
    h = [
        ev(0, "invoke", "put", "x", "a"), ev(0, "ok", "put", "x", "a"),
        ev(0, "invoke", "append", "y", "a"), ev(0, "ok", "append", "y", "a"),
        ev(1, "invoke", "get", None, "a"), ev(1, "ok", "get", "yx", "a"),
    ]
    r = check_linearizable(h, "kv")
    assert not r.ok and r.partition == "a"


def test_kv_register_operations() -> None:
    h = [ev(0, "invoke", "write", 1, "k"), ev(0, "ok", "write", 1, "k"),
         ev(1, "invoke", "cas", (1, 2), "k"), ev(1, "ok", "cas", (1, 2), "k"),
         ev(0, "invoke", "read", None, "k"), ev(0, "ok", "read", 2, "k"),
         ev(0, "invoke", "read", None, "j"), ev(0, "ok", "read", None, "j")]
    assert check_linearizable(h, KVModel()).ok


# --- set and list ------------------------------------------------------------


def test_set_holds() -> None:
    h = seq((0, "add", 1, 1), (1, "add", 2, 2), (0, "read", None, [2, 1]))
    assert check_linearizable(h, SetModel()).ok


def test_set_breaks() -> None:
    h = seq((0, "add", 1, 1), (1, "read", None, []))
    assert not check_linearizable(h, "set").ok


def test_append_holds_with_concurrent_appends() -> None:
    h = [ev(0, "invoke", "append", 1), ev(1, "invoke", "append", 2),
         ev(0, "ok", "append", 1), ev(1, "ok", "append", 2),
         ev(2, "invoke", "read"), ev(2, "ok", "read", [2, 1])]
    assert check_linearizable(h, ListAppendModel()).ok


def test_append_breaks_on_order() -> None:
    h = seq((0, "append", 1, 1), (1, "append", 2, 2), (0, "read", None, [2, 1]))
    assert not check_linearizable(h, "append").ok


# --- sequential consistency on the same models ---------------------------------


def test_sequential_consistency_allows_stale_read_but_not_disagreement() -> None:
    stale = seq((0, "write", 1, 1), (1, "read", None, None))
    assert check_sequential(stale, "register").holds
    assert not check_linearizable(stale, "register").ok
    # two readers disagree on the order of two writes: no single order exists
    h = [ev(0, "invoke", "add", 1), ev(0, "ok", "add", 1),
         ev(1, "invoke", "add", 2), ev(1, "ok", "add", 2),
         ev(2, "invoke", "read"), ev(2, "ok", "read", [1]),
         ev(3, "invoke", "read"), ev(3, "ok", "read", [2])]
    r = check_sequential(h, "set")
    assert not r.holds
    assert r.verdict == "not sequentially consistent"
    assert r.stuck


def test_sequential_consistency_of_a_sub_history() -> None:
    # two keys; key y's operations picked out keep the numbers of the full history
    h = [ev(0, "invoke", "write", 1, "x"), ev(0, "ok", "write", 1, "x"),
         ev(1, "invoke", "write", 1, "y"), ev(1, "ok", "write", 1, "y"),
         ev(2, "invoke", "read", None, "y"), ev(2, "ok", "read", 2, "y")]
    y = [op for op in pair_operations(h) if op.key == "y"]  # operations #1 and #2
    assert check_sequential(y[:1], "register").order == [1]
    r = check_sequential(y, "register")
    assert not r.holds and r.stuck == [2] and r.longest_prefix == [1]
    assert r.detail.endswith("no process can continue: #2 y:r->2 (process 2)")
    # numbers that do not name one operation each are replaced by positions
    r = check_sequential([dataclasses.replace(op, index=0) for op in y], "register")
    assert r.stuck == [1] and r.operations[1].output == 2 and "#1 y:r->2" in r.detail


# --- a student's model -------------------------------------------------------


class Counter(Model):
    """incr adds one; read returns the count."""

    name = "counter"

    def init(self) -> int:
        return 0

    def step(self, state: int, op: Operation) -> tuple[bool, int]:
        if op.f == "incr":
            return True, state + 1
        return (op.status == "info" or op.output == state), state

    def is_pure(self, op: Operation) -> bool:
        return op.f == "read"


def test_a_new_model_needs_only_init_and_step() -> None:
    ok = seq((0, "incr", None, None), (1, "incr", None, None), (0, "read", None, 2))
    bad = seq((0, "incr", None, None), (1, "read", None, 0))
    assert check_linearizable(ok, Counter()).ok
    assert not check_linearizable(bad, Counter()).ok
    assert check_sequential(bad, Counter()).holds


def test_models_reject_unknown_operations_with_a_hint() -> None:
    op = Operation(0, 0, "cas", None, (1, 2), None, "ok", 0, 1)
    assert "cas-register" in RegisterModel().validate(op)
    assert CASRegisterModel().validate(op) is None
    assert "it knows add, read" in SetModel().validate(Operation(0, 0, "pop", None, None, None, "ok", 0, 1))


def test_public_surface_is_explicit() -> None:
    """Every public name is re-exported on purpose and really exists (trio's test_exports)."""
    import consensus_lab.checkers as checkers

    assert len(set(checkers.__all__)) == len(checkers.__all__)
    for name in checkers.__all__:
        assert hasattr(checkers, name), name
    public = {n for n in vars(checkers) if not n.startswith("_")}
    modules = {"brute", "convergence", "formats", "linearizability", "models", "sequential", "sessions", "prechecks", "sets", "independent", "causal",
               "elle", "levels", "generate", "annotations", "os", "Path"}
    assert public - modules == set(checkers.__all__)

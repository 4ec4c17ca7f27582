"""Sequential models: what a correct object would do, one operation at a time.

A consistency checker asks "is there an order of these operations that a
*sequential* object could have produced?"  The sequential object is a
:class:`Model`: a start state and a ``step`` function.  Writing a new model is
the way to check a new kind of object, so the interface is deliberately small:

``init()``
    the start state.  States must be immutable and hashable (``None``, numbers,
    strings, tuples, frozensets): the checker remembers the states it has already
    explored, which needs equality and a hash.
``step(state, op)``
    apply one :class:`~consensus_lab.history.Operation` and return
    ``(legal, new_state)``.  ``legal`` is ``False`` when a sequential object in
    ``state`` could not have answered ``op.output``.  When ``op.status`` is
    ``"info"`` the outcome is unknown (``op.output`` is ``None``): accept any
    answer, but still apply the effect.
``is_pure(op)``
    ``True`` when the operation never changes the state (a read).  The checker
    uses it twice: an indeterminate read tells nothing and is dropped, and a
    read that *can* go next is placed at once instead of being branched on.
``partition_key(op)``
    which independent object the operation touches (``None``: there is only
    one).  Herlihy and Wing's *locality* says a history is linearizable exactly
    when each object's sub-history is, so the checker splits by this key and
    checks the pieces separately (Horn and Kroening call this
    P-compositionality).
``validate(op)``
    ``None`` if the model understands ``op``, otherwise a message saying why not.

The built-in models follow Jepsen's operation names: ``read``/``write``/``cas``
for registers, ``get``/``put``/``append`` for a key-value store, ``add``/``read``
for a set and ``append``/``read`` for a list.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from consensus_lab.history import Operation

__all__ = [
    "Model",
    "RegisterModel",
    "CASRegisterModel",
    "KVModel",
    "SetModel",
    "ListAppendModel",
    "MODELS",
    "get_model",
]


class Model:
    """Base class of a sequential model; subclass it and override ``init``/``step``.

    The defaults describe an object with no reads (nothing is pure) and no
    partitions (one object).  See the module docstring for the contract.
    """

    name: str = "model"

    def init(self) -> Hashable:
        """The state before any operation."""
        raise NotImplementedError

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        """Apply ``op`` to ``state``: ``(legal, new_state)``."""
        raise NotImplementedError

    def is_pure(self, op: Operation) -> bool:
        """``True`` when ``op`` never changes the state (a read)."""
        return False

    def partition_key(self, op: Operation) -> Hashable:
        """Which independent object ``op`` touches; ``None`` means one object."""
        return None

    def legal_states(self, op: Operation) -> frozenset[Any] | None:
        """Optional speed-up for a pure ``op``: the states in which it is legal
        (a read that returned ``v`` is legal only where the state is ``v``).
        ``None`` (the default) means "ask ``step``"."""
        return None

    def validate(self, op: Operation) -> str | None:
        """``None`` when the model understands ``op``, else a message."""
        return None

    def describe(self, op: Operation) -> str:
        """A short label such as ``w(3)`` or ``r->3`` for pictures and messages."""
        return _describe(op)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _describe(op: Operation) -> str:
    key = "" if op.key is None else f"{op.key}:"
    out = "?" if op.status == "info" else _short(op.output)
    if op.f in ("read", "get"):
        return f"{key}r->{out}"
    if op.f in ("write", "put"):
        return f"{key}w({_short(op.value)})"
    if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
        return f"{key}cas({_short(op.value[0])}->{_short(op.value[1])})"
    if op.f in ("add", "append"):
        return f"{key}{op.f}({_short(op.value)})"
    return f"{key}{op.f}({_short(op.value)})"


def _short(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, frozenset | set):
        return "{" + ",".join(sorted(map(_short, v))) + "}"
    if isinstance(v, tuple | list):
        return "[" + ",".join(map(_short, v)) + "]"
    if isinstance(v, str):
        return repr(v) if len(v) <= 12 else repr(v[:10] + "..")
    return str(v)


class RegisterModel(Model):
    """A read/write register per key, starting at ``initial`` (default ``None``).

    ``read`` returns the last value written; ``write(v)`` stores ``v``.
    Operations on different keys are independent registers.
    """

    name = "register"
    _ops: tuple[str, ...] = ("read", "write")

    def __init__(self, initial: Hashable = None) -> None:
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        f = op.f
        if f == "read":
            return (op.status == "info" or op.output == state), state
        if f == "write":
            return True, op.value
        if f == "cas":
            expected, new = op.value
            return (state == expected), new
        raise ValueError(self.validate(op))

    def is_pure(self, op: Operation) -> bool:
        return op.f == "read"

    def legal_states(self, op: Operation) -> frozenset[Any] | None:
        return _hashable_set(op.output) if op.f == "read" and op.status == "ok" else None

    def partition_key(self, op: Operation) -> Hashable:
        return op.key

    def validate(self, op: Operation) -> str | None:
        if op.f not in self._ops:
            hint = " (use the cas-register model)" if op.f == "cas" else ""
            return f"model {self.name!r} has no operation {op.f!r}{hint}; it knows {', '.join(self._ops)}"
        if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            return f"a cas needs a value (expected, new), got {op.value!r}"
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(initial={self.initial!r})"


class CASRegisterModel(RegisterModel):
    """A register that also offers compare-and-set.

    ``cas`` with value ``(expected, new)`` succeeds (status ``ok``) only when the
    register holds ``expected``, and then stores ``new``.  A ``cas`` that reports
    ``fail`` did nothing, so checkers drop it, as Jepsen does.
    """

    name = "cas-register"
    _ops = ("read", "write", "cas")


_EMPTY = (None, "")


class KVModel(Model):
    """A key-value map, one independent register per key.

    Understands ``get``/``put``/``append`` (Porcupine's key-value histories)
    and ``read``/``write``/``cas`` (the register workloads) on ``op.key``.
    A missing key reads as ``None`` or as ``""`` (both mean "never written").
    ``append`` concatenates strings (or tuples) to the key's current value.
    """

    name = "kv"
    _ops = ("get", "put", "append", "read", "write", "cas")

    def init(self) -> Hashable:
        return None

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        f = op.f
        if f == "get" or f == "read":
            if op.status == "info":
                return True, state
            out = op.output
            return (out == state or (out in _EMPTY and state in _EMPTY)), state
        if f == "put" or f == "write":
            return True, op.value
        if f == "append":
            value = op.value
            if state is None:
                return True, value
            try:
                return True, state + value
            except TypeError:  # appending to a value of another type
                return False, state
        if f == "cas":
            expected, new = op.value
            return (state == expected or (expected in _EMPTY and state in _EMPTY)), new
        raise ValueError(self.validate(op))

    def is_pure(self, op: Operation) -> bool:
        return op.f in ("get", "read")

    def legal_states(self, op: Operation) -> frozenset[Any] | None:
        if op.f not in ("get", "read") or op.status != "ok":
            return None
        return frozenset(_EMPTY) if op.output in _EMPTY else _hashable_set(op.output)

    def partition_key(self, op: Operation) -> Hashable:
        return op.key

    def validate(self, op: Operation) -> str | None:
        if op.f not in self._ops:
            return f"model 'kv' has no operation {op.f!r}; it knows {', '.join(self._ops)}"
        if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            return f"a cas needs a value (expected, new), got {op.value!r}"
        return None


def _hashable_set(v: Any) -> frozenset[Any] | None:
    try:
        return frozenset((v,))
    except TypeError:
        return None


def _as_collection(v: Any) -> Iterable[Any]:
    if v is None:
        return ()
    if isinstance(v, str | bytes) or not isinstance(v, Iterable):
        raise TypeError(f"a read should return a collection, got {v!r}")
    return v


class SetModel(Model):
    """A grow-only set per key: ``add(x)`` and ``read`` -> the elements."""

    name = "set"

    def init(self) -> Hashable:
        return frozenset()

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if op.f == "add":
            return True, state | {op.value}
        if op.status == "info":
            return True, state
        try:
            seen = frozenset(_as_collection(op.output))
        except TypeError:
            return False, state
        return seen == state, state

    def is_pure(self, op: Operation) -> bool:
        return op.f == "read"

    def partition_key(self, op: Operation) -> Hashable:
        return op.key

    def validate(self, op: Operation) -> str | None:
        if op.f not in ("add", "read"):
            return f"model 'set' has no operation {op.f!r}; it knows add, read"
        return None


class ListAppendModel(Model):
    """An append-only list per key: ``append(x)`` and ``read`` -> the list."""

    name = "append"

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if op.f == "append":
            return True, state + (op.value,)
        if op.status == "info":
            return True, state
        try:
            seen = tuple(_as_collection(op.output))
        except TypeError:
            return False, state
        return seen == state, state

    def is_pure(self, op: Operation) -> bool:
        return op.f == "read"

    def partition_key(self, op: Operation) -> Hashable:
        return op.key

    def validate(self, op: Operation) -> str | None:
        if op.f not in ("append", "read"):
            return f"model 'append' has no operation {op.f!r}; it knows append, read"
        return None


MODELS: dict[str, type[Model]] = {
    "register": RegisterModel,
    "cas-register": CASRegisterModel,
    "kv": KVModel,
    "set": SetModel,
    "append": ListAppendModel,
}


def get_model(name: str | Model) -> Model:
    """A model by its command-line name (``register``, ``cas-register``, ``kv``,
    ``set``, ``append``); a :class:`Model` instance is returned unchanged."""
    if isinstance(name, Model):
        return name
    try:
        return MODELS[name]()
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None

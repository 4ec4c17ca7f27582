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

from consensus_lab.history import FrozenMap, Operation

__all__ = [
    "Model",
    "RegisterModel",
    "CASRegisterModel",
    "KVModel",
    "SetModel",
    "ListAppendModel",
    "MultiRegisterModel",
    "MutexModel",
    "MODELS",
    "NIL_READS",
    "REGISTER_MODELS",
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

    def effects(self, op: Operation) -> tuple[Hashable, ...] | None:
        """For the pre-checks: the values ``op`` may put into the object
        (``()`` for a read), or ``None`` when its effect is not "store these
        values" (then the pre-checks skip this object).  Default: ``None``."""
        return None

    def observations(self, op: Operation) -> tuple[Hashable, ...]:
        """For the pre-checks: the values a completed read ``op`` saw that some
        operation must have stored (the start state's value excluded)."""
        return ()

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
    if isinstance(v, frozenset | set | tuple | list) and len(v) > 12:
        return f"<{len(v)} elements>"
    if isinstance(v, frozenset | set):
        return "{" + ",".join(sorted(map(_short, v))) + "}"
    if isinstance(v, tuple | list):
        return "[" + ",".join(map(_short, v)) + "]"
    if isinstance(v, str):
        return repr(v) if len(v) <= 12 else repr(v[:10] + "..")
    return str(v)


#: what a completed read of nil means (see :class:`RegisterModel`)
NIL_READS = ("value", "unknown")


class _Registers(Model):
    """What the register models share: a start value and the meaning of a nil read."""

    def __init__(self, initial: Hashable = None, nil_reads: str = "value") -> None:
        if nil_reads not in NIL_READS:
            raise ValueError(f"nil_reads must be one of {', '.join(NIL_READS)}, got {nil_reads!r}")
        self.initial = initial
        self.nil_reads = nil_reads

    def _blind(self, op: Operation) -> bool:
        """A read that tells nothing: indeterminate, or ``nil`` read as unknown."""
        return op.status == "info" or (op.output is None and self.nil_reads == "unknown")

    def init(self) -> Hashable:
        return self.initial

    def __repr__(self) -> str:
        return f"{type(self).__name__}(initial={self.initial!r}, nil_reads={self.nil_reads!r})"


class RegisterModel(_Registers):
    """A read/write register per key, starting at ``initial`` (default ``None``).

    ``read`` returns the last value written; ``write(v)`` stores ``v``.
    Operations on different keys are independent registers.

    ``nil_reads`` says what a completed read of ``None`` (EDN ``nil``) means:
    ``"value"`` (the default) -- the register held ``None``; ``"unknown"`` --
    the client did not learn the value, so the read constrains nothing
    (Knossos's convention for its cas-register).
    """

    name = "register"
    _ops: tuple[str, ...] = ("read", "write")


    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        f = op.f
        if f == "read":
            return (self._blind(op) or op.output == state), state
        if f == "write":
            return True, op.value
        if f == "cas":
            expected, new = op.value
            return (state == expected), new
        raise ValueError(self.validate(op))

    def is_pure(self, op: Operation) -> bool:
        return op.f == "read"

    def legal_states(self, op: Operation) -> frozenset[Any] | None:
        return _hashable_set(op.output) if op.f == "read" and not self._blind(op) else None

    def partition_key(self, op: Operation) -> Hashable:
        return op.key

    def effects(self, op: Operation) -> tuple[Hashable, ...] | None:
        return _register_effects(op)

    def observations(self, op: Operation) -> tuple[Hashable, ...]:
        if op.f != "read" or self._blind(op) or op.output == self.initial:
            return ()
        return (op.output,)

    def validate(self, op: Operation) -> str | None:
        if op.f not in self._ops:
            hint = " (use the cas-register model)" if op.f == "cas" else ""
            return f"model {self.name!r} has no operation {op.f!r}{hint}; it knows {', '.join(self._ops)}"
        if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            return f"a cas needs a value (expected, new), got {op.value!r}"
        return None if op.f in ("read", "get") else _unhashable(_stored(op))



def _unhashable(*values: Any) -> str | None:
    """The message for a value the model would keep in its state but cannot hash (a list
    or a dict built in Python; loaded histories hold tuples)."""
    for v in values:
        try:
            hash(v)
        except TypeError:
            return f"the value {v!r:.60} is unhashable; use a tuple, not a list or a dict"
    return None


def _stored(op: Operation) -> Any:
    """The value a write-like ``op`` leaves in the object (a cas's new value)."""
    return op.value[1] if op.f == "cas" else op.value


def _register_effects(op: Operation) -> tuple[Hashable, ...] | None:
    if op.f in ("read", "get"):
        return ()
    if op.f in ("write", "put"):
        return (op.value,)
    if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
        return (op.value[1],)
    return None


class CASRegisterModel(RegisterModel):
    """A register that also offers compare-and-set.

    ``cas`` with value ``(expected, new)`` succeeds (status ``ok``) only when the
    register holds ``expected``, and then stores ``new``.  A ``cas`` that reports
    ``fail`` did nothing, so checkers drop it, as Jepsen does.
    """

    name = "cas-register"
    _ops = ("read", "write", "cas")


_EMPTY = (None, "")


class KVModel(_Registers):
    """A key-value map, one independent register per key.

    Understands ``get``/``put``/``append`` (Porcupine's key-value histories)
    and ``read``/``write``/``cas`` (the register workloads) on ``op.key``.
    A missing key reads as ``None`` or as ``""`` (both mean "never written").
    ``append`` concatenates strings (or tuples) to the key's current value.
    """

    name = "kv"
    _ops = ("get", "put", "append", "read", "write", "cas")


    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        f = op.f
        if f == "get" or f == "read":
            if self._blind(op):
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
        if op.f not in ("get", "read") or self._blind(op):
            return None
        return frozenset(_EMPTY) if op.output in _EMPTY else _hashable_set(op.output)

    def partition_key(self, op: Operation) -> Hashable:
        return op.key

    def effects(self, op: Operation) -> tuple[Hashable, ...] | None:
        return _register_effects(op)  # an append makes new values: None, no pre-check

    def observations(self, op: Operation) -> tuple[Hashable, ...]:
        if op.f not in ("get", "read") or self._blind(op) or op.output in _EMPTY:
            return ()
        return () if op.output == self.initial else (op.output,)

    def validate(self, op: Operation) -> str | None:
        if op.f not in self._ops:
            return f"model 'kv' has no operation {op.f!r}; it knows {', '.join(self._ops)}"
        if op.f == "cas" and not (isinstance(op.value, tuple) and len(op.value) == 2):
            return f"a cas needs a value (expected, new), got {op.value!r}"
        return _unhashable(op.key, *(() if op.f in ("read", "get") else (_stored(op),)))


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
        if op.f == "read" and op.status == "ok":
            try:
                frozenset(_as_collection(op.output))
            except TypeError as exc:
                return str(exc)
        return _unhashable(op.value) if op.f == "add" else None

    def effects(self, op: Operation) -> tuple[Hashable, ...] | None:
        return () if op.f == "read" else (op.value,)

    def observations(self, op: Operation) -> tuple[Hashable, ...]:
        return tuple(frozenset(_as_collection(op.output))) if op.f == "read" else ()


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
        return _unhashable(op.value) if op.f == "append" else None

    def effects(self, op: Operation) -> tuple[Hashable, ...] | None:
        return () if op.f == "read" else (op.value,)

    def observations(self, op: Operation) -> tuple[Hashable, ...]:
        try:
            return tuple(_as_collection(op.output)) if op.f == "read" else ()
        except TypeError:
            return ()


_MICRO = {"r": "r", "read": "r", "w": "w", "write": "w"}


def _micro_ops(value: Any) -> list[tuple[str, Hashable, Any]] | None:
    """A Knossos/Elle transaction ``[[f k v] ...]`` as ``(r|w, k, v)``, or ``None``."""
    if not isinstance(value, tuple):
        return None
    out = []
    for mop in value:
        if not (isinstance(mop, tuple) and len(mop) == 3 and mop[0] in _MICRO):
            return None
        out.append((_MICRO[mop[0]], mop[1], mop[2]))
    return out


class MultiRegisterModel(_Registers):
    """Knossos's ``multi-register``: registers on several keys, read and
    written together in transactions.  An operation is ``f = "txn"`` with value
    ``[[:read k nil] [:write k v] ...]`` (also ``:r``/``:w``); its completion
    fills in what each read saw.  The state is a map from key to value; every
    key starts at ``initial``.  ``nil_reads`` as for :class:`RegisterModel`
    (Knossos itself reads ``nil`` as "unknown").  Transactions may touch any
    keys, so the history is searched as one object.
    """

    name = "multi-register"

    def init(self) -> Hashable:
        return FrozenMap()

    def _txn(self, op: Operation) -> list[tuple[str, Hashable, Any]]:
        mops = _micro_ops(op.output if op.status == "ok" else op.value)
        if mops is None:
            raise ValueError(self.validate(op))
        return mops

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        changes: dict[Hashable, Any] = {}
        for f, k, v in self._txn(op):
            if f == "w":
                changes[k] = v
                continue
            if op.status != "ok" or (v is None and self.nil_reads == "unknown"):
                continue
            now = changes[k] if k in changes else state.get(k, self.initial)
            if v != now:
                return False, state
        if not changes:
            return True, state
        return True, FrozenMap({**state, **changes})

    def is_pure(self, op: Operation) -> bool:
        mops = _micro_ops(op.value)
        return mops is not None and all(f == "r" for f, _, _ in mops)

    def validate(self, op: Operation) -> str | None:
        if op.f != "txn":
            return f"model 'multi-register' has no operation {op.f!r}; it knows txn"
        for which in ((op.value, op.output) if op.status == "ok" else (op.value,)):
            if _micro_ops(which) is None:
                return f"a txn needs a value [[:read k v] [:write k v] ...], got {which!r:.60}"
        return None

    def effects(self, op: Operation) -> tuple[Hashable, ...] | None:
        mops = _micro_ops(op.value)
        return None if mops is None else tuple((k, v) for f, k, v in mops if f == "w")

    def observations(self, op: Operation) -> tuple[Hashable, ...]:
        mops = _micro_ops(op.output) if op.status == "ok" else None
        if mops is None:
            return ()
        written: set[Hashable] = set()
        seen = []
        for f, k, v in mops:
            if f == "w":
                written.add(k)
            elif k not in written and v != self.initial and not (v is None and self.nil_reads == "unknown"):
                seen.append((k, v))
        return tuple(seen)

    def describe(self, op: Operation) -> str:
        mops = _micro_ops(op.output if op.status == "ok" else op.value) or []
        return "txn(" + " ".join(f"{f}{_short(k)}={_short(v)}" for f, k, v in mops) + ")"


class MutexModel(Model):
    """Knossos's ``mutex``: ``acquire`` succeeds only when the lock is free,
    ``release`` only when it is held."""

    name = "mutex"

    def init(self) -> Hashable:
        return False

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        if op.f == "acquire":
            return (not state), True
        if op.f == "release":
            return bool(state), False
        raise ValueError(self.validate(op))

    def validate(self, op: Operation) -> str | None:
        if op.f not in ("acquire", "release"):
            return f"model 'mutex' has no operation {op.f!r}; it knows acquire, release"
        return None


MODELS: dict[str, type[Model]] = {
    "register": RegisterModel,
    "cas-register": CASRegisterModel,
    "kv": KVModel,
    "set": SetModel,
    "append": ListAppendModel,
    "multi-register": MultiRegisterModel,
    "mutex": MutexModel,
}

#: the models that take ``initial`` and ``nil_reads``
REGISTER_MODELS = ("register", "cas-register", "kv", "multi-register")


def get_model(name: str | Model, **options: Any) -> Model:
    """A model by its command-line name (``register``, ``cas-register``, ``kv``,
    ``set``, ``append``, ``multi-register``, ``mutex``), built with ``options``
    (``initial=``, ``nil_reads=`` for the register models); a :class:`Model`
    instance is returned unchanged."""
    if isinstance(name, Model):
        return name
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
    return cls(**options)

"""Client histories in Jepsen's form: the data every layer agrees on.

A history is a list of :class:`Op` events in real-time order.  Each client
*process* runs one operation at a time: an ``invoke`` event is followed, later,
by exactly one completion of the same process:

* ``ok``   -- the operation took effect (for a read, ``value`` is what it saw);
* ``fail`` -- the operation certainly did not take effect;
* ``info`` -- indeterminate: the client gave up waiting.  The operation may take
  effect at any moment after its invocation, or never.  Following Jepsen, the
  process is then considered crashed and never used again.

An invocation with no completion at all is treated like ``info``.

This module is pure data (no simulation, no checking) so that the simulator,
the checkers and the importers can all share it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FrozenMap",
    "Op",
    "Operation",
    "OP_TYPES",
    "freeze",
    "pair_operations",
    "history_to_json",
    "history_from_json",
]

OP_TYPES = ("invoke", "ok", "fail", "info")


class FrozenMap(dict):  # type: ignore[type-arg]
    """An immutable, hashable map: what a JSON object or an EDN map inside a
    value becomes, so that checkers can remember states that hold it."""

    __slots__ = ("_hash",)

    def __hash__(self) -> int:  # type: ignore[override]
        try:
            return self._hash
        except AttributeError:
            self._hash: int = hash(frozenset(self.items()))
            return self._hash

    def _immutable(self, *_: Any, **__: Any) -> None:
        raise TypeError("a FrozenMap cannot be changed")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _immutable  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.items()) + "}"


def freeze(v: Any) -> Any:
    """``v`` made immutable and hashable, recursively: lists become tuples,
    dicts :class:`FrozenMap`, sets frozensets.  Anything else is returned as is."""
    if isinstance(v, FrozenMap | str | int | float | bool) or v is None:
        return v
    if isinstance(v, dict):
        return FrozenMap((freeze(k), freeze(x)) for k, x in v.items())
    if isinstance(v, list | tuple):
        return tuple(freeze(x) for x in v)
    if isinstance(v, set | frozenset):
        return frozenset(freeze(x) for x in v)
    return v


@dataclass(frozen=True, slots=True)
class Op:
    """One history event, exactly as a Jepsen client would log it."""

    process: int
    type: str  # "invoke" | "ok" | "fail" | "info"
    f: str  # "read", "write", "cas", "get", "put", "append", "add", ...
    key: Any = None
    value: Any = None
    time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "key": self.key,
            "value": _jsonable(self.value),
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Op:
        return cls(
            process=int(d["process"]),
            type=str(d["type"]),
            f=str(d["f"]),
            key=freeze(d.get("key")),
            value=freeze(d.get("value")),
            time=float(d.get("time", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class Operation:
    """An invocation paired with its completion: the unit checkers reason about.

    ``call`` and ``ret`` are positions (or times) on one real-time axis;
    ``ret`` is ``float('inf')`` for an operation that never completed
    definitely (``info`` or missing completion).
    """

    index: int
    process: int
    f: str
    key: Any
    value: Any  # the invocation's argument
    output: Any  # the completion's value (a read's result); None when unknown
    status: str  # "ok" | "fail" | "info"
    call: float
    ret: float

    @property
    def completed(self) -> bool:
        return self.status == "ok"


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, frozenset | set):
        return sorted((_jsonable(x) for x in v), key=repr)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def pair_operations(history: Sequence[Op], *, use_time: bool = False) -> list[Operation]:
    """Pair each invocation with its completion.

    Positions in the list are the real-time axis unless ``use_time`` is set.
    ``fail`` operations are kept (status ``fail``) so that callers can decide;
    ``info`` and unmatched invocations get ``ret = inf``.
    Raises ``ValueError`` naming the event when the history is malformed.
    """
    open_ops: dict[int, tuple[int, Op, float]] = {}
    done: list[tuple[int, Op, float, Op | None, float]] = []
    for pos, ev in enumerate(history):
        t = ev.time if use_time else float(pos)
        if ev.type == "invoke":
            if ev.process in open_ops:
                raise ValueError(f"event {pos}: process {ev.process} invokes while an operation is open")
            open_ops[ev.process] = (pos, ev, t)
        elif ev.type in ("ok", "fail", "info"):
            if ev.process not in open_ops:
                raise ValueError(f"event {pos}: process {ev.process} completes ({ev.type}) with no open invocation")
            ipos, inv, it = open_ops.pop(ev.process)
            done.append((ipos, inv, it, ev, t))
        else:
            raise ValueError(f"event {pos}: unknown type {ev.type!r} (expected one of {OP_TYPES})")
    for ipos, inv, it in open_ops.values():
        done.append((ipos, inv, it, None, float("inf")))
    done.sort(key=lambda x: x[0])
    out = []
    for i, (_ipos, inv, it, comp, t) in enumerate(done):
        status = comp.type if comp is not None else "info"
        ret = t if status in ("ok", "fail") else float("inf")
        output = comp.value if (comp is not None and status == "ok") else None
        out.append(Operation(i, inv.process, inv.f, inv.key, inv.value, output, status, it, ret))
    return out


def history_to_json(history: Iterable[Op]) -> str:
    """Our own JSON history format: one object with an ``events`` list."""
    return json.dumps({"format": "consensus_lab.history/1", "events": [op.to_dict() for op in history]})


def history_from_json(text: str) -> list[Op]:
    """Read our JSON format (an object with ``events``, or a bare list)."""
    data = json.loads(text)
    events = data["events"] if isinstance(data, dict) else data
    return [Op.from_dict(e) for e in events]

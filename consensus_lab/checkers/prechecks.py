"""Cheap refutations, tried before any search (private to the checkers).

Two patterns prove a history is not linearizable without searching, in time
linear in the history (Knossos and Porcupine users know them as the first
things to look at):

``unwritten value``
    a completed read saw a value that no write (completed or indeterminate) on
    that object could have stored, and that is not the start value;
``future read``
    a completed read saw a value whose every possible writer was invoked only
    after the read had completed: the read would have to precede the write
    it observed.

Only models that describe their operations as "store these values"
(:meth:`Model.effects`, :meth:`Model.observations`) take part; for the others
(say an ``append`` on strings) the pre-checks stay silent and the search
decides.  The ``unwritten value`` check needs no real time, so it also refutes
sequential consistency.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from consensus_lab.history import Operation

from .models import Model

__all__ = ["FUTURE_READ", "UNWRITTEN_VALUE", "Refutation", "refute"]

UNWRITTEN_VALUE = "unwritten value"
FUTURE_READ = "future read"


@dataclass(frozen=True)
class Refutation:
    """Which pre-check fired, on which read and value, and why."""

    check: str
    read: Operation
    value: Hashable
    partition: Hashable
    detail: str


def refute(ops: Sequence[Operation], model: Model, *, real_time: bool = True) -> Refutation | None:
    """The first read (by invocation) that a pre-check refutes, or ``None``.

    ``ops`` are the relevant operations (no failed ones, no indeterminate reads).
    """
    earliest: dict[tuple[Hashable, Hashable], float] = {}  # (partition, value) -> earliest writer call
    blind: set[Hashable] = set()
    for op in ops:
        key = model.partition_key(op)
        effects = model.effects(op)
        if effects is None:
            blind.add(key)
            continue
        for v in effects:
            try:
                slot = (key, v)
                if op.call < earliest.get(slot, float("inf")):
                    earliest[slot] = op.call
            except TypeError:  # an unhashable value: nothing to say about this object
                blind.add(key)
    for op in sorted(ops, key=lambda o: (o.call, o.index)):
        if op.status != "ok":
            continue
        key = model.partition_key(op)
        if key in blind:
            continue
        for v in model.observations(op):
            try:
                first = earliest.get((key, v))
            except TypeError:
                continue
            if first is None:
                return Refutation(UNWRITTEN_VALUE, op, v, key, f"{_where(op, v, key, model)}, which no write "
                                  f"(ok or info) could have stored")
            if real_time and first > op.ret:
                return Refutation(FUTURE_READ, op, v, key, f"{_where(op, v, key, model)}, but every write of "
                                  f"it was invoked after the read completed")
    return None


def _where(op: Operation, v: Hashable, key: Hashable, model: Model) -> str:
    where = "" if key is None else f" on key {key!r}"
    return f"#{op.index} {model.describe(op)} read {v!r}{where}"

"""Helpers shared by the checkers (private)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from consensus_lab.history import Op, Operation, pair_operations

from .models import Model


def as_operations(history: Sequence[Op] | Sequence[Operation]) -> list[Operation]:
    """Accept a Jepsen event list (paired here, positions as time) or operations."""
    if not history:
        return []
    if all(isinstance(x, Operation) for x in history):
        return list(history)  # type: ignore[arg-type]
    if all(isinstance(x, Op) for x in history):
        return pair_operations(history)  # type: ignore[arg-type]
    raise TypeError("a history is a list of Op events or of paired Operation objects")


def validate_operations(ops: Sequence[Operation], model: Model) -> None:
    """Raise ``ValueError`` naming the first operation the model does not know."""
    for op in ops:
        if op.status not in ("ok", "fail", "info"):
            raise ValueError(f"operation {op.index}: unknown status {op.status!r}")
        problem = model.validate(op)
        if problem:
            raise ValueError(f"operation {op.index} (process {op.process}, {op.f}): {problem}")


def relevant(ops: Sequence[Operation], model: Model) -> list[Operation]:
    """Drop what cannot matter: failed operations never happened, and an
    indeterminate read changed nothing and told nothing."""
    return [op for op in ops if op.status == "ok" or (op.status == "info" and not model.is_pure(op))]


def partition(ops: Sequence[Operation], model: Model) -> dict[Hashable, list[Operation]]:
    """Split by ``model.partition_key``, keys in order of first appearance."""
    parts: dict[Hashable, list[Operation]] = {}
    for op in ops:
        parts.setdefault(model.partition_key(op), []).append(op)
    return parts

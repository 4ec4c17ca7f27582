"""A brute-force linearizability checker: the definition, executed literally.

Try every order of the operations that respects real time, run each through
the model, and accept if one works.  No memoization, no partitions, no
shortcuts: exponential, so only for histories of a dozen operations.  It is the
reference the fast checker is tested against (and what exercise 1 asks
students to write).

Jepsen's meaning of outcomes: ``ok`` operations must appear in the order;
``fail`` operations never happened and are left out; ``info`` operations may
appear (at any point after their invocation) or not at all.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from consensus_lab.history import Op, Operation

from ._common import as_operations, validate_operations
from .models import Model, get_model

__all__ = ["brute_force_linearizable", "MAX_BRUTE_OPERATIONS"]

#: refuse histories with more operations than this (the search is factorial)
MAX_BRUTE_OPERATIONS = 14


def brute_force_linearizable(
    history: Sequence[Op] | Sequence[Operation], model: Model | str
) -> list[int] | None:
    """A linearization (operation indices in order) or ``None`` if there is none.

    Operations on different keys share one combined state (a dict from
    ``model.partition_key`` to that key's state), so no locality is assumed.
    """
    model = get_model(model)
    ops = [op for op in as_operations(history) if op.status != "fail"]
    validate_operations(ops, model)
    if len(ops) > MAX_BRUTE_OPERATIONS:
        raise ValueError(
            f"{len(ops)} operations is too many for brute force (limit {MAX_BRUTE_OPERATIONS})"
        )
    placed = [False] * len(ops)
    order: list[int] = []

    def may_go_next(k: int) -> bool:
        # every operation that completed before ops[k] was invoked is placed
        return all(placed[j] or not (ops[j].ret < ops[k].call) for j in range(len(ops)))

    def search(states: dict[Hashable, Any]) -> bool:
        if all(placed[j] or ops[j].status != "ok" for j in range(len(ops))):
            return True
        for k, op in enumerate(ops):
            if placed[k] or not may_go_next(k):
                continue
            key = model.partition_key(op)
            legal, new = model.step(states.get(key, model.init()), op)
            if not legal:
                continue
            placed[k] = True
            order.append(op.index)
            if search({**states, key: new}):
                return True
            placed[k] = False
            order.pop()
        return False

    return list(order) if search({}) else None

"""Sequential consistency: one order for everybody, but no clock.

Lamport (1979): a history is *sequentially consistent* when some single order
of all its operations (1) is accepted by the sequential model and (2) keeps
each process's own operations in the order that process issued them.  Unlike
linearizability, operations of *different* processes may be reordered even if
one finished long before the other started: a read may return a stale value,
as long as everybody agrees on one story.

Sequential consistency is not *local*: two keys that are each sequentially
consistent can be inconsistent together.  So this checker does not split the
history by key; it searches over the whole history at once, with memoization
of ``(how far each process got, model state)``.  That search grows quickly, so
it refuses histories above ``max_operations`` (an exact answer on small
histories is the point here).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from consensus_lab.history import Op, Operation

from ._common import as_operations, relevant, validate_operations
from .models import Model, get_model

__all__ = ["HistoryTooLargeError", "SequentialResult", "check_sequential", "MAX_SEQUENTIAL_OPERATIONS"]

#: default size limit of :func:`check_sequential`
MAX_SEQUENTIAL_OPERATIONS = 60


class HistoryTooLargeError(ValueError):
    """The exact search would take too long for this many operations."""


@dataclass
class SequentialResult:
    """Verdict of :func:`check_sequential`.

    ``order`` is a valid total order (operation numbers) when it holds;
    otherwise ``longest_prefix`` is the longest order that works and ``stuck``
    the operations that come next in their process and cannot be placed.
    Operations are named by their own ``Operation.index`` (so a sub-history,
    say one key's operations, names them as the full history does), unless two
    share a number: then they are renumbered by position in ``operations``.
    """

    holds: bool
    detail: str
    operations: list[Operation] = field(repr=False)
    order: list[int] | None = None
    longest_prefix: list[int] = field(default_factory=list)
    stuck: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        return "sequentially consistent" if self.holds else "not sequentially consistent"


def check_sequential(
    history: Sequence[Op] | Sequence[Operation],
    model: Model | str,
    *,
    max_operations: int = MAX_SEQUENTIAL_OPERATIONS,
    timeout: float | None = 10.0,
) -> SequentialResult:
    """Decide whether ``history`` is sequentially consistent for ``model``.

    ``history`` is any list of events or of operations, e.g. one key's
    operations picked out of a longer history.  Raises
    :class:`HistoryTooLargeError` above ``max_operations`` operations (after
    dropping failed operations and indeterminate reads) and ``TimeoutError``
    when ``timeout`` seconds pass without an answer.
    """
    t0 = time.perf_counter()
    model = get_model(model)
    ops = as_operations(history)
    if len({op.index for op in ops}) != len(ops):  # numbers must name one operation each
        ops = [dataclasses.replace(op, index=i) for i, op in enumerate(ops)]
    validate_operations(ops, model)
    rel = relevant(ops, model)
    if len(rel) > max_operations:
        raise HistoryTooLargeError(
            f"{len(rel)} operations: the exact sequential-consistency search is limited to "
            f"{max_operations} (pass max_operations=... to try anyway, or check a smaller history)"
        )
    # Program order of each process (a crashed process's info op is its last).
    procs: dict[Hashable, list[Operation]] = {}
    for op in sorted(rel, key=lambda o: o.call):
        procs.setdefault(op.process, []).append(op)
    queues = list(procs.values())
    keys = sorted({model.partition_key(op) for op in rel}, key=repr)
    slot = {k: i for i, k in enumerate(keys)}
    init = tuple(model.init() for _ in keys)
    deadline = None if timeout is None else t0 + timeout

    def finished(pos: tuple[int, ...]) -> bool:
        return all(all(op.status != "ok" for op in q[p:]) for q, p in zip(queues, pos, strict=True))

    def advance(pos: tuple[int, ...], state: tuple[Any, ...], p: int) -> tuple[Any, ...] | None:
        op = queues[p][pos[p]]
        k = slot[model.partition_key(op)]
        legal, new = model.step(state[k], op)
        if not legal:
            return None
        return state if new == state[k] else state[:k] + (new,) + state[k + 1 :]

    memo: set[tuple[tuple[int, ...], tuple[Any, ...]]] = set()
    best: list[int] = []
    best_node: tuple[tuple[int, ...], tuple[Any, ...]] = ((0,) * len(queues), init)
    path: list[int] = []

    def search(pos: tuple[int, ...], state: tuple[Any, ...]) -> bool:
        nonlocal best, best_node
        if finished(pos):
            return True
        if (pos, state) in memo:
            return False
        memo.add((pos, state))
        if len(path) > len(best):
            best, best_node = list(path), (pos, state)
        if deadline is not None and time.perf_counter() > deadline:
            raise TimeoutError(f"no answer within {timeout} s")
        for p, q in enumerate(queues):
            if pos[p] >= len(q):
                continue
            new = advance(pos, state, p)
            if new is None:
                continue
            path.append(q[pos[p]].index)
            if search(pos[:p] + (pos[p] + 1,) + pos[p + 1 :], new):
                return True
            path.pop()
        return False

    if search((0,) * len(queues), init):
        n = len(path)
        return SequentialResult(True, f"sequentially consistent: one order of {n} operations works for all",
                                ops, order=list(path), seconds=time.perf_counter() - t0)
    pos, state = best_node
    blocked = [q[pos[p]] for p, q in enumerate(queues)
               if pos[p] < len(q) and q[pos[p]].status == "ok" and advance(pos, state, p) is None]
    stuck = [op.index for op in blocked]
    names = ", ".join(f"#{op.index} {model.describe(op)} (process {op.process})" for op in blocked)
    detail = (f"not sequentially consistent: after {len(best)} operation{'' if len(best) == 1 else 's'} "
              f"in every possible order, "
              f"no process can continue: {names}")
    return SequentialResult(False, detail, ops, longest_prefix=best, stuck=stuck,
                            seconds=time.perf_counter() - t0)

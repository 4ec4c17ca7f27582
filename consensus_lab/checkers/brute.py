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

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from consensus_lab.history import Op, Operation

from ._common import as_operations, validate_operations
from .models import Model, get_model

__all__ = ["brute_force_causal", "brute_force_linearizable", "brute_force_serializable", "MAX_BRUTE_OPERATIONS"]

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


def brute_force_causal(history: Sequence[Op] | Sequence[Operation], mode: str, initial: Hashable = None) -> bool:
    """Causal consistency by its definition (Bouajjani et al. 2017), for a
    differentiated history of a few operations: enumerate the orders.

    ``weak``: each read is valid in some order of its causal past;
    ``memory``: each process's reads are all valid in one order of the writes and
    reads in its causal past; ``convergence``: one order of all writes,
    extending the causal order, makes every read return the last write of its
    causal past.  The causal order is ``(po | rf)+``, closed here by brute force.
    """
    from .causal import INIT, CausalHistory

    h = CausalHistory(history, initial)
    n = h.n
    if n > MAX_BRUTE_OPERATIONS or any(h.source[r] is None for r in h.reads):
        if n > MAX_BRUTE_OPERATIONS:
            raise ValueError(f"{n} operations is too many for brute force (limit {MAX_BRUTE_OPERATIONS})")
        return False
    co = [[b in h.succ[a] for b in range(n)] for a in range(n)]
    for k in range(n):
        for i in range(n):
            if co[i][k]:
                for j in range(n):
                    if co[k][j]:
                        co[i][j] = True
    if any(co[i][i] for i in range(n)):
        return False

    def orders(nodes: list[int]) -> Any:
        if not nodes:
            yield []
            return
        for x in nodes:
            if not any(co[y][x] for y in nodes if y != x):
                rest = [y for y in nodes if y != x]
                for tail in orders(rest):
                    yield [x, *tail]

    def valid(order: list[int], readers: list[int]) -> bool:
        last: dict[Hashable, int] = {}
        for i in order:
            op = h.ops[i]
            if i in h.source:
                if i in readers and last.get(op.key, INIT) != h.source[i]:
                    return False
            else:
                last[op.key] = i
        return True

    if mode == "weak":
        return all(any(valid(o, [r]) for o in orders([i for i in range(n) if co[i][r]] + [r]))
                   for r in h.reads)
    if mode == "memory":
        for seq in h.sessions.values():
            scope = sorted({i for s in seq for i in range(n) if co[i][s]} | set(seq))
            if not any(valid(o, [r for r in seq if r in h.source]) for o in orders(scope)):
                return False
        return True
    writes = [i for i in range(n) if i not in h.source]
    for order in orders(writes):
        rank = {w: k for k, w in enumerate(order)}
        good = True
        for r in h.reads:
            seen = [w for w in h.writes_on.get(h.ops[r].key, ()) if co[w][r]]
            if (max(seen, key=rank.__getitem__) if seen else INIT) != h.source[r]:
                good = False
                break
        if good:
            return True
    return False


def brute_force_serializable(history: Sequence[Op] | Sequence[Operation], *, real_time: bool = False,
                             versions: Mapping[Hashable, Sequence[Any]] | None = None) -> bool:
    """Serializability of a list-append or rw-register transaction history by
    its definition: some order of the committed transactions (plus any subset
    of the indeterminate ones), run one at a time from empty keys, gives every
    read what it saw; with ``real_time``, the order also respects real time;
    with ``versions`` (key -> values, oldest first), it also installs every
    key's values in that order."""
    from itertools import combinations, permutations

    from .elle import _APPEND, _READ, _mops

    txns = [op for op in as_operations(history) if op.f == "txn" and op.status != "fail"]
    if len(txns) > 8:
        raise ValueError(f"{len(txns)} transactions is too many for brute force (limit 8)")
    must = [t for t in txns if t.status == "ok"]
    maybe = [t for t in txns if t.status == "info"]

    def runs(order: Sequence[Operation]) -> bool:
        state: dict[Hashable, Any] = {}
        installed: dict[Hashable, list[Any]] = {}
        for t in order:
            for f, k, v in _mops(t.output if t.status == "ok" else t.value):
                if f == _APPEND:
                    state[k] = (*state.get(k, ()), v)
                elif f == _READ:
                    if t.status != "ok":
                        continue
                    now = state.get(k)
                    if isinstance(v, tuple) or (v is None and isinstance(now, tuple)):
                        if tuple(v or ()) != (now or ()):
                            return False
                    elif v != now:
                        return False
                else:
                    state[k] = v
                    installed.setdefault(k, []).append(v)
        for k, seq in (versions or {}).items():
            done = installed.get(k, [])
            if [v for v in seq if v in done] != [v for v in done if v in seq]:
                return False
        return True

    for n in range(len(maybe) + 1):
        for extra in combinations(maybe, n):
            for order in permutations([*must, *extra]):
                if real_time and any(b.ret < a.call for i, a in enumerate(order) for b in order[i + 1 :]):
                    continue
                if runs(order):
                    return True
    return False

"""Linearizability of a grow-only set history in polynomial time (private).

A set with ``add(x)`` and ``read -> S`` needs no search.  Its states only grow,
so in any linearization the reads' results form a chain
``S1 < S2 < ... < Sm`` (reads with equal results are interchangeable), and the
linearization is made of blocks::

    adds of S1 | reads of S1 | adds of S2 - S1 | reads of S2 | ... | adds of the rest

where for each element only *one* add (its first) must sit in its block, and
every other add of it only has to come after the reads that did not see it.
Whether points inside the operations' intervals can be chosen in that block
order is then a greedy sweep: give every operation the earliest point it can
have (after the previous block), and for each element take the add whose
earliest point is smallest.  Earliest points never hurt a later block, so the
sweep fails exactly when no linearization exists.  Cost: sorting the reads
plus one pass, ``O(n log n)`` set operations, where the general search keeps
one configuration per subset of indeterminate adds (an Elasticsearch history
with 90 ``info`` adds never finishes).

Points are pairs ``(time, k)`` meaning ``time + k * epsilon``, so "strictly
after" is exact with any time axis.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from consensus_lab.history import Operation

from .models import Model

__all__ = ["SetVerdict", "decide_set"]

Point = tuple[float, int]
_START: Point = (float("-inf"), 0)


@dataclass
class SetVerdict:
    """``order``: a linearization when ``ok``; else ``culprits`` and ``reason``."""

    ok: bool
    order: list[int] = field(default_factory=list)  # operation indices
    culprits: list[int] = field(default_factory=list)
    reason: str = ""


def _after(p: Point) -> Point:
    return (p[0], p[1] + 1)


def _earliest(op: Operation, lower: Point) -> Point | None:
    """The earliest point of ``op`` not before ``lower``, or ``None`` if it ended first."""
    p = max((op.call, 0), lower)
    return p if p <= (op.ret, 0) else None


def decide_set(ops: Sequence[Operation], model: Model) -> SetVerdict:
    """Decide one key's set history (``ops``: ok operations and indeterminate adds)."""
    reads = [op for op in ops if op.f == "read" and op.status == "ok"]
    adds: dict[Hashable, list[Operation]] = {}
    for op in ops:
        if op.f == "add":
            adds.setdefault(op.value, []).append(op)
    seen = {op.index: frozenset(model.observations(op)) for op in reads}
    groups: dict[frozenset[Hashable], list[Operation]] = {}
    for op in reads:
        groups.setdefault(seen[op.index], []).append(op)
    chain = sorted(groups, key=len)
    for small, big in zip(chain, chain[1:], strict=False):
        if not small <= big:
            a, b = groups[small][0], groups[big][0]
            return SetVerdict(False, culprits=sorted([a.index, b.index]), reason=(
                f"#{a.index} {model.describe(a)} and #{b.index} {model.describe(b)} saw sets "
                f"neither of which contains the other"))
    placed: list[tuple[Point, int]] = []
    last: Point = _START  # the latest point of a read placed so far
    last_read: Operation | None = None
    before: frozenset[Hashable] = frozenset()
    for result in [*chain, None]:
        new = (result - before) if result is not None else frozenset(adds) - before
        lower = _after(last) if last_read is not None else _START
        top = lower
        for x in sorted(new, key=repr):
            # every completed add of x comes after the reads that did not see it
            for a in adds.get(x, ()):
                if a.status == "ok" and _earliest(a, lower) is None:
                    return SetVerdict(False, culprits=sorted([a.index, last_read.index]), reason=(  # type: ignore[union-attr]
                        f"#{a.index} {model.describe(a)} completed before "
                        f"#{last_read.index} {model.describe(last_read)} began, "  # type: ignore[union-attr]
                        f"which did not see {x!r}"))
            options = [(p, a) for a in adds.get(x, ()) if (p := _earliest(a, lower)) is not None]
            if not options:
                r = groups[result][0] if result is not None else None
                return SetVerdict(False, culprits=[r.index] if r else [], reason=(
                    f"#{r.index} {model.describe(r)} saw {x!r}, but no add of it can take effect "  # type: ignore[union-attr]
                    f"after the reads that did not see it and before this one"))
            p, first = min(options, key=lambda o: (o[0], o[1].index))
            top = max(top, p)
            placed.append((p, first.index))
            placed.extend((q, a.index) for q, a in options if a is not first and a.status == "ok")
        if result is None:
            break
        reads_lower = _after(top) if new else lower
        for r in groups[result]:
            p = _earliest(r, reads_lower)
            if p is None:
                return SetVerdict(False, culprits=[r.index], reason=(
                    f"#{r.index} {model.describe(r)} completed before the adds it saw "
                    f"and the reads that saw less could all take effect"))
            placed.append((p, r.index))
            if last_read is None or p > last:
                last, last_read = p, r
        before = result
    placed.sort()
    return SetVerdict(True, order=[i for _, i in placed])

"""Conflict-free replicated data types (CRDTs): states that always merge.

Shapiro, Preguica, Baquero and Zawirski (2011) show that if a replica's state
lives in a *join-semilattice* -- a merge that is commutative
(``a.merge(b) == b.merge(a)``), associative and idempotent
(``a.merge(a) == a``), and updates only move a state up -- then replicas that
exchange states in any order, any number of times, converge to the same state.
No coordination, no lost update, no siblings for the application to resolve.

Three classics, as pure immutable values (``merge`` returns a new one):

* :class:`GCounter` -- a grow-only counter: one count per replica; the value is
  the sum; merge takes the entry-wise maximum.
* :class:`PNCounter` -- increments and decrements: two G-counters, value P - N.
* :class:`ORSet` -- an observed-remove set: every ``add`` gets a unique tag;
  ``remove`` deletes the tags it has *observed*, so an add concurrent with a
  remove survives ("add wins").  This version keeps the removed tags
  (tombstones) to stay short; production sets (Riak's, Automerge's) use a
  causal context to forget them.

Each type also has ``value()`` (what a client reads) and a canonical plain
``state()`` for comparing replicas.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from ._versions import VV, vv_get, vv_increment, vv_merge

__all__ = ["GCounter", "PNCounter", "ORSet", "merge_all"]


@dataclass(frozen=True, slots=True)
class GCounter:
    """A grow-only counter: ``counts`` is a version vector of increments."""

    counts: VV = ()

    def increment(self, node: str, by: int = 1) -> GCounter:
        if by < 0:
            raise ValueError("a G-counter only grows; use a PNCounter to decrement")
        return GCounter(vv_increment(self.counts, node, by)) if by else self

    def merge(self, other: GCounter) -> GCounter:
        return GCounter(vv_merge(self.counts, other.counts))

    def value(self) -> int:
        return sum(c for _, c in self.counts)

    def state(self) -> Any:
        return self.counts

    def __le__(self, other: GCounter) -> bool:
        return all(c <= vv_get(other.counts, n) for n, c in self.counts)


@dataclass(frozen=True, slots=True)
class PNCounter:
    """Increments in ``p``, decrements in ``n``; the value is ``p - n``."""

    p: GCounter = GCounter()
    n: GCounter = GCounter()

    def increment(self, node: str, by: int = 1) -> PNCounter:
        if by >= 0:
            return PNCounter(self.p.increment(node, by), self.n)
        return PNCounter(self.p, self.n.increment(node, -by))

    def decrement(self, node: str, by: int = 1) -> PNCounter:
        return self.increment(node, -by)

    def merge(self, other: PNCounter) -> PNCounter:
        return PNCounter(self.p.merge(other.p), self.n.merge(other.n))

    def value(self) -> int:
        return self.p.value() - self.n.value()

    def state(self) -> Any:
        return (self.p.counts, self.n.counts)

    def __le__(self, other: PNCounter) -> bool:
        return self.p <= other.p and self.n <= other.n


Tag = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ORSet:
    """An observed-remove set with add-wins semantics.

    ``adds`` holds ``(element, tag)`` pairs, ``removed`` the tags deleted, and
    ``clock`` how many tags each replica has handed out (so tags are unique:
    replica ``r``'s k-th add is tagged ``(r, k)``).
    """

    adds: frozenset[tuple[Hashable, Tag]] = frozenset()
    removed: frozenset[Tag] = frozenset()
    clock: VV = ()

    def add(self, node: str, element: Hashable) -> ORSet:
        clock = vv_increment(self.clock, node)
        tag = (node, vv_get(clock, node))
        return ORSet(self.adds | {(element, tag)}, self.removed, clock)

    def remove(self, element: Hashable) -> ORSet:
        """Remove every add of ``element`` this replica has observed."""
        tags = {t for e, t in self.adds if e == element and t not in self.removed}
        return ORSet(self.adds, self.removed | tags, self.clock) if tags else self

    def merge(self, other: ORSet) -> ORSet:
        if self is other:
            return self
        return ORSet(self.adds | other.adds, self.removed | other.removed, vv_merge(self.clock, other.clock))

    def __contains__(self, element: Hashable) -> bool:
        return any(e == element and t not in self.removed for e, t in self.adds)

    def value(self) -> tuple:
        """The elements, sorted (by ``repr`` when they are of mixed types)."""
        live = {e for e, t in self.adds if t not in self.removed}
        try:
            return tuple(sorted(live))
        except TypeError:
            return tuple(sorted(live, key=repr))

    def state(self) -> Any:
        return (
            tuple(sorted(self.adds, key=repr)),
            tuple(sorted(self.removed)),
            self.clock,
        )

    def __le__(self, other: ORSet) -> bool:
        return self.adds <= other.adds and self.removed <= other.removed


def merge_all(states: Iterable[Any]) -> Any:
    """Merge a non-empty sequence of CRDT states of one type, left to right."""
    it = iter(states)
    try:
        out = next(it)
    except StopIteration:
        raise ValueError("merge_all needs at least one state") from None
    for s in it:
        out = out.merge(s)
    return out

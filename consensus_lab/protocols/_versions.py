"""Version vectors: how replicas tell "happened before" from "concurrent".

A version vector maps each replica to the number of writes it originated that
are reflected in a state (Parker et al. 1983; the same arithmetic as Fidge's
and Mattern's vector clocks).  Comparing two vectors entry by entry says how
two states are related:

* ``a <= b`` everywhere: ``b`` has seen everything ``a`` has (``a`` is older
  or equal) -- keep ``b``;
* some entries bigger on each side: the states are *concurrent* -- neither
  write saw the other, and a store must either pick one (losing the other)
  or keep both as *siblings*.

The representation is a tuple of ``(replica, counter)`` pairs sorted by
replica, with no zero entries: immutable, hashable, and the same for equal
vectors, so it can go in messages, durable storage and sets unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "VV",
    "vv",
    "vv_get",
    "vv_merge",
    "vv_leq",
    "vv_lt",
    "vv_concurrent",
    "vv_compare",
    "vv_increment",
    "vv_set",
    "vv_missing",
    "vv_str",
]

VV = tuple[tuple[str, int], ...]

EMPTY: VV = ()


def vv(entries: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> VV:
    """Build a canonical vector from a dict or pairs (zeros dropped)."""
    items = entries.items() if isinstance(entries, Mapping) else entries
    out: dict[str, int] = {}
    for node, count in items:
        if count < 0:
            raise ValueError(f"version vector entries are counts >= 0, got {node}={count}")
        if count:
            out[node] = max(out.get(node, 0), int(count))
    return tuple(sorted(out.items()))


def vv_get(a: VV, node: str) -> int:
    for n, c in a:
        if n == node:
            return c
    return 0


def vv_merge(a: VV, b: VV) -> VV:
    """The entry-wise maximum: the smallest vector that has seen both."""
    if not a:
        return b
    if not b or a == b:
        return a
    d = dict(a)
    for n, c in b:
        if c > d.get(n, 0):
            d[n] = c
    return tuple(sorted(d.items()))


def vv_leq(a: VV, b: VV) -> bool:
    """``a <= b``: everything ``a`` reflects, ``b`` reflects too."""
    if not a:
        return True
    db = dict(b)
    return all(c <= db.get(n, 0) for n, c in a)


def vv_lt(a: VV, b: VV) -> bool:
    """``a < b``: ``b`` has seen everything ``a`` has, and more."""
    return a != b and vv_leq(a, b)


def vv_concurrent(a: VV, b: VV) -> bool:
    """Neither has seen the other: ``a || b``."""
    return not vv_leq(a, b) and not vv_leq(b, a)


def vv_compare(a: VV, b: VV) -> str:
    """``"="``, ``"<"``, ``">"`` or ``"||"`` (concurrent)."""
    if a == b:
        return "="
    if vv_leq(a, b):
        return "<"
    if vv_leq(b, a):
        return ">"
    return "||"


def vv_increment(a: VV, node: str, by: int = 1) -> VV:
    """``a`` with ``node``'s entry raised by ``by`` (a new event at ``node``)."""
    d = dict(a)
    d[node] = d.get(node, 0) + by
    return tuple(sorted(d.items()))


def vv_set(a: VV, node: str, count: int) -> VV:
    """``a`` with ``node``'s entry raised to at least ``count``."""
    return vv_merge(a, ((node, count),)) if count > 0 else a


def vv_missing(have: VV, need: VV) -> VV:
    """The entries of ``need`` that ``have`` has not reached (empty: ``need <= have``)."""
    dh = dict(have)
    return tuple((n, c) for n, c in need if c > dh.get(n, 0))


def vv_str(a: VV) -> str:
    """A short label such as ``[n1:2 n3:1]`` for pictures."""
    return "[" + " ".join(f"{n}:{c}" for n, c in a) + "]"

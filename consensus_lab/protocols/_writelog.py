"""The write log: each store records, durably, the version it gave every write.

A checker that only sees the clients' history cannot know the order in which a
store arranged its writes; session guarantees are defined relative to that
order (Terry et al. 1994).  So each store writes ``(key, value, version)`` to
its durable storage when it versions a write, and
:func:`consensus_lab.properties.store_versions` reads them back from a run.
Values are unique per write, so ``(key, value)`` names a write.  Record a
version when the write is *applied*; if one write was applied twice (a copy
lost in a failover, then a client's retry), the later version counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["record_version", "versions_in", "PREFIX"]

PREFIX = "version:"


def record_version(ctx: Any, key: Any, value: Any, version: Any) -> None:
    """Remember durably that the write of ``value`` to ``key`` got ``version``."""
    ctx.storage[f"{PREFIX}{key!r}:{value!r}"] = (key, value, version)


def versions_in(storage: Mapping[str, Mapping[str, Any]]) -> dict[tuple[Any, Any], Any]:
    """Every recorded version, from the durable storage of all nodes."""
    out: dict[tuple[Any, Any], Any] = {}
    for store in storage.values():
        for name, rec in store.items():
            if isinstance(name, str) and name.startswith(PREFIX):
                key, value, version = rec
                if isinstance(version, list):  # read back from JSON
                    version = _tuplify(version)
                old = out.get((key, value))
                if old is None or _newer(version, old):
                    out[(key, value)] = version
    return out


def _newer(a: Any, b: Any) -> bool:
    """A write applied twice (a retry after its first copy was lost) keeps the later version."""
    try:
        return a > b
    except TypeError:
        return False


def _tuplify(v: Any) -> Any:
    return tuple(_tuplify(x) for x in v) if isinstance(v, list) else v

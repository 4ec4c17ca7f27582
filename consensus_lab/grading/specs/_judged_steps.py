"""A search check judged by the rules of the seeded runs' judge (exercises 11 to 14).

A seeded run's :class:`~consensus_lab.grading.checks.Judge` sees every handler
call: the storage keys it wrote (with their old values) and its effects.  In a
search check the nodes are :class:`~consensus_lab.grading.search.SteppedNode`
stand-ins and the explorer calls invariants on states, so :class:`JudgedSteps`
rebuilds the same two observations after every step: what one node's storage
(or every node's) changed since the last state it judged (its memory, kept per state by the
explorer), and what each node was *seen* to do (``facts``, which the spec's
``observe`` gathers with :func:`seen`).  Both go through the exercise's own
rules object, the one its judge uses, so a search and a seeded run break the
same rule with the same words.
"""

from __future__ import annotations

from typing import Any

from ...sim import Invariant
from ..checks import Violation
from ..hosting import _ABSENT

__all__ = ["JudgedSteps", "seen"]


def seen(facts: dict[str, Any], **new: list[tuple]) -> dict[str, Any]:
    """``facts`` with each ``new[name]`` entry added to the tuple ``facts[name]`` once, in the order first
    seen (``facts`` itself when nothing is new: a retry that repeats itself adds no state)."""
    out = facts
    for name, entries in new.items():
        have = facts.get(name, ())
        more = tuple(dict.fromkeys(e for e in entries if e not in have))
        if more:
            out = {**out, name: have + more}
    return out


class JudgedSteps(Invariant):
    """Subclasses name the node whose storage is judged (``watched``; ``None``: every node's) and
    feed their rules in :meth:`storage_changed` and :meth:`observed`; a rule raises
    :class:`~consensus_lab.grading.checks.Violation`, and the invariant takes the rule's name, so
    the feedback and the hints name the rule as in a seeded run."""

    name = "the exercise's rules"
    watched: str | None = "n1"

    def __init__(self) -> None:
        self.store_seen: dict[str, dict[Any, Any]] = {}  # node -> its storage when last judged

    def storage_changed(self, before: dict[Any, Any], store: dict[Any, Any], world: Any, node_id: str) -> None:
        """Node ``node_id`` wrote the keys of ``before`` (their old values, ``_ABSENT`` if new)."""

    def observed(self, node_id: str, facts: dict[str, Any], store: dict[Any, Any], world: Any) -> None:
        """What a live node was seen to do so far (every state: the rules must take a fact twice);
        ``store``: the watched node's storage (with ``watched = None``, this node's)."""

    def check(self, world: Any) -> str | None:
        stores = {}
        try:
            for nid in world.storage if self.watched is None else (self.watched,):
                st = world.storage[nid]
                store = stores[nid] = dict(getattr(st, "_data", st))
                old = self.store_seen.get(nid, {})
                before = {k: old.get(k, _ABSENT) for k in sorted(set(store) | set(old), key=str)
                          if store.get(k, _ABSENT) != old.get(k, _ABSENT)}
                if before:
                    self.storage_changed(before, store, world, nid)
                    self.store_seen = {**self.store_seen, nid: store}
            for nid, node in world.nodes.items():
                facts = getattr(node, "facts", None) if node is not None else None
                if facts:
                    self.observed(nid, facts, stores[nid if self.watched is None else self.watched], world)
        except Violation as v:
            self.name = v.rule
            return v.message
        return None

"""Two-phase commit's safety invariants, checked after every event.

*Atomicity*: no transaction is committed at one node and aborted at another.
*Validity*: a transaction commits only if every participant voted yes.
*Decisions are final*: a node never changes its decision for a transaction --
not even after a crash, when it recovers its decisions from its durable log.

They read nodes only through the views ``decisions()`` (txid -> "commit" or
"abort") and ``votes()`` (txid -> True for a yes vote), so a student's
coordinator and participants can be checked the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..sim import Invariant, World, goal
from ._ballot import Watch, observed_invariants

__all__ = ["COMMIT", "ABORT", "INVARIANT_NAMES", "invariants"]

COMMIT = "commit"
ABORT = "abort"


class _Observer:
    """Remembers every vote and decision seen; shared by the three invariants."""

    def __init__(self) -> None:
        self.watch = Watch(lambda node: (len(node.decisions()), len(node.votes())))
        self.yes: dict[str, set[str]] = {}
        self.seen: dict[tuple[str, str], str] = {}  # (node, txid) -> outcome
        self.first: dict[str, tuple[str, str]] = {}  # txid -> (outcome, node)
        self.where: dict[str, dict[str, list[str]]] = {}  # txid -> outcome -> nodes
        self.problems: dict[str, str] = {}
        self.participants: tuple[str, ...] | None = None

    def update(self, world: World) -> None:
        if self.participants is None:
            self.participants = tuple(list(world.nodes)[1:])
        for nid, node in self.watch.changed(world):
            for txid, yes in node.votes().items():
                if yes:
                    self.yes.setdefault(txid, set()).add(nid)
            for txid, outcome in node.decisions().items():
                prev = self.seen.get((nid, txid))
                if prev == outcome:
                    continue
                if prev is not None:
                    self._problem("decisions are final", f"{nid} decided {prev} for {txid}, later {outcome}")
                self.seen[(nid, txid)] = outcome
                self.first.setdefault(txid, (outcome, nid))
                where = self.where.setdefault(txid, {})
                where.setdefault(outcome, []).append(nid)
                other = ABORT if outcome == COMMIT else COMMIT
                elsewhere = [n for n in where.get(other, ()) if n != nid]
                if elsewhere:
                    self._problem("atomicity", f"{txid} is {other} at {elsewhere[0]} but {outcome} at {nid}")
                if outcome == COMMIT:
                    missing = [p for p in self.participants if p not in self.yes.get(txid, ())]
                    if missing:
                        self._problem("validity", f"{txid} committed at {nid} without a yes vote from {', '.join(missing)}")

    def _problem(self, name: str, text: str) -> None:
        self.problems.setdefault(name, text)


INVARIANT_NAMES = ("atomicity", "validity", "decisions are final")


def invariants(options: Mapping[str, Any] | None = None, variant: str = "correct") -> list[Invariant]:
    """Fresh invariants for one run: atomicity, validity, decisions are final, and goals."""
    obs = _Observer()

    @goal("a transaction committed")
    def committed(world: World) -> bool:
        return any(o == COMMIT for o, _ in obs.first.values())

    @goal("a transaction aborted")
    def aborted(world: World) -> bool:
        return any(o == ABORT for o, _ in obs.first.values())

    return [*observed_invariants(obs, INVARIANT_NAMES), committed, aborted]

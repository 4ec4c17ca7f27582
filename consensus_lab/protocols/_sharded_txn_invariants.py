"""The capstone's invariants, checked after every event.

* **Raft safety, per shard group** -- the five properties of Figure 3 of the
  Raft paper (election safety, leader append-only, log matching, leader
  completeness, state machine safety), each checked within every group by the
  same :class:`~consensus_lab.protocols._raft_invariants.RaftMonitor` lesson 07
  uses, one monitor per group.  (Two groups may well each have a leader in
  term 1; that is not a violation.)
* **Atomicity (no torn transaction)** -- no transaction is committed on one
  shard and aborted on another, or decided one way by the coordinator group and
  the other way by a participant; and no shard installs a commit for a
  transaction it never prepared (it would have no writes to install: the
  transaction's writes would be visible on one shard and missing on another).

Goals: a transaction commits across two or more shards; a transaction aborts.

Nodes are read through their views: ``group``, ``sm.decided`` (the outcomes a
replica has applied, in order) and the Raft views the monitor uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..sim import Invariant, World
from ._raft_invariants import INVARIANT_NAMES as RAFT_NAMES
from ._raft_invariants import RaftMonitor

__all__ = ["ATOMICITY", "INVARIANT_NAMES", "invariants", "TxnObserver", "GroupRaft"]

ATOMICITY = "atomicity (no torn transaction)"
INVARIANT_NAMES = (*RAFT_NAMES, ATOMICITY)


class _Shared:
    """Run a scan once per event, whichever of the invariants sharing it is called first."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}
        self._callers: set[str] = set()

    def refresh(self, world: World, caller: str) -> None:
        if not self._callers or caller in self._callers:
            self._callers = {caller}
            self.scan(world)
        else:
            self._callers.add(caller)

    def scan(self, world: World) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class GroupRaft(_Shared):
    """One :class:`RaftMonitor` per shard group, each fed only its group's nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[tuple[str, ...]] | None = None
        self.monitors: list[RaftMonitor] = []

    def _layout(self, world: World) -> None:
        for node in world.live():
            layout = getattr(node, "layout", None)
            if layout is not None:
                self.groups = [tuple(g) for g in layout.groups]
                self.monitors = [RaftMonitor() for _ in self.groups]
                return

    def scan(self, world: World) -> None:
        if self.groups is None:
            self._layout(world)
            if self.groups is None:
                return
        nodes = world.nodes
        for g, (members, monitor) in enumerate(zip(self.groups, self.monitors, strict=True)):
            sub = World({n: nodes[n] for n in members}, world.storage)
            monitor.scan(sub)
            for name, text in monitor.problems.items():
                self.problems.setdefault(name, f"shard group {g} ({', '.join(members)}): {text}")


class TxnObserver(_Shared):
    """Every outcome any replica applies, compared across shards and with the coordinator."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, tuple[Any, int]] = {}  # node -> (node object, entries of sm.decided read)
        self.coordinator: dict[str, tuple[str, str]] = {}  # txid -> (outcome, node)
        self.participants: dict[str, dict[int, tuple[str, str]]] = {}  # txid -> group -> (outcome, node)
        self.committed_across = False
        self.aborted = False

    def scan(self, world: World) -> None:
        seen = self.seen
        for nid, node in world.nodes.items():
            sm = getattr(node, "sm", None)
            decided = getattr(sm, "decided", None)
            if decided is None:
                continue
            old = seen.get(nid)
            start = old[1] if old is not None and old[0] is node else 0
            if start == len(decided):
                continue
            seen[nid] = (node, len(decided))
            for kind, txid, outcome, was_prepared in decided[start:]:
                self._record(nid, node.group, kind, txid, outcome, was_prepared)

    def _record(self, nid: str, group: int, kind: str, txid: str, outcome: str, was_prepared: bool) -> None:
        if kind == "coordinator":
            first = self.coordinator.setdefault(txid, (outcome, nid))
            if first[0] != outcome:
                self._fail(f"the coordinator group decided {txid} both ways: {first[0]} on {first[1]}, {outcome} on {nid}")
            for g, (o, where) in sorted(self.participants.get(txid, {}).items()):
                if o != outcome:
                    self._fail(f"{txid}: the coordinator decided {outcome} ({nid}) but shard {g} {_past(o)} it ({where})")
            if outcome == "abort":
                self.aborted = True
            return
        if outcome == "commit" and not was_prepared:
            self._fail(f"{txid} committed on shard {group} ({nid}), which never prepared it: its writes there are missing")
        groups = self.participants.setdefault(txid, {})
        first = groups.setdefault(group, (outcome, nid))
        if first[0] != outcome:
            self._fail(f"shard {group} decided {txid} both ways: {first[0]} on {first[1]}, {outcome} on {nid}")
        for g, (o, where) in sorted(groups.items()):
            if g != group and o != outcome:
                self._fail(f"{txid} is {_past(o)} on shard {g} ({where}) but {_past(outcome)} on shard {group} ({nid})")
        coord = self.coordinator.get(txid)
        if coord is not None and coord[0] != outcome:
            self._fail(f"{txid}: the coordinator decided {coord[0]} ({coord[1]}) but shard {group} {_past(outcome)} it ({nid})")
        if outcome == "commit" and sum(1 for o, _ in groups.values() if o == "commit") >= 2:
            self.committed_across = True

    def _fail(self, text: str) -> None:
        self.problems.setdefault(ATOMICITY, text)


def _past(outcome: str) -> str:
    return {"commit": "committed", "abort": "aborted"}.get(outcome, outcome)


class _Checked(Invariant):
    kind = "always"

    def __init__(self, name: str, shared: _Shared) -> None:
        self.name = name
        self.shared = shared

    def check(self, world: World) -> str | None:
        s = self.shared
        s.refresh(world, self.name)
        return s.problems.get(self.name) if s.problems else None


class _Goal(Invariant):
    kind = "sometimes"

    def __init__(self, name: str, observer: TxnObserver, attr: str) -> None:
        self.name = name
        self.observer = observer
        self.attr = attr

    def check(self, world: World) -> str | None:
        return "reached" if getattr(self.observer, self.attr) else None


def invariants(options: Mapping[str, Any] | None = None, variant: str = "correct") -> list[Invariant]:
    """Fresh invariants for one run: Raft safety per group, atomicity, and two goals."""
    raft = GroupRaft()
    txns = TxnObserver()
    return [
        *(_Checked(name, raft) for name in RAFT_NAMES),
        _Checked(ATOMICITY, txns),
        _Goal("a transaction commits across shards", txns, "committed_across"),
        _Goal("a transaction aborts", txns, "aborted"),
    ]

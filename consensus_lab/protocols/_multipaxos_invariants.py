"""Multi-Paxos's invariants, checked after every event.

*One value per slot*: no two different commands are ever chosen for one log
slot (chosen: accepted by a majority of acceptors in the same ballot).
*Replicas learn only chosen commands*, and never change a slot they learned.
*Chosen commands were requested* by some client (or are no-ops).
*Reads are not stale*: no read returns a value older than a write that had
completed before the read began -- a cheap, sound part of linearizability,
judged on the client history as it grows (the full check is
:func:`consensus_lab.checkers.check_linearizable`).

Nodes are read through ``accepted`` (slot -> (ballot, command)) and ``chosen``
(slot -> command).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..sim import Invariant, World, goal
from ._ballot import Ballot, Watch, majority, observed_invariants

if TYPE_CHECKING:
    from .multipaxos import Command

__all__ = ["INVARIANT_NAMES", "invariants"]


class _Observer:
    def __init__(self) -> None:
        self.watch = Watch()  # every change to accepted or chosen is a durable write
        self.acc: dict[str, dict[int, tuple[Ballot, Command]]] = {}
        self.votes: dict[tuple[int, Ballot], list[str]] = {}
        self.chosen: dict[int, tuple[Command, Ballot]] = {}
        self.learned: dict[str, dict[int, Command]] = {}
        self.requested: set[tuple[str, Any, Any]] = set()
        self.history_seen = 0
        self.open: dict[int, Any] = {}  # process -> its open invocation
        self.writes: dict[Any, list[tuple[float, float]]] = {}  # key -> (invoked, completed) of ok writes
        self.written_by: dict[tuple[Any, Any], tuple[float, float]] = {}
        self.problems: dict[str, str] = {}
        self.commands_chosen = 0
        self.leaders: list[str] = []  # proposers of the ballots that chose something

    def update(self, world: World) -> None:
        hist = world.history
        if len(hist) != self.history_seen:
            for op in hist[self.history_seen:]:
                if op.type == "invoke":
                    self.requested.add((op.f, op.key, op.value))
                    self.open[op.process] = op
                else:
                    self._completed(self.open.pop(op.process, None), op)
            self.history_seen = len(hist)
        changed = self.watch.changed(world)
        if not changed:
            return
        quorum = majority(len(world.nodes))
        for nid, node in changed:
            mine = self.acc.setdefault(nid, {})
            accepted = node.accepted
            for slot in _new_or_changed(mine, accepted):
                entry = accepted[slot]
                mine[slot] = entry
                ballot, command = entry
                voters = self.votes.setdefault((slot, ballot), [])
                if nid not in voters:
                    voters.append(nid)
                    if len(voters) == quorum:
                        self._chosen(slot, ballot, command)
        for nid, node in changed:
            known = self.learned.setdefault(nid, {})
            for slot in _new_or_changed(known, node.chosen):
                command = node.chosen[slot]
                old = known.get(slot)
                if old is not None:
                    self._problem("replicas learn only chosen commands", f"{nid} changed slot {slot} from {old} to {command}")
                known[slot] = command
                chosen = self.chosen.get(slot)
                if chosen is None or chosen[0] != command:
                    what = "nothing" if chosen is None else str(chosen[0])
                    self._problem(
                        "replicas learn only chosen commands",
                        f"{nid} learned {command} in slot {slot}, where {what} is chosen",
                    )

    def _completed(self, inv: Any, op: Any) -> None:
        """Stale reads: a read must not miss a write that completed before the read began."""
        if inv is None or op.type != "ok":
            return
        if op.f in ("write", "cas"):
            value = inv.value if op.f == "write" else inv.value[1]
            span = (inv.time, op.time)
            self.writes.setdefault(op.key, []).append(span)
            self.written_by[(op.key, value)] = span
            return
        if op.f != "read":
            return
        # the write the read saw must not be older than a write completed before the read began
        src = self.written_by.get((op.key, op.value)) if op.value is not None else (float("-inf"),) * 2
        if src is None:
            return  # written by an operation still open (or indeterminate): cannot judge
        for w_inv, w_done in self.writes.get(op.key, ()):
            if w_done < inv.time and w_inv > src[1]:
                source = "the initial value" if op.value is None else f"written by an operation done at t={src[1]:.3f}"
                self._problem(
                    "reads are not stale",
                    f"a read of {op.key} invoked at t={inv.time:.3f} returned {op.value!r} ({source}), "
                    f"but a later write (t={w_inv:.3f} to {w_done:.3f}) had already completed",
                )
                return

    def _chosen(self, slot: int, ballot: Ballot, command: Command) -> None:
        if command.f != "noop" and (command.f, command.key, command.value) not in self.requested:
            self._problem("chosen commands were requested", f"{command} is chosen in slot {slot} but no client asked for it")
        old = self.chosen.get(slot)
        if old is None:
            self.chosen[slot] = (command, ballot)
            self.commands_chosen += command.f != "noop"
            if ballot.proposer not in self.leaders:
                self.leaders.append(ballot.proposer)
        elif old[0] != command:
            self._problem("one value per slot", f"slot {slot}: {old[0]} was chosen in {old[1]}, then {command} in {ballot}")

    def _problem(self, name: str, text: str) -> None:
        self.problems.setdefault(name, text)


INVARIANT_NAMES = (
    "one value per slot",
    "replicas learn only chosen commands",
    "chosen commands were requested",
    "reads are not stale",
)


def invariants(options: Mapping[str, Any] | None = None, variant: str = "correct") -> list[Invariant]:
    obs = _Observer()

    @goal("a command is chosen")
    def some_chosen(world: World) -> bool:
        return obs.commands_chosen > 0

    @goal("the leader changed")
    def leader_changed(world: World) -> bool:
        return len(obs.leaders) > 1

    return [*observed_invariants(obs, INVARIANT_NAMES), some_chosen, leader_changed]


def _new_or_changed(seen: dict[int, Any], now: dict[int, Any]) -> list[int]:
    """The slots of ``now`` that are new or different since ``seen`` (in slot order).

    Usually ``now`` only grew, which set operations on the views find fast.
    """
    if len(seen) <= len(now) and seen.items() <= now.items():
        return sorted(now.keys() - seen.keys())
    return [slot for slot, v in now.items() if seen.get(slot) != v]

"""Exercise 16 (capstone, part C): snapshots -- a bounded log, and followers that catch up (lesson 11).

Part A's service applied every entry from index 1 after a restart, and its log
grew without end.  Here the service *compacts* its log (Raft, section 7): now
and then it takes a snapshot of its state at an applied index, and Raft
forgets the entries the snapshot covers.  A follower that needs entries the
leader no longer has gets the leader's snapshot instead (``InstallSnapshot``).

:class:`RaftNode` (given) is part A's Raft with a log that starts after
``self.snapshot`` (a :class:`Snapshot`: ``index``, ``term`` of that entry,
``state``).  Durable: ``storage["snapshot"]`` and ``storage["log"]`` (the
entries after the snapshot), besides the term and the vote.  ``on_start``
reads both and sets ``commit_index = last_applied = snapshot.index``; ``apply``
is then called for the entries after it.  ``self.compact(ctx, index, state)``
stores ``Snapshot(index, term_at(index), state)`` and drops the entries up to
``index`` (only applied ones may be dropped).  A leader whose follower needs an
entry at or before its snapshot sends ``InstallSnapshot(term, leader,
snapshot)``; a follower of that term calls ``self.install_snapshot(ctx,
snapshot)`` and answers ``InstallSnapshotReply``.

You write ``KVServer(RaftNode)`` -- part A's service, plus:

* ``on_start``: rebuild the service from ``self.snapshot.state`` (``None``:
  start empty); the log after it is applied again as usual;
* in ``apply``: once ``SNAPSHOT_EVERY`` entries have been applied since the
  last snapshot, ``self.compact(ctx, index, state)`` with the state *after*
  applying entry ``index`` -- the data **and the duplicate table**, so that a
  retried request is still recognised after a restart or an install;
* ``install_snapshot(ctx, snapshot)``: ignore a snapshot that is not newer
  than what this node has applied (messages arrive late and twice); otherwise
  keep the log entries after ``snapshot.index`` if this log holds that entry
  with that term (else drop the whole log), store the snapshot and the log,
  rebuild the service from ``snapshot.state`` and set ``commit_index`` and
  ``last_applied`` to its index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .ex09 import AppendEntries, AppendEntriesReply, Entry, RequestVote, Vote
from .ex12 import HEARTBEAT, Command, Node, Ok, Redirect
from .ex12 import RaftNode as PartARaft
from .ex12 import view as part_a_view

__all__ = ["Snapshot", "InstallSnapshot", "InstallSnapshotReply", "Command", "Entry", "RaftNode", "HEARTBEAT",
           "SNAPSHOT_EVERY", "LOG_LIMIT", "Node", "Ok", "Redirect", "INTERFACE", "PREAMBLE"]

SNAPSHOT_EVERY = 10  # compact once this many entries have been applied since the last snapshot
LOG_LIMIT = 40  # the checks fail a node that ever stores more log entries than this
DEPENDS = ("ex09", "ex12")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The service's state after applying entries 1..``index`` (``term``: the term of entry ``index``)."""

    index: int = 0
    term: int = 0
    state: Any = None


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    term: int
    leader: str
    snapshot: Snapshot


@dataclass(frozen=True, slots=True)
class InstallSnapshotReply:
    term: int
    index: int  # the snapshot's index: the follower's log now matches the leader's up to here


class RaftNode(PartARaft):
    """Part A's Raft with log compaction (given).  The log holds the entries after ``self.snapshot``."""

    def __init__(self, node_id: str, cluster: tuple[str, ...]) -> None:
        super().__init__(node_id, cluster)
        self.snapshot = Snapshot()

    def on_start(self, ctx) -> None:
        super().on_start(ctx)
        self.snapshot = ctx.storage.get("snapshot", Snapshot())
        self.commit_index = self.last_applied = self.snapshot.index

    def install_snapshot(self, ctx, snapshot: Snapshot) -> None:
        """A follower got the leader's snapshot (override it)."""

    def compact(self, ctx, index: int, state: Any) -> None:
        """Replace the entries up to ``index`` (applied ones) by ``Snapshot(index, term, state)``."""
        if not self.snapshot.index < index <= self.last_applied:
            raise ValueError(f"{self.id}: compact({index}) -- a snapshot must come after the last one (index "
                             f"{self.snapshot.index}) and cover only applied entries (last_applied = "
                             f"{self.last_applied})")
        self.log, self.snapshot = self.log[index - self.log_base():], Snapshot(index, self.term_at(index), state)
        ctx.storage["snapshot"] = self.snapshot
        ctx.storage["log"] = self.log

    # --- the protocol, around the snapshot ---------------------------------------------------
    def log_base(self) -> int:
        return self.snapshot.index

    def term_at(self, index: int) -> int:
        return self.snapshot.term if index == self.snapshot.index else super().term_at(index)

    def on_message(self, ctx, src: str, msg: Any) -> None:
        if isinstance(msg, InstallSnapshot):
            if msg.term > self.current_term:
                self._become_follower(ctx, msg.term)
            if msg.term == self.current_term:
                self.role, self.leader_id = "follower", msg.leader
                self._reset_election(ctx)
                self.install_snapshot(ctx, msg.snapshot)
            ctx.send(src, InstallSnapshotReply(self.current_term, msg.snapshot.index))
        elif isinstance(msg, InstallSnapshotReply):
            if msg.term > self.current_term:
                self._become_follower(ctx, msg.term)
            elif self.role == "leader" and msg.term == self.current_term:
                self.match_index[src] = max(self.match_index[src], msg.index)
                self.next_index[src] = self.match_index[src] + 1
        else:
            super().on_message(ctx, src, msg)

    def _send_append(self, ctx, peer: str) -> None:
        if self.next_index[peer] <= self.snapshot.index:  # it needs entries this log no longer has
            ctx.send(peer, InstallSnapshot(self.current_term, self.id, self.snapshot))
        else:
            super()._send_append(ctx, peer)

    def _on_append(self, ctx, src: str, msg: AppendEntries) -> None:
        skip = self.snapshot.index - msg.prev_index
        if skip > 0 and msg.term >= self.current_term:
            # entries the snapshot covers are committed, hence the leader's too: skip them
            msg = replace(msg, prev_index=self.snapshot.index, prev_term=self.snapshot.term,
                          entries=msg.entries[skip:])
        super()._on_append(ctx, src, msg)


INTERFACE = ("KVServer",)
PREAMBLE = "from consensus_lab.grading.exercises.ex16 import *\n"
MESSAGES = (Command, Entry, Snapshot, RequestVote, Vote, AppendEntries, AppendEntriesReply, InstallSnapshot,
            InstallSnapshotReply)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    cls = answers["KVServer"]
    if not (isinstance(cls, type) and issubclass(cls, RaftNode)):
        raise TypeError("KVServer must be a subclass of this exercise's RaftNode")
    return cls(node_id, cluster)


def view(node: Any) -> dict:
    return {**part_a_view(node), "last_applied": node.last_applied, "snapshot_index": node.snapshot.index}

"""Raft's messages, named and shaped as in Figure 2 and Figure 13 of the paper.

Frozen dataclasses: the simulator copies them on send, so two nodes never
share one.  :mod:`consensus_lab.protocols.raft` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .raft_log import Entry, Snapshot

__all__ = [
    "RequestVote",
    "RequestVoteReply",
    "AppendEntries",
    "AppendEntriesReply",
    "InstallSnapshot",
    "InstallSnapshotReply",
]


@dataclass(frozen=True, slots=True)
class RequestVote:
    """Invoked by candidates to gather votes (5.2)."""

    term: int
    candidate_id: str
    last_log_index: int
    last_log_term: int


@dataclass(frozen=True, slots=True)
class RequestVoteReply:
    term: int
    vote_granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """Invoked by the leader to replicate entries (5.3); also the heartbeat (5.2).

    ``round`` numbers the leader's heartbeat rounds; the read index (section 8)
    uses it to confirm leadership.  It plays no part in replication.
    """

    term: int
    leader_id: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int
    round: int = 0


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    """``match_index`` is ``prev_log_index + len(entries)`` on success (so a stale,
    reordered reply cannot mislead the leader); on failure ``conflict_term`` and
    ``conflict_index`` drive the accelerated back-off (end of 5.3)."""

    term: int
    success: bool
    match_index: int = 0
    conflict_index: int = 0
    conflict_term: int | None = None
    round: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """Invoked by the leader to send a snapshot to a follower that lags (Fig. 13).

    The whole snapshot travels in one message (no ``offset``/``done`` chunks).
    """

    term: int
    leader_id: str
    last_included_index: int
    last_included_term: int
    data: Snapshot


@dataclass(frozen=True, slots=True)
class InstallSnapshotReply:
    term: int
    last_included_index: int = 0

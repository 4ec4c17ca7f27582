"""Raft's log, its snapshot, and the key-value state machine that sits on it.

These are the pieces of :mod:`consensus_lab.protocols.raft` that are plain
data with no messages in them:

* :class:`Entry` -- one log entry: the term of the leader that created it and
  a :class:`Command` (``None`` for a leader's no-op).
* :class:`RaftLog` -- the log after the last snapshot.  Indices start at 1 as
  in the paper; index 0 (term 0) is the empty prefix.  After a snapshot the
  entries up to ``snapshot_index`` are gone and only ``snapshot_term`` is kept,
  so that the consistency check still works at the boundary (section 7).
* :class:`KVStateMachine` -- the service: a map from keys to values plus, for
  every client, the last sequence number it applied and the answer it gave.
  That *session table* is what makes a retried operation apply once
  (section 8): it is part of the replicated state, so it travels in snapshots.
* :class:`Snapshot` -- what is stored and sent by ``InstallSnapshot``.

Nothing here touches ``ctx``; the node decides when to persist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..sim import Fail, Ok

__all__ = ["Command", "Entry", "Snapshot", "RaftLog", "KVStateMachine", "READS", "WRITES", "OPERATIONS"]

READS = frozenset({"read", "get"})
WRITES = frozenset({"write", "put", "cas", "append"})
OPERATIONS = READS | WRITES


@dataclass(frozen=True, slots=True)
class Command:
    """A client operation as it travels in the log; ``(client, seq)`` names it."""

    client: str
    seq: int
    f: str
    key: Any = None
    value: Any = None

    def __str__(self) -> str:
        arg = "" if self.value is None else f" {self.value!r}"
        return f"{self.client}#{self.seq} {self.f} {self.key}{arg}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A log entry: the term in which a leader created it, and the command."""

    term: int
    command: Command | None = None  # None: a leader's no-op

    def __str__(self) -> str:
        return f"[{self.term}] {self.command if self.command is not None else 'no-op'}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The state machine after applying every entry up to ``index``.

    ``data`` and ``sessions`` are sorted tuples of pairs so that a snapshot is
    an immutable value (it can be stored and sent as it is).
    """

    index: int = 0
    term: int = 0
    data: tuple[tuple[Any, Any], ...] = ()
    sessions: tuple[tuple[str, tuple[int, Any]], ...] = ()


@dataclass
class RaftLog:
    """The log entries after the snapshot, indexed from 1 as in the paper.

    ``entries[k]`` is the entry at index ``snapshot_index + 1 + k``.
    """

    entries: list[Entry] = field(default_factory=list)
    snapshot_index: int = 0
    snapshot_term: int = 0

    @property
    def last_index(self) -> int:
        return self.snapshot_index + len(self.entries)

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.snapshot_term

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index``; ``None`` if it is compacted or absent."""
        k = index - self.snapshot_index
        if k == 0:
            return self.snapshot_term
        if k < 0 or k > len(self.entries):
            return None
        return self.entries[k - 1].term

    def entry(self, index: int) -> Entry | None:
        """The entry at ``index``, or ``None`` if it is compacted or absent."""
        k = index - self.snapshot_index
        if 0 < k <= len(self.entries):
            return self.entries[k - 1]
        return None

    def slice(self, first: int, limit: int) -> tuple[Entry, ...]:
        """At most ``limit`` entries starting at index ``first`` (> snapshot_index)."""
        k = first - self.snapshot_index - 1
        return tuple(self.entries[k : k + limit])

    def append(self, entry: Entry) -> int:
        self.entries.append(entry)
        return self.last_index

    def truncate_from(self, index: int) -> None:
        """Delete the entry at ``index`` and every entry after it."""
        del self.entries[max(0, index - self.snapshot_index - 1) :]

    def first_index_of_term(self, index: int) -> int:
        """The first index of the run of entries with the same term as ``index``."""
        term = self.term_at(index)
        i = index
        while i - 1 > self.snapshot_index and self.term_at(i - 1) == term:
            i -= 1
        return i

    def last_index_of_term(self, term: int) -> int | None:
        """The last index holding an entry of ``term``, or ``None``."""
        for k in range(len(self.entries) - 1, -1, -1):
            t = self.entries[k].term
            if t == term:
                return self.snapshot_index + 1 + k
            if t < term:
                return None
        return self.snapshot_index if self.snapshot_term == term and self.snapshot_index > 0 else None

    def compact(self, index: int, term: int) -> None:
        """Forget the entries up to ``index`` (now covered by a snapshot).

        Entries after ``index`` are kept only if the log holds ``index`` with
        ``term`` (Figure 13, InstallSnapshot receiver, steps 6 and 7).
        """
        if self.term_at(index) == term and index <= self.last_index:
            del self.entries[: index - self.snapshot_index]
        else:
            self.entries = []
        self.snapshot_index = index
        self.snapshot_term = term

    def terms(self) -> tuple[int | None, ...]:
        """Terms of entries 1..last_index; ``None`` for compacted entries."""
        return (None,) * self.snapshot_index + tuple(e.term for e in self.entries)


@dataclass
class KVStateMachine:
    """A key-value map with a session table for duplicate detection.

    ``sessions[client] = (seq, result)``: the last operation of ``client``
    that was applied and the answer it got.  A client runs one operation at a
    time, so an entry whose ``seq`` is not above the session's is a retry that
    has already been applied: it does nothing and gets the recorded answer.
    """

    data: dict[Any, Any] = field(default_factory=dict)
    sessions: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def apply(self, command: Command | None) -> Any:
        """Apply one committed command and return the answer for its client."""
        if command is None:  # a leader's no-op
            return None
        done = self.sessions.get(command.client)
        if done is not None and done[0] >= command.seq:
            return done[1] if done[0] == command.seq else None  # a duplicate: applied once already
        result = self._execute(command)
        self.sessions[command.client] = (command.seq, result)
        return result

    def _execute(self, c: Command) -> Any:
        f = c.f
        if f in READS:
            return Ok(self.data.get(c.key))
        if f in ("write", "put"):
            self.data[c.key] = c.value
            return Ok()
        if f == "cas":
            expected, new = c.value
            if self.data.get(c.key) != expected:
                return Fail("cas mismatch")  # applied, compared, changed nothing: a definite failure
            self.data[c.key] = new
            return Ok()
        if f == "append":
            old = self.data.get(c.key)
            self.data[c.key] = c.value if old is None else old + c.value
            return Ok()
        return Fail(f"unknown operation {f!r}")

    def read(self, key: Any) -> Any:
        return self.data.get(key)

    def to_snapshot(self, index: int, term: int) -> Snapshot:
        return Snapshot(
            index,
            term,
            tuple(sorted(self.data.items(), key=lambda kv: repr(kv[0]))),
            tuple(sorted(self.sessions.items())),
        )

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> KVStateMachine:
        return cls(dict(snap.data), dict(snap.sessions))

"""Exercise 9: Raft log replication and the commit rule (section 5.3 and 5.4).

:class:`RaftBase` already does leader election (exercise 8, with the
election restriction of section 5.4.1), persistence helpers and timers; a
new leader calls :meth:`replicate` for every peer, and then again for every
peer every ``HEARTBEAT`` seconds.  (It adds no entry of its own: entries
from older terms commit only when an entry of its term does.)  You write the
log part, in a subclass ``RaftNode(RaftBase)``:

* ``on_client_request(ctx, request)``: a leader appends
  ``Entry(self.current_term, request.value)``, persists the log, remembers
  ``self.waiting[index] = request`` and replicates; any other node answers
  ``Redirect(self.leader_id)``;
* ``replicate(ctx, peer)``: send ``AppendEntries`` with the entries from
  ``self.next_index[peer]`` on (at most ``MAX_BATCH``), the index and term of
  the entry just before them, and ``self.commit_index``;
* ``handle_append_entries(ctx, src, msg)`` (the base has already checked the
  term and made this node a follower of ``msg.leader``): refuse --
  ``AppendEntriesReply(term, False, self.last_index())``, your log's length
  helps the leader jump back -- unless the log has an entry at
  ``msg.prev_index`` with term ``msg.prev_term``; else delete any conflicting
  entry and all that follow it, append the new ones, persist, move
  ``commit_index`` up to ``min(msg.leader_commit, index of the last new
  entry)`` and answer ``AppendEntriesReply(term, True, match_index)`` -- after
  persisting -- where ``match_index`` is the index of the last new entry;
* ``handle_append_entries_reply(ctx, src, msg)`` (only called on a leader, for
  a reply of its current term): on success raise ``match_index``/``next_index``
  and call ``advance_commit_index``; on failure move ``next_index`` back (to
  ``msg.match_index + 1`` if that is lower) and send again;
* ``advance_commit_index(ctx)``: **the commit rule** -- move ``commit_index``
  to the highest ``N`` stored on a majority (the leader included) *whose entry
  is of the current term*; then ``self.reply_committed(ctx)`` answers the
  clients whose entries are committed.

Log indices start at 1; ``self.log[i - 1]`` is entry ``i``; index 0 has term 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node, Ok, Redirect

__all__ = ["Entry", "RequestVote", "Vote", "AppendEntries", "AppendEntriesReply", "RaftBase",
           "ELECTION_TIMEOUT_MIN", "ELECTION_TIMEOUT_MAX", "HEARTBEAT", "MAX_BATCH", "Node", "Ok",
           "Redirect", "INTERFACE", "PREAMBLE"]

ELECTION_TIMEOUT_MIN = 0.2
ELECTION_TIMEOUT_MAX = 0.4
HEARTBEAT = 0.1
MAX_BATCH = 64


@dataclass(frozen=True, slots=True)
class Entry:
    term: int
    command: Any


@dataclass(frozen=True, slots=True)
class RequestVote:
    term: int
    candidate: str
    last_log_index: int
    last_log_term: int


@dataclass(frozen=True, slots=True)
class Vote:
    term: int
    granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    term: int
    leader: str
    prev_index: int
    prev_term: int
    entries: tuple
    leader_commit: int


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    term: int
    success: bool
    match_index: int


class RaftBase(Node):
    """Election, terms, votes, timers and persistence: everything but the log rules."""

    def __init__(self, node_id: str, cluster: tuple[str, ...] = ()) -> None:
        super().__init__(node_id, cluster)
        self.role = "follower"
        self.current_term = 0
        self.voted_for: str | None = None
        self.log: list[Entry] = []
        self.commit_index = 0
        self.leader_id: str | None = None
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.waiting: dict[int, Any] = {}
        self.votes: set[str] = set()

    # --- helpers -------------------------------------------------------------------

    def last_index(self) -> int:
        return len(self.log)

    def term_at(self, index: int) -> int:
        """The term of entry ``index`` (0 for index 0)."""
        return self.log[index - 1].term if index > 0 else 0

    def majority(self) -> int:
        return len(self.cluster) // 2 + 1

    def persist_log(self, ctx) -> None:
        ctx.storage["log"] = tuple(self.log)

    def persist_term(self, ctx) -> None:
        ctx.storage["current_term"] = self.current_term
        ctx.storage["voted_for"] = self.voted_for

    def reply_committed(self, ctx) -> None:
        """Answer the clients whose entries are now committed (``Ok(index)``)."""
        for index in sorted(self.waiting):
            if index > self.commit_index:
                break
            ctx.reply(self.waiting.pop(index), Ok(index))

    # --- the part you write ----------------------------------------------------------

    def on_client_request(self, ctx, request) -> None:
        raise NotImplementedError

    def replicate(self, ctx, peer: str) -> None:
        raise NotImplementedError

    def handle_append_entries(self, ctx, src: str, msg: AppendEntries) -> None:
        raise NotImplementedError

    def handle_append_entries_reply(self, ctx, src: str, msg: AppendEntriesReply) -> None:
        raise NotImplementedError

    def advance_commit_index(self, ctx) -> None:
        raise NotImplementedError

    # --- election (given) ------------------------------------------------------------

    def on_start(self, ctx) -> None:
        self.current_term = ctx.storage.get("current_term", 0)
        self.voted_for = ctx.storage.get("voted_for", None)
        self.log = list(ctx.storage.get("log", ()))
        self.role = "follower"
        self._reset_election_timer(ctx)

    def _reset_election_timer(self, ctx) -> None:
        ctx.set_timer("election", ctx.rng.uniform(ELECTION_TIMEOUT_MIN, ELECTION_TIMEOUT_MAX))

    def on_timer(self, ctx, name: str, payload: Any) -> None:
        if name == "election" and self.role != "leader":
            self.current_term += 1
            self.role = "candidate"
            self.voted_for = self.id
            self.leader_id = None
            self.votes = {self.id}
            self.persist_term(ctx)
            for p in self.peers:
                ctx.send(p, RequestVote(self.current_term, self.id, self.last_index(), self.term_at(self.last_index())))
            self._reset_election_timer(ctx)
            if len(self.votes) >= self.majority():
                self._become_leader(ctx)
        elif name == "heartbeat" and self.role == "leader":
            for p in self.peers:
                self.replicate(ctx, p)
            ctx.set_timer("heartbeat", HEARTBEAT)

    def _step_down(self, ctx, term: int) -> None:
        if term > self.current_term:
            self.current_term = term
            self.voted_for = None
            self.persist_term(ctx)
        if self.role == "leader":
            ctx.cancel_timer("heartbeat")
        if self.role != "follower":
            self.role = "follower"
            self._reset_election_timer(ctx)
        self.waiting = {}

    def _become_leader(self, ctx) -> None:
        self.role = "leader"
        self.leader_id = self.id
        ctx.cancel_timer("election")
        self.next_index = {p: self.last_index() + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        for p in self.peers:
            self.replicate(ctx, p)
        ctx.set_timer("heartbeat", HEARTBEAT)
        if len(self.cluster) == 1:
            self.advance_commit_index(ctx)

    def on_message(self, ctx, src: str, msg: Any) -> None:
        if msg.term > self.current_term:
            self._step_down(ctx, msg.term)
        if isinstance(msg, RequestVote):
            self._handle_request_vote(ctx, src, msg)
        elif isinstance(msg, Vote):
            if self.role == "candidate" and msg.term == self.current_term and msg.granted:
                self.votes.add(src)
                if len(self.votes) >= self.majority():
                    self._become_leader(ctx)
        elif isinstance(msg, AppendEntries):
            if msg.term < self.current_term:
                ctx.send(src, AppendEntriesReply(self.current_term, False, 0))
                return
            if self.role != "follower":
                self._step_down(ctx, msg.term)
            self.leader_id = msg.leader
            self._reset_election_timer(ctx)
            self.handle_append_entries(ctx, src, msg)
        elif isinstance(msg, AppendEntriesReply):
            if self.role == "leader" and msg.term == self.current_term:
                self.handle_append_entries_reply(ctx, src, msg)

    def _handle_request_vote(self, ctx, src: str, msg: RequestVote) -> None:
        up_to_date = (msg.last_log_term, msg.last_log_index) >= (self.term_at(self.last_index()), self.last_index())
        grant = (
            msg.term == self.current_term
            and self.voted_for in (None, msg.candidate)
            and up_to_date
        )
        if grant:
            self.voted_for = msg.candidate
            self.persist_term(ctx)
            self._reset_election_timer(ctx)
        ctx.send(src, Vote(self.current_term, grant))


INTERFACE = ("RaftNode",)
PREAMBLE = "from consensus_lab.grading.exercises.ex09 import *\n"
MESSAGES = (Entry, RequestVote, Vote, AppendEntries, AppendEntriesReply)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    cls = answers["RaftNode"]
    if not (isinstance(cls, type) and issubclass(cls, RaftBase)):
        raise TypeError("RaftNode must be a subclass of RaftBase")
    return cls(node_id, cluster)


def view(node: Any) -> dict:
    return {
        "role": node.role,
        "current_term": node.current_term,
        "voted_for": node.voted_for,
        "commit_index": node.commit_index,
        "log": tuple(node.log),
    }

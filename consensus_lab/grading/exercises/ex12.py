"""Exercise 12 (capstone, part A): a key-value service on Raft with exactly-once semantics (lesson 11).

:class:`RaftNode` (given) is a complete Raft: elections, log replication, the
commit rule; a new leader appends a no-op entry (``command=None``) so that
entries of older terms commit.  It calls ``self.apply(ctx, index, command)``
once for every committed entry, in log order, on every node -- and, after a
restart, again from index 1 as the node learns the commit index, so whatever
``apply`` builds is rebuilt from the log.  ``self.propose(ctx, command)``
appends a command on a leader and returns its index (``None`` on any other
node); ``self.leader_id`` is the node this one believes leads.

You write ``KVServer(RaftNode)``:

* ``on_start(ctx)``: call ``super().on_start(ctx)``, then start the service's
  state empty (the log will rebuild it);
* ``on_client_request(ctx, request)`` (``request.f`` is ``"put"``, ``"append"``
  or ``"get"``, with ``request.key``, ``request.value``, and the client's id and
  sequence number ``request.client``, ``request.seq``): a node that is not the
  leader answers ``Redirect(self.leader_id)``; the leader proposes
  ``Command(request.client, request.seq, request.f, request.key,
  request.value)`` and answers once it is applied;
* ``apply(ctx, index, command)``: skip a no-op; run each client operation
  **exactly once** -- a client retries a request it got no answer for (at
  another node, after a leader change, after a crash), so the same
  ``(client, seq)`` can be in the log twice: the second time, do not run it
  again, answer with the first result.  Remember the last ``seq`` (and its
  result) per client *in the state that apply builds*, so it survives leader
  changes and restarts.  ``put`` sets, ``append`` adds ``value`` to the current
  value (``None`` counts as nothing: the result is ``value``), ``get`` reads;
  ``put``/``append`` answer ``Ok()``, ``get`` answers ``Ok(value)``.  If this
  node is the leader that proposed the entry for the waiting request, answer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node, Ok, Redirect

# the Raft messages of exercises 8 and 9, unchanged (the sandbox copies ex09's module too: DEPENDS)
from .ex09 import AppendEntries, AppendEntriesReply, Entry, RequestVote, Vote

__all__ = ["Entry", "Command", "RequestVote", "Vote", "AppendEntries", "AppendEntriesReply", "RaftNode",
           "ELECTION_TIMEOUT_MIN", "ELECTION_TIMEOUT_MAX", "HEARTBEAT", "MAX_BATCH", "Node", "Ok",
           "Redirect", "INTERFACE", "PREAMBLE"]

ELECTION_TIMEOUT_MIN = 0.2
ELECTION_TIMEOUT_MAX = 0.4
HEARTBEAT = 0.05
MAX_BATCH = 64
DEPENDS = ("ex09",)


@dataclass(frozen=True, slots=True)
class Command:
    """One client operation, as it travels in the log."""

    client: str
    seq: int
    f: str
    key: Any
    value: Any


class RaftNode(Node):
    """Raft (given).  Durable: ``storage["term"]``, ``["voted_for"]``, ``["log"]`` (a tuple of Entry)."""

    def __init__(self, node_id: str, cluster: tuple[str, ...]) -> None:
        super().__init__(node_id, cluster)
        self.current_term = 0
        self.voted_for: str | None = None
        self.log: tuple = ()
        self.role = "follower"
        self.leader_id: str | None = None
        self.commit_index = 0
        self.last_applied = 0
        self.votes: set[str] = set()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}

    # --- what a service uses -----------------------------------------------------------
    def on_start(self, ctx) -> None:
        self.current_term = ctx.storage.get("term", 0)
        self.voted_for = ctx.storage.get("voted_for")
        self.log = ctx.storage.get("log", ())
        self.role, self.leader_id, self.commit_index, self.last_applied = "follower", None, 0, 0
        self._reset_election(ctx)

    def propose(self, ctx, command: Any) -> int | None:
        if self.role != "leader":
            return None
        self._append_local(ctx, Entry(self.current_term, command))
        for peer in self.peers:
            self._send_append(ctx, peer)
        return self.last_index()

    def apply(self, ctx, index: int, command: Any) -> None:
        """Called once per committed entry, in order (override it)."""

    # --- the protocol ----------------------------------------------------------------------
    def log_base(self) -> int:
        """The index just before ``self.log[0]`` (0 here; part C's snapshots move it)."""
        return 0

    def last_index(self) -> int:
        return self.log_base() + len(self.log)

    def entry(self, index: int) -> Entry:
        base = self.log_base()
        if not base < index <= self.last_index():
            raise IndexError(f"{self.id} has no log entry {index} (its log holds {base + 1}..{self.last_index()})")
        return self.log[index - base - 1]

    def term_at(self, index: int) -> int:
        return self.entry(index).term if self.log_base() < index <= self.last_index() else 0

    def on_message(self, ctx, src: str, msg: Any) -> None:
        if getattr(msg, "term", 0) > self.current_term:
            self._become_follower(ctx, msg.term)
        if isinstance(msg, RequestVote):
            self._on_request_vote(ctx, src, msg)
        elif isinstance(msg, Vote):
            if self.role == "candidate" and msg.term == self.current_term and msg.granted:
                self.votes.add(src)
                if len(self.votes) > len(self.cluster) // 2:
                    self._become_leader(ctx)
        elif isinstance(msg, AppendEntries):
            self._on_append(ctx, src, msg)
        elif isinstance(msg, AppendEntriesReply):
            if self.role == "leader" and msg.term == self.current_term:
                self._on_append_reply(ctx, src, msg)

    def on_timer(self, ctx, name: str, payload: Any) -> None:
        if name == "election" and self.role != "leader":
            self.current_term += 1
            self.voted_for = self.id
            self._persist_vote(ctx)
            self.role, self.leader_id, self.votes = "candidate", None, {self.id}
            ctx.broadcast(self.peers, RequestVote(self.current_term, self.id, self.last_index(),
                                                  self.term_at(self.last_index())))
            self._reset_election(ctx)
        elif name == "heartbeat" and self.role == "leader":
            for peer in self.peers:
                self._send_append(ctx, peer)
            ctx.set_timer("heartbeat", HEARTBEAT)

    def _persist_vote(self, ctx) -> None:
        ctx.storage["term"] = self.current_term
        ctx.storage["voted_for"] = self.voted_for

    def _reset_election(self, ctx) -> None:
        ctx.set_timer("election", ctx.rng.uniform(ELECTION_TIMEOUT_MIN, ELECTION_TIMEOUT_MAX))

    def _become_follower(self, ctx, term: int) -> None:
        self.current_term, self.voted_for = term, None
        self._persist_vote(ctx)
        if self.role == "leader":
            ctx.cancel_timer("heartbeat")
            self._reset_election(ctx)
        self.role, self.leader_id = "follower", None  # a new term's leader is unknown until heard from

    def _become_leader(self, ctx) -> None:
        self.role, self.leader_id = "leader", self.id
        ctx.cancel_timer("election")
        self.next_index = {p: self.last_index() + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.propose(ctx, None)  # a no-op of this term, so that older entries commit
        ctx.set_timer("heartbeat", HEARTBEAT)

    def _on_request_vote(self, ctx, src: str, msg: RequestVote) -> None:
        mine = (self.term_at(self.last_index()), self.last_index())
        grant = (msg.term == self.current_term and self.voted_for in (None, msg.candidate)
                 and (msg.last_log_term, msg.last_log_index) >= mine)
        if grant:
            self.voted_for = msg.candidate
            self._persist_vote(ctx)
            self._reset_election(ctx)
        ctx.send(src, Vote(self.current_term, grant))

    def _append_local(self, ctx, entry: Entry) -> None:
        self.log = self.log + (entry,)
        ctx.storage["log"] = self.log

    def _send_append(self, ctx, peer: str) -> None:
        prev = self.next_index[peer] - 1
        entries = self.log[prev - self.log_base():prev - self.log_base() + MAX_BATCH]
        ctx.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev), tuple(entries),
                                     self.commit_index))

    def _on_append(self, ctx, src: str, msg: AppendEntries) -> None:
        if msg.term < self.current_term:
            ctx.send(src, AppendEntriesReply(self.current_term, False, 0))
            return
        self.role, self.leader_id = "follower", msg.leader
        self._reset_election(ctx)
        if msg.prev_index > self.last_index() or self.term_at(msg.prev_index) != msg.prev_term:
            ctx.send(src, AppendEntriesReply(self.current_term, False, min(self.last_index(), msg.prev_index - 1)))
            return
        log, base = self.log, self.log_base()
        for i, entry in enumerate(msg.entries):
            index = msg.prev_index + 1 - base + i  # its position in self.log, from 1
            if index <= len(log) and log[index - 1].term != entry.term:
                log = log[:index - 1]
            if index > len(log):
                log = log + (entry,)
        if log != self.log:
            self.log = log
            ctx.storage["log"] = log
        match = msg.prev_index + len(msg.entries)
        self.commit_index = max(self.commit_index, min(msg.leader_commit, match))
        self._apply_committed(ctx)
        ctx.send(src, AppendEntriesReply(self.current_term, True, match))

    def _on_append_reply(self, ctx, src: str, msg: AppendEntriesReply) -> None:
        if msg.success:
            self.match_index[src] = max(self.match_index[src], msg.match_index)
            self.next_index[src] = self.match_index[src] + 1
            for n in range(self.last_index(), self.commit_index, -1):
                if self.term_at(n) != self.current_term:
                    break
                if 1 + sum(1 for p in self.peers if self.match_index[p] >= n) > len(self.cluster) // 2:
                    self.commit_index = n
                    self._apply_committed(ctx)
                    break
        else:
            self.next_index[src] = max(1, min(self.next_index[src] - 1, msg.match_index + 1))
            self._send_append(ctx, src)

    def _apply_committed(self, ctx) -> None:
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            self.apply(ctx, self.last_applied, self.entry(self.last_applied).command)


INTERFACE = ("KVServer",)
PREAMBLE = "from consensus_lab.grading.exercises.ex12 import *\n"
MESSAGES = (Command, Entry, RequestVote, Vote, AppendEntries, AppendEntriesReply)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    cls = answers["KVServer"]
    if not (isinstance(cls, type) and issubclass(cls, RaftNode)):
        raise TypeError("KVServer must be a subclass of RaftNode")
    return cls(node_id, cluster)


def view(node: Any) -> dict:
    return {"role": node.role, "term": node.current_term, "commit_index": node.commit_index}

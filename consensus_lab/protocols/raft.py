"""Raft, to the letter of the paper, with a linearizable key-value service on top.

Ongaro and Ousterhout, *In Search of an Understandable Consensus Algorithm*
(USENIX ATC 2014, extended version).  Section numbers and "Fig. 2" below refer
to the extended paper; every rule of Figure 2 is marked in the code where it
lives, so you can read the figure and the code side by side.

How Raft keeps one log
----------------------
Every node is a *follower*, a *candidate* or a *leader*, and time is cut into
numbered *terms*; each term has at most one leader (section 5.1).

* **Election (5.2).**  A follower that hears nothing from a leader for a
  randomized election timeout becomes a candidate: it increments its term,
  votes for itself and asks every other node for a vote with ``RequestVote``.
  It becomes leader only with votes from a **majority of the whole cluster** --
  having more votes than the other candidates is not enough: with a split vote
  nobody wins, the timeouts expire at random moments, and a new term begins.
  A node votes at most once per term, and it writes the vote to disk before it
  answers, so that a crash cannot make it vote twice.
* **Up-to-date check (5.4.1).**  A voter refuses a candidate whose log is less
  up to date than its own (compare the last terms, then the lengths).  Since
  every committed entry is on a majority, and a winner needs a majority, the
  winner holds every committed entry.
* **Replication (5.3).**  The leader appends a client's command to its log and
  sends it with ``AppendEntries``, together with the index and term of the
  entry just before it.  A follower that does not hold that entry refuses, and
  the leader backs up; a follower that holds a *conflicting* entry deletes it
  and everything after it.  Refusals name the conflicting term and its first
  index, so the leader skips a whole term per round trip (the accelerated
  back-off at the end of 5.3).
* **Commit (5.3, 5.4.2).**  An entry is committed once the leader that created
  it has stored it on a majority.  A leader counts replicas **only for entries
  of its own term**; earlier entries commit indirectly, with the first entry of
  the current term above them.  Figure 8 of the paper shows why: an entry of an
  older term stored on a majority can still be overwritten.  The broken twin
  ``commit-previous-term`` counts anyway, and the battery finds the figure-8
  counterexample.
* **Apply.**  Every node applies committed entries in log order to the
  key-value state machine; followers learn the commit index from the leader.
* **Persistence (Fig. 2, "persistent state").**  ``currentTerm``, ``votedFor``
  and the log are written to ``ctx.storage`` before the node answers; after a
  crash ``on_start`` rebuilds the node from them.  Commit index, roles and
  leader bookkeeping are volatile and rebuilt by the protocol itself.
* **Clients (section 8).**  A follower answers ``Redirect(leader)``.  The leader
  answers once the entry is applied.  Each operation carries ``(client, seq)``;
  the state machine remembers the last ``seq`` and answer of every client, so a
  retried operation is applied once and gets the first answer again.  Reads go
  through the log by default (``reads="log"``) or use the leader's read index
  (``reads="read-index"``): the leader notes its commit index, confirms with a
  round of heartbeats that it is still leader, and answers once it has applied
  up to that index.
* **Compaction (section 7, Fig. 13).**  With ``snapshot_every=N`` a node
  replaces its applied prefix with a snapshot of the state machine (session
  table included) every N entries; a leader sends ``InstallSnapshot`` to a
  follower that needs entries it no longer has.  We send a snapshot in one
  message, so Figure 13's ``offset``/``done`` chunking is left out.

Where things are: this module has Figure 2 (state, elections, replication,
commit, apply); :mod:`~consensus_lab.protocols._raft_messages` the messages;
:mod:`~consensus_lab.protocols._raft_service` sections 7 and 8 (snapshots and
the client service); :mod:`~consensus_lab.protocols.raft_log` the log and the
key-value state machine; :mod:`~consensus_lab.protocols._raft_invariants` the
five safety properties of Figure 3, checked after every event.

Broken twins (``variant=``): ``commit-previous-term`` (the figure-8 bug),
``volatile-vote`` (``votedFor`` is not persisted), ``no-up-to-date-check``
(votes ignore the logs), ``stale-truncate`` (a follower cuts its log after the
entries of every ``AppendEntries``, even a stale, reordered one), ``article`` (the
course's source article's sketch: a node grants every candidate of its term, with
no look at the logs, and a leader commits what one follower has stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..sim import ClientRequest, Context, Node, ProtocolSpec, Workload
from ._raft_invariants import raft_invariants
from ._raft_messages import (
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    RequestVote,
    RequestVoteReply,
)
from ._raft_service import RaftServiceMixin
from .raft_log import Entry, KVStateMachine, RaftLog, Snapshot

__all__ = [
    "RequestVote",
    "RequestVoteReply",
    "AppendEntries",
    "AppendEntriesReply",
    "InstallSnapshot",
    "InstallSnapshotReply",
    "RaftConfig",
    "RaftNode",
    "durable_view",
    "VARIANTS",
    "SPECS",
    "FOLLOWER",
    "CANDIDATE",
    "LEADER",
]

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"

VARIANTS = {
    "correct": "Raft as in Figure 2 of the paper, with the key-value service of section 8",
    "commit-previous-term": "a leader commits any entry stored on a majority, whatever its term (the figure-8 bug)",
    "volatile-vote": "votedFor is kept only in memory: a node that restarts can vote twice in one term",
    "no-up-to-date-check": "RequestVote ignores the logs: a node missing committed entries can win",
    "stale-truncate": "a follower cuts its log after the entries of any AppendEntries, even a stale one",
    "log-by-reference": "the log is stored once as an object and then changed in memory, never written again",
    "article": "the article's sketch: any number of votes per term, no look at logs, commit after one follower",
}

DEFAULT_OPTIONS = {
    "election_min": 0.15,  # election timeouts are drawn uniformly from [min, max] seconds (5.2)
    "election_max": 0.30,
    "heartbeat": 0.05,  # leader's idle AppendEntries period; a candidate retries RequestVote on it
    "max_entries": 64,  # at most this many entries in one AppendEntries
    "snapshot_every": 0,  # take a snapshot every N applied entries (0: never)
    "reads": "log",  # "log": reads are log entries; "read-index": leader's read index (section 8)
}


# --- configuration (immutable) and the leader's volatile state -------------------------


@dataclass(frozen=True)
class RaftConfig:
    election_min: float = 0.15
    election_max: float = 0.30
    heartbeat: float = 0.05
    max_entries: int = 64
    snapshot_every: int = 0
    reads: str = "log"
    variant: str = "correct"

    @classmethod
    def from_options(cls, options: Mapping[str, Any], variant: str = "correct") -> RaftConfig:
        o = {**DEFAULT_OPTIONS, **dict(options)}
        cfg = cls(
            float(o["election_min"]),
            float(o["election_max"]),
            float(o["heartbeat"]),
            int(o["max_entries"]),
            int(o["snapshot_every"]),
            str(o["reads"]),
            variant,
        )
        if not 0 < cfg.election_min <= cfg.election_max:
            raise ValueError(f"raft needs 0 < election_min <= election_max, got {cfg.election_min}, {cfg.election_max}")
        if not 0 < cfg.heartbeat < cfg.election_min:
            raise ValueError(f"raft needs 0 < heartbeat < election_min, got heartbeat={cfg.heartbeat}")
        if cfg.max_entries < 1 or cfg.snapshot_every < 0:
            raise ValueError("raft needs max_entries >= 1 and snapshot_every >= 0")
        if cfg.reads not in ("log", "read-index"):
            raise ValueError(f"raft option reads takes 'log' or 'read-index', got {cfg.reads!r}")
        if variant not in VARIANTS:
            raise ValueError(f"raft has no variant {variant!r} (variants: {', '.join(VARIANTS)})")
        return cfg


@dataclass
class LeaderState:
    """Fig. 2, "Volatile state on leaders" (reinitialized after election), plus
    the clients waiting for their entries and the pending read-index reads."""

    next_index: dict[str, int] = field(default_factory=dict)
    match_index: dict[str, int] = field(default_factory=dict)
    waiters: dict[int, tuple[int, ClientRequest]] = field(default_factory=dict)  # index -> (term, request)
    pending: dict[tuple[str, int], int] = field(default_factory=dict)  # (client, seq) -> index
    busy: dict[str, bool] = field(default_factory=dict)  # sent the peer something since the last beat?
    round: int = 0  # heartbeat rounds sent
    acked_round: dict[str, int] = field(default_factory=dict)
    reads: list[list[Any]] = field(default_factory=list)  # [read_index or None, round, request]


# --- the node ---------------------------------------------------------------------------------


class RaftNode(RaftServiceMixin, Node):
    """One Raft server with its key-value state machine.

    The state of Figure 2 is in plain attributes named as in the paper
    (``current_term``, ``voted_for``, ``log``, ``commit_index``, ``last_applied``),
    with ``role`` and ``leader_id``.  Invariants, graders and pictures read them
    and the small views ``last_log_index``, ``snapshot_index``, ``term_at(i)``,
    ``entry_at(i)``, ``log_terms()``, ``kv_items()`` and ``state_view()``;
    they never change them.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...], config: RaftConfig | None = None) -> None:
        super().__init__(node_id, cluster)
        self.cfg = config or RaftConfig()
        self.majority = len(self.cluster) // 2 + 1
        # Fig. 2, "Persistent state on all servers" (on disk before answering RPCs;
        # on_start reads it back after a crash).
        self.current_term = 0
        self.voted_for: str | None = None
        self.log = RaftLog()
        # Fig. 2, "Volatile state on all servers", plus the role and the known leader.
        self.commit_index = 0
        self.last_applied = 0
        self.role = FOLLOWER
        self.leader_id: str | None = None
        self.votes: list[str] = []  # candidate: who granted its vote this term
        self.answered: list[str] = []  # candidate: who answered at all
        # Fig. 2, "Volatile state on leaders" (None unless leader).
        self.ls: LeaderState | None = None
        # The service: the key-value state machine and the last snapshot of it.
        self.sm = KVStateMachine()
        self.snapshot = Snapshot()

    # --- read-only views ----------------------------------------------------------------

    @property
    def last_log_index(self) -> int:
        return self.log.last_index

    @property
    def snapshot_index(self) -> int:
        return self.log.snapshot_index

    def term_at(self, index: int) -> int | None:
        return self.log.term_at(index)

    def entry_at(self, index: int) -> Entry | None:
        return self.log.entry(index)

    def log_terms(self) -> tuple[int | None, ...]:
        """The term of every entry 1..last_log_index (``None``: compacted into the snapshot)."""
        return self.log.terms()

    def kv_items(self) -> tuple[tuple[Any, Any], ...]:
        """The state machine's key-value pairs, sorted by key."""
        return tuple(sorted(self.sm.data.items(), key=lambda kv: repr(kv[0])))

    def state_view(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "term": self.current_term,
            "vote": self.voted_for,
            "leader": self.leader_id,
            "log_terms": list(self.log_terms()),
            "commit_index": self.commit_index,
            "last_applied": self.last_applied,
            "snapshot_index": self.log.snapshot_index,
        }

    # --- persistence (Fig. 2: "updated on stable storage before responding to RPCs") ----

    def _save_term_and_vote(self, ctx: Context) -> None:
        ctx.storage["term"] = self.current_term
        if self.cfg.variant != "volatile-vote":  # the broken twin keeps its vote in memory only
            ctx.storage["vote"] = self.voted_for

    def _save_log_from(self, ctx: Context, first: int) -> None:
        """Write entries ``first..last`` and forget stored entries past the end."""
        log, st = self.log, ctx.storage
        if self.cfg.variant == "log-by-reference":
            # the twin: the entry list goes to storage once, as an object; later changes
            # reach it only if storage kept a reference (it copies, as a disk does)
            if "entries" not in st:
                st["entries"] = log.entries
            return
        for i in range(max(first, log.snapshot_index + 1), log.last_index + 1):
            st[f"log/{i}"] = log.entry(i)
        old_end = st.get("log_end", 0)
        for i in range(log.last_index + 1, old_end + 1):
            st.pop(f"log/{i}", None)
        st["log_end"] = log.last_index

    def _save_snapshot(self, ctx: Context, old_snapshot_index: int) -> None:
        st = ctx.storage
        st["snapshot"] = self.snapshot
        for i in range(old_snapshot_index + 1, self.snapshot.index + 1):
            st.pop(f"log/{i}", None)
        self._save_log_from(ctx, self.snapshot.index + 1)

    def on_start(self, ctx: Context) -> None:
        """Boot, or restart after a crash: rebuild from durable storage only."""
        st = ctx.storage
        self.snapshot = st.get("snapshot", Snapshot())
        snap = self.snapshot
        entries = [st[f"log/{i}"] for i in range(snap.index + 1, st.get("log_end", 0) + 1)]
        if self.cfg.variant == "log-by-reference":
            entries = st.get("entries", [])
            st["entries"] = entries  # the twin stores its live list again at every boot
        self.current_term = st.get("term", 0)
        self.voted_for = st.get("vote")
        self.log = RaftLog(entries, snap.index, snap.term)
        self.sm = KVStateMachine.from_snapshot(snap)
        self.commit_index = self.last_applied = snap.index
        self.role, self.leader_id, self.votes, self.answered = FOLLOWER, None, [], []
        self.ls = None
        self._reset_election_timer(ctx)

    # --- dispatch: the shared rule first ------------------------------------------------

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        # Fig. 2, Rules for All Servers: "If RPC request or response contains term
        # T > currentTerm: set currentTerm = T, convert to follower (5.1)".
        if msg.term > self.current_term:
            self._become_follower(ctx, msg.term)
        t = type(msg)
        if t is AppendEntries:
            self.handle_append_entries(ctx, src, msg)
        elif t is AppendEntriesReply:
            self.handle_append_entries_reply(ctx, src, msg)
        elif t is RequestVote:
            self.handle_request_vote(ctx, src, msg)
        elif t is RequestVoteReply:
            self.handle_request_vote_reply(ctx, src, msg)
        elif t is InstallSnapshot:
            self.handle_install_snapshot(ctx, src, msg)
        elif t is InstallSnapshotReply:
            self.handle_install_snapshot_reply(ctx, src, msg)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "election":
            self.on_election_timeout(ctx)
        elif name == "heartbeat":
            self.on_heartbeat(ctx)
        elif name == "snapshot":
            self.take_snapshot(ctx)

    # --- roles ----------------------------------------------------------------------------

    def _reset_election_timer(self, ctx: Context) -> None:
        # 5.2: randomized election timeouts make split votes rare and short.
        ctx.set_timer("election", ctx.rng.uniform(self.cfg.election_min, self.cfg.election_max))

    def _become_follower(self, ctx: Context, term: int, leader: str | None = None) -> None:
        if term > self.current_term:
            self.current_term = term
            self.voted_for = None
            self._save_term_and_vote(ctx)
        was = self.role
        self.role = FOLLOWER
        self.leader_id = leader
        if was == LEADER:
            self._release_clients(ctx)
            ctx.cancel_timer("heartbeat")
            self._reset_election_timer(ctx)
        elif was == CANDIDATE:
            ctx.cancel_timer("heartbeat")

    def on_election_timeout(self, ctx: Context) -> None:
        # Fig. 2, Followers: "If election timeout elapses without receiving AppendEntries
        # RPC from current leader or granting vote to candidate: convert to candidate".
        # Fig. 2, Candidates: "If election timeout elapses: start new election".
        if self.role != LEADER:
            self.start_election(ctx)

    def start_election(self, ctx: Context) -> None:
        # Fig. 2, Candidates, "On conversion to candidate, start election: increment
        # currentTerm; vote for self; reset election timer; send RequestVote RPCs to all".
        self.current_term += 1
        self.voted_for = self.id
        self._save_term_and_vote(ctx)  # persisted before any RequestVote leaves
        self.role = CANDIDATE
        self.leader_id = None
        self.votes = [self.id]
        self.answered = [self.id]
        self._reset_election_timer(ctx)
        if len(self.votes) >= self.majority:  # a cluster of one
            self._become_leader(ctx)
            return
        log = self.log
        ctx.broadcast(self.peers, RequestVote(self.current_term, self.id, log.last_index, log.last_term))
        ctx.set_timer("heartbeat", self.cfg.heartbeat)  # retry unanswered requests on this beat

    def _become_leader(self, ctx: Context) -> None:
        # Fig. 2, "Volatile state on leaders (reinitialized after election)":
        # nextIndex = leader last log index + 1, matchIndex = 0.
        self.role = LEADER
        self.leader_id = self.id
        last = self.log.last_index
        self.ls = LeaderState(
            next_index={p: last + 1 for p in self.peers},
            match_index={p: 0 for p in self.peers},
            acked_round={p: 0 for p in self.peers},
            busy={p: False for p in self.peers},
        )
        ctx.cancel_timer("election")
        if self.cfg.reads == "read-index":
            # Section 8: a new leader commits a blank no-op entry to learn its commit index.
            self.log.append(Entry(self.current_term, None))
            self._save_log_from(ctx, self.log.last_index)
            self._advance_commit_index(ctx)
        # Fig. 2, Leaders: "Upon election: send initial empty AppendEntries RPCs
        # (heartbeat) to each server; repeat during idle periods (5.2)".
        self.on_heartbeat(ctx, everyone=True)

    def on_heartbeat(self, ctx: Context, *, everyone: bool = False) -> None:
        if self.role == LEADER:
            # "repeat during idle periods": a follower we sent something since the
            # last beat needs no heartbeat now.
            ls = self.ls
            ls.round += 1
            for p in self.peers:
                if everyone or not ls.busy[p]:
                    self._send_append_entries(ctx, p)
                ls.busy[p] = False
            ctx.set_timer("heartbeat", self.cfg.heartbeat)
        elif self.role == CANDIDATE:
            # 5.1: "servers retry RPCs if they do not receive a response in a timely manner".
            log = self.log
            rv = RequestVote(self.current_term, self.id, log.last_index, log.last_term)
            for p in self.peers:
                if p not in self.answered:
                    ctx.send(p, rv)
            ctx.set_timer("heartbeat", self.cfg.heartbeat)

    # --- RequestVote ------------------------------------------------------------------------

    def _log_is_up_to_date(self, m: RequestVote) -> bool:
        # 5.4.1: "If the logs have last entries with different terms, then the log with
        # the later term is more up-to-date. If the logs end with the same term, then
        # whichever log is longer is more up-to-date."
        if self.cfg.variant in ("no-up-to-date-check", "article"):
            return True  # the broken twins
        log = self.log
        return (m.last_log_term, m.last_log_index) >= (log.last_term, log.last_index)

    def handle_request_vote(self, ctx: Context, src: str, m: RequestVote) -> None:
        granted = False
        # Fig. 2, RequestVote receiver, 1: "Reply false if term < currentTerm".
        if m.term == self.current_term:
            # 2: "If votedFor is null or candidateId, and candidate's log is at least as
            # up-to-date as receiver's log, grant vote".
            free = self.voted_for in (None, m.candidate_id) or self.cfg.variant == "article"
            if free and self._log_is_up_to_date(m):
                granted = True
                if self.voted_for != m.candidate_id:
                    self.voted_for = m.candidate_id
                    self._save_term_and_vote(ctx)  # at most one vote per term: on disk before the reply
                self._reset_election_timer(ctx)  # Fig. 2, Followers: granting a vote resets the timer
        ctx.send(src, RequestVoteReply(self.current_term, granted))

    def handle_request_vote_reply(self, ctx: Context, src: str, m: RequestVoteReply) -> None:
        if self.role != CANDIDATE or m.term != self.current_term:
            return  # a late answer from an earlier election
        if src not in self.answered:
            self.answered.append(src)
        if m.vote_granted and src not in self.votes:
            self.votes.append(src)
            # Fig. 2, Candidates: "If votes received from majority of servers: become
            # leader" -- a majority of the whole cluster, not of those who answered.
            if len(self.votes) >= self.majority:
                self._become_leader(ctx)

    # --- AppendEntries: the leader's side -------------------------------------------------

    def _send_append_entries(self, ctx: Context, peer: str) -> None:
        # Fig. 2, Leaders: "If last log index >= nextIndex for a follower: send
        # AppendEntries RPC with log entries starting at nextIndex".
        ls, log = self.ls, self.log
        ls.busy[peer] = True
        ni = ls.next_index[peer]
        if ni <= log.snapshot_index:
            # Section 7: the entries it needs are compacted; send the snapshot instead.
            s = self.snapshot
            ctx.send(peer, InstallSnapshot(self.current_term, self.id, s.index, s.term, s))
            return
        prev = ni - 1
        ctx.send(
            peer,
            AppendEntries(
                self.current_term,
                self.id,
                prev,
                log.term_at(prev),
                log.slice(ni, self.cfg.max_entries),
                self.commit_index,
                ls.round,
            ),
        )

    def handle_append_entries_reply(self, ctx: Context, src: str, m: AppendEntriesReply) -> None:
        if self.role != LEADER or m.term != self.current_term:
            return  # stale: from an earlier term
        ls, log = self.ls, self.log
        if m.round > ls.acked_round[src]:
            ls.acked_round[src] = m.round
        if m.success:
            # Fig. 2, Leaders: "If successful: update nextIndex and matchIndex for follower".
            if m.match_index > ls.match_index[src]:
                ls.match_index[src] = m.match_index
            ls.next_index[src] = max(ls.next_index[src], ls.match_index[src] + 1)
            self._advance_commit_index(ctx)
            if ls.next_index[src] <= log.last_index:
                self._send_append_entries(ctx, src)
        else:
            # Fig. 2, Leaders: "If AppendEntries fails because of log inconsistency:
            # decrement nextIndex and retry" -- by a whole term at a time (end of 5.3):
            # skip to after the leader's last entry of the conflicting term, or to the
            # first index the follower has for that term.
            ni = m.conflict_index
            if m.conflict_term is not None:
                last_of_term = log.last_index_of_term(m.conflict_term)
                if last_of_term is not None:
                    ni = last_of_term + 1
            ls.next_index[src] = max(ls.match_index[src] + 1, min(ni, log.last_index + 1))
            self._send_append_entries(ctx, src)
        if ls.reads:
            self._serve_reads(ctx)

    def _advance_commit_index(self, ctx: Context) -> None:
        # Fig. 2, Leaders: "If there exists an N such that N > commitIndex, a majority of
        # matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N".
        log = self.log
        matches = sorted([log.last_index, *self.ls.match_index.values()], reverse=True)
        article = self.cfg.variant == "article"  # the sketch: one follower's success commits
        n = matches[min(2, len(matches)) - 1 if article else self.majority - 1]  # the highest index on a majority
        if n <= self.commit_index:
            return
        if log.term_at(n) != self.current_term and self.cfg.variant not in ("commit-previous-term", "article"):
            # 5.4.2: never commit an entry of an earlier term by counting replicas.  Terms
            # never decrease along a log, so no smaller N can be of the current term either.
            return
        self.commit_index = n
        self._apply_committed(ctx)

    # --- AppendEntries: the follower's side -----------------------------------------------

    def handle_append_entries(self, ctx: Context, src: str, m: AppendEntries) -> None:
        term = self.current_term
        # Fig. 2, AppendEntries receiver, 1: "Reply false if term < currentTerm".
        if m.term < term:
            ctx.send(src, AppendEntriesReply(term, False))
            return
        # Fig. 2, Candidates: "If AppendEntries RPC received from new leader: convert to follower".
        if self.role != FOLLOWER:
            self._become_follower(ctx, m.term, src)
        self.leader_id = src
        self._reset_election_timer(ctx)
        log = self.log
        prev, entries = m.prev_log_index, m.entries
        if prev < log.snapshot_index:
            # Our snapshot covers committed entries, which every leader holds: skip them.
            skip = log.snapshot_index - prev
            if skip >= len(entries):
                ctx.send(src, AppendEntriesReply(term, True, log.snapshot_index, round=m.round))
                return
            entries = entries[skip:]
            prev = log.snapshot_index
        elif log.term_at(prev) != m.prev_log_term:
            # 2: "Reply false if log doesn't contain an entry at prevLogIndex whose term
            # matches prevLogTerm"; name the conflicting term and its first index.
            if prev > log.last_index:
                reply = AppendEntriesReply(term, False, 0, log.last_index + 1, None, m.round)
            else:
                ct = log.term_at(prev)
                reply = AppendEntriesReply(term, False, 0, log.first_index_of_term(prev), ct, m.round)
            ctx.send(src, reply)
            return
        for k, e in enumerate(entries):
            index = prev + 1 + k
            have = log.term_at(index)
            if have == e.term:
                continue  # already there
            if have is not None:
                # 3: "If an existing entry conflicts with a new one (same index but
                # different terms), delete the existing entry and all that follow it".
                log.truncate_from(index)
            # 4: "Append any new entries not already in the log".
            for e2 in entries[k:]:
                log.append(e2)
            self._save_log_from(ctx, index)  # on disk before the reply
            break
        last_new = prev + len(entries)
        if self.cfg.variant == "stale-truncate" and log.last_index > last_new:
            # The broken twin: it cuts the log after the new entries even when nothing
            # conflicts, so a stale (reordered or duplicated) AppendEntries erases
            # entries it has already acknowledged.
            log.truncate_from(last_new + 1)
            self._save_log_from(ctx, last_new + 1)
        # 5: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of
        # last new entry)".
        if m.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(m.leader_commit, last_new))
            self._apply_committed(ctx)
        ctx.send(src, AppendEntriesReply(term, True, last_new, round=m.round))

    # --- applying committed entries, answering clients ---------------------------------------

    def _apply_committed(self, ctx: Context) -> None:
        # Fig. 2, Rules for All Servers: "If commitIndex > lastApplied: increment
        # lastApplied, apply log[lastApplied] to state machine (5.3)".
        log = self.log
        waiters = self.ls.waiters if self.ls is not None else None
        while self.last_applied < self.commit_index:
            entry = log.entry(self.last_applied + 1)
            if entry is None:
                break  # only a broken twin gets here: its log lost a committed entry
            self.last_applied += 1
            result = self.sm.apply(entry.command)
            if waiters and self.last_applied in waiters:
                term, req = waiters.pop(self.last_applied)
                c = entry.command
                self.ls.pending.pop((req.client, req.seq), None)
                if entry.term == term and c is not None and (c.client, c.seq) == (req.client, req.seq) and result is not None:
                    ctx.reply(req, result)  # Fig. 2, Leaders: "respond after entry applied"
        if self.cfg.snapshot_every and self.last_applied - log.snapshot_index >= self.cfg.snapshot_every:
            ctx.set_timer("snapshot", 0.0)  # the service snapshots right after this step
        if self.ls is not None and self.ls.reads:
            self._serve_reads(ctx)

    def __repr__(self) -> str:
        return f"RaftNode({self.id!r}, {self.role}, term={self.current_term})"


def durable_view(storage: Mapping[str, Any]) -> dict[str, Any]:
    """What a crashed node still has on disk, shaped like ``RaftNode.state_view()``.

    Its role is ``"down"``; its commit index is unknown (volatile), so it is the
    snapshot index.
    """
    snap = storage.get("snapshot", Snapshot())
    end = storage.get("log_end", 0)
    terms = [None] * snap.index + [storage[f"log/{i}"].term for i in range(snap.index + 1, end + 1)]
    return {
        "role": "down",
        "term": storage.get("term", 0),
        "vote": storage.get("vote"),
        "leader": None,
        "log_terms": terms,
        "commit_index": snap.index,
        "last_applied": snap.index,
        "snapshot_index": snap.index,
    }


# --- registration -------------------------------------------------------------------------


def make_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str = "correct") -> RaftNode:
    return RaftNode(node_id, cluster, RaftConfig.from_options(options, variant))


SPECS = [
    ProtocolSpec(
        name="raft",
        summary="Raft (Ongaro & Ousterhout 2014) with a linearizable key-value service",
        make_node=make_node,
        variants=VARIANTS,
        invariants=raft_invariants,
        workload=Workload(
            clients=3,
            keys=("x", "y"),
            mix=(("read", 0.4), ("write", 0.4), ("cas", 0.2)),
            think=0.05,
            timeout=0.4,
            deadline=2.0,
        ),
        options=DEFAULT_OPTIONS,
        default_nodes=5,
        min_nodes=1,
        history_model="kv",
        # snipe: leaders cut off right after they take a command, again and again (figure 8)
        random_faults=("partition", "crash", "blip", "snipe"),
        # a pair that cannot hear each other during the opening blips: split votes in one
        # term, a voter that crashes and comes back (what catches volatile-vote)
        random_tuning={"blip_split": True},
        replica_state=lambda node: node.kv_items(),
    )
]

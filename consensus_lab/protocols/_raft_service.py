"""Sections 7 and 8 of the Raft paper: snapshots and the client service.

:class:`RaftServiceMixin` is part of :class:`consensus_lab.protocols.raft.RaftNode`;
it lives here to keep each file short.  It holds

* log compaction (section 7, Figure 13): taking a snapshot of the state
  machine, ``InstallSnapshot`` and its reply;
* the client service (section 8): redirection to the leader, duplicate
  detection by ``(client, seq)``, answering after apply, and reads by read
  index.
"""

from __future__ import annotations

from typing import Any

from ..sim import ClientRequest, Context, Fail, Ok, Redirect
from ._raft_messages import InstallSnapshot, InstallSnapshotReply
from .raft_log import OPERATIONS, READS, Command, Entry, KVStateMachine

__all__ = ["RaftServiceMixin"]

FOLLOWER, LEADER = "follower", "leader"


class RaftServiceMixin:
    """Snapshots and the key-value service of a RaftNode (see the module docstring)."""

    # state and helpers provided by RaftNode
    role: str
    current_term: int
    commit_index: int
    last_applied: int
    leader_id: str | None
    peers: tuple[str, ...]
    majority: int
    log: Any
    ls: Any
    sm: KVStateMachine
    snapshot: Any
    cfg: Any

    # --- InstallSnapshot (Fig. 13) ------------------------------------------------------------

    def handle_install_snapshot(self, ctx: Context, src: str, m: InstallSnapshot) -> None:
        term = self.current_term
        # Fig. 13, receiver, 1: "Reply immediately if term < currentTerm".
        if m.term < term:
            ctx.send(src, InstallSnapshotReply(term, 0))
            return
        if self.role != FOLLOWER:
            self._become_follower(ctx, m.term, src)
        self.leader_id = src
        self._reset_election_timer(ctx)
        if m.last_included_index > self.commit_index:
            old = self.log.snapshot_index
            # 6: "If existing log entry has same index and term as snapshot's last included
            # entry, retain log entries following it and reply"; 7: "Discard the entire log".
            self.log.compact(m.last_included_index, m.last_included_term)
            self.snapshot = m.data
            self._save_snapshot(ctx, old)
            # 8: "Reset state machine using snapshot contents".
            self.sm = KVStateMachine.from_snapshot(m.data)
            self.commit_index = m.last_included_index
            self.last_applied = m.last_included_index
            self._apply_committed(ctx)
        # else: we have applied past it already (an old or duplicated snapshot)
        ctx.send(src, InstallSnapshotReply(term, m.last_included_index))

    def handle_install_snapshot_reply(self, ctx: Context, src: str, m: InstallSnapshotReply) -> None:
        if self.role != LEADER or m.term != self.current_term:
            return
        ls = self.ls
        if m.last_included_index > ls.match_index[src]:
            ls.match_index[src] = m.last_included_index
        ls.next_index[src] = max(ls.next_index[src], ls.match_index[src] + 1)
        self._advance_commit_index(ctx)
        if ls.next_index[src] <= self.log.last_index:
            self._send_append_entries(ctx, src)

    def take_snapshot(self, ctx: Context) -> None:
        """Section 7: replace the applied prefix of the log by a snapshot."""
        log = self.log
        index = self.last_applied
        term = log.term_at(index)
        if index <= log.snapshot_index or term is None:
            return
        old = log.snapshot_index
        self.snapshot = self.sm.to_snapshot(index, term)
        log.compact(index, term)
        self._save_snapshot(ctx, old)

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        if self.role != LEADER:
            ctx.reply(request, Redirect(self.leader_id))  # section 8: redirect to the leader
            return
        if request.f not in OPERATIONS:
            ctx.reply(request, Fail(f"unknown operation {request.f!r}"))
            return
        # Section 8: duplicate detection by (client, seq).
        done = self.sm.sessions.get(request.client)
        if done is not None and done[0] >= request.seq:
            if done[0] == request.seq:
                ctx.reply(request, done[1])  # applied already: the same answer again
            return
        ls, log = self.ls, self.log
        key = (request.client, request.seq)
        if key in ls.pending:  # a retry of an entry still on its way: wait for that one
            index = ls.pending[key]
            ls.waiters[index] = (ls.waiters[index][0], request)
            return
        if request.f in READS and self.cfg.reads == "read-index":
            self._start_read(ctx, request)
            return
        # Fig. 2, Leaders: "If command received from client: append entry to local log,
        # respond after entry applied to state machine".
        cmd = Command(request.client, request.seq, request.f, request.key, request.value)
        index = log.append(Entry(self.current_term, cmd))
        self._save_log_from(ctx, index)
        ls.waiters[index] = (self.current_term, request)
        ls.pending[key] = index
        if self.majority == 1:
            self._advance_commit_index(ctx)
        for p in self.peers:
            if ls.next_index[p] == index:  # up to date: send the new entry now; others catch up
                self._send_append_entries(ctx, p)

    def _release_clients(self, ctx: Context) -> None:
        """On losing leadership, tell waiting clients to look elsewhere.

        Their entries may still commit under the next leader; the retry carries the
        same ``(client, seq)``, so it will not apply twice.
        """
        ls = self.ls
        if ls is not None:
            for index in sorted(ls.waiters):
                ctx.reply(ls.waiters[index][1], Redirect(None))
            for _, _, req in ls.reads:
                ctx.reply(req, Redirect(None))
        self.ls = None

    # --- read index (section 8) ------------------------------------------------------------

    def _start_read(self, ctx: Context, request: ClientRequest) -> None:
        ls = self.ls
        ls.round += 1  # a fresh heartbeat round, sent after the read arrived
        ls.reads.append([None, ls.round, request])
        for p in self.peers:
            self._send_append_entries(ctx, p)
        self._serve_reads(ctx)

    def _serve_reads(self, ctx: Context) -> None:
        ls = self.ls
        # The read index is the commit index once this leader has committed an entry of
        # its own term (before that its commit index may lag behind the cluster's).
        current = self.log.term_at(self.commit_index) == self.current_term
        rounds = sorted([ls.round, *ls.acked_round.values()], reverse=True)
        confirmed = rounds[self.majority - 1]  # a majority still took us as leader in this round
        keep = []
        for r in ls.reads:
            if r[0] is None and current:
                r[0] = self.commit_index
            if r[0] is not None and confirmed >= r[1] and self.last_applied >= r[0]:
                ctx.reply(r[2], Ok(self.sm.read(r[2].key)))
            else:
                keep.append(r)
        ls.reads = keep

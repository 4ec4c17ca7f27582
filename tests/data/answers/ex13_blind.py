"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: writes go through the log with a per-client (seq, result) table built by apply; a get waits in a
pending list until the leader has committed an entry of its own term, then takes read_index = commit_index
and needs a majority ack of a ReadProbe round sent after that, plus last_applied >= read_index.
"""

from consensus_lab.grading.exercises.ex13 import (
    PROBE_EVERY,
    Command,
    Ok,
    RaftNode,
    ReadAck,
    ReadProbe,
    Redirect,
)


class KVServer(RaftNode):
    def on_start(self, ctx):
        super().on_start(ctx)
        self.data = {}           # key -> value (rebuilt by apply from the log)
        self.sessions = {}       # client -> (last seq, its result) (rebuilt by apply)
        self.waiting = {}        # log index -> the write request this leader answers when it is applied
        self.reads = []          # pending gets: [request, read_index or None, round needed or None]
        self.round = 0           # the last ReadProbe round sent
        self.acks = {}           # round -> set of nodes that acknowledged it (this term)
        self.confirmed = 0       # the highest round a majority acknowledged
        self.probe_timer = False

    # --- clients ---------------------------------------------------------------------------
    def on_client_request(self, ctx, request):
        if self.role != "leader":
            ctx.reply(request, Redirect(self.leader_id))
            return
        if request.f == "get":
            # a retry of the same get replaces the older copy (one answer per operation)
            self.reads = [r for r in self.reads if (r[0].client, r[0].seq) != (request.client, request.seq)]
            self.reads.append([request, None, None])
            self.serve_reads(ctx)
            return
        done = self.sessions.get(request.client)
        if done is not None and done[0] == request.seq:
            ctx.reply(request, done[1])  # already run: answer with the first result
            return
        index = self.propose(ctx, Command(request.client, request.seq, request.f, request.key, request.value))
        if index is None:
            ctx.reply(request, Redirect(self.leader_id))
        else:
            self.waiting[index] = request

    def _majority(self):
        return len(self.cluster) // 2 + 1

    def _drop_reads(self, ctx):
        hint = self.leader_id if self.leader_id != self.id else None
        for r in self.reads:
            ctx.reply(r[0], Redirect(hint))
        self.reads = []
        self.acks = {}

    def serve_reads(self, ctx):
        if not self.reads:
            return
        if self.role != "leader":
            self._drop_reads(ctx)
            return
        # 1. an entry of this leader's own term must be committed (its no-op)
        if self.term_at(self.commit_index) != self.current_term:
            self._ensure_probe_timer(ctx)
            return
        # 2. take read_index now, and ask for a round sent after it
        need_probe = False
        for r in self.reads:
            if r[1] is None:
                r[1] = self.commit_index
                r[2] = self.round + 1
                need_probe = True
        if need_probe:
            self.probe(ctx)
        # 3. answer every read whose round was confirmed and whose read_index is applied
        still = []
        for r in self.reads:
            request, read_index, needed = r
            if self.confirmed >= needed and self.last_applied >= read_index:
                ctx.reply(request, Ok(self.data.get(request.key)))
            else:
                still.append(r)
        self.reads = still
        if self.reads:
            self._ensure_probe_timer(ctx)

    def _ensure_probe_timer(self, ctx):
        if not self.probe_timer:
            self.probe_timer = True
            ctx.set_timer("read-probe", PROBE_EVERY)

    def probe(self, ctx):
        if self.role != "leader":
            return
        self.round += 1
        self.acks = {rnd: who for rnd, who in self.acks.items() if rnd > self.confirmed}
        self.acks[self.round] = {self.id}
        if len(self.acks[self.round]) >= self._majority():  # a cluster of one
            self.confirmed = max(self.confirmed, self.round)
        ctx.broadcast(self.peers, ReadProbe(self.current_term, self.round))
        self._ensure_probe_timer(ctx)

    # --- messages and timers -----------------------------------------------------------------
    def on_message(self, ctx, src, msg):
        was_leader = self.role == "leader"
        if isinstance(msg, ReadProbe):
            super().on_message(ctx, src, msg)  # adopts a newer term (and steps down) if need be
            ctx.send(src, ReadAck(self.current_term, msg.round))
        elif isinstance(msg, ReadAck):
            super().on_message(ctx, src, msg)  # a newer term makes this old leader step down
            if self.role == "leader" and msg.term == self.current_term and msg.round in self.acks:
                who = self.acks[msg.round]
                who.add(src)
                if len(who) >= self._majority() and msg.round > self.confirmed:
                    self.confirmed = msg.round
                    self.serve_reads(ctx)
        else:
            super().on_message(ctx, src, msg)
        if was_leader and self.role != "leader":
            self._drop_reads(ctx)

    def on_timer(self, ctx, name, payload):
        if name == "read-probe":
            self.probe_timer = False
            if self.role != "leader":
                self._drop_reads(ctx)
                return
            if self.reads:
                if self.term_at(self.commit_index) == self.current_term and any(
                        r[2] is not None and r[2] > self.confirmed for r in self.reads):
                    self.probe(ctx)  # the last round got no majority (yet): a new round
                self.serve_reads(ctx)
            return
        super().on_timer(ctx, name, payload)

    # --- the state machine ------------------------------------------------------------------
    def apply(self, ctx, index, command):
        request = self.waiting.pop(index, None)
        if command is not None:
            done = self.sessions.get(command.client)
            if done is not None and done[0] >= command.seq:
                result = done[1] if done[0] == command.seq else None  # a duplicate: do not run it again
            else:
                if command.f == "put":
                    self.data[command.key] = command.value
                elif command.f == "append":
                    old = self.data.get(command.key)
                    self.data[command.key] = command.value if old is None else old + command.value
                result = Ok(self.data.get(command.key)) if command.f == "get" else Ok()
                self.sessions[command.client] = (command.seq, result)
            if (request is not None and result is not None
                    and (request.client, request.seq) == (command.client, command.seq)):
                ctx.reply(request, result)
        if self.reads and self.role == "leader":
            self.serve_reads(ctx)

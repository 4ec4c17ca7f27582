# Capstone D written from the brief alone: 2PC where every step is a Raft entry of the group taking it.


class ShardServer(TxnServer):
    def on_start(self, ctx):
        super().on_start(ctx)
        # replicated state (built by apply only)
        self.kv = {}
        self.lock_of = {}      # key -> txid
        self.doubt = {}        # txid -> (writes, coordinator group)
        self.done = {}         # txid -> outcome of this shard's part
        self.outcome = {}      # txid -> outcome decided by this (coordinator) group: first entry wins
        # leader-only, volatile
        self.reads = {}        # index -> request
        self.txns = {}         # txid -> [request, parts, votes, started, decided?]
        self.voters = {}       # txid -> coordinator node waiting for this shard's vote

    def in_doubt(self):
        return tuple(sorted(self.doubt))

    def start_read(self, ctx, request):
        i = self.propose(ctx, Command(request.client, request.seq, "get", request.key, None))
        if i is not None:
            self.reads[i] = request

    def start_txn(self, ctx, request, txid, parts):
        if txid in self.outcome:
            self._answer(ctx, request, self.outcome[txid])
            return
        if txid in self.txns:
            self.txns[txid][0] = request
            return
        self.txns[txid] = [request, parts, {}, ctx.now, False]
        self._prepare_all(ctx, txid)

    def _prepare_all(self, ctx, txid):
        _, parts, votes, _, _ = self.txns[txid]
        for g, writes in parts:
            if g not in votes:
                self.send_group(ctx, g, Prepare(txid, writes, self.group))

    def _answer(self, ctx, request, outcome):
        ctx.reply(request, Ok() if outcome == COMMIT else Fail("aborted"))

    def _my_vote(self, txid):
        if txid in self.doubt:
            return True
        if txid in self.done:
            return self.done[txid] == COMMIT
        return None

    def on_message(self, ctx, src, msg):
        leader = self.role == "leader"
        if isinstance(msg, Prepare):
            if not leader:
                return
            v = self._my_vote(msg.txid)
            if v is None:
                self.voters[msg.txid] = src
                self.propose(ctx, Step("prepare", msg.txid, (msg.writes, msg.coordinator)))
            else:
                ctx.send(src, TxnVote(msg.txid, self.group, v))
        elif isinstance(msg, TxnVote):
            t = self.txns.get(msg.txid)
            if not leader or t is None or t[4]:
                return
            t[2][msg.group] = msg.yes
            if not msg.yes:
                t[4] = True
                self.propose(ctx, Step("decision", msg.txid, ABORT))
            elif len(t[2]) == len(t[1]) and all(t[2].values()):
                t[4] = True
                self.propose(ctx, Step("decision", msg.txid, COMMIT))
        elif isinstance(msg, Decision):
            if leader and msg.txid not in self.done:
                self.propose(ctx, Step("finish", msg.txid, msg.outcome))
        elif isinstance(msg, DecisionRequest):
            if msg.txid in self.outcome:
                ctx.send(src, Decision(msg.txid, self.outcome[msg.txid]))
            elif leader and msg.txid not in self.txns:
                self.propose(ctx, Step("decision", msg.txid, ABORT))
        else:
            super().on_message(ctx, src, msg)

    def apply(self, ctx, index, command):
        req = self.reads.pop(index, None)
        if command is None:
            return
        if isinstance(command, Command):
            if command.key in self.lock_of:
                res = Fail("locked")
            else:
                res = Ok(self.kv.get(command.key))
            if req is not None and req.client == command.client and req.seq == command.seq:
                ctx.reply(req, res)
            return
        txid, kind = command.txid, command.kind
        if kind == "prepare":
            if txid not in self.doubt and txid not in self.done:
                writes, coord = command.value
                if all(self.lock_of.get(k) in (None, txid) for k, _ in writes):
                    self.doubt[txid] = (writes, coord)
                    for k, _ in writes:
                        self.lock_of[k] = txid
                else:
                    self.done[txid] = ABORT
            if self.role == "leader" and txid in self.voters:
                ctx.send(self.voters.pop(txid), TxnVote(txid, self.group, self._my_vote(txid)))
        elif kind == "decision":
            if txid not in self.outcome:
                self.outcome[txid] = command.value
            t = self.txns.pop(txid, None) if self.role == "leader" else None
            if t is not None:
                self._answer(ctx, t[0], self.outcome[txid])
                for g, _ in t[1]:
                    self.send_group(ctx, g, Decision(txid, self.outcome[txid]))
        elif kind == "finish":
            if txid not in self.done:
                writes, _ = self.doubt.pop(txid, ((), None))
                for k, v in writes:
                    if command.value == COMMIT:
                        self.kv[k] = v
                    if self.lock_of.get(k) == txid:
                        del self.lock_of[k]
                self.done[txid] = command.value

    def on_tick(self, ctx):
        if self.role != "leader":
            return
        for txid in sorted(self.txns):
            t = self.txns[txid]
            if t[4]:
                continue
            if ctx.now - t[3] > VOTE_TIMEOUT:
                t[4] = True
                self.propose(ctx, Step("decision", txid, ABORT))
            else:
                self._prepare_all(ctx, txid)
        for txid in sorted(self.doubt):
            self.send_group(ctx, self.doubt[txid][1], DecisionRequest(txid, self.group))

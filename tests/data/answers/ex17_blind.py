"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07)
Approach: all 2PC state (locks, prepared, outcomes, decisions, data) is rebuilt by apply from the group log;
a leader keeps only volatile bookkeeping (running transactions, who asked for a vote, pending reads) and
acts on a step only after its entry is applied.
Not blind to the protocol: the writer read the library's consensus_lab/protocols/sharded_txn.py (allowed),
a working version of the same protocol, and followed its structure."""

from consensus_lab.grading.exercises.ex17 import (
    ABORT,
    COMMIT,
    VOTE_TIMEOUT,
    Command,
    Decision,
    DecisionRequest,
    Fail,
    Ok,
    Prepare,
    Step,
    TxnServer,
    TxnVote,
)


class ShardServer(TxnServer):
    def on_start(self, ctx):
        super().on_start(ctx)
        # state built by apply (rebuilt from the log after a restart)
        self.data = {}
        self.locks = {}  # key -> txid
        self.prepared = {}  # txid -> (writes, coordinator group): voted yes, in doubt
        self.outcomes = {}  # txid -> outcome (participant: finished)
        self.decisions = {}  # txid -> outcome (coordinator: the first decision entry)
        self._volatile()

    def _volatile(self):
        # a leader's bookkeeping, dropped when a new leadership starts
        self.active = {}  # txid -> [request, parts, deadline, votes, deciding]
        self.vote_to = {}  # txid -> node that asked for the vote
        self.proposed = {}  # (kind, txid) -> term it was proposed in
        self.reads = {}  # log index -> (request, command)

    def _become_leader(self, ctx):
        self._volatile()
        super()._become_leader(ctx)

    def in_doubt(self):
        return tuple(self.prepared)

    # --- clients --------------------------------------------------------------------
    def start_read(self, ctx, request):
        command = Command(request.client, request.seq, "get", request.key, None)
        index = self.propose(ctx, command)
        if index is not None:
            self.reads[index] = (request, command)

    def start_txn(self, ctx, request, txid, parts):
        decision = self.decisions.get(txid)
        if decision is not None:  # a retry of a decided transaction
            ctx.reply(request, Ok() if decision == COMMIT else Fail("aborted"))
            return
        rec = self.active.get(txid)
        if rec is not None:  # a retry of one this leader runs: answer this copy
            rec[0] = request
            return
        self.active[txid] = [request, parts, ctx.now + VOTE_TIMEOUT, {}, False]
        for g, writes in parts:
            self.send_group(ctx, g, Prepare(txid, writes, self.group))

    # --- messages -------------------------------------------------------------------
    def on_message(self, ctx, src, msg):
        if isinstance(msg, Prepare):
            self._on_prepare(ctx, src, msg)
        elif isinstance(msg, TxnVote):
            self._on_vote(ctx, msg)
        elif isinstance(msg, Decision):
            if self.role == "leader" and msg.txid not in self.outcomes:
                self.step(ctx, "finish", msg.txid, msg.outcome)
        elif isinstance(msg, DecisionRequest):
            self._on_decision_request(ctx, src, msg)
        else:
            super().on_message(ctx, src, msg)

    def _on_prepare(self, ctx, src, msg):
        if self.role != "leader":
            return
        v = self.vote(msg.txid)
        if v is not None:  # the prepare entry is applied already: repeat the vote
            ctx.send(src, TxnVote(msg.txid, self.group, v))
            return
        self.vote_to[msg.txid] = src
        self.step(ctx, "prepare", msg.txid, (tuple(msg.writes), msg.coordinator))

    def _on_vote(self, ctx, msg):
        rec = self.active.get(msg.txid)
        if self.role != "leader" or rec is None or rec[4]:
            return
        rec[3][msg.group] = msg.yes
        if not msg.yes:
            self._decide(ctx, msg.txid, ABORT)
        elif all(rec[3].get(g) for g, _ in rec[1]):
            self._decide(ctx, msg.txid, COMMIT)

    def _decide(self, ctx, txid, outcome):
        self.active[txid][4] = True
        self.step(ctx, "decision", txid, outcome)

    def _on_decision_request(self, ctx, src, msg):
        decision = self.decisions.get(msg.txid)
        if decision is not None:
            ctx.send(src, Decision(msg.txid, decision))
        elif self.role == "leader" and msg.txid not in self.active:
            self.step(ctx, "decision", msg.txid, ABORT)  # presumed abort: the log keeps the first decision

    # --- the state machine ----------------------------------------------------------
    def apply(self, ctx, index, command):
        if command is None:
            return
        if isinstance(command, Command):
            holder = self.locks.get(command.key)
            result = Fail("locked") if holder is not None else Ok(self.data.get(command.key))
            waiting = self.reads.pop(index, None)
            if waiting is not None and self.role == "leader" and waiting[1] == command:
                ctx.reply(waiting[0], result)
            return
        if not isinstance(command, Step):
            return
        txid = command.txid
        if command.kind == "prepare":
            writes, coordinator = command.value
            if txid not in self.outcomes and txid not in self.prepared:
                if any(self.locks.get(k, txid) != txid for k, _ in writes):
                    self.outcomes[txid] = ABORT  # not voted yes: free to abort alone
                else:
                    self.prepared[txid] = (tuple(writes), coordinator)
                    for k, _ in writes:
                        self.locks[k] = txid
        elif command.kind == "decision":
            if txid not in self.decisions:
                self.decisions[txid] = command.value
        elif command.kind == "finish":
            if txid not in self.outcomes:
                writes, _ = self.prepared.pop(txid, ((), None))
                self.outcomes[txid] = command.value
                for k, v in writes:
                    if command.value == COMMIT:
                        self.data[k] = v
                    if self.locks.get(k) == txid:
                        del self.locks[k]
        if self.role == "leader":
            self.react(ctx, txid)

    # --- timers ---------------------------------------------------------------------
    def on_tick(self, ctx):
        if self.role != "leader":
            return
        for txid, rec in list(self.active.items()):
            if rec[4]:
                continue
            if ctx.now >= rec[2] - 1e-9:
                self._decide(ctx, txid, ABORT)
                continue
            for g, writes in rec[1]:
                if g not in rec[3]:
                    self.send_group(ctx, g, Prepare(txid, writes, self.group))
        for txid, (_, coordinator) in list(self.prepared.items()):
            decision = self.decisions.get(txid) if coordinator == self.group else None
            if decision is not None:
                self.step(ctx, "finish", txid, decision)
            else:
                self.send_group(ctx, coordinator, DecisionRequest(txid, self.group))

    # --- helpers --------------------------------------------------------------------
    def vote(self, txid):
        """This shard's vote on txid once its prepare entry is applied (None before) -- a helper."""
        if txid in self.prepared:
            return True
        if txid in self.outcomes:
            return self.outcomes[txid] == COMMIT
        return None

    def step(self, ctx, kind, txid, value):
        """Propose Step(kind, txid, value) -- a helper (once per term is enough: a re-sent message
        would only repeat it)."""
        if self.role != "leader" or self.proposed.get((kind, txid)) == self.current_term:
            return
        self.proposed[(kind, txid)] = self.current_term
        self.propose(ctx, Step(kind, txid, value))

    def react(self, ctx, txid):
        """A leader's follow-up once an entry about txid is applied -- a helper."""
        decision = self.decisions.get(txid)
        rec = self.active.get(txid)
        if decision is not None and rec is not None:  # coordinator: the outcome is logged
            del self.active[txid]
            if rec[0] is not None:
                ctx.reply(rec[0], Ok() if decision == COMMIT else Fail("aborted"))
            for g, _ in rec[1]:
                self.send_group(ctx, g, Decision(txid, decision))
        v = self.vote(txid)
        asker = self.vote_to.get(txid)
        if v is not None and asker is not None:  # participant: the prepare entry is applied
            del self.vote_to[txid]
            ctx.send(asker, TxnVote(txid, self.group, v))

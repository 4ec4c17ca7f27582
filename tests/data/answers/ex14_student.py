# Written from the brief of exercise 14 (consensus_lab/grading/exercises/ex14.py), not from the reference.
class Gateway(Node):
    def on_start(self, ctx):
        self.pending = {}  # request id -> [request, time of the first Apply, asking to cancel?]

    def on_client_request(self, ctx, request):
        if request.f != "append":
            ctx.reply(request, Fail("only append"))
            return
        rid = f"{request.client}:{request.seq}"
        entry = self.pending.get(rid)
        if entry is not None:
            entry[0] = request
            return
        self.pending[rid] = [request, ctx.now, False]
        self._poke(ctx, rid)

    def _poke(self, ctx, rid):
        request, since, cancelling = self.pending[rid]
        if not cancelling and ctx.now >= since + GIVE_UP:
            cancelling = self.pending[rid][2] = True
        ctx.send(STORE, Cancel(rid) if cancelling else Apply(rid, request.value))
        ctx.set_timer("again:" + rid, RETRY, rid)

    def on_timer(self, ctx, name, payload):
        if name.startswith("again:") and payload in self.pending:
            self._poke(ctx, payload)

    def on_message(self, ctx, src, msg):
        if not isinstance(msg, Outcome):
            return
        entry = self.pending.pop(msg.rid, None)
        if entry is None:
            return  # a duplicate answer for something already answered
        ctx.cancel_timer("again:" + msg.rid)
        if msg.applied:
            ctx.reply(entry[0], Ok())
        else:
            ctx.reply(entry[0], Fail("cancelled"))


class LedgerStore(Node):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Apply):
            verdict = ctx.storage.get("rid:" + msg.rid)
            if verdict is None:
                ledger = ctx.storage.get("ledger", ())
                ctx.storage["ledger"] = ledger + (msg.value,)
                ctx.storage["rid:" + msg.rid] = verdict = True
            ctx.send(src, Outcome(msg.rid, verdict))
        elif isinstance(msg, Cancel):
            verdict = ctx.storage.get("rid:" + msg.rid)
            if verdict is None:
                ctx.storage["rid:" + msg.rid] = verdict = False
            ctx.send(src, Outcome(msg.rid, verdict))

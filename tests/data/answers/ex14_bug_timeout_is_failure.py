# Treats silence as failure: after GIVE_UP seconds without an Outcome it tells the client the append
# failed, without asking the store -- but the Apply (or only its answer) may still be on its way.
class Gateway(Node):
    def on_start(self, ctx):
        self.pending = {}

    def on_client_request(self, ctx, request):
        rid = f"{request.client}:{request.seq}"
        if rid in self.pending:
            self.pending[rid][0] = request
            return
        self.pending[rid] = [request, ctx.now]
        self._poke(ctx, rid)

    def _poke(self, ctx, rid):
        request, since = self.pending[rid]
        if ctx.now >= since + GIVE_UP:
            del self.pending[rid]
            ctx.reply(request, Fail("timed out"))
            return
        ctx.send(STORE, Apply(rid, request.value))
        ctx.set_timer("again:" + rid, RETRY, rid)

    def on_timer(self, ctx, name, payload):
        if name.startswith("again:") and payload in self.pending:
            self._poke(ctx, payload)

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Outcome) and msg.rid in self.pending:
            request = self.pending.pop(msg.rid)[0]
            ctx.cancel_timer("again:" + msg.rid)
            ctx.reply(request, Ok() if msg.applied else Fail("cancelled"))

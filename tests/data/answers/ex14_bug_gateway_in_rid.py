# Names each request after the gateway that sends it, so that two gateways never clash: a client
# that gave up on one gateway and retries at another sends the same append under a new id.
class Gateway(Node):
    def on_start(self, ctx):
        self.pending = {}

    def on_client_request(self, ctx, request):
        rid = f"{self.id}/{request.client}:{request.seq}"
        if rid in self.pending:
            self.pending[rid][0] = request
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
        if isinstance(msg, Outcome) and msg.rid in self.pending:
            request = self.pending.pop(msg.rid)[0]
            ctx.cancel_timer("again:" + msg.rid)
            ctx.reply(request, Ok() if msg.applied else Fail("cancelled"))

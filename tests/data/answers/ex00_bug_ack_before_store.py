# Realistic bug: answer the client first, store on the retry timer (a crash loses an acknowledged add).
class BroadcastNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.delivered = ()
        self.pending = {}

    def on_start(self, ctx):
        self.delivered = ctx.storage.get("delivered", ())
        for v, p in ctx.storage.get("pending", ()):
            self.pending.setdefault(v, set()).add(p)
        ctx.set_timer("retry", RETRY)

    def flush(self, ctx):
        ctx.storage["delivered"] = self.delivered
        ctx.storage["pending"] = tuple(sorted((v, p) for v, ps in self.pending.items() for p in ps))

    def on_client_request(self, ctx, request):
        if request.f == "read":
            ctx.reply(request, Ok(tuple(sorted(self.delivered))))
            return
        if request.value not in self.delivered:
            self.delivered += (request.value,)
            self.pending[request.value] = set(self.peers)
        ctx.reply(request, Ok())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Gossip):
            if msg.value not in self.delivered:
                self.delivered += (msg.value,)
            self.flush(ctx)
            ctx.send(src, GossipAck(msg.value))
        elif msg.value in self.pending:
            self.pending[msg.value].discard(src)
            if not self.pending[msg.value]:
                del self.pending[msg.value]
            self.flush(ctx)

    def on_timer(self, ctx, name, payload):
        self.flush(ctx)
        for v, peers in sorted(self.pending.items()):
            for p in sorted(peers):
                ctx.send(p, Gossip(v))
        ctx.set_timer("retry", RETRY)

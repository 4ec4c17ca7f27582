# Realistic bug: every Gossip is appended -- a duplicated or retried message is delivered twice.
class BroadcastNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.pending = {}

    def on_start(self, ctx):
        for v, p in ctx.storage.get("pending", ()):
            self.pending.setdefault(v, set()).add(p)
        ctx.set_timer("retry", RETRY)

    def save(self, ctx):
        ctx.storage["pending"] = tuple(sorted((v, p) for v, ps in self.pending.items() for p in ps))

    def on_client_request(self, ctx, request):
        delivered = ctx.storage.get("delivered", ())
        if request.f == "read":
            ctx.reply(request, Ok(tuple(sorted(delivered))))
            return
        ctx.storage["delivered"] = delivered + (request.value,)
        self.pending[request.value] = set(self.peers)
        self.save(ctx)
        ctx.broadcast(self.peers, Gossip(request.value))
        ctx.reply(request, Ok())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Gossip):
            ctx.storage["delivered"] = ctx.storage.get("delivered", ()) + (msg.value,)
            ctx.send(src, GossipAck(msg.value))
        elif msg.value in self.pending:
            self.pending[msg.value].discard(src)
            if not self.pending[msg.value]:
                del self.pending[msg.value]
            self.save(ctx)

    def on_timer(self, ctx, name, payload):
        for v, peers in sorted(self.pending.items()):
            for p in sorted(peers):
                ctx.send(p, Gossip(v))
        ctx.set_timer("retry", RETRY)

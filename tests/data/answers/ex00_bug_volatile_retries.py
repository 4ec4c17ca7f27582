# Realistic bug: who still has to be told lives only in memory -- a crash forgets the retries.
class BroadcastNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.delivered = ()
        self.pending = {}

    def on_start(self, ctx):
        self.delivered = ctx.storage.get("delivered", ())

    def deliver(self, ctx, v):
        if v not in self.delivered:
            self.delivered += (v,)
            ctx.storage["delivered"] = self.delivered

    def on_client_request(self, ctx, request):
        if request.f == "read":
            ctx.reply(request, Ok(tuple(sorted(self.delivered))))
            return
        self.deliver(ctx, request.value)
        self.pending[request.value] = set(self.peers)
        ctx.broadcast(self.peers, Gossip(request.value))
        ctx.set_timer("retry", RETRY)
        ctx.reply(request, Ok())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Gossip):
            self.deliver(ctx, msg.value)
            ctx.send(src, GossipAck(msg.value))
        elif msg.value in self.pending:
            self.pending[msg.value].discard(src)
            if not self.pending[msg.value]:
                del self.pending[msg.value]

    def on_timer(self, ctx, name, payload):
        for v, peers in sorted(self.pending.items()):
            for p in sorted(peers):
                ctx.send(p, Gossip(v))
        if self.pending:
            ctx.set_timer("retry", RETRY)

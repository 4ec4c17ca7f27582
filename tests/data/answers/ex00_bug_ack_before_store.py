# Realistic bug: answer the client first, store on the retry timer (a crash loses an acknowledged add).
class BroadcastNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.got = ()
        self.todo = {}

    def on_start(self, ctx):
        self.got = ctx.storage.get("delivered", ())
        for v, p in ctx.storage.get("pending", ()):
            self.todo.setdefault(v, set()).add(p)
        ctx.set_timer("retry", RETRY)

    def flush(self, ctx):
        ctx.storage["delivered"] = self.got
        ctx.storage["pending"] = tuple(sorted((v, p) for v, ps in self.todo.items() for p in ps))

    def on_client_request(self, ctx, request):
        if request.f == "read":
            ctx.reply(request, Ok(tuple(sorted(self.got))))
            return
        if request.value not in self.got:
            self.got += (request.value,)
            self.todo[request.value] = set(self.peers)
        ctx.reply(request, Ok())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Gossip):
            if msg.value not in self.got:
                self.got += (msg.value,)
            self.flush(ctx)
            ctx.send(src, GossipAck(msg.value))
        elif msg.value in self.todo:
            self.todo[msg.value].discard(src)
            if not self.todo[msg.value]:
                del self.todo[msg.value]
            self.flush(ctx)

    def on_timer(self, ctx, name, payload):
        self.flush(ctx)
        for v, peers in sorted(self.todo.items()):
            for p in sorted(peers):
                ctx.send(p, Gossip(v))
        ctx.set_timer("retry", RETRY)

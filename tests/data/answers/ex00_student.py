# A student's answer, written from the brief alone: one pending-set per peer, stored as a sorted tuple per peer.
class BroadcastNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.mine = []
        self.todo = {}

    def on_start(self, ctx):
        self.mine = list(ctx.storage.get("delivered", ()))
        self.todo = {p: list(ctx.storage.get("todo:" + p, ())) for p in self.peers}
        self.tick(ctx)

    def tick(self, ctx):
        busy = False
        for p in self.peers:
            for v in self.todo[p]:
                ctx.send(p, Gossip(v))
                busy = True
        if busy:
            ctx.set_timer("again", RETRY)

    def store(self, ctx, v):
        if v in self.mine:
            return False
        self.mine.append(v)
        ctx.storage["delivered"] = tuple(self.mine)
        return True

    def on_client_request(self, ctx, request):
        if request.f == "add":
            if self.store(ctx, request.value):
                for p in self.peers:
                    self.todo[p].append(request.value)
                    ctx.storage["todo:" + p] = tuple(self.todo[p])
                    ctx.send(p, Gossip(request.value))
                ctx.set_timer("again", RETRY)
            ctx.reply(request, Ok())
        else:
            ctx.reply(request, Ok(tuple(sorted(self.mine))))

    def on_message(self, ctx, src, msg):
        if type(msg) is Gossip:
            self.store(ctx, msg.value)
            ctx.send(src, GossipAck(msg.value))
        elif type(msg) is GossipAck and msg.value in self.todo[src]:
            self.todo[src].remove(msg.value)
            ctx.storage["todo:" + src] = tuple(self.todo[src])

    def on_timer(self, ctx, name, payload):
        if name == "again":
            self.tick(ctx)

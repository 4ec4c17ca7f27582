# Realistic bug: the storage compares tokens, but keeps the highest one in memory: a restart forgets it.
class LockClient(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.ops = {}

    def on_client_request(self, ctx, request):
        rid = f"{request.client}:{request.seq}"
        self.ops[rid] = [request, None]
        self.kick(ctx, rid)

    def kick(self, ctx, rid):
        request, token = self.ops[rid]
        if request.f == "read":
            ctx.send(STORAGE, Read(rid, request.key))
        elif token is None:
            ctx.send(LOCK_SERVER, Acquire(rid))
        else:
            ctx.send(STORAGE, Write(token, request.key, request.value))
        ctx.set_timer("r" + rid, RETRY, rid)

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Grant) and msg.rid in self.ops and self.ops[msg.rid][1] is None:
            self.ops[msg.rid][1] = msg.token
            self.kick(ctx, msg.rid)
        elif isinstance(msg, WriteReply):
            for rid, (request, token) in list(self.ops.items()):
                if request.f == "write" and request.value == msg.value:
                    ctx.send(LOCK_SERVER, Release(token))
                    ctx.reply(request, Ok() if msg.accepted else Fail("stale token"))
                    del self.ops[rid]
        elif isinstance(msg, ReadReply) and msg.rid in self.ops:
            ctx.reply(self.ops.pop(msg.rid)[0], Ok(msg.value))

    def on_timer(self, ctx, name, payload):
        if payload in self.ops:
            self.kick(ctx, payload)


class FencedStorage(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.highest = 0

    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Write):
            key = f"write:{msg.value}"
            if key not in ctx.storage:
                ok = msg.token >= self.highest
                if ok:
                    self.highest = msg.token
                    ctx.storage[f"data:{msg.key}"] = (msg.token, msg.value)
                ctx.storage[key] = ok
            ctx.send(src, WriteReply(msg.value, ctx.storage[key]))
        elif isinstance(msg, Read):
            data = ctx.storage.get(f"data:{msg.key}")
            ctx.send(src, ReadReply(msg.rid, data and data[1]))

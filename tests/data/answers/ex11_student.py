# A student's answer, written from the brief alone.
class LockClient(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.waiting = {}   # rid -> request, still needs the lock
        self.writing = {}   # value -> (rid, token, request)
        self.reading = {}   # rid -> request

    def on_client_request(self, ctx, request):
        rid = "%s/%d" % (request.client, request.seq)
        if request.f == "read":
            self.reading[rid] = request
            ctx.send(STORAGE, Read(rid, request.key))
        else:
            self.waiting[rid] = request
            ctx.send(LOCK_SERVER, Acquire(rid))
        ctx.set_timer("resend", RETRY)

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Grant):
            req = self.waiting.pop(msg.rid, None)
            if req is None:
                return
            self.writing[req.value] = (msg.rid, msg.token, req)
            ctx.send(STORAGE, Write(msg.token, req.key, req.value))
        elif isinstance(msg, WriteReply):
            if msg.value in self.writing:
                rid, token, req = self.writing.pop(msg.value)
                ctx.send(LOCK_SERVER, Release(token))
                if msg.accepted:
                    ctx.reply(req, Ok())
                else:
                    ctx.reply(req, Fail("stale token"))
        elif isinstance(msg, ReadReply):
            req = self.reading.pop(msg.rid, None)
            if req is not None:
                ctx.reply(req, Ok(msg.value))

    def on_timer(self, ctx, name, payload):
        for rid in self.waiting:
            ctx.send(LOCK_SERVER, Acquire(rid))
        for value, (rid, token, req) in self.writing.items():
            ctx.send(STORAGE, Write(token, req.key, value))
        for rid, req in self.reading.items():
            ctx.send(STORAGE, Read(rid, req.key))
        if self.waiting or self.writing or self.reading:
            ctx.set_timer("resend", RETRY)


class FencedStorage(Node):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if type(msg) is Read:
            cell = ctx.storage.get("data:" + str(msg.key), (0, None))
            ctx.send(src, ReadReply(msg.rid, cell[1]))
            return
        if type(msg) is not Write:
            return
        seen = "write:" + str(msg.value)
        if seen not in ctx.storage:
            top = ctx.storage.get("highest", 0)
            ok = msg.token >= top
            if ok:
                ctx.storage["highest"] = msg.token
                ctx.storage["data:" + str(msg.key)] = (msg.token, msg.value)
            ctx.storage[seen] = ok
        ctx.send(src, WriteReply(msg.value, ctx.storage[seen]))

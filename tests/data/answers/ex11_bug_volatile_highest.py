# Realistic bug: the storage compares tokens, but keeps the highest one in memory: a restart forgets it.
# (Graded with the LockClient of ex11_student.py in front of it: this class replaces that storage.)
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
            cell = ctx.storage.get(f"data:{msg.key}", (None, None))
            ctx.send(src, ReadReply(msg.rid, cell[1]))

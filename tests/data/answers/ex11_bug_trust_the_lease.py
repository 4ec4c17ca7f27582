# Realistic bug: the storage trusts the lock ("only the holder can write") and never compares tokens.
# (Graded with the LockClient of ex11_student.py in front of it: this class replaces that storage.)
class FencedStorage(Node):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Write):
            if f"write:{msg.value}" not in ctx.storage:
                ctx.storage[f"data:{msg.key}"] = (msg.token, msg.value)
                ctx.storage["highest"] = max(msg.token, ctx.storage.get("highest", 0))
                ctx.storage[f"write:{msg.value}"] = True
            ctx.send(src, WriteReply(msg.value, ctx.storage[f"write:{msg.value}"]))
        elif isinstance(msg, Read):
            data = ctx.storage.get(f"data:{msg.key}")
            ctx.send(src, ReadReply(msg.rid, data and data[1]))

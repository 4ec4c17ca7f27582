# Realistic bug: the storage judges every Write it receives afresh -- a retried Write (its first reply was lost,
# or it was duplicated) arriving after a newer token is refused, although the first copy was accepted.
# (Graded with the LockClient of ex11_student.py in front of it: this class replaces that storage.)
class FencedStorage(Node):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Read):
            got = ctx.storage.get(f"data:{msg.key}")
            ctx.send(src, ReadReply(msg.rid, got[1] if got else None))
        elif isinstance(msg, Write):
            fresh = msg.token >= ctx.storage.get("highest", 0)
            if fresh:
                ctx.storage["highest"] = msg.token
                ctx.storage[f"data:{msg.key}"] = (msg.token, msg.value)
            ctx.storage[f"write:{msg.value}"] = fresh
            ctx.send(src, WriteReply(msg.value, fresh))

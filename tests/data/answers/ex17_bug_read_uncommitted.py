# Reads never fail: a key held by an in-doubt transaction answers the value that transaction is
# about to write (it voted yes, so it will probably commit).  (Graded behind ex17_student.py.)
_Logged = ShardServer


class ShardServer(_Logged):
    def apply(self, ctx, index, command):
        if isinstance(command, Command) and command.key in self.lock_of:
            req = self.reads.pop(index, None)
            writes, _ = self.doubt[self.lock_of[command.key]]
            if req is not None and (req.client, req.seq) == (command.client, command.seq):
                ctx.reply(req, Ok(dict(writes)[command.key]))
            return
        super().apply(ctx, index, command)

# Realistic bug: the snapshot is taken first thing in apply, before the entry is run: its state is the one after
# entry index - 1, but it claims index.  A node rebuilt from it never runs that entry.  (Graded behind
# ex16_student.py.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def apply(self, ctx, index, command):
        if index - self.snapshot.index >= SNAPSHOT_EVERY:
            self.compact(ctx, index, self.dump())
        waiting = self.pending.pop(index, None)
        if command is not None:
            last = self.sessions.get(command.client)
            if last is None or command.seq > last[0]:
                self.sessions[command.client] = (command.seq, self.execute(command))
            seq, answer = self.sessions[command.client]
            if waiting is not None and (waiting.client, waiting.seq) == (command.client, command.seq) and seq == command.seq:
                ctx.reply(waiting, Ok(answer))

# Realistic bug: the snapshot is taken first thing in apply, before the entry is run: its state is the one after
# entry index - 1, but it claims index.  A node rebuilt from it never runs that entry.  (Graded behind
# ex16_student.py.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def apply(self, ctx, index, command):
        if index - self.snapshot.index >= SNAPSHOT_EVERY:
            self.compact(ctx, index, self.dump())
        self.run_entry(ctx, index, command)

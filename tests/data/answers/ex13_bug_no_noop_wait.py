# Realistic bug: a new leader confirms its leadership but does not wait for an entry of its own term to commit,
# so its read_index (commit_index) can be older than a write its predecessor already answered.
# (Graded behind ex13_student.py: this class extends that one.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def kick(self, ctx):
        if self.role != "leader" or not self.batch:
            return
        self.rounds += 1
        self.inflight[self.rounds] = (self.commit_index, self.batch, {self.id})
        self.batch = []
        for p in self.peers:
            ctx.send(p, ReadProbe(self.current_term, self.rounds))
        ctx.set_timer("reprobe", PROBE_EVERY, self.rounds)

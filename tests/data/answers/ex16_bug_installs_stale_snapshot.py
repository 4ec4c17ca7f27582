# Realistic bug: InstallSnapshot handled as "the leader knows best" -- every snapshot that arrives replaces the
# state and the log, also one that is older than what this node has applied (a late or duplicated message):
# the node's state goes back.  (Graded behind ex16_student.py.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def install_snapshot(self, ctx, snapshot):
        self.snapshot, self.log = snapshot, ()
        ctx.storage["snapshot"] = snapshot
        ctx.storage["log"] = ()
        self.load(snapshot.state)
        self.commit_index = self.last_applied = snapshot.index

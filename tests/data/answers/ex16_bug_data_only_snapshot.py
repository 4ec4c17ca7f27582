# Realistic bug: "a snapshot of the key-value store" taken literally -- the snapshot holds the data but not the
# duplicate table, so a node rebuilt from a snapshot (after a restart or an install) has forgotten which requests
# ran: a retry whose first copy is inside the snapshot runs again.  (Graded behind ex16_student.py.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def dump(self):
        return tuple(sorted(self.kv.items()))

    def load(self, state):
        self.kv = dict(state or ())
        self.sessions = {}

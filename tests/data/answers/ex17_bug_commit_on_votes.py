# The votes are all in, so the outcome is known: answer and tell the participants at once, and log the
# decision "for the record" at the same time.  (Graded behind ex17_student.py.)
_Logged = ShardServer


class ShardServer(_Logged):
    def on_message(self, ctx, src, msg):
        t = self.txns.get(msg.txid) if isinstance(msg, TxnVote) and self.role == "leader" else None
        if t is None or t[4]:
            super().on_message(ctx, src, msg)
            return
        t[2][msg.group] = msg.yes
        if not msg.yes or (len(t[2]) == len(t[1]) and all(t[2].values())):
            outcome = COMMIT if msg.yes else ABORT
            t[4] = True
            self.propose(ctx, Step("decision", msg.txid, outcome))
            self._answer(ctx, t[0], outcome)
            for g, _ in t[1]:
                self.send_group(ctx, g, Decision(msg.txid, outcome))

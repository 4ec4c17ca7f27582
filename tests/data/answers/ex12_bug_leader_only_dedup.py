# Realistic bug: the answer of ex12_bug_no_dedup.py "fixed" on the leader -- it remembers in memory which
# requests it has proposed and drops repeats.  The memory is the leader's, not the log's: after a leader change
# or a restart a retry runs again.  (Graded behind ex12_bug_no_dedup.py: this class extends that one.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def on_start(self, ctx):
        super().on_start(ctx)
        self.proposed = {}   # (client, seq) -> index, on this leader only

    def on_client_request(self, ctx, request):
        if self.role != "leader":
            ctx.reply(request, Redirect(self.leader_id))
            return
        key = (request.client, request.seq)
        if key in self.proposed:
            self.pending[self.proposed[key]] = request
            return
        i = self.propose(ctx, Command(request.client, request.seq, request.f, request.key, request.value))
        self.proposed[key] = i
        self.pending[i] = request

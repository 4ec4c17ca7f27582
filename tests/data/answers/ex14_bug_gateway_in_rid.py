# Names each request after the gateway that sends it, so that two gateways never clash: a client
# that gave up on one gateway and retries at another sends the same append under a new id.
# (Graded behind ex14_student.py: that answer with this one method changed.)
class Gateway(Gateway):
    def on_client_request(self, ctx, request):
        rid = f"{self.id}/{request.client}:{request.seq}"
        if rid in self.pending:
            self.pending[rid][0] = request
            return
        self.pending[rid] = [request, ctx.now, False]
        self._poke(ctx, rid)

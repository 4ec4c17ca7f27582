# Realistic bug: "the leader has the newest state" -- it answers a get at once from its own state, without
# checking that it is still the leader.  A leader cut off by a partition keeps serving old values.
# (Graded behind ex13_student.py: this class extends that one.)
class KVServer(KVServer):  # noqa: F821 - the class of the answer it extends
    def on_client_request(self, ctx, request):
        if self.role == "leader" and request.f == "get":
            ctx.reply(request, Ok(self.kv.get(request.key)))
        else:
            super().on_client_request(ctx, request)

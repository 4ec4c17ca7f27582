# Realistic bug: no duplicate table -- a request retried after a timeout or a leader change runs twice.
class KVServer(RaftNode):
    def on_start(self, ctx):
        super().on_start(ctx)
        self.kv = {}
        self.pending = {}

    def on_client_request(self, ctx, request):
        i = self.propose(ctx, Command(request.client, request.seq, request.f, request.key, request.value))
        if i is None:
            ctx.reply(request, Redirect(self.leader_id))
        else:
            self.pending[i] = request

    def apply(self, ctx, index, command):
        req = self.pending.pop(index, None)
        if command is None:
            return
        out = None
        if command.f == "get":
            out = self.kv.get(command.key)
        elif command.f == "put":
            self.kv[command.key] = command.value
        else:
            cur = self.kv.get(command.key)
            self.kv[command.key] = command.value if cur is None else cur + command.value
        if req is not None and req.seq == command.seq and req.client == command.client:
            ctx.reply(req, Ok(out))

# Realistic bug: the leader remembers which requests it has proposed (in memory) and drops repeats --
# but the memory is the leader's, not the log's: after a leader change or a restart a retry runs again.
class KVServer(RaftNode):
    def on_start(self, ctx):
        super().on_start(ctx)
        self.kv = {}
        self.proposed = {}   # (client, seq) -> index, on this leader only
        self.pending = {}

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
        if req is not None and (req.client, req.seq) == (command.client, command.seq):
            ctx.reply(req, Ok(out))

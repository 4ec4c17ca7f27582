# A student's answer, written from the brief alone.
class KVServer(RaftNode):
    def on_start(self, ctx):
        super().on_start(ctx)
        self.store = {}
        self.done = {}      # client -> (seq, answer), built by apply only
        self.callers = {}   # index -> request

    def on_client_request(self, ctx, request):
        if self.role != "leader":
            ctx.reply(request, Redirect(self.leader_id))
            return
        cmd = Command(request.client, request.seq, request.f, request.key, request.value)
        idx = self.propose(ctx, cmd)
        self.callers[idx] = request

    def run(self, cmd):
        if cmd.f == "get":
            return self.store.get(cmd.key)
        if cmd.f == "put":
            self.store[cmd.key] = cmd.value
        else:
            before = self.store.get(cmd.key)
            self.store[cmd.key] = cmd.value if before is None else before + cmd.value
        return None

    def apply(self, ctx, index, command):
        caller = self.callers.pop(index, None)
        if command is None:
            return
        prev = self.done.get(command.client)
        if prev is None or command.seq > prev[0]:
            self.done[command.client] = (command.seq, self.run(command))
        seq, answer = self.done[command.client]
        if caller is not None and caller.client == command.client and caller.seq == command.seq == seq:
            ctx.reply(caller, Ok(answer))

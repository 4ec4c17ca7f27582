# A student's answer, written from the brief alone.
class KVServer(RaftNode):
    def on_start(self, ctx):
        super().on_start(ctx)
        self.load(self.snapshot.state)
        self.pending = {}   # index -> the request this leader answers when that entry is applied

    def load(self, state):
        if state is None:
            self.kv, self.sessions = {}, {}
        else:
            kv, sessions = state
            self.kv, self.sessions = dict(kv), dict(sessions)

    def dump(self):
        return (tuple(sorted(self.kv.items())), tuple(sorted(self.sessions.items())))

    def on_client_request(self, ctx, request):
        if self.role != "leader":
            ctx.reply(request, Redirect(self.leader_id))
            return
        cmd = Command(request.client, request.seq, request.f, request.key, request.value)
        self.pending[self.propose(ctx, cmd)] = request

    def execute(self, cmd):
        if cmd.f == "get":
            return self.kv.get(cmd.key)
        if cmd.f == "put":
            self.kv[cmd.key] = cmd.value
        else:
            before = self.kv.get(cmd.key)
            self.kv[cmd.key] = cmd.value if before is None else before + cmd.value
        return None

    def apply(self, ctx, index, command):
        self.run_entry(ctx, index, command)
        if index - self.snapshot.index >= SNAPSHOT_EVERY:
            self.compact(ctx, index, self.dump())

    def run_entry(self, ctx, index, command):
        waiting = self.pending.pop(index, None)
        if command is not None:
            last = self.sessions.get(command.client)
            if last is None or command.seq > last[0]:
                self.sessions[command.client] = (command.seq, self.execute(command))
            seq, answer = self.sessions[command.client]
            if waiting is not None and (waiting.client, waiting.seq) == (command.client, command.seq) and seq == command.seq:
                ctx.reply(waiting, Ok(answer))

    def install_snapshot(self, ctx, snapshot):
        if snapshot.index <= self.last_applied:
            return
        if self.last_index() >= snapshot.index and self.term_at(snapshot.index) == snapshot.term:
            rest = self.log[snapshot.index - self.log_base():]
        else:
            rest = ()
        self.snapshot, self.log = snapshot, rest
        ctx.storage["snapshot"] = snapshot
        ctx.storage["log"] = rest
        self.load(snapshot.state)
        self.commit_index = max(self.commit_index, snapshot.index)
        self.last_applied = snapshot.index

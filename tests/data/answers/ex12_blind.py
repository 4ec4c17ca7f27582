"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: the store and a per-client (last seq, result) table live in the state apply rebuilds from the
log; the leader remembers which request waits on which log index and answers it when that index applies.
"""

from consensus_lab.grading.exercises.ex12 import Command, Ok, RaftNode, Redirect


class KVServer(RaftNode):
    def on_start(self, ctx):
        super().on_start(ctx)
        self.data = {}       # key -> value (rebuilt from the log)
        self.sessions = {}   # client -> (last seq applied, its result) (rebuilt from the log)
        self.waiting = {}    # log index -> the request this node proposed there (not replicated)

    def on_client_request(self, ctx, request):
        if self.role != "leader":
            ctx.reply(request, Redirect(self.leader_id))
            return
        done = self.sessions.get(request.client)
        if done is not None:
            last_seq, result = done
            if request.seq == last_seq:
                ctx.reply(request, result)  # already committed and run: the same answer again
                return
            if request.seq < last_seq:
                return  # a stale copy of an operation the client has moved past: nobody waits for it
        index = self.propose(ctx, Command(request.client, request.seq, request.f, request.key, request.value))
        if index is None:
            ctx.reply(request, Redirect(self.leader_id))
            return
        old = self.waiting.get(index)
        if old is not None:
            ctx.reply(old, Redirect(self.leader_id))  # its entry was overwritten: let the client retry
        self.waiting[index] = request

    def apply(self, ctx, index, command):
        waiter = self.waiting.pop(index, None)
        if command is None:
            if waiter is not None:
                ctx.reply(waiter, Redirect(self.leader_id))
            return
        done = self.sessions.get(command.client)
        if done is not None and command.seq <= done[0]:
            result = done[1] if command.seq == done[0] else None  # a duplicate: do not run it again
        else:
            if command.f == "put":
                self.data[command.key] = command.value
                result = Ok()
            elif command.f == "append":
                current = self.data.get(command.key)
                self.data[command.key] = command.value if current is None else current + command.value
                result = Ok()
            else:  # "get"
                result = Ok(self.data.get(command.key))
            self.sessions[command.client] = (command.seq, result)
        if waiter is None:
            return
        if waiter.client == command.client and waiter.seq == command.seq:
            if result is not None:
                ctx.reply(waiter, result)
        else:
            ctx.reply(waiter, Redirect(self.leader_id))  # another entry took that index: retry

"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: one retry timer per request id drives a small per-request state machine on the client
(acquire -> write -> release/answer); the storage keeps highest token and each value's verdict durably.
"""

from consensus_lab.grading.exercises.ex11 import (
    LOCK_SERVER,
    RETRY,
    STORAGE,
    Acquire,
    Fail,
    Grant,
    Node,
    Ok,
    Read,
    ReadReply,
    Redirect,
    Release,
    Write,
    WriteReply,
)


class LockClient(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.ops = {}  # rid -> {"request", "token", "accepted"}
        self.done = {}  # rid -> the answer already given (a retried request gets it again)
        self.incarnation = 0

    def on_start(self, ctx):
        # A restarted node forgets its requests; the lock service remembers which (node, rid)
        # it has served, so a request id must not be reused by a new incarnation.
        self.incarnation = ctx.storage.get("incarnation", 0) + 1
        ctx.storage["incarnation"] = self.incarnation
        self.ops = {}

    def rid_of(self, request):
        return f"{request.client}:{request.seq}@{self.incarnation}"

    def on_client_request(self, ctx, request):
        rid = self.rid_of(request)
        if rid in self.done:
            ctx.reply(request, self.done[rid])
            return
        if rid in self.ops:  # the same operation retried here while in progress: answer the newest copy
            self.ops[rid]["request"] = request
            return
        if request.f not in ("read", "get", "write", "put"):
            ctx.reply(request, Fail(f"unsupported operation {request.f!r}"))
            return
        self.ops[rid] = {"request": request, "token": None, "accepted": None}
        self.step(ctx, rid)

    def step(self, ctx, rid):
        op = self.ops.get(rid)
        if op is None:
            return
        request = op["request"]
        if request.f in ("read", "get"):
            ctx.send(STORAGE, Read(rid, request.key))
        elif op["token"] is None:
            ctx.send(LOCK_SERVER, Acquire(rid))
        else:
            ctx.send(STORAGE, Write(op["token"], request.key, request.value))
        ctx.set_timer(f"retry:{rid}", RETRY, rid)

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Grant):
            op = self.ops.get(msg.rid)
            if op is None or op["request"].f in ("read", "get"):
                ctx.send(LOCK_SERVER, Release(msg.token))  # not waiting for it: give it back at once
            elif op["token"] is None:
                op["token"] = msg.token
                self.step(ctx, msg.rid)
            elif op["token"] != msg.token:
                ctx.send(LOCK_SERVER, Release(msg.token))  # a second lease (lock service restarted)
        elif isinstance(msg, WriteReply):
            for rid, op in list(self.ops.items()):
                req = op["request"]
                if req.f not in ("read", "get") and op["token"] is not None and req.value == msg.value:
                    op["accepted"] = msg.accepted
                    self.finish(ctx, rid)
        elif isinstance(msg, ReadReply):
            op = self.ops.get(msg.rid)
            if op is not None and op["request"].f in ("read", "get"):
                op["accepted"] = msg.value
                self.finish(ctx, msg.rid)

    def finish(self, ctx, rid):
        op = self.ops.pop(rid)
        ctx.cancel_timer(f"retry:{rid}")
        request = op["request"]
        if request.f in ("read", "get"):
            result = Ok(op["accepted"])
        else:
            ctx.send(LOCK_SERVER, Release(op["token"]))
            result = Ok() if op["accepted"] else Fail("stale token")
        self.done[rid] = result
        ctx.reply(request, result)

    def on_timer(self, ctx, name, payload):
        if name.startswith("retry:") and payload in self.ops:
            self.step(ctx, payload)


class FencedStorage(Node):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Write):
            verdict_key = f"write:{msg.value}"
            if verdict_key in ctx.storage:  # a retry: the first verdict, not applied again
                ctx.send(src, WriteReply(msg.value, ctx.storage[verdict_key]))
                return
            highest = ctx.storage.get("highest")
            accepted = highest is None or msg.token >= highest
            if accepted:
                ctx.storage[f"data:{msg.key}"] = (msg.token, msg.value)
                ctx.storage["highest"] = msg.token
            ctx.storage[verdict_key] = accepted
            ctx.send(src, WriteReply(msg.value, accepted))
        elif isinstance(msg, Read):
            entry = ctx.storage.get(f"data:{msg.key}")
            ctx.send(src, ReadReply(msg.rid, None if entry is None else entry[1]))

"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: one retry timer per request id at the gateway (Apply until GIVE_UP, then Cancel), answering only
from the store's Outcome; the store keeps a durable verdict per rid and appends at most once.
"""

from consensus_lab.grading.exercises.ex14 import (
    GIVE_UP,
    RETRY,
    STORE,
    Apply,
    Cancel,
    Fail,
    Node,
    Ok,
    Outcome,
    Redirect,
)


class Gateway(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.ops = {}  # rid -> {"request", "since", "cancel"}

    def on_start(self, ctx):
        # volatile state only: a restarted gateway starts empty (the clients retry elsewhere)
        self.ops = {}

    def on_client_request(self, ctx, request):
        if request.f != "append":
            ctx.reply(request, Fail("unsupported"))
            return
        rid = f"{request.client}:{request.seq}"
        op = self.ops.get(rid)
        if op is None:
            self.ops[rid] = {"request": request, "since": ctx.now, "cancel": False}
        else:
            op["request"] = request  # the same operation again: keep its clock and its mode
        self.send(ctx, rid)

    def send(self, ctx, rid):
        op = self.ops.get(rid)
        if op is None:
            return
        if not op["cancel"] and ctx.now - op["since"] >= GIVE_UP:
            op["cancel"] = True
        if op["cancel"]:
            ctx.send(STORE, Cancel(rid))
        else:
            ctx.send(STORE, Apply(rid, op["request"].value))
        ctx.set_timer(f"retry:{rid}", RETRY, rid)

    def on_timer(self, ctx, name, payload):
        if name.startswith("retry:") and payload in self.ops:
            self.send(ctx, payload)

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Outcome):
            op = self.ops.pop(msg.rid, None)
            if op is None:
                return  # a duplicate, or an answer to an operation already answered
            ctx.cancel_timer(f"retry:{msg.rid}")
            ctx.reply(op["request"], Ok() if msg.applied else Fail("cancelled"))


class LedgerStore(Node):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Apply):
            key = f"rid:{msg.rid}"
            verdict = ctx.storage.get(key)
            if verdict is None:
                ctx.storage["ledger"] = tuple(ctx.storage.get("ledger", ())) + (msg.value,)
                ctx.storage[key] = True
                verdict = True
            ctx.send(src, Outcome(msg.rid, verdict))
        elif isinstance(msg, Cancel):
            key = f"rid:{msg.rid}"
            verdict = ctx.storage.get(key)
            if verdict is None:
                ctx.storage[key] = False
                verdict = False
            ctx.send(src, Outcome(msg.rid, verdict))

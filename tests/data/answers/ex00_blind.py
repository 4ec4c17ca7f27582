"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: durable `delivered` tuple plus a durable `unacked` map (value -> peers still to tell),
one periodic "retry" timer re-sending Gossip to every peer that has not acked, re-armed in on_start.
"""

from consensus_lab.grading.exercises.ex00 import RETRY, Gossip, GossipAck, Node, Ok


class BroadcastNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.delivered = ()  # rebuilt from storage in on_start
        self.unacked = {}    # value -> peers that have not acknowledged it yet (durable as storage["unacked"])
        self.timer_armed = False

    def on_start(self, ctx):
        self.delivered = tuple(ctx.storage.get("delivered", ()))
        self.unacked = {v: set(peers) for v, peers in ctx.storage.get("unacked", ())}
        self.timer_armed = False
        if self.unacked:
            self.resend(ctx)
            self.arm(ctx)

    def deliver(self, ctx, value):
        """Append value to the durable delivered tuple once; True if it was new."""
        if value in self.delivered:
            return False
        self.delivered = self.delivered + (value,)
        ctx.storage["delivered"] = self.delivered
        return True

    def save_unacked(self, ctx):
        ctx.storage["unacked"] = tuple((v, tuple(sorted(peers))) for v, peers in self.unacked.items())

    def arm(self, ctx):
        if not self.timer_armed and self.unacked:
            ctx.set_timer("retry", RETRY)
            self.timer_armed = True

    def resend(self, ctx):
        for value, peers in self.unacked.items():
            for p in sorted(peers):
                ctx.send(p, Gossip(value))

    def on_client_request(self, ctx, request):
        f = getattr(request, "f", None)
        if f == "add":
            value = request.value
            if self.deliver(ctx, value) and self.peers:
                self.unacked[value] = set(self.peers)
                self.save_unacked(ctx)
                ctx.reply(request, Ok())
                for p in self.peers:
                    ctx.send(p, Gossip(value))
                self.arm(ctx)
            else:
                # already delivered: whoever delivered it first is (durably) telling the others
                ctx.reply(request, Ok())
        elif f == "read":
            ctx.reply(request, Ok(tuple(sorted(self.delivered))))

    def on_message(self, ctx, src, msg):
        if isinstance(msg, Gossip):
            self.deliver(ctx, msg.value)
            ctx.send(src, GossipAck(msg.value))
        elif isinstance(msg, GossipAck):
            peers = self.unacked.get(msg.value)
            if peers is not None and src in peers:
                peers.discard(src)
                if not peers:
                    del self.unacked[msg.value]
                self.save_unacked(ctx)
                if not self.unacked and self.timer_armed:
                    ctx.cancel_timer("retry")
                    self.timer_armed = False

    def on_timer(self, ctx, name, payload):
        if name != "retry":
            return
        self.timer_armed = False
        if self.unacked:
            self.resend(ctx)
            self.arm(ctx)

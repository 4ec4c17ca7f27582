"""Tiny nodes used by the simulator tests."""

from __future__ import annotations

from dataclasses import dataclass

from consensus_lab.sim import Node, ProtocolSpec


@dataclass(frozen=True)
class Hello:
    n: int


class Chatter(Node):
    """Sends ``count`` numbered messages to every peer at start; counts what arrives."""

    def __init__(self, node_id, cluster, count=3):
        super().__init__(node_id, cluster)
        self.count = count
        self.received: list[tuple[str, int]] = []

    def on_start(self, ctx):
        boots = ctx.storage.get("boots", 0) + 1
        ctx.storage["boots"] = boots
        if boots == 1:
            for i in range(self.count):
                for p in self.peers:
                    ctx.send(p, Hello(i))

    def on_message(self, ctx, src, msg):
        self.received.append((src, msg.n))
        ctx.storage["received"] = ctx.storage.get("received", 0) + 1


class Ticker(Node):
    """Counts timer ticks in memory and in storage; pings n1 on every tick."""

    def on_start(self, ctx):
        self.ticks = 0
        self.durable_at_start = ctx.storage.get("ticks", 0)
        ctx.set_timer("tick", 0.1)

    def on_timer(self, ctx, name, payload):
        self.ticks += 1
        ctx.storage["ticks"] = ctx.storage.get("ticks", 0) + 1
        if self.id != "n1":
            ctx.send("n1", Hello(self.ticks))
        ctx.set_timer("tick", 0.1)

    def on_message(self, ctx, src, msg):
        ctx.storage["pings"] = ctx.storage.get("pings", 0) + 1


def chatter_spec(count=3):
    return ProtocolSpec(
        name="chatter",
        summary="test toy",
        make_node=lambda nid, cluster, options, variant: Chatter(nid, cluster, count),
    )


def ticker_spec():
    return ProtocolSpec(name="ticker", summary="test toy", make_node=lambda nid, cluster, o, v: Ticker(nid, cluster))

"""Reliable broadcast with retries: the smallest protocol that uses everything.

A client asks any node to ``add`` a value.  That node writes the value to its
durable storage *before* it answers, then tells every peer, again and again on
a timer, until each peer has acknowledged it.  A peer that hears of a value
stores it and acknowledges it.  Reads (``read``) answer with the set of values
the node knows, sorted.

What it guarantees, and what it does not:

* validity -- a node only ever holds values some client added (an invariant,
  checked after every event);
* durability -- an acknowledged add survives any crash of the node that took it;
* eventual agreement -- once faults stop, every node learns every acknowledged
  value (the ``all nodes agree`` goal, and the ``convergent`` check);
* but reads are not linearizable: a read at one node can miss a value another
  node already acknowledged.

Variants: ``no-retry`` sends each value once (lost messages are never
repaired); ``ack-before-store`` answers the client before the value is durable,
so a crash at the wrong moment loses an acknowledged add.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..sim import Context, Node, Ok, ProtocolSpec, Workload, World, goal, invariant

__all__ = ["Gossip", "GossipAck", "BroadcastNode", "SPECS"]

RETRY_INTERVAL = 0.1
FLUSH_DELAY = 0.5  # ack-before-store only


@dataclass(frozen=True, slots=True)
class Gossip:
    """"I know value ``value``": sent to each peer until acknowledged."""

    value: Any


@dataclass(frozen=True, slots=True)
class GossipAck:
    value: Any


class BroadcastNode(Node):
    def __init__(self, node_id: str, cluster: tuple[str, ...], variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.variant = variant
        self.values: set[Any] = set()  # rebuilt from storage in on_start
        self.unacked: dict[Any, set[str]] = {}  # value -> peers still to confirm

    # durable state: storage["values"] is a sorted tuple, storage["unacked"] too
    def on_start(self, ctx: Context) -> None:
        self.values = set(ctx.storage.get("values", ()))
        for value, peer in ctx.storage.get("unacked", ()):
            self.unacked.setdefault(value, set()).add(peer)
        if self.unacked and self.variant != "no-retry":
            ctx.set_timer("retry", RETRY_INTERVAL)

    def _persist(self, ctx: Context) -> None:
        ctx.storage["values"] = tuple(sorted(self.values, key=repr))
        ctx.storage["unacked"] = tuple(sorted(((v, p) for v, ps in self.unacked.items() for p in ps), key=repr))

    def on_client_request(self, ctx: Context, request: Any) -> None:
        if request.f == "read":
            ctx.reply(request, tuple(sorted(self.values, key=repr)))
            return
        value = request.value
        if value not in self.values:
            self.values.add(value)
            self.unacked[value] = set(self.peers)
            if self.variant == "ack-before-store":
                ctx.set_timer("flush", FLUSH_DELAY)  # the bug: durable (and sent) only later
            else:
                self._persist(ctx)
                ctx.broadcast(self.peers, Gossip(value))
                if self.variant != "no-retry":
                    ctx.set_timer("retry", RETRY_INTERVAL)
        ctx.reply(request, Ok())

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Gossip):
            if msg.value not in self.values:
                self.values.add(msg.value)
                self._persist(ctx)
            ctx.send(src, GossipAck(msg.value))
        elif isinstance(msg, GossipAck):
            waiting = self.unacked.get(msg.value)
            if waiting and src in waiting:
                waiting.discard(src)
                if not waiting:
                    del self.unacked[msg.value]
                self._persist(ctx)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "flush":
            self._persist(ctx)
            name = "retry"
        if name == "retry" and self.unacked:
            for value in sorted(self.unacked, key=repr):
                for peer in sorted(self.unacked[value]):
                    ctx.send(peer, Gossip(value))
            ctx.set_timer("retry", RETRY_INTERVAL)

    def state_view(self) -> dict[str, Any]:
        return {"values": sorted(self.values, key=repr), "unacked": sum(len(p) for p in self.unacked.values())}


def _invariants(options, variant) -> list:
    @invariant("validity")
    def validity(world: World) -> str | None:
        added = None
        for node in world.live():
            if not node.values:
                continue
            if added is None:
                added = {op.value for op in world.history if op.type == "invoke" and op.f == "add"}
            extra = node.values - added
            if extra:
                return f"{node.id} holds {sorted(extra, key=repr)[0]!r}, which no client added"
        return None

    @invariant("durability")
    def durability(world: World) -> str | None:
        acked = [op.value for op in world.history if op.type == "ok" and op.f == "add"]
        if not acked:
            return None
        held: set[Any] = set()
        for nid, store in world.storage.items():
            held.update(store.get("values", ()))
            node = world.nodes.get(nid)
            if node is not None:
                held |= node.values
        for v in acked:
            if v not in held:
                return f"add({v!r}) was acknowledged but no node holds it any more"
        return None

    @goal("all nodes agree")
    def agree(world: World) -> bool:
        live = world.live()
        return len(live) == len(world.nodes) and bool(live[0].values) and all(
            n.values == live[0].values for n in live
        )

    return [validity, durability, agree]


SPECS = [
    ProtocolSpec(
        name="broadcast",
        summary="reliable broadcast with retries: every node learns every added value",
        make_node=lambda nid, cluster, options, variant: BroadcastNode(nid, cluster, variant),
        variants={
            "correct": "store, answer, then resend to each peer until it acknowledges",
            "no-retry": "send each value once: a lost message is never repaired",
            "ack-before-store": "answer the client, store and send later: a crash loses an acknowledged add",
        },
        invariants=_invariants,
        workload=Workload(clients=2, keys=("s",), mix=(("add", 0.7), ("read", 0.3)), think=0.2),
        default_nodes=3,
        history_model="set",
        replica_state=lambda node: tuple(sorted(node.values, key=repr)),
    )
]

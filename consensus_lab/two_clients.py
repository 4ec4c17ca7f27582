"""Lesson 01's story: two clients, two replicas, and what each client can conclude.

::

    from consensus_lab.two_clients import two_clients
    s = two_clients(delay=0.15)                 # the replicas are 150 ms apart
    s.read                                      # B's read: returned None, after A's write was acknowledged
    s.conclusions["A"]                          # what A can tell from what it received

Replicas ``n1`` and ``n2`` each hold a register ``x``.  A replica answers a
write at once and passes it on to the other replica in the background
(``Replicate``, which takes ``delay`` seconds; a client is 40 ms from its
replica); conflicting writes are
settled by last-writer-wins on the stamp ``(time at the replica, replica
id)``.  Client ``A`` writes ``x = 1`` at ``n1`` at t = 0.1 s and gives up if
no answer comes within ``timeout``.  Client ``B`` reads ``x`` at ``n2`` at
t = 0.2 s, and with ``concurrent`` first writes ``x = 2`` at ``n2`` at the
same moment as A.  ``lose_reply`` loses ``n1``'s answer to ``A`` on the way
(the simulator drops that one message).

The clients and replicas are nodes of the course's simulator, so the story
is a real run: its trace draws as a space-time diagram
(:func:`consensus_lab.viz.plot_spacetime`) and each client's conclusion is
computed from the messages that client received, nothing else.  The three
knobs are the lesson's three troubles: latency (``delay``), partial failure
(``lose_reply``) and concurrency (``concurrent``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .sim import Latency, NetworkConfig, Node, Simulation, Trace

__all__ = ["ClientOp", "TwoClients", "two_clients", "Put", "PutAck", "Get", "GetReply", "Replicate"]

WRITE_AT, READ_AT, LINK = 0.1, 0.2, 0.04  # when A writes, when B reads; client-to-replica one-way delay


@dataclass(frozen=True)
class Put:
    key: str
    value: int

    @property
    def caption(self) -> str:
        return f"x={self.value}"


@dataclass(frozen=True)
class PutAck:
    key: str
    value: int

    @property
    def caption(self) -> str:
        return "OK"


@dataclass(frozen=True)
class Get:
    key: str


@dataclass(frozen=True)
class GetReply:
    key: str
    value: int | None

    @property
    def caption(self) -> str:
        return "x=nil" if self.value is None else f"x={self.value}"


@dataclass(frozen=True)
class Replicate:
    key: str
    value: int
    stamp: tuple[float, str]

    @property
    def caption(self) -> str:
        return f"x={self.value}"


class _Replica(Node):
    """Answers at once; passes each write on; last-writer-wins on (time, replica id)."""

    def __init__(self, node_id: str, cluster: tuple[str, ...] = ()) -> None:
        super().__init__(node_id, cluster)
        self.peers = tuple(p for p in self.peers if p.startswith("n"))
        self.data: dict[str, tuple[int, tuple[float, str]]] = {}

    def _apply(self, key: str, value: int, stamp: tuple[float, str]) -> None:
        if key not in self.data or self.data[key][1] < stamp:
            self.data[key] = (value, stamp)

    def on_message(self, ctx: Any, src: str, msg: Any) -> None:
        if isinstance(msg, Put):
            stamp = (round(ctx.now, 9), self.id)
            self._apply(msg.key, msg.value, stamp)
            ctx.send(src, PutAck(msg.key, msg.value))
            for p in self.peers:
                ctx.send(p, Replicate(msg.key, msg.value, stamp))
        elif isinstance(msg, Replicate):
            self._apply(msg.key, msg.value, msg.stamp)
        elif isinstance(msg, Get):
            held = self.data.get(msg.key)
            ctx.send(src, GetReply(msg.key, None if held is None else held[0]))

    def state_view(self) -> dict[str, Any]:
        return {k: v for k, (v, _) in sorted(self.data.items())}


@dataclass
class ClientOp:
    """One operation of a client, as that client saw it: ``result`` is ``"ok"`` or ``"unknown"``."""

    client: str
    f: str
    replica: str
    value: int | None
    call: float
    ret: float | None = None
    result: str = "open"


class _Client(Node):
    """Sends its planned operations at their times; an answer completes one, a timeout gives up."""

    def __init__(self, node_id: str, plan: tuple[tuple[float, str, str, int | None], ...], timeout: float) -> None:
        super().__init__(node_id, ())
        self.plan = plan
        self.timeout = timeout
        self.ops: list[ClientOp] = []

    def on_start(self, ctx: Any) -> None:
        for i, (t, *_rest) in enumerate(self.plan):
            ctx.set_timer(f"op{i}", t, i)

    def on_timer(self, ctx: Any, name: str, payload: Any) -> None:
        if name.startswith("op"):
            _, f, replica, value = self.plan[payload]
            self.ops.append(ClientOp(self.id, f, replica, value, ctx.now))
            ctx.send(replica, Put("x", value) if f == "write" else Get("x"))
            ctx.set_timer(f"give-up{payload}", self.timeout, len(self.ops) - 1)
        else:
            op = self.ops[payload]
            if op.result == "open":
                op.result, op.ret = "unknown", ctx.now

    def on_message(self, ctx: Any, src: str, msg: Any) -> None:
        op = next((o for o in self.ops if o.result == "open" and o.replica == src
                   and o.f == ("read" if isinstance(msg, GetReply) else "write")), None)
        if op is None:
            return  # an answer after the client gave up
        op.result, op.ret = "ok", ctx.now
        if isinstance(msg, GetReply):
            op.value = msg.value


@dataclass
class TwoClients:
    """One run of the story: its settings, trace, each client's operations, and the replicas at the end."""

    delay: float
    lose_reply: bool
    concurrent: bool
    timeout: float
    end: float
    trace: Trace
    ops: dict[str, list[ClientOp]]
    final: dict[str, dict[str, Any]]
    applied_at: dict[str, float] = field(default_factory=dict)  # "n1" -> when A's write reached that replica

    @property
    def node_ids(self) -> list[str]:
        """The lanes of its space-time diagram: the clients on the outside."""
        return ["A", "n1", "n2", "B"]

    @property
    def write(self) -> ClientOp:
        """A's write."""
        return self.ops["A"][0]

    @property
    def read(self) -> ClientOp:
        """B's read."""
        return self.ops["B"][-1]

    @property
    def b_write(self) -> ClientOp | None:
        """B's concurrent write, if B wrote."""
        return self.ops["B"][0] if self.concurrent else None

    @property
    def acknowledged_before_read(self) -> list[ClientOp]:
        """Writes whose client had its answer before B's read began."""
        return [o for ops in self.ops.values() for o in ops
                if o.f == "write" and o.result == "ok" and o.ret is not None and o.ret <= self.read.call]

    @property
    def stale(self) -> bool:
        """B's read returned none of the writes acknowledged before it began."""
        done = self.acknowledged_before_read
        return bool(done) and self.read.result == "ok" and self.read.value not in {o.value for o in done}

    @property
    def indeterminate(self) -> bool:
        """A gave up on its write: it cannot know whether the write happened."""
        return self.write.result == "unknown"

    @property
    def happened(self) -> bool:
        """A's write did take effect at a replica (whatever A knows)."""
        return "n1" in self.applied_at

    @property
    def overwritten(self) -> list[ClientOp]:
        """Acknowledged writes that no replica holds at the end."""
        held = {d.get("x") for d in self.final.values()}
        return [o for ops in self.ops.values() for o in ops if o.f == "write" and o.result == "ok"
                and o.value not in held]

    @property
    def conclusions(self) -> dict[str, str]:
        """What each client can conclude from the messages it received (and only from them)."""
        w, r = self.write, self.read
        if w.result == "ok":
            a = f"write x=1 answered OK at t={w.ret:.3f}: A knows x=1 took effect at n1"
        else:
            a = (f"no answer by t={w.ret:.3f} ({1000 * self.timeout:.0f} ms): A cannot tell whether x=1 took "
                 "effect (lost request? lost answer? n1 down? n1 slow?)")
        b = []
        if self.b_write is not None:
            b.append(f"write x=2 answered OK at t={self.b_write.ret:.3f}")
        if r.result == "ok":
            b.append(f"read x={'nil' if r.value is None else r.value} at t={r.ret:.3f}")
            if r.value == 1:
                b.append("so A's write took effect")
            elif r.value is None:
                b.append("B cannot tell whether anyone wrote x")
        else:
            b.append("read got no answer")
        return {"A": a, "B": ", ".join(b)}

    @property
    def facts(self) -> list[str]:
        """What really happened, seen from outside (the replicas' state and the trace)."""
        out = []
        if self.happened:
            out.append(f"n1 applied x=1 at t={self.applied_at['n1']:.3f}"
                       + (f"; it reached n2 at t={self.applied_at['n2']:.3f}" if "n2" in self.applied_at
                          else "; it has not reached n2"))
        if self.indeterminate and self.happened:
            out.append("A's write happened, but A was never told")
        if self.stale:
            acked = ", ".join(f"x={o.value}" for o in self.acknowledged_before_read)
            out.append(f"B's read is stale: {acked} had been acknowledged before it began")
        for o in self.overwritten:
            out.append(f"{o.client}'s acknowledged write x={o.value} is gone: last-writer-wins kept "
                       f"x={self.final['n1'].get('x')} at every replica (same time: the higher replica id wins) "
                       f"and told nobody")
        out.append("at the end: " + ", ".join(f"{n} x={d.get('x', 'nil')}" for n, d in self.final.items()))
        return out


def two_clients(*, delay: float = 0.05, lose_reply: bool = False, concurrent: bool = False,
                timeout: float = 0.25, end: float = 0.6) -> TwoClients:
    """Run the story (deterministic: no randomness is drawn); see the module docstring."""
    if not 0 <= delay <= 1.0:
        raise ValueError(f"delay is in seconds, from 0 to 1; not {delay!r}")
    if not 0 < timeout <= 1.0:
        raise ValueError(f"timeout is in seconds, above 0 and at most 1; not {timeout!r}")
    if end < READ_AT + timeout:
        raise ValueError(f"end must leave room for B's read and its timeout (>= {READ_AT + timeout}), not {end}")
    plans: dict[str, tuple[tuple[float, str, str, int | None], ...]] = {
        "A": ((WRITE_AT, "write", "n1", 1),),
        "B": (((WRITE_AT, "write", "n2", 2),) if concurrent else ()) + ((READ_AT, "read", "n2", None),),
    }

    def make(node_id: str, cluster: tuple[str, ...]) -> Node:
        return _Client(node_id, plans[node_id], timeout) if node_id in plans else _Replica(node_id, cluster)

    far = Latency.constant(delay)
    net = NetworkConfig(latency=Latency.constant(LINK), link_latency=(("n1", "n2", far), ("n2", "n1", far)))
    sim = Simulation(make, ("A", "B", "n1", "n2"), seed=0, network=net)
    sim.start()
    if lose_reply:  # n1 answers A at WRITE_AT + LINK: lose exactly that answer
        sim.run_until(WRITE_AT + LINK)
        sim.drop_next_message(lambda m: isinstance(m.msg, PutAck) and "A" in (m.node, m.peer))
    sim.run_until(end)
    applied: dict[str, float] = {}
    for ev in sim.trace:
        if ev.kind == "deliver" and getattr(ev.msg, "value", None) == 1 and isinstance(ev.msg, (Put, Replicate)):
            applied.setdefault(ev.node, ev.time)
    nodes = sim.nodes
    return TwoClients(delay, lose_reply, concurrent, timeout, end, sim.trace,
                      {c: list(nodes[c].ops) for c in plans},  # type: ignore[union-attr]
                      {n: nodes[n].state_view() for n in ("n1", "n2")},  # type: ignore[union-attr]
                      applied)

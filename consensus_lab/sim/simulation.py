"""The discrete-event loop: it owns time, randomness, the network and failures.

Events wait in a heap ordered by ``(time, sequence number)``; the sequence
number breaks ties in the order events were scheduled, so the run never
depends on how Python hashes or compares anything else.  Every random draw
comes from a ``random.Random`` seeded by a string derived from the scenario
seed (string seeds are hashed with SHA-512, the same in every process): one for
the network, one per node (``ctx.rng``), one per client, one for the nemesis.
"""

from __future__ import annotations

import gc
import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Op
from .clients import (
    ClientRequest,
    Fail,
    Ok,
    Redirect,
    SessionOk,
    SessionRequest,
    Workload,
    generate_op,
    is_read,
)
from .invariants import Invariant, Violation, World
from .nemesis import Action, ClockSkew, Crash, Cut, Heal, Partition, Restart, SetLoss, Snipe, Strike
from .network import Links, NetworkConfig
from .node import CancelTimer, Context, Node, Reply, Send, SetTimer, Storage
from .trace import Trace, TraceEvent

__all__ = ["Simulation", "SimulationError", "NodeError"]

# event kinds in the heap
_DELIVER, _TIMER, _ARRIVE, _REPLY, _CLIENT_NEXT, _CLIENT_TIMEOUT, _NEMESIS = range(7)

_VIOLATION_CONTEXT = 30  # how many events before a violation are kept with it


@dataclass(frozen=True)
class _Rejoin:
    """Internal: give a sniped node its links back."""

    node: str


class SimulationError(RuntimeError):
    """The simulation was asked to do something impossible."""


class NodeError(RuntimeError):
    """A node's handler raised: the message names the node, handler and time."""


class _SimContext(Context):
    """The simulator's ``ctx``: a send goes into the outbox as a plain ``(dst, msg)`` tuple,
    much cheaper to make than a :class:`Send` (a tuple subclass).  Only :meth:`Simulation._apply`
    reads this outbox; it also takes :class:`Send` effects (``broadcast``, the grader's host)."""

    __slots__ = ()

    def send(self, dst: str, msg: Any) -> None:
        if msg is not self._last_sent:
            msg = self._checked(msg)
        self.outbox.append((dst, msg))


@dataclass
class _ClientSlot:
    slot: int
    process: int
    rng: random.Random
    target: str
    seq: int = 0
    op: tuple[str, Any, Any] | None = None
    invoked_at: float = 0.0
    attempt: int = 0
    ops: int = 0
    token: Any = None  # session token handed out by a node (SessionOk), if any

    @property
    def client_id(self) -> str:
        return f"c{self.process}"


class Simulation:
    """One run of a set of nodes under a network, a workload and a nemesis.

    Drive it to the end with :meth:`run`, or interactively (widgets do) with
    :meth:`step`, :meth:`run_until`, :meth:`crash`, :meth:`restart`,
    :meth:`partition`, :meth:`heal` and :meth:`drop_next_message`.
    """

    def __init__(
        self,
        make_node: Callable[[str, tuple[str, ...]], Node],
        node_ids: Sequence[str],
        *,
        seed: int = 0,
        network: NetworkConfig | None = None,
        workload: Workload | None = None,
        schedule: Sequence[tuple[float, Action]] = (),
        invariants: Sequence[Invariant] = (),
        stop_on_violation: bool = False,
    ) -> None:
        if not node_ids:
            raise SimulationError("a simulation needs at least one node")
        if len(set(node_ids)) != len(node_ids):
            raise SimulationError(f"node ids must be distinct, got {list(node_ids)}")
        self.seed = seed
        self.node_ids = tuple(node_ids)
        self.make_node = make_node
        self.network = network or NetworkConfig()
        self.workload = workload or Workload()
        self.invariants = list(invariants)
        self.stop_on_violation = stop_on_violation
        self.now = 0.0
        self.links = Links(self.node_ids)
        self.loss = self.network.loss
        self._net_rng = random.Random(f"consensus_lab:{seed}:network")
        self._net_random = self._net_rng.random
        self._duplicate = self.network.duplicate
        self._default_delay = self.network.latency.sampler(self._net_rng)
        self._link_delay = {(a, b): lat.sampler(self._net_rng) for a, b, lat in self.network.link_latency}
        self._client_delay = self.network.client_latency.sampler(self._net_rng)
        self._heap: list[tuple] = []
        self._seq = 0
        self._msg_id = 0
        self._rows: list[tuple] = []
        self._cancelled: set[int] = set()
        self.storage: dict[str, Storage] = {n: Storage() for n in self.node_ids}
        self.nodes: dict[str, Node | None] = {n: None for n in self.node_ids}
        self._ctx: dict[str, Context] = {
            n: _SimContext(n, random.Random(f"consensus_lab:{seed}:node:{n}"), self.storage[n]) for n in self.node_ids
        }
        self._timers: dict[str, dict[str, int]] = {n: {} for n in self.node_ids}
        self._incarnation: dict[str, int] = {n: 0 for n in self.node_ids}
        self.history: list[Op] = []
        self.world = World(self.nodes, self.storage, self.history)
        self.violations: list[Violation] = []
        self._violated: set[str] = set()
        self.goals: dict[str, float | None] = {i.name: None for i in self.invariants if i.kind == "sometimes"}
        self.stats = {
            "events": 0,
            "sent": 0,
            "delivered": 0,
            "dropped": 0,
            "duplicated": 0,
            "timers": 0,
            "crashes": 0,
            "restarts": 0,
        }
        self._latencies: list[float] = []
        self._clients: list[_ClientSlot] = []
        self._by_client: dict[str, _ClientSlot] = {}
        self._written: list[Any] = []
        self._value_counter = 0
        self._started = False
        # strike: crash a node right after it handled an event (the nemesis's ``strike P D``)
        self._strike_p = 0.0
        self._strike_down = 0.0
        self._strike_rng = random.Random(f"consensus_lab:{seed}:strike")
        # snipe: cut a node off right after it took a client request (the nemesis's ``snipe P D``)
        self._snipe_p = 0.0
        self._snipe_down = 0.0
        self._snipe_rng = random.Random(f"consensus_lab:{seed}:snipe")
        self._sniped: dict[str, set[tuple[str, str]]] = {}  # node -> the links its snipe cut
        for t, action in schedule:
            self._push(float(t), _NEMESIS, action, None, None, None, None)

    # --- scheduling -------------------------------------------------------------

    def _push(self, t: float, kind: int, a, b, c, d, e) -> int:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, a, b, c, d, e))
        return self._seq

    def _rec(self, kind: str, node=None, peer=None, msg_id=None, msg=None, info=None) -> None:
        self._rows.append((self.now, kind, node, peer, msg_id, msg, info))

    # --- start ------------------------------------------------------------------

    def start(self) -> None:
        """Boot every node (``on_start``) and the clients, at time 0."""
        if self._started:
            return
        self._started = True
        for n in self.node_ids:
            self._boot(n, "start")
        w = self.workload
        for slot in range(w.clients):
            rng = random.Random(f"consensus_lab:{self.seed}:client:{slot}")
            target = self.node_ids[rng.randrange(len(self.node_ids))]
            c = _ClientSlot(slot, slot, rng, target)
            self._clients.append(c)
            self._by_client[c.client_id] = c
            self._push(w.start + rng.random() * max(w.think, 1e-3), _CLIENT_NEXT, slot, None, None, None, None)
        self._check()

    def _boot(self, n: str, kind: str) -> None:
        node = self.make_node(n, self.node_ids)
        if getattr(node, "id", None) != n:
            raise SimulationError(f"the node factory built a node with id {getattr(node, 'id', None)!r} for {n!r}")
        self.nodes[n] = node
        self._rec(kind, n)
        ctx = self._ctx[n]
        ctx._now = self.now
        ctx.outbox.clear()
        self._call(node, "on_start", ctx)

    def _call(self, node: Node, handler: str, ctx: Context, *args) -> None:
        try:
            getattr(node, handler)(ctx, *args)
        except Exception as exc:
            what = handler
            if handler == "on_message":
                what += f"({type(args[1]).__name__} from {args[0]})"
            elif handler == "on_timer":
                what += f"({args[0]!r})"
            raise self._node_error(node.id, what, exc) from exc
        if ctx.outbox:
            self._apply(node.id, ctx)

    def _node_error(self, nid: str, what: str, exc: Exception) -> NodeError:
        return NodeError(f"node {nid} raised {type(exc).__name__} in {what} at t={self.now:.4f}: {exc}")

    # --- effects ----------------------------------------------------------------

    def _apply(self, nid: str, ctx: Context) -> None:
        out = ctx.outbox  # emptied when done (in place: one list per context, not one per handler)
        now = self.now
        # the hottest path of the simulator: what does not change while one handler's effects
        # are applied is read once, and the counters are written back once
        heap = self._heap
        push = heapq.heappush
        rows_append = self._rows.append
        incarnations = self._incarnation
        blocked = self.links.blocked
        loss = self.loss
        duplicate = self._duplicate
        net_random = self._net_random
        link_delay = self._link_delay
        delay = self._default_delay
        seq = self._seq
        mid = mid0 = self._msg_id
        dropped = duplicated = 0
        try:
            for eff in out:
                t = type(eff)
                if t is tuple or t is Send:  # a send (a plain tuple from the simulator's own ctx)
                    dst, msg = eff
                    incarnation = incarnations.get(dst)
                    if incarnation is None:
                        raise NodeError(
                            f"node {nid} sent {type(msg).__name__} to unknown node {dst!r} at t={now:.4f}"
                        )
                    mid += 1
                    rows_append((now, "send", nid, dst, mid, msg, None))
                    if blocked and (nid, dst) in blocked:
                        dropped += 1
                        rows_append((now, "drop", nid, dst, mid, msg, "partition"))
                        continue
                    if loss and net_random() < loss:
                        dropped += 1
                        rows_append((now, "drop", nid, dst, mid, msg, "loss"))
                        continue
                    if link_delay:
                        delay = link_delay.get((nid, dst), self._default_delay)
                    seq += 1
                    push(heap, (now + delay(), seq, _DELIVER, nid, dst, msg, mid, incarnation))
                    if duplicate and net_random() < duplicate:
                        duplicated += 1
                        rows_append((now, "duplicate", nid, dst, mid, msg, None))
                        seq += 1
                        push(heap, (now + delay(), seq, _DELIVER, nid, dst, msg, mid, incarnation))
                elif t is SetTimer:
                    seq += 1
                    push(heap, (now + eff[1], seq, _TIMER, nid, eff[0], None, eff[2], None))
                    self._timers[nid][eff[0]] = seq
                elif t is CancelTimer:
                    self._timers[nid].pop(eff.name, None)
                elif t is Reply:
                    req = eff.request
                    rows_append((now, "reply", nid, getattr(req, "client", None), None, None, eff.result))
                    seq += 1
                    push(heap, (now + self._client_delay(), seq, _REPLY, req, eff.result, nid, None, None))
                else:  # Context only makes the kinds above; a node that fills its outbox by hand lands here
                    raise SimulationError(f"unknown effect {eff!r}")
        finally:
            out.clear()
            self._seq = seq
            self._msg_id = mid
            if mid != mid0:
                stats = self.stats
                stats["sent"] += mid - mid0
                if dropped:
                    stats["dropped"] += dropped
                if duplicated:
                    stats["duplicated"] += duplicated

    # --- the loop ---------------------------------------------------------------

    def step(self) -> bool:
        """Process the next event; return False when nothing is left to do."""
        if not self._started:
            self.start()
            return True
        if not self._heap:
            return False
        self._run(self._heap[0][0], None, 1)
        return True

    def run_until(self, t_end: float, progress: Callable[[float], None] | None = None) -> None:
        """Process every event up to and including simulated time ``t_end``."""
        if not self._started:
            self.start()
        # The cyclic garbage collector is off while the loop runs.  Every event adds a row to
        # the trace, and a row holding a message is an object the collector tracks; CPython's
        # full collections walk all of them again each time their number grew by a quarter,
        # which cost about 40 % of the loop's time (benchmarks/bench_sim.py).  Nodes make next
        # to no cyclic garbage (reference counting frees the rest at once), and the collector
        # is back on, as it was, when the loop returns or raises.
        collecting = gc.isenabled()
        gc.disable()
        try:
            ran = self._run(t_end, progress, None)
        finally:
            if collecting:
                gc.enable()
        if ran and t_end > self.now:
            self.now = t_end

    def _run(self, t_end: float, progress: Callable[[float], None] | None, limit: int | None) -> bool:
        """The loop: events up to ``t_end`` (at most ``limit`` of them); False if it stopped
        at a violation (``stop_on_violation``).

        Deliveries and timers, nearly all events, are handled here; the rest go to
        :meth:`_dispatch`.  What cannot change during the loop is read once and the
        counters are written back once (the hottest path of the simulator).
        """
        heap = self._heap
        pop = heapq.heappop
        dispatch = self._dispatch
        apply = self._apply
        nodes = self.nodes
        incarnations = self._incarnation
        all_timers = self._timers
        ctxs = self._ctx
        blocked = self.links.blocked
        cancelled = self._cancelled
        rows_append = self._rows.append
        stats = self.stats
        checking = bool(self.invariants)
        count = events = delivered = fired = 0
        try:
            while heap and heap[0][0] <= t_end:
                if limit is not None and count >= limit:
                    return True
                ev = pop(heap)
                count += 1
                if progress is not None and count % 20000 == 0:
                    progress(ev[0])
                kind = ev[2]
                if kind == _DELIVER and not (cancelled and ev[1] in cancelled):
                    now, _, _, src, dst, msg, mid, inc = ev
                    self.now = now
                    events += 1
                    node = nodes[dst]
                    if node is None or incarnations[dst] != inc:
                        stats["dropped"] += 1
                        rows_append((now, "drop", src, dst, mid, msg, "crashed"))
                    elif blocked and (src, dst) in blocked:
                        stats["dropped"] += 1
                        rows_append((now, "drop", src, dst, mid, msg, "partition"))
                    else:
                        delivered += 1
                        rows_append((now, "deliver", dst, src, mid, msg, None))
                        ctx = ctxs[dst]
                        ctx._now = now
                        try:
                            node.on_message(ctx, src, msg)
                        except Exception as exc:
                            raise self._node_error(dst, f"on_message({type(msg).__name__} from {src})", exc) from exc
                        if ctx.outbox:
                            apply(dst, ctx)
                        if self._strike_p:
                            self._strike(dst)
                elif kind == _TIMER:
                    now, token, _, nid, name, _, payload, _ = ev
                    self.now = now
                    events += 1
                    timers = all_timers[nid]
                    if timers.get(name) != token:
                        continue  # cancelled, replaced, or lost in a crash: not an event, nothing to check
                    del timers[name]
                    fired += 1
                    rows_append((now, "timer", nid, None, None, None, name))
                    ctx = ctxs[nid]
                    ctx._now = now
                    node = nodes[nid]
                    try:
                        node.on_timer(ctx, name, payload)  # type: ignore[union-attr]
                    except Exception as exc:
                        raise self._node_error(nid, f"on_timer({name!r})", exc) from exc
                    if ctx.outbox:
                        apply(nid, ctx)
                    if self._strike_p:
                        self._strike(nid)
                else:
                    dispatch(ev)
                    blocked = self.links.blocked
                if checking:
                    self._check()
                    if self.stop_on_violation and self.violations:
                        return False
        finally:
            stats["events"] += events
            stats["delivered"] += delivered
            stats["timers"] += fired
        return True

    def _strike(self, n: str) -> None:
        """After ``n`` handled an event: with the strike probability, crash it as the very next
        event (so the invariants see the step's result first) and restart it soon after."""
        rng = self._strike_rng
        if rng.random() < self._strike_p and self.nodes[n] is not None:
            self._push(self.now, _NEMESIS, Crash(n), None, None, None, None)
            self._push(self.now + self._strike_down * rng.uniform(0.2, 1.0), _NEMESIS, Restart(n), None, None, None, None)

    def _snipe(self, n: str) -> None:
        """After ``n`` took a client request it did not answer at once: with the snipe
        probability, cut it off from every other node (what it just sent never arrives)
        and give its links back a little later.  At most a minority is cut off at once."""
        rng = self._snipe_rng
        if rng.random() >= self._snipe_p or n in self._sniped:
            return
        if len(self._sniped) >= (len(self.node_ids) - 1) // 2:
            return
        blocked = self.links.blocked
        mine = {(a, b) for x in self.node_ids if x != n for a, b in ((n, x), (x, n))} - blocked
        blocked.update(mine)
        self._sniped[n] = mine
        self._rec_isolation()
        self._push(self.now + self._snipe_down * rng.uniform(0.2, 1.0), _NEMESIS, _Rejoin(n), None, None, None, None)

    def _rec_isolation(self) -> None:
        """Record the links the snipes hold cut: the cut-off nodes alone, the rest together."""
        alone = sorted(self._sniped)
        if not self.links.blocked:
            self._rec("heal")
        elif alone:
            self._rec("partition", info=[[a] for a in alone] + [[x for x in self.node_ids if x not in alone]])

    def _dispatch(self, ev: tuple) -> None:
        """An event other than a delivery or a timer, or a delivery dropped by hand; the loop
        (:meth:`_run`) checks the invariants after it."""
        self.now = now = ev[0]
        kind = ev[2]
        self.stats["events"] += 1
        if kind == _DELIVER:  # a message dropped by hand (drop_next_message)
            self._cancelled.discard(ev[1])
            self.stats["dropped"] += 1
            self._rows.append((now, "drop", ev[3], ev[4], ev[6], ev[5], "dropped by hand"))
        elif kind == _ARRIVE:
            _, _, _, nid, req, _, _, _ = ev
            node = self.nodes[nid]
            if node is None:
                self._rec("drop", req.client, nid, None, req, "crashed")
            else:
                self._rec("request", nid, req.client, None, req, None)
                ctx = self._ctx[nid]
                ctx._now = now
                mark = len(self._rows)
                self._call(node, "on_client_request", ctx, req)
                if self._snipe_p and not any(r[1] == "reply" and r[2] == nid for r in self._rows[mark:]):
                    self._snipe(nid)
                if self._strike_p:
                    self._strike(nid)
        elif kind == _REPLY:
            self._client_reply(ev[3], ev[4], ev[5])
        elif kind == _CLIENT_NEXT:
            self._client_next(self._clients[ev[3]])
        elif kind == _CLIENT_TIMEOUT:
            _, _, _, slot, seq, attempt, _, _ = ev
            c = self._clients[slot]
            if c.op is not None and c.seq == seq and c.attempt == attempt:
                if now >= c.invoked_at + self.workload.deadline - 1e-12:
                    self._complete(c, "info", c.op[2])
                else:
                    self._client_retry(c, None)
        elif kind == _NEMESIS:
            self.apply_fault(ev[3])

    # --- invariants -------------------------------------------------------------

    def check_invariants(self) -> None:
        """Check every invariant now (the loop does this after each event; call it
        after changing the system by hand, as the widgets do after a manual fault)."""
        self._check()

    def next_event_time(self) -> float | None:
        """When the next scheduled event happens, or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def _check(self) -> None:
        world = self.world
        world.now = self.now
        world.event += 1
        for inv in self.invariants:
            if inv.kind == "sometimes":
                if self.goals.get(inv.name) is None and inv.check(world):
                    self.goals[inv.name] = self.now
                continue
            if inv.name in self._violated:
                continue
            problem = inv.check(world)
            if problem:
                self._violated.add(inv.name)
                start = max(0, len(self._rows) - _VIOLATION_CONTEXT)
                events = [e.to_dict() for e in Trace(self._rows)[start:]]
                self.violations.append(Violation(inv.name, self.now, str(problem), events))

    # --- faults -------------------------------------------------------------------

    def apply_fault(self, action: Action) -> None:
        """Apply a nemesis action now (the widgets call this too)."""
        t = type(action)
        if t is Crash:
            self.crash(action.node)
        elif t is Restart:
            self.restart(action.node)
        elif t is Partition:
            self.partition(action.groups)
        elif t is Cut:
            self.links.cut(action.src, action.dst)
            self._rec("cut", action.src, action.dst)
        elif t is Heal:
            self.heal()
        elif t is SetLoss:
            self.loss = action.p
            self._rec("loss", info=action.p)
        elif t is Strike:
            self._strike_p, self._strike_down = action.p, action.down
        elif t is Snipe:
            self._snipe_p, self._snipe_down = action.p, action.down
        elif t is _Rejoin:
            self.links.blocked.difference_update(self._sniped.pop(action.node, ()))
            self._rec_isolation()
        elif t is ClockSkew:
            ctx = self._ctx[self._known(action.node)]
            ctx._clock_offset = action.offset
            ctx._clock_drift = action.drift
            self._rec("skew", action.node, info=[action.offset, action.drift])
        else:
            raise SimulationError(f"unknown fault {action!r}")

    def _known(self, n: str) -> str:
        if n not in self._incarnation:
            raise SimulationError(f"unknown node {n!r} (nodes: {', '.join(self.node_ids)})")
        return n

    def crash(self, n: str) -> None:
        """Stop node ``n``: volatile state and timers are lost, storage is kept."""
        if self.nodes[self._known(n)] is None:
            return
        self.nodes[n] = None
        self._timers[n] = {}
        self._incarnation[n] += 1
        self._ctx[n].outbox.clear()
        self.stats["crashes"] += 1
        self._rec("crash", n)

    def restart(self, n: str) -> None:
        """Boot node ``n`` again from its durable storage (``on_start`` runs)."""
        if self.nodes[self._known(n)] is not None:
            return
        self._incarnation[n] += 1
        self.stats["restarts"] += 1
        self._boot(n, "restart")

    def partition(self, groups: Sequence[Sequence[str]]) -> None:
        try:
            full = self.links.partition(groups)
        except ValueError as exc:
            raise SimulationError(str(exc)) from None
        self._rec("partition", info=[list(g) for g in full])

    def heal(self) -> None:
        self.links.heal()
        self._rec("heal")

    def in_flight(self) -> list[TraceEvent]:
        """Messages sent but not yet delivered or dropped, earliest first."""
        out = []
        for ev in sorted(e for e in self._heap if e[2] == _DELIVER):
            if ev[1] in self._cancelled:
                continue
            out.append(TraceEvent(-1, ev[0], "in-flight", ev[4], ev[3], ev[6], ev[5], None))
        return out

    def drop_next_message(self, where: Callable[[TraceEvent], bool] | None = None) -> TraceEvent | None:
        """Drop the message that would be delivered next (a hand-made loss); with ``where``, the
        next one that ``where`` accepts (it sees each message as an ``in-flight`` event)."""
        for ev in sorted(e for e in self._heap if e[2] == _DELIVER and e[1] not in self._cancelled):
            seen = TraceEvent(-1, ev[0], "in-flight", ev[4], ev[3], ev[6], ev[5], None)
            if where is None or where(seen):
                self._cancelled.add(ev[1])
                return seen
        return None

    # --- clients ----------------------------------------------------------------

    def _client_next(self, c: _ClientSlot) -> None:
        w = self.workload
        if (w.stop is not None and self.now >= w.stop) or (w.max_ops is not None and c.ops >= w.max_ops):
            return
        c.seq += 1
        c.ops += 1
        c.attempt = 0
        f, key, value = generate_op(w, c.rng, self._next_value(), self._written)
        c.op = (f, key, value)
        if not w.sticky and len(self.node_ids) > 1:
            c.target = self.node_ids[c.rng.randrange(len(self.node_ids))]
        c.invoked_at = self.now
        self.history.append(Op(c.process, "invoke", f, key, value, self.now))
        self._rec("invoke", c.client_id, c.target, None, None, {"process": c.process, "f": f, "key": key, "value": value})
        self._client_send(c)

    def _next_value(self) -> int:
        self._value_counter += 1
        return self._value_counter

    def _client_send(self, c: _ClientSlot) -> None:
        f, key, value = c.op  # type: ignore[misc]
        if c.token is None:
            req = ClientRequest(c.client_id, c.seq, f, key, value, c.attempt)
        else:
            req = SessionRequest(c.client_id, c.seq, f, key, value, c.attempt, c.token)
        self._push(self.now + self._client_delay(), _ARRIVE, c.target, req, None, None, None)
        self._push(self.now + self.workload.timeout, _CLIENT_TIMEOUT, c.slot, c.seq, c.attempt, None, None)

    def _client_retry(self, c: _ClientSlot, hint: str | None) -> None:
        c.attempt += 1
        if hint is not None and hint in self._incarnation:
            c.target = hint
        elif len(self.node_ids) > 1:
            others = [n for n in self.node_ids if n != c.target]
            c.target = others[c.rng.randrange(len(others))]
        self._client_send(c)

    def _client_reply(self, req: ClientRequest, result: Any, nid: str) -> None:
        c = self._by_client.get(getattr(req, "client", None))
        if c is None or c.op is None or c.seq != req.seq:
            return  # a late or duplicate answer to an operation already completed
        if isinstance(result, Redirect):
            if self.now >= c.invoked_at + self.workload.deadline:
                self._complete(c, "info", c.op[2])
            else:
                self._client_retry(c, result.leader if result.leader != c.target else None)
            return
        c.target = nid
        if isinstance(result, Fail):
            self._complete(c, "fail", c.op[2])
            return
        if isinstance(result, SessionOk):
            c.token = result.token
        value = result.value if isinstance(result, Ok) else result
        f = c.op[0]
        self._complete(c, "ok", value if is_read(f) else c.op[2])

    def _complete(self, c: _ClientSlot, typ: str, value: Any) -> None:
        f, key, _ = c.op  # type: ignore[misc]
        self.history.append(Op(c.process, typ, f, key, value, self.now))
        self._rec("complete", c.client_id, None, None, None, {"process": c.process, "type": typ, "f": f, "value": value})
        if typ == "ok":
            self._latencies.append(self.now - c.invoked_at)
            if not is_read(f):
                self._written.append(c.op[2] if f != "cas" else c.op[2][1])
        c.op = None
        if typ == "info":  # Jepsen: the process is gone, a fresh one replaces it
            del self._by_client[c.client_id]
            c.process += len(self._clients)
            c.token = None  # a new process starts a new session
            self._by_client[c.client_id] = c
        self._push(self.now + c.rng.expovariate(1.0 / max(self.workload.think, 1e-6)), _CLIENT_NEXT, c.slot, None, None, None, None)

    def finish_clients(self) -> None:
        """Close every open operation as ``info`` (called at the end of a run)."""
        for c in self._clients:
            if c.op is not None:
                self._complete(c, "info", c.op[2])

    # --- results ------------------------------------------------------------------

    @property
    def trace(self) -> Trace:
        return Trace(self._rows)

    def summary_stats(self) -> dict[str, Any]:
        s = dict(self.stats)
        counts = {"ok": 0, "fail": 0, "info": 0}
        for op in self.history:
            if op.type in counts:
                counts[op.type] += 1
        s["ops"] = counts
        lat = sorted(self._latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 6)

        s["latency"] = {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": round(lat[-1], 6) if lat else None}
        sent_at: dict[int, float] = {}
        delays: list[float] = []
        for r in self._rows:
            if r[1] == "send":
                sent_at[r[4]] = r[0]
            elif r[1] == "deliver" and r[4] in sent_at:
                delays.append(r[0] - sent_at[r[4]])
        delays.sort()
        s["message_delay"] = {
            "p50": round(delays[len(delays) // 2], 6) if delays else None,
            "p99": round(delays[min(len(delays) - 1, int(0.99 * len(delays)))], 6) if delays else None,
        }
        return s

"""An eventually consistent key-value store: local writes, anti-entropy gossip.

Every replica accepts every read and write on its own, at once, with no
coordination: the store stays available through any partition.  Replicas
then reconcile in the background by *anti-entropy* (Demers et al. 1987):
every ``gossip-interval`` seconds each replica sends its whole state to a
random peer, which merges it and, if it knows something the sender does not,
answers with its own state (push-pull).  Once writes stop and the network
heals, every replica ends in the same state -- *if* the merge is right.

Merging is where the design choices are (option ``conflict``):

``lww``  last writer wins: each write is stamped with the replica's *local
         clock* (``ctx.clock()``); the merge keeps the biggest stamp.  Simple,
         and it converges, but concurrent writes silently lose -- and with a
         skewed clock so does a write that came *later* in real time
         (Kingsbury's "the trouble with timestamps").
``vv``   version vectors (Dynamo, Riak): each value carries the vector of the
         writes it has seen.  A write supersedes what its replica had seen;
         writes that did not see each other are kept side by side as
         *siblings*, and a read returns all of them (a tuple) for the
         application to resolve.  Nothing acknowledged is lost.
``crdt`` each key is a conflict-free replicated data type
         (:mod:`consensus_lab.protocols.crdt`): ``write``/``add`` put the value
         in an observed-remove set, ``remove`` takes it out, ``incr``/``decr``
         change a PN-counter.  The merge is a semilattice join, so every
         replica converges and no update is lost.

Session guarantees (Terry et al. 1994, "Session guarantees for weakly
consistent replicated data") on top: with ``sessions=on`` (or each of
``read-your-writes``, ``monotonic-reads``, ``monotonic-writes``,
``writes-follow-reads`` on its own) the store hands each client a *session
token* with its replies -- two version vectors, the writes the session made
and the writes it has read -- and the client sends it back with every request
(:class:`~consensus_lab.sim.clients.SessionRequest`).  A replica serves a
request only when its own vector covers what the guarantee needs (the
session's writes for a read under read-your-writes, ...); otherwise it pulls
state from its peers and waits a little, then sends the client back to a
replica that has what is missing (a ``Redirect``).  Guarantees cost
availability exactly when the client moves to a replica that is behind.

Variant ``overwrite-merge`` is the broken twin: anti-entropy *replaces* the
receiver's value by the sender's instead of merging, so replicas trade values
back and forth and writes disappear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..sim import Context, Fail, Invariant, Node, Ok, ProtocolSpec, Redirect, Workload, World, goal
from ..sim.clients import SessionOk
from ._versions import VV, vv_get, vv_leq, vv_merge, vv_missing, vv_set, vv_str
from ._writelog import record_version
from .crdt import ORSet, PNCounter

__all__ = [
    "GossipState",
    "SyncRequest",
    "GossipNode",
    "SPECS",
    "SESSION_GUARANTEES",
    "read_value",
]

#: the four session guarantees, as option names
SESSION_GUARANTEES = ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads")
CONFLICT_POLICIES = ("lww", "vv", "crdt")

SESSION_WAIT = 0.2  # how long a replica waits to catch up before redirecting
SESSION_POLL = 0.05
_EPS = 1e-6


# --- messages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GossipState:
    """Anti-entropy: "here is my whole state"; ``reply`` asks for the peer's back."""

    entries: tuple[tuple[str, Any], ...]
    vv: VV
    reply: bool = True


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A replica that must catch up for a session asks a peer for its state."""

    vv: VV


# --- entries, per conflict policy -----------------------------------------------
# lww:  (timestamp, origin, counter, value)
# vv:   ((version_vector, value), ...) siblings, sorted
# crdt: an ORSet or a PNCounter


def _merge_entry(conflict: str, mine: Any, theirs: Any) -> Any:
    if mine is None:
        return theirs
    if theirs is None or mine == theirs:
        return mine
    if conflict == "lww":
        return theirs if theirs[:3] > mine[:3] else mine
    if conflict == "vv":
        return _merge_siblings(mine + theirs)
    if type(mine) is not type(theirs):  # a key used both as a set and as a counter
        return mine if type(mine).__name__ < type(theirs).__name__ else theirs
    return mine.merge(theirs)


def _merge_siblings(sibs: tuple) -> tuple:
    """Keep the siblings no other sibling has seen (dedupe equal vectors)."""
    uniq = {}
    for v, value in sibs:
        uniq[v] = value
    keep = [(v, value) for v, value in uniq.items() if not any(w != v and vv_leq(v, w) for w in uniq)]
    return tuple(sorted(keep, key=repr))


def read_value(conflict: str, entry: Any) -> Any:
    """What a read returns for an entry (``None`` for a key never written)."""
    if entry is None:
        return None
    if conflict == "lww":
        return entry[3]
    if conflict == "vv":
        values = [value for _, value in entry]
        if len(values) == 1:
            return values[0]
        return tuple(sorted(values, key=lambda x: (type(x).__name__, x)))
    return entry.value()


# --- the node ----------------------------------------------------------------------


class GossipNode(Node):
    """One replica of the eventually consistent store."""

    def __init__(
        self,
        node_id: str,
        cluster: tuple[str, ...],
        *,
        conflict: str = "lww",
        guarantees: tuple[str, ...] = (),
        interval: float = 0.2,
        variant: str = "correct",
    ) -> None:
        super().__init__(node_id, cluster)
        self.conflict = conflict
        self.guarantees = tuple(guarantees)
        self.interval = interval
        self.variant = variant
        self.data: dict[str, Any] = {}
        self.vv: VV = ()  # the writes this replica has seen, by origin
        self.waiting: list[tuple[float, Any]] = []  # (give up at, request) held for a session

    # --- durable state ---------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        self.data = dict(ctx.storage.get("data", ()))
        self.vv = ctx.storage.get("vv", ())
        self.waiting = []
        ctx.set_timer("gossip", self.interval * (0.5 + ctx.rng.random()))

    def _persist(self, ctx: Context) -> None:
        ctx.storage["data"] = tuple(sorted(self.data.items()))
        ctx.storage["vv"] = self.vv

    # --- clients -------------------------------------------------------------------------

    def on_client_request(self, ctx: Context, request: Any) -> None:
        if request.f not in _OPS:
            ctx.reply(request, Fail(f"the gossip store has no operation {request.f!r}"))
            return
        need = self._session_needs(request)
        if need and not vv_leq(need, self.vv):
            self._hold(ctx, request)
            return
        self._serve(ctx, request)

    def _session_needs(self, request: Any) -> VV:
        token = getattr(request, "token", None)
        if token is None or not self.guarantees:
            return ()
        writes, reads = token
        need: VV = ()
        g = self.guarantees
        if request.f in ("read", "get"):
            if "read-your-writes" in g:
                need = vv_merge(need, writes)
            if "monotonic-reads" in g:
                need = vv_merge(need, reads)
        else:
            if "monotonic-writes" in g:
                need = vv_merge(need, writes)
            if "writes-follow-reads" in g:
                need = vv_merge(need, reads)
        return need

    def _hold(self, ctx: Context, request: Any) -> None:
        """Wait for anti-entropy to bring what the session needs; pull it now."""
        if not self.waiting:
            ctx.set_timer("sessions", SESSION_POLL)
        self.waiting.append((ctx.now + SESSION_WAIT, request))
        missing = vv_missing(self.vv, self._session_needs(request))
        for origin in sorted({n for n, _ in missing}):
            if origin != self.id and origin in self.cluster:
                ctx.send(origin, SyncRequest(self.vv))

    def _serve(self, ctx: Context, request: Any) -> None:
        f, key = request.f, request.key
        if f in ("read", "get"):
            result: Any = read_value(self.conflict, self.data.get(key))
        else:
            self._write(ctx, f, key, request.value)
            result = None
        if self.guarantees:
            token = getattr(request, "token", None) or ((), ())
            writes, reads = token
            if f in ("read", "get"):
                reads = vv_merge(reads, self.vv)
            else:
                writes = vv_set(writes, self.id, vv_get(self.vv, self.id))
            ctx.reply(request, SessionOk(result, (writes, reads)))
        else:
            ctx.reply(request, Ok(result))

    def _write(self, ctx: Context, f: str, key: str, value: Any) -> None:
        counter = vv_get(self.vv, self.id) + 1
        self.vv = vv_set(self.vv, self.id, counter)
        cur = self.data.get(key)
        if self.conflict == "lww":
            ts = ctx.clock()
            if cur is not None and ("monotonic-writes" in self.guarantees or "writes-follow-reads" in self.guarantees):
                # order a session's write after everything this replica has seen of the key
                ts = max(ts, cur[0] + _EPS)
            mine: Any = (ts, self.id, counter, value)
            record_version(ctx, key, value, mine[:3])
            new = _merge_entry("lww", cur, mine)  # a stamp older than what is here loses at once
        elif self.conflict == "vv":
            seen: VV = ()
            for v, _ in cur or ():
                seen = vv_merge(seen, v)
            new = ((vv_set(seen, self.id, counter), value),)
            record_version(ctx, key, value, new[0][0])
        else:
            new = _crdt_update(cur, self.id, f, value)
        self.data[key] = new
        self._persist(ctx)

    # --- anti-entropy --------------------------------------------------------------------

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "gossip":
            if self.peers:
                peer = self.peers[ctx.rng.randrange(len(self.peers))]
                ctx.send(peer, GossipState(tuple(sorted(self.data.items())), self.vv, True))
            ctx.set_timer("gossip", self.interval)
        elif name == "sessions":
            self._retry_waiting(ctx)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, GossipState):
            self._merge(ctx, msg.entries, msg.vv)
            if msg.reply and not vv_leq(self.vv, msg.vv):
                ctx.send(src, GossipState(tuple(sorted(self.data.items())), self.vv, False))
        elif isinstance(msg, SyncRequest):
            if not vv_leq(self.vv, msg.vv):
                ctx.send(src, GossipState(tuple(sorted(self.data.items())), self.vv, False))

    def _merge(self, ctx: Context, entries: tuple, their_vv: VV) -> None:
        if vv_leq(their_vv, self.vv) and self.variant != "overwrite-merge":
            return  # nothing new
        changed = False
        for key, theirs in entries:
            mine = self.data.get(key)
            if self.variant == "overwrite-merge":
                new = theirs
            else:
                new = _merge_entry(self.conflict, mine, theirs)
            if new != mine:
                self.data[key] = new
                changed = True
        merged = vv_merge(self.vv, their_vv)
        if changed or merged != self.vv:
            self.vv = merged
            self._persist(ctx)
        if self.waiting:
            self._retry_waiting(ctx)

    def _retry_waiting(self, ctx: Context) -> None:
        still = []
        for give_up, request in self.waiting:
            need = self._session_needs(request)
            if vv_leq(need, self.vv):
                self._serve(ctx, request)
            elif ctx.now >= give_up - 1e-9:
                missing = vv_missing(self.vv, need)
                origin = max(missing, key=lambda nc: (nc[1], nc[0]))[0] if missing else None
                ctx.reply(request, Redirect(origin if origin in self.cluster else None))
            else:
                still.append((give_up, request))
        self.waiting = still
        if still:
            ctx.set_timer("sessions", SESSION_POLL)

    # --- views ---------------------------------------------------------------------------

    def read(self, key: str) -> Any:
        """What a read of ``key`` would return here now."""
        return read_value(self.conflict, self.data.get(key))

    def state(self) -> tuple:
        """The client-visible state, key by key (what replicas must agree on)."""
        return tuple((k, self.read(k)) for k in sorted(self.data))

    def state_view(self) -> dict[str, Any]:
        return {
            "conflict": self.conflict,
            "vv": vv_str(self.vv),
            "data": {k: self.read(k) for k in sorted(self.data)},
            "waiting": len(self.waiting),
        }


_OPS = frozenset({"read", "get", "write", "put", "add", "remove", "incr", "decr"})


def _crdt_update(cur: Any, node: str, f: str, value: Any) -> Any:
    if f in ("incr", "decr"):
        counter = cur if isinstance(cur, PNCounter) else PNCounter()
        return counter.increment(node) if f == "incr" else counter.decrement(node)
    s = cur if isinstance(cur, ORSet) else ORSet()
    if f == "remove":
        return s.remove(value)
    return s.add(node, value)


# --- invariants ----------------------------------------------------------------------


class _OnlyWrittenValues(Invariant):
    """Validity: a replica only ever holds values some client wrote."""

    name = "only written values"
    kind = "always"

    def __init__(self, conflict: str) -> None:
        self.conflict = conflict
        self.written: set[Any] = set()
        self.seen = 0

    def check(self, world: World) -> str | None:
        h = world.history
        for op in h[self.seen :]:
            if op.type == "invoke" and op.f not in ("read", "get", "incr", "decr"):
                self.written.add(op.value)
        self.seen = len(h)
        if self.conflict == "crdt":
            return None
        for node in world.live():
            for key, entry in node.data.items():
                values = [entry[3]] if self.conflict == "lww" else [v for _, v in entry]
                for v in values:
                    if v not in self.written:
                        return f"{node.id} holds {key}={v!r}, which no client wrote"
        return None


class _VectorsOnlyGrow(Invariant):
    """A replica's version vector never shrinks (not even across a restart)."""

    name = "version vectors only grow"
    kind = "always"

    def __init__(self) -> None:
        self.last: dict[str, VV] = {}

    def check(self, world: World) -> str | None:
        for node in world.live():
            before = self.last.get(node.id, ())
            if before is not node.vv and not vv_leq(before, node.vv):
                return f"{node.id}'s version vector went from {vv_str(before)} to {vv_str(node.vv)}"
            self.last[node.id] = node.vv
        return None


def _invariants(options: Mapping[str, Any], variant: str) -> list:
    conflict = _conflict(options)

    @goal("all replicas agree")
    def agree(world: World) -> bool:
        live = world.live()
        return len(live) == len(world.nodes) and bool(live[0].data) and all(
            n.state() == live[0].state() for n in live
        )

    return [_OnlyWrittenValues(conflict), _VectorsOnlyGrow(), agree]


def _conflict(options: Mapping[str, Any]) -> str:
    c = str(options.get("conflict", "lww")).lower()
    if c not in CONFLICT_POLICIES:
        raise ValueError(f"option conflict must be one of {', '.join(CONFLICT_POLICIES)}, got {c!r}")
    return c


def guarantees_of(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The session guarantees an option set switches on."""
    if options.get("sessions"):
        return SESSION_GUARANTEES
    return tuple(g for g in SESSION_GUARANTEES if options.get(g))


def _make_node(nid: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> GossipNode:
    interval = float(options.get("gossip-interval", 0.2))
    if interval <= 0:
        raise ValueError(f"option gossip-interval must be > 0 seconds, got {interval}")
    return GossipNode(
        nid, cluster, conflict=_conflict(options), guarantees=guarantees_of(options), interval=interval, variant=variant
    )


def _replica_state(node: GossipNode) -> tuple:
    return node.state()


SPECS = [
    ProtocolSpec(
        name="gossip",
        summary="eventually consistent store: local writes, anti-entropy gossip, lww/vv/crdt merges, session guarantees",
        make_node=_make_node,
        variants={
            "correct": "merge by the conflict policy on every anti-entropy exchange",
            "overwrite-merge": "anti-entropy replaces the receiver's value by the sender's: writes vanish",
        },
        invariants=_invariants,
        workload=Workload(clients=3, keys=("x", "y"), mix=(("read", 0.5), ("write", 0.5)), think=0.05, sticky=False),
        options={
            "conflict": "lww",
            "sessions": False,
            "read-your-writes": False,
            "monotonic-reads": False,
            "monotonic-writes": False,
            "writes-follow-reads": False,
            "gossip-interval": 0.2,
        },
        default_nodes=3,
        min_nodes=1,
        history_model="register",
        replica_state=_replica_state,
    )
]

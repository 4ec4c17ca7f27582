"""Quorum replication in the style of Dynamo: N replicas, read quorum R, write quorum W.

DeCandia et al., "Dynamo: Amazon's highly available key-value store" (SOSP
2007), section 4.5; Gifford's weighted voting (1979) before it.  Each key
lives on ``n`` replicas: the first ``n`` distinct nodes clockwise from the key
on a consistent-hash ring (its *preference list*).  Any node can coordinate a
request:

* **write** -- ask the replicas for their version of the key and wait for
  ``r`` answers; give the new value the version ``(highest counter + 1,
  coordinator, ...)``; send it to all ``n`` replicas and answer the client after
  ``w`` acknowledgements.  A replica keeps a value only if its version is newer
  than what it has.
* **read** -- ask the replicas, wait for ``r`` answers, return the value with
  the newest version.

A version is ``(counter, coordinator, boot, operation number)``: the last two
make versions unique even when one coordinator handles two writes at once (two
writes with one version but different values would let two replicas disagree
while each believes it is up to date).

When ``r + w > n`` every read quorum meets every write quorum, so a read that
starts after a write *finished* sees it.  That is less than it sounds: a read
that overlaps a write can see the new value at one replica, and a later read
can still miss it at two others -- new, then old: not linearizable.
``read-repair=on`` closes that gap the way Attiya, Bar-Noy and Dolev's
register (ABD, 1995) does: before answering, the coordinator writes the
newest version back until ``w`` replicas hold it.  (Dynamo's own read repair
runs in the background and only speeds convergence; this one blocks.)

``sloppy=on`` trades the intersection for availability: when a preferred
replica does not answer, the coordinator uses the next node on the ring, which
keeps the value with a *hint* naming the intended owner and hands it over when
that node is reachable again (hinted handoff).  Writes succeed with any ``w``
live nodes, but a read quorum may no longer meet the last write quorum.

Writes are not retried: a client that times out and asks another node gets no
answer for that write (it ends indeterminate), because a replay could apply
the same write twice with two versions.

Variant ``no-version-read`` skips the version read of a write and stamps it
with the coordinator's own counter: a write that comes later can get an older
version and vanish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..partitioning import ConsistentHash
from ..sim import Context, Fail, Invariant, Node, Ok, ProtocolSpec, Workload, World
from ._writelog import record_version

__all__ = ["Get", "GetReply", "Put", "PutAck", "QuorumNode", "SPECS", "NO_VERSION"]

Version = tuple[int, str, int, int]  # (counter, coordinator, its boot, its operation number)
NO_VERSION: Version = (0, "", 0, 0)

OP_TIMEOUT = 0.4  # the coordinator gives up on an operation after this long
SLOPPY_AFTER = 0.08  # ... and, with sloppy quorums, asks fallback nodes after this long
HANDOFF_INTERVAL = 0.2


# --- messages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Get:
    """Coordinator -> replica: "what version of ``key`` do you hold?"."""

    rid: tuple[int, int]
    key: str


@dataclass(frozen=True, slots=True)
class GetReply:
    rid: tuple[int, int]
    key: str
    version: Version
    value: Any


@dataclass(frozen=True, slots=True)
class Put:
    """Coordinator -> replica: "keep ``value`` at ``version`` if it is newer";
    ``hint`` names the intended owner when a fallback node is asked to hold it."""

    rid: tuple[int, int] | None
    key: str
    version: Version
    value: Any
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class PutAck:
    rid: tuple[int, int] | None
    key: str
    version: Version
    hint: str | None = None


# --- the node ----------------------------------------------------------------------


class QuorumNode(Node):
    """A replica that can also coordinate client requests."""

    def __init__(
        self,
        node_id: str,
        cluster: tuple[str, ...],
        *,
        n: int = 3,
        r: int = 2,
        w: int = 2,
        read_repair: bool = False,
        sloppy: bool = False,
        variant: str = "correct",
    ) -> None:
        super().__init__(node_id, cluster)
        self.n, self.r, self.w = n, r, w
        self.read_repair = read_repair
        self.sloppy = sloppy
        self.variant = variant
        self.data: dict[str, tuple[Version, Any]] = {}
        self.hints: dict[str, dict[str, tuple[Version, Any]]] = {}  # intended owner -> key -> (version, value)
        self.pending: dict[tuple[int, int], dict[str, Any]] = {}
        self.boot = 0
        self.next_rid = 0
        self.counter = 0  # own write counter (variant no-version-read only)

    # --- placement ---------------------------------------------------------------------

    def preference_list(self, key: str, count: int | None = None) -> tuple[str, ...]:
        ring = _ring(self.cluster)
        return ring.preference_list(key, self.n if count is None else count)

    def replicas_of(self, key: str) -> tuple[str, ...]:
        """The nodes that should hold ``key`` (its preference list)."""
        return self.preference_list(key)

    # --- durable state -----------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        self.boot = ctx.storage.get("boot", 0) + 1
        ctx.storage["boot"] = self.boot
        self.data = dict(ctx.storage.get("data", ()))
        self.hints = {o: dict(kv) for o, kv in ctx.storage.get("hints", ())}
        self.counter = ctx.storage.get("counter", 0)
        if self.hints:
            ctx.set_timer("handoff", HANDOFF_INTERVAL)

    def _persist(self, ctx: Context) -> None:
        ctx.storage["data"] = tuple(sorted(self.data.items()))

    def _persist_hints(self, ctx: Context) -> None:
        ctx.storage["hints"] = tuple((o, tuple(sorted(kv.items()))) for o, kv in sorted(self.hints.items()) if kv)

    def _local(self, key: str) -> tuple[Version, Any]:
        """This node's newest copy of ``key``, hinted copies included."""
        best = self.data.get(key, (NO_VERSION, None))
        for kv in self.hints.values():
            h = kv.get(key)
            if h is not None and h[0] > best[0]:
                best = h
        return best

    # --- clients -----------------------------------------------------------------------

    def on_client_request(self, ctx: Context, request: Any) -> None:
        f = request.f
        if f not in ("read", "get", "write", "put"):
            ctx.reply(request, Fail(f"the quorum store has no operation {f!r}"))
            return
        is_write = f in ("write", "put")
        if is_write and request.attempt > 0:
            return  # never replay a write: it could be applied twice (the client will give up)
        self.next_rid += 1
        rid = (self.boot, self.next_rid)
        prefs = self.preference_list(request.key)
        op = {
            "request": request,
            "key": request.key,
            "write": is_write,
            "phase": "get",
            "prefs": prefs,
            "asked": list(prefs),
            "replies": {},  # node -> (version, value)
            "acks": [],
            "version": NO_VERSION,
            "value": None,
            "started": ctx.now,
        }
        self.pending[rid] = op
        if is_write and self.variant == "no-version-read":
            self.counter += 1
            ctx.storage["counter"] = self.counter
            self._start_put(ctx, rid, op, (self.counter, self.id) + rid, request.value)
        else:
            for node in prefs:
                self._send_or_local(ctx, node, Get(rid, request.key))
        ctx.set_timer(f"op{rid}", SLOPPY_AFTER if self.sloppy else OP_TIMEOUT, rid)

    def _send_or_local(self, ctx: Context, node: str, msg: Any) -> None:
        if node == self.id:
            self.on_message(ctx, self.id, msg)
        else:
            ctx.send(node, msg)

    # --- replica side ---------------------------------------------------------------------

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        t = type(msg)
        if t is Get:
            version, value = self._local(msg.key)
            self._send_or_local(ctx, src, GetReply(msg.rid, msg.key, version, value))
        elif t is Put:
            self._store(ctx, msg)
            self._send_or_local(ctx, src, PutAck(msg.rid, msg.key, msg.version, msg.hint))
        elif t is GetReply:
            self._on_get_reply(ctx, src, msg)
        elif t is PutAck:
            if msg.rid is None:  # a hint was handed over
                self._drop_hint(ctx, src, msg.key, msg.version)
            else:
                self._on_put_ack(ctx, src, msg)

    def _store(self, ctx: Context, msg: Put) -> None:
        if msg.hint is not None and msg.hint != self.id:
            kv = self.hints.setdefault(msg.hint, {})
            cur = kv.get(msg.key)
            if cur is None or msg.version > cur[0]:
                kv[msg.key] = (msg.version, msg.value)
                self._persist_hints(ctx)
                ctx.set_timer("handoff", HANDOFF_INTERVAL)
            return
        cur = self.data.get(msg.key)
        if cur is None or msg.version > cur[0]:
            self.data[msg.key] = (msg.version, msg.value)
            self._persist(ctx)

    def _drop_hint(self, ctx: Context, owner: str, key: str, version: Version) -> None:
        kv = self.hints.get(owner)
        if kv and key in kv and kv[key][0] <= version:
            del kv[key]
            if not kv:
                del self.hints[owner]
            self._persist_hints(ctx)

    # --- coordinator side -------------------------------------------------------------------

    def _on_get_reply(self, ctx: Context, src: str, msg: GetReply) -> None:
        op = self.pending.get(msg.rid)
        if op is None or op["phase"] != "get":
            return
        op["replies"][src] = (msg.version, msg.value)
        if len(op["replies"]) < self.r:
            return
        version, value = max(op["replies"].values(), key=lambda vv: vv[0])
        if op["write"]:
            new = (version[0] + 1, self.id) + msg.rid  # unique even for concurrent writes here
            self._start_put(ctx, msg.rid, op, new, op["request"].value)
        elif self.read_repair:
            holders = [n for n, (v, _) in op["replies"].items() if v == version]
            op["acks"] = holders
            if len(holders) >= self.w or version == NO_VERSION:
                self._finish(ctx, msg.rid, Ok(value))
                return
            op["phase"] = "repair"
            op["version"], op["value"] = version, value
            for node in op["prefs"]:
                if node not in holders:
                    self._send_or_local(ctx, node, Put(msg.rid, op["key"], version, value))
        else:
            self._finish(ctx, msg.rid, Ok(value))

    def _start_put(self, ctx: Context, rid: tuple[int, int], op: dict, version: Version, value: Any) -> None:
        op["phase"] = "put"
        op["version"], op["value"] = version, value
        op["acks"] = []
        record_version(ctx, op["key"], value, version)
        for node in op["prefs"]:
            self._send_or_local(ctx, node, Put(rid, op["key"], version, value))

    def _on_put_ack(self, ctx: Context, src: str, msg: PutAck) -> None:
        op = self.pending.get(msg.rid)
        if op is None or op["phase"] not in ("put", "repair") or msg.version != op["version"]:
            return
        if src in op["acks"]:
            return
        op["acks"].append(src)
        if len(op["acks"]) >= self.w:
            self._finish(ctx, msg.rid, Ok(op["value"] if op["phase"] == "repair" else None))

    def _finish(self, ctx: Context, rid: tuple[int, int], result: Any) -> None:
        op = self.pending.pop(rid)
        ctx.cancel_timer(f"op{rid}")
        ctx.reply(op["request"], result)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "handoff":
            self._handoff(ctx)
            return
        rid = payload
        op = self.pending.get(rid)
        if op is None:
            return
        if ctx.now - op["started"] >= OP_TIMEOUT - 1e-9:
            self.pending.pop(rid)
            if op["phase"] == "get" or not op["write"]:
                ctx.reply(op["request"], Fail(f"no quorum: {len(op['replies'])} of {self.r} replicas answered"))
            # a write that may have reached some replicas: no answer (indeterminate)
            return
        if self.sloppy:
            self._extend(ctx, rid, op)
        ctx.set_timer(f"op{rid}", min(SLOPPY_AFTER, OP_TIMEOUT - (ctx.now - op["started"])), rid)

    def _extend(self, ctx: Context, rid: tuple[int, int], op: dict) -> None:
        """Sloppy quorum: for each preferred replica that has not answered, ask the
        next node on the ring that has not been asked yet."""
        if op["phase"] == "get":
            answered = set(op["replies"])
        else:
            answered = set(op["acks"])
        silent = [n for n in op["prefs"] if n not in answered]
        ring_order = self.preference_list(op["key"], len(self.cluster))
        spare = [n for n in ring_order if n not in op["asked"]]
        for owner, fallback in zip(silent, spare, strict=False):
            op["asked"].append(fallback)
            if op["phase"] == "get":
                self._send_or_local(ctx, fallback, Get(rid, op["key"]))
            else:
                self._send_or_local(ctx, fallback, Put(rid, op["key"], op["version"], op["value"], hint=owner))

    def _handoff(self, ctx: Context) -> None:
        for owner in sorted(self.hints):
            for key, (version, value) in sorted(self.hints[owner].items()):
                ctx.send(owner, Put(None, key, version, value))
        if self.hints:
            ctx.set_timer("handoff", HANDOFF_INTERVAL)

    # --- views ------------------------------------------------------------------------------

    def read(self, key: str) -> Any:
        return self.data.get(key, (NO_VERSION, None))[1]

    def state(self) -> tuple:
        """Each key's value in this replica's own store (hints not included)."""
        return tuple((k, v[1]) for k, v in sorted(self.data.items()))

    def state_view(self) -> dict[str, Any]:
        return {
            "data": {k: f"{v[1]} @{v[0][0]}{v[0][1]}" for k, v in sorted(self.data.items())},
            "hints": sum(len(kv) for kv in self.hints.values()),
            "pending": len(self.pending),
        }


_RINGS: dict[tuple[str, ...], ConsistentHash] = {}


def _ring(cluster: tuple[str, ...]) -> ConsistentHash:
    ring = _RINGS.get(cluster)
    if ring is None:
        ring = _RINGS[cluster] = ConsistentHash(cluster, vnodes=8)
    return ring


# --- invariants ----------------------------------------------------------------------------


class _VersionsOnlyGrow(Invariant):
    """A replica never goes back to an older version of a key."""

    name = "replica versions only grow"
    kind = "always"

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], Version] = {}

    def check(self, world: World) -> str | None:
        for node in world.live():
            for key, (version, _) in node.data.items():
                before = self.last.get((node.id, key))
                if before is not None and version < before:
                    return f"{node.id} went back from version {before} to {version} of {key}"
                self.last[(node.id, key)] = version
        return None


def _settings(options: Mapping[str, Any], nodes: int | None = None) -> dict[str, Any]:
    n, r, w = int(options.get("n", 3)), int(options.get("r", 2)), int(options.get("w", 2))
    if n < 1 or not 1 <= r <= n or not 1 <= w <= n:
        raise ValueError(f"quorum needs 1 <= r <= n and 1 <= w <= n, got n={n} r={r} w={w}")
    if nodes is not None and n > nodes:
        raise ValueError(f"quorum option n={n} needs at least {n} nodes, got {nodes}")
    return {"n": n, "r": r, "w": w, "read_repair": bool(options.get("read-repair")), "sloppy": bool(options.get("sloppy"))}


def _make_node(nid: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> QuorumNode:
    return QuorumNode(nid, cluster, variant=variant, **_settings(options, len(cluster)))


def _invariants(options: Mapping[str, Any], variant: str) -> list:
    _settings(options)  # validate early, with a clear message
    return [_VersionsOnlyGrow()]


SPECS = [
    ProtocolSpec(
        name="quorum",
        summary="Dynamo-style quorum replication: N replicas, read quorum R, write quorum W, read repair, sloppy quorums",
        make_node=_make_node,
        variants={
            "correct": "a write reads the newest version from R replicas first, then writes version+1 to W",
            "no-version-read": "a write takes the coordinator's own counter as its version: later writes can lose",
        },
        invariants=_invariants,
        workload=Workload(clients=3, keys=("x", "y"), mix=(("read", 0.5), ("write", 0.5)), think=0.05, sticky=False),
        options={"n": 3, "r": 2, "w": 2, "read-repair": False, "sloppy": False},
        default_nodes=3,
        min_nodes=1,
        history_model="register",
        replica_state=lambda node: node.state(),
    )
]

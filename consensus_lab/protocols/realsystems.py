"""Small models of what real systems choose (lesson 10), built from the course's own pieces.

Two protocol specs, registered when this module is imported:

``raft-follower-reads`` -- etcd and ZooKeeper reads
    The Raft key-value service of lesson 07 (:class:`~.raft.RaftNode`), but a
    read may be answered by whichever node the client asked, leader or
    follower (clients sit behind a load balancer).  Option ``read_mode``:

    ``local``  the node answers from its own applied state at once.  This is
               etcd's *serializable* read (``--consistency=s``) and
               ZooKeeper's ordinary read: fast, but a follower that is behind,
               or cut off from the leader, answers an old value.  The
               linearizability checker rejects such histories.
    ``sync``   ZooKeeper's ``sync`` before the read: the node asks the leader
               to put a *sync* marker in the log, waits until it has applied
               that marker, then reads locally.  Everything committed before
               the read began is applied by then, and a leader that has lost
               its majority cannot commit the marker, so the read is never
               stale: the checker accepts.  (etcd's linearizable read does the
               same job with the leader's read index, ``reads=read-index``.)

    Writes always go through the leader and the log (Zab and Raft both order
    writes with a leader and a majority; we model Zab with our Raft).

``truetime`` -- Spanner's commit wait
    A leader (``n1``) timestamps each write with ``TT.now().latest`` from its
    TrueTime -- its local clock ``ctx.clock()`` plus and minus ``epsilon`` --
    and replicates it; every other node serves *snapshot reads* at its own
    ``TT.now().latest``, waiting until it knows every write up to that
    timestamp (the leader's heartbeats carry its ``TT.now().earliest`` as the
    *safe time*).  With ``commit_wait=on`` the leader answers a write only when
    ``TT.now().earliest`` has passed the write's timestamp (Corbett et al.,
    *Spanner*, OSDI 2012, section 4.1.2): if every clock is within ``epsilon``
    of true time, any read that starts after the write finished gets a later
    timestamp and sees it.  Without commit wait, or with a clock skewed by
    more than ``epsilon`` (``--nemesis 'skew ...'``), a read that begins after a
    write has finished can miss it.  Reads and writes are on single keys; the
    history is checked with the ``kv`` model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..sim import (
    ClientRequest,
    Context,
    Fail,
    Node,
    Ok,
    ProtocolSpec,
    Redirect,
    Workload,
    invariant,
)
from . import register
from .raft import DEFAULT_OPTIONS as RAFT_OPTIONS
from .raft import LEADER, RaftConfig, RaftNode
from .raft_log import READS, Command, Entry

__all__ = [
    "SyncRequest",
    "FollowerReadNode",
    "Replicate",
    "ReplicateAck",
    "SafeTime",
    "TrueTimeNode",
    "FOLLOWER_READS",
    "TRUETIME",
    "SPECS",
]


# --- raft-follower-reads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """Follower -> leader: "put a sync marker for me in the log" (ZooKeeper's ``sync``)."""

    term: int
    rid: int
    boot: int = 0  # the asking node's boot number: markers from before a restart never match


class FollowerReadNode(RaftNode):
    """A Raft node that answers reads itself: at once (``local``) or after a sync (``sync``)."""

    def __init__(self, node_id: str, cluster: tuple[str, ...], config: RaftConfig, read_mode: str = "local") -> None:
        super().__init__(node_id, cluster, config)
        self.read_mode = read_mode
        self.syncs: dict[int, ClientRequest] = {}  # rid -> the read waiting for its sync marker
        self.next_rid = 0
        self.boot = 0

    def on_start(self, ctx: Context) -> None:
        super().on_start(ctx)
        self.syncs = {}
        self.boot = ctx.storage.get("boot", 0) + 1
        ctx.storage["boot"] = self.boot

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        if request.f not in READS:
            super().on_client_request(ctx, request)  # writes: leader and log, as in lesson 07
            return
        if self.read_mode == "local":
            ctx.reply(request, Ok(self.sm.read(request.key)))  # no consensus at all
            return
        if self.role == LEADER:
            self._sync(ctx, self.id, self.boot, self._new_rid(request))
        elif self.leader_id is not None:
            ctx.send(self.leader_id, SyncRequest(self.current_term, self._new_rid(request), self.boot))
        else:
            ctx.reply(request, Redirect(None))

    def _new_rid(self, request: ClientRequest) -> int:
        self.next_rid += 1
        self.syncs[self.next_rid] = request
        return self.next_rid

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if type(msg) is SyncRequest:
            if msg.term > self.current_term:
                self._become_follower(ctx, msg.term)
            if self.role == LEADER:
                self._sync(ctx, src, msg.boot, msg.rid)
            return
        super().on_message(ctx, src, msg)

    def _sync(self, ctx: Context, node: str, boot: int, rid: int) -> None:
        """Leader: append a sync marker naming the node (and its boot) and its read."""
        index = self.log.append(Entry(self.current_term, Command(f"~sync:{node}:{boot}", rid, "sync")))
        self._save_log_from(ctx, index)
        if self.majority == 1:
            self._advance_commit_index(ctx)
        for p in self.peers:
            if self.ls.next_index[p] == index:
                self._send_append_entries(ctx, p)

    def _apply_committed(self, ctx: Context) -> None:
        before = self.last_applied
        super()._apply_committed(ctx)
        if not self.syncs:
            return
        mine = f"~sync:{self.id}:{self.boot}"
        for i in range(before + 1, self.last_applied + 1):
            e = self.log.entry(i)
            c = e.command if e is not None else None
            if c is not None and c.client == mine and c.seq in self.syncs:
                # every entry before the marker is applied: the local state is fresh enough
                req = self.syncs.pop(c.seq)
                ctx.reply(req, Ok(self.sm.read(req.key)))


def _follower_reads_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> Node:
    o = {**RAFT_OPTIONS, "read_mode": "local", **dict(options)}
    mode = str(o.pop("read_mode"))
    if mode not in ("local", "sync"):
        raise ValueError(f"raft-follower-reads option read_mode takes 'local' or 'sync', got {mode!r}")
    return FollowerReadNode(node_id, cluster, RaftConfig.from_options({**o, "reads": "log"}), mode)


def _raft_invariants(options: Mapping[str, Any], variant: str) -> list:
    from ._raft_invariants import raft_invariants

    return raft_invariants(options, "correct")


FOLLOWER_READS = ProtocolSpec(
    name="raft-follower-reads",
    summary="Raft whose followers answer reads: locally (etcd serializable, ZooKeeper) or after a sync",
    make_node=_follower_reads_node,
    variants={"correct": "reads answered by the node asked; read_mode=local (stale) or sync (fresh)"},
    invariants=_raft_invariants,
    workload=Workload(clients=3, keys=("x", "y"), mix=(("read", 0.6), ("write", 0.4)), think=0.05,
                      timeout=0.4, deadline=2.0, sticky=False),
    options={**{k: v for k, v in RAFT_OPTIONS.items() if k not in ("reads", "snapshot_every")}, "read_mode": "local"},
    default_nodes=5,
    history_model="kv",
    replica_state=lambda node: node.kv_items(),
)


# --- truetime ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replicate:
    """Leader -> replica: write number ``seq`` has timestamp ``ts`` (not visible until committed)."""

    seq: int
    key: Any
    value: Any
    ts: float


@dataclass(frozen=True, slots=True)
class ReplicateAck:
    seq: int


@dataclass(frozen=True, slots=True)
class SafeTime:
    """Leader -> replicas: writes up to ``seq`` are committed, and no write not yet
    committed has, or will get, a timestamp at or below ``safe``."""

    seq: int
    safe: float


@dataclass
class _Versions:
    """Multi-version values: for every key, (timestamp, value) in timestamp order."""

    versions: dict[Any, list[tuple[float, Any]]] = field(default_factory=dict)

    def put(self, key: Any, ts: float, value: Any) -> None:
        self.versions.setdefault(key, []).append((ts, value))

    def read(self, key: Any, ts: float) -> Any:
        value = None
        for t, v in self.versions.get(key, ()):
            if t <= ts:
                value = v
            else:
                break
        return value


class TrueTimeNode(Node):
    """Spanner in miniature: one leader timestamps writes, every node serves snapshot reads.

    The leader is ``n1`` (leader election is lesson 07's business, not this
    model's), and a write commits once a majority holds it, as a Paxos write
    would.  A write becomes visible -- at the leader and at the replicas -- only
    when it commits, and after its commit wait if that is on.  Each node knows a
    *safe time*: every write with a timestamp at or below it is committed and
    applied there.  A snapshot read at timestamp ``t`` waits until the safe
    time reaches ``t``, then returns the last version at or before ``t``.
    Durable storage holds every write a node has (``w/SEQ`` once applied,
    ``p/SEQ`` while only held), how far it has applied, and the leader's
    counters, so a node that restarts picks up where it was.  The model is
    about clocks, not about failover: while ``n1`` is down, writes wait.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...], epsilon: float, commit_wait: bool,
                 heartbeat: float) -> None:
        super().__init__(node_id, cluster)
        self.leader = cluster[0]
        self.epsilon = epsilon
        self.commit_wait = commit_wait
        self.heartbeat = heartbeat
        self.store = _Versions()
        self.applied = 0  # committed writes applied, in order
        self.safe = float("-inf")
        self.waiting_reads: list[tuple[float, ClientRequest]] = []
        # replicas
        self.prepared: dict[int, Replicate] = {}  # held, not yet committed
        self.commit_upto = 0
        # the leader
        self.last_ts = float("-inf")  # the highest timestamp given or promised
        self.seq = 0
        self.pending: dict[int, list[Any]] = {}  # seq -> [request, key, value, ts, acks, (client, seq)]
        self.done: dict[tuple[str, int], int] = {}  # (client, seq) of every committed write -> its number

    # TrueTime (section 3): an interval sure to contain true time, if the clock is within epsilon
    def tt_now(self, ctx: Context) -> tuple[float, float]:
        c = ctx.clock()
        return c - self.epsilon, c + self.epsilon

    def state_view(self) -> dict[str, Any]:
        return {"role": "leader" if self.id == self.leader else "replica", "applied": self.applied,
                "safe_time": self.safe if self.safe != float("-inf") else None}

    def on_start(self, ctx: Context) -> None:
        st = ctx.storage
        self.applied = st.get("applied", 0)
        for seq in range(1, self.applied + 1):
            key, value, ts, ident = st[f"w/{seq}"]
            self.store.put(key, ts, value)
            if ident is not None:
                self.done[ident] = seq
        if self.id == self.leader:
            self.seq = st.get("seq", 0)
            self.last_ts = st.get("last_ts", float("-inf"))
            for seq in range(self.applied + 1, self.seq + 1):  # logged, not yet committed: finish them
                key, value, ts, ident = st[f"w/{seq}"]
                self.pending[seq] = [None, key, value, ts, [self.id], ident]
            ctx.set_timer("heartbeat", self.heartbeat)
        else:
            for k in sorted(st):
                if k.startswith("p/"):
                    m = st[k]
                    if m.seq > self.applied:
                        self.prepared[m.seq] = m

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        if request.f in READS:
            self.waiting_reads.append((self.tt_now(ctx)[1], request))  # read at TT.now().latest
            self._serve_reads(ctx)
        elif request.f in ("write", "put"):
            if self.id != self.leader:
                ctx.reply(request, Redirect(self.leader))
                return
            self.write(ctx, request)
        else:
            ctx.reply(request, Fail(f"truetime stores read and write, not {request.f!r}"))

    # --- the leader ---------------------------------------------------------------------------------

    def write(self, ctx: Context, request: ClientRequest) -> None:
        ident = (request.client, request.seq)
        if ident in self.done:  # a retry of a committed write: it happened once, say so again
            ctx.reply(request, Ok())
            return
        for entry in self.pending.values():
            if entry[5] == ident:
                entry[0] = request  # a retry of a write on its way: answer this copy
                return
        # s = TT.now().latest, above every timestamp given or promised (a clock may jump back)
        ts = max(self.tt_now(ctx)[1], self.last_ts + 1e-6)
        self.last_ts = ts
        self.seq += 1
        st = ctx.storage
        st[f"w/{self.seq}"] = (request.key, request.value, ts, ident)  # on disk before anyone hears of it
        st["seq"], st["last_ts"] = self.seq, self.last_ts
        self.pending[self.seq] = [request, request.key, request.value, ts, [self.id], ident]
        ctx.broadcast(self.peers, Replicate(self.seq, request.key, request.value, ts))
        self._commit(ctx)

    def _leader_safe(self, ctx: Context) -> float:
        latest = self.tt_now(ctx)[1]
        if latest > self.last_ts:  # a promise: no new timestamp at or below this one (kept on disk)
            self.last_ts = latest
            ctx.storage["last_ts"] = latest
        low = min((e[3] for e in self.pending.values()), default=float("inf"))
        return min(self.last_ts, low - 1e-9)

    def _commit(self, ctx: Context) -> None:
        """Commit writes in order: a majority holds them, and their commit wait is over."""
        committed = False
        while self.applied + 1 in self.pending:
            seq = self.applied + 1
            request, key, value, ts, acks, ident = self.pending[seq]
            if len(acks) < len(self.cluster) // 2 + 1:
                break
            if self.commit_wait:
                earliest = self.tt_now(ctx)[0]
                if earliest <= ts:  # commit wait: until TT.now().earliest > s
                    ctx.set_timer("commit-wait", (ts - earliest) + 1e-6)
                    break
            del self.pending[seq]
            self.store.put(key, ts, value)
            self.done[ident] = seq
            self.applied = seq
            ctx.storage["applied"] = seq
            if request is not None:  # None: logged before a restart, its client is gone
                ctx.reply(request, Ok())
            committed = True
        if committed:
            self.safe = self._leader_safe(ctx)
            ctx.broadcast(self.peers, SafeTime(self.applied, self.safe))
        self._serve_reads(ctx)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        t = type(msg)
        if t is ReplicateAck:
            entry = self.pending.get(msg.seq)
            if entry is not None and src not in entry[4]:
                entry[4].append(src)
                self._commit(ctx)
        elif t is Replicate:
            if msg.seq > self.applied and msg.seq not in self.prepared:
                self.prepared[msg.seq] = msg
                ctx.storage[f"p/{msg.seq}"] = msg  # held on disk before the acknowledgement
            ctx.send(src, ReplicateAck(msg.seq))
        elif t is SafeTime:
            self.commit_upto = max(self.commit_upto, msg.seq)
            while self.applied < self.commit_upto and self.applied + 1 in self.prepared:
                m = self.prepared.pop(self.applied + 1)
                self.store.put(m.key, m.ts, m.value)
                self.applied = m.seq
                ctx.storage[f"w/{m.seq}"] = (m.key, m.value, m.ts, None)
                ctx.storage.pop(f"p/{m.seq}", None)
                ctx.storage["applied"] = m.seq
            if self.applied >= msg.seq:
                self.safe = max(self.safe, msg.safe)
            self._serve_reads(ctx)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "heartbeat":
            self.safe = self._leader_safe(ctx)
            ctx.broadcast(self.peers, SafeTime(self.applied, self.safe))
            for seq, (_, key, value, ts, acks, _) in self.pending.items():  # re-send what is unacknowledged
                ctx.broadcast([p for p in self.peers if p not in acks], Replicate(seq, key, value, ts))
            self._serve_reads(ctx)
            ctx.set_timer("heartbeat", self.heartbeat)
        elif name == "commit-wait":
            self._commit(ctx)
        elif name == "read-retry":
            self._serve_reads(ctx)

    # --- snapshot reads, at any node ----------------------------------------------------------------

    def _serve_reads(self, ctx: Context) -> None:
        if not self.waiting_reads:
            return
        if self.id == self.leader:
            self.safe = self._leader_safe(ctx)
        keep = []
        for ts, req in self.waiting_reads:
            if ts <= self.safe:
                ctx.reply(req, Ok(self.store.read(req.key, ts)))
            else:
                keep.append((ts, req))
        self.waiting_reads = keep
        if keep:
            ctx.set_timer("read-retry", self.heartbeat / 2)


TRUETIME_OPTIONS = {"epsilon": 0.02, "commit_wait": True, "heartbeat": 0.02}


def _truetime_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> Node:
    o = {**TRUETIME_OPTIONS, **dict(options)}
    eps, hb = float(o["epsilon"]), float(o["heartbeat"])
    if eps < 0 or hb <= 0:
        raise ValueError("truetime needs epsilon >= 0 and heartbeat > 0")
    return TrueTimeNode(node_id, cluster, eps, bool(o["commit_wait"]), hb)


def _truetime_invariants(options: Mapping[str, Any], variant: str) -> list:
    @invariant("timestamps increase")
    def increasing(world) -> str | None:
        leader = world.nodes.get("n1")
        if leader is None:
            return None
        for key, versions in leader.store.versions.items():
            for (a, _), (b, _) in zip(versions, versions[1:], strict=False):
                if b <= a:
                    return f"key {key!r}: timestamp {b} after {a}"
        return None

    return [increasing]


TRUETIME = ProtocolSpec(
    name="truetime",
    summary="Spanner's commit wait: TrueTime timestamps, snapshot reads at any replica",
    make_node=_truetime_node,
    variants={"correct": "commit wait as in Spanner (turn it off with --set commit_wait=off)"},
    invariants=_truetime_invariants,
    workload=Workload(clients=3, keys=("x",), mix=(("read", 0.6), ("write", 0.4)), think=0.03,
                      timeout=0.5, deadline=2.0, sticky=False),
    options=TRUETIME_OPTIONS,
    default_nodes=3,
    min_nodes=1,
    history_model="kv",
    replica_state=lambda node: tuple(sorted((k, v[-1][1]) for k, v in node.store.versions.items())),
)

SPECS = [FOLLOWER_READS, TRUETIME]
for _spec in SPECS:
    register(_spec)

"""The hybrid: partition the keys, then replicate each partition.

Partitioning spreads load; replication keeps data reachable.  This protocol
combines them the way Dynamo, Cassandra and CockroachDB do: the key space is
split into ``partitions`` (hash of the key mod P); each partition is placed on
a *replica group* of ``replicas`` nodes (the next nodes on a consistent-hash
ring, :func:`consensus_lab.partitioning.placement`); and inside each group one
of the replicated stores of this course runs unchanged (option ``store``:
``gossip``, ``quorum`` or ``primary-backup``).

Each node hosts one instance of the store for every partition it holds.  A
small multiplexer gives each instance its own view of the node -- its own
message channel (messages are wrapped in :class:`Routed`), timers, and a slice
of durable storage -- so the store's code does not know it is sharing a
machine.  A request that reaches a node outside the key's group is passed on
(:class:`Forward`) to a replica of the group, which answers the client
directly: that is the request router (a coordinator that proxies, as in
Cassandra).  Forwarding rather than redirecting the client matters for stores
that never replay a write: a redirected client would arrive with a retry
number, and the quorum store ignores retried writes.

With ``replicas=1`` this is plain partitioning, and a crashed node takes its
keys with it; ``consensus_lab.partitioning.availability`` measures that.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..partitioning import Router, placement
from ..sim import Context, Node, ProtocolSpec, Workload

__all__ = ["Routed", "Forward", "PartitionedNode", "SPECS", "STORES"]

STORES = ("gossip", "quorum", "primary-backup")


@dataclass(frozen=True, slots=True)
class Routed:
    """A message of the store instance of ``partition``."""

    partition: int
    msg: Any


@dataclass(frozen=True, slots=True)
class Forward:
    """A client request passed on by a node outside the key's group to a replica of ``partition``."""

    partition: int
    request: Any


class _Slice(MutableMapping):
    """The part of a node's durable storage that belongs to one partition."""

    __slots__ = ("_store", "_prefix")

    def __init__(self, store: MutableMapping, partition: int) -> None:
        self._store = store
        self._prefix = f"p{partition}/"

    def __getitem__(self, key: str) -> Any:
        return self._store[self._prefix + key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[self._prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self._store[self._prefix + key]

    def __iter__(self) -> Iterator[str]:
        n = len(self._prefix)
        return iter([k[n:] for k in self._store if isinstance(k, str) and k.startswith(self._prefix)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _SubContext:
    """What one store instance sees: the node's context, narrowed to its partition."""

    __slots__ = ("_ctx", "partition", "storage", "node_id")

    def __init__(self, ctx: Context, partition: int) -> None:
        self._ctx = ctx
        self.partition = partition
        self.storage = _Slice(ctx.storage, partition)
        self.node_id = ctx.node_id

    @property
    def now(self) -> float:
        return self._ctx.now

    @property
    def rng(self) -> Any:
        return self._ctx.rng

    def clock(self) -> float:
        return self._ctx.clock()

    def send(self, dst: str, msg: Any) -> None:
        self._ctx.send(dst, Routed(self.partition, msg))

    def broadcast(self, dsts: Any, msg: Any) -> None:
        for d in dsts:
            self.send(d, msg)

    def set_timer(self, name: str, delay: float, payload: Any = None) -> None:
        self._ctx.set_timer(f"p{self.partition}/{name}", delay, payload)

    def cancel_timer(self, name: str) -> None:
        self._ctx.cancel_timer(f"p{self.partition}/{name}")

    def reply(self, request: Any, result: Any) -> None:
        self._ctx.reply(request, result)


class PartitionedNode(Node):
    """A node hosting one store instance per partition it holds."""

    def __init__(self, node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.partitions = int(options["partitions"])
        self.replicas = int(options["replicas"])
        self.store = str(options["store"])
        self.router = Router(self.partitions, placement(self.partitions, cluster, self.replicas))
        self.hosted: dict[int, Node] = {}
        for p, group in sorted(self.router.groups.items()):
            if node_id in group:
                self.hosted[p] = _make_store(self.store, node_id, group, variant)

    def on_start(self, ctx: Context) -> None:
        for p, sub in self.hosted.items():
            sub.on_start(_SubContext(ctx, p))

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Routed) and msg.partition in self.hosted:
            self.hosted[msg.partition].on_message(_SubContext(ctx, msg.partition), src, msg.msg)
        elif isinstance(msg, Forward) and msg.partition in self.hosted:
            self.hosted[msg.partition].on_client_request(_SubContext(ctx, msg.partition), msg.request)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        head, _, rest = name.partition("/")
        p = int(head[1:])
        if p in self.hosted:
            self.hosted[p].on_timer(_SubContext(ctx, p), rest, payload)

    def on_client_request(self, ctx: Context, request: Any) -> None:
        p = self.router.partition_of(request.key)
        sub = self.hosted.get(p)
        if sub is None:  # the router: pass the request on to a replica of the key's partition
            group = self.router.groups[p]
            ctx.send(group[ctx.rng.randrange(len(group))], Forward(p, request))
            return
        sub.on_client_request(_SubContext(ctx, p), request)

    def replicas_of(self, key: str) -> tuple[str, ...]:
        """The nodes that hold ``key``: its partition's replica group."""
        return self.router.replicas(key)

    def state(self) -> tuple:
        """Key -> value over the partitions this node holds."""
        out = []
        for sub in self.hosted.values():
            out.extend(sub.state())
        return tuple(sorted(out, key=repr))

    def state_view(self) -> dict[str, Any]:
        return {f"partition {p}": sub.state_view() for p, sub in sorted(self.hosted.items())}


def _make_store(store: str, node_id: str, group: tuple[str, ...], variant: str) -> Node:
    if store == "gossip":
        from .gossip import GossipNode

        return GossipNode(node_id, group)
    if store == "quorum":
        from .quorum import QuorumNode

        n = len(group)
        return QuorumNode(node_id, group, n=n, r=n // 2 + 1, w=n // 2 + 1)
    if store == "primary-backup":
        from .primary_backup import PrimaryBackupNode

        return PrimaryBackupNode(node_id, group)
    raise ValueError(f"option store must be one of {', '.join(STORES)}, got {store!r}")


def _check(options: Mapping[str, Any], nodes: int | None = None) -> None:
    if options["store"] not in STORES:
        raise ValueError(f"option store must be one of {', '.join(STORES)}, got {options['store']!r}")
    if int(options["partitions"]) < 1:
        raise ValueError(f"option partitions must be at least 1, got {options['partitions']}")
    if nodes is not None and not 1 <= int(options["replicas"]) <= nodes:
        raise ValueError(f"option replicas must be between 1 and the number of nodes ({nodes})")


def _make_node(nid: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> PartitionedNode:
    _check(options, len(cluster))
    return PartitionedNode(nid, cluster, options, variant)


def _invariants(options: Mapping[str, Any], variant: str) -> list:
    _check(options)
    return []


SPECS = [
    ProtocolSpec(
        name="partitioned",
        summary="the hybrid: keys hashed into partitions, each partition replicated by a store of its own",
        make_node=_make_node,
        invariants=_invariants,
        workload=Workload(
            clients=4, keys=tuple(f"k{i:02d}" for i in range(16)), mix=(("read", 0.5), ("write", 0.5)),
            think=0.05, sticky=False,
        ),
        options={"partitions": 4, "replicas": 3, "store": "gossip"},
        default_nodes=4,
        min_nodes=1,
        history_model="register",
        replica_state=lambda node: node.state(),
    )
]

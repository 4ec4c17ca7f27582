"""Partitioning: which node owns which key, and what moves when nodes come and go.

A data set too big or too busy for one machine is split into *partitions*
(shards), each owned by one node -- or, in the hybrid approach, by a group of
replicas.  Three classic ways to decide the owner of a key:

* :class:`HashModN` -- ``hash(key) mod N``.  Perfectly simple and well spread,
  but when N changes almost every key changes owner (a fraction ``1 - 1/(N+1)``
  of them on a join).
* :class:`FixedSlots` -- a fixed number of hash slots (Redis Cluster's 16384),
  ``hash(key) mod slots``, and a table from slot to node.  A join moves whole
  slots to the new node: its fair share, ``1/(N+1)`` of the keys.
* :class:`ConsistentHash` -- Karger et al. (1997), as used by Dynamo and
  Cassandra: nodes and keys are hashed onto a ring; a key belongs to the first
  node clockwise from it.  A join or leave only moves the keys of the ring
  arcs next to the node: about ``1/N`` of them.  Each node appears as many
  *virtual nodes* (``vnodes``) so that the arcs even out.
* :class:`RangePartitioner` -- contiguous key ranges (Bigtable, HBase,
  CockroachDB).  Range scans stay on one node and a hot range can be split,
  but the boundaries must follow the data or the load is skewed.

Measures (all computed, never assumed): :func:`balance` (how evenly keys
spread: max/mean load and coefficient of variation) and :func:`movement`
(the fraction of keys whose owner changes between two partitionings).

The hybrid approach -- partitions that are each replicated -- is
:class:`Router` plus :func:`placement`: a key maps to a partition, a partition
to a replica group (the next ``replicas`` distinct nodes on the ring), and a
request to a live replica of that group.  The protocol spec ``partitioned``
(:mod:`consensus_lab.protocols.partitioned`) runs that in the simulator.

Hashing uses SHA-1 of the key's text, never Python's ``hash`` (which changes
between processes), so every owner is the same in every run.
"""

from __future__ import annotations

import bisect
import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "stable_hash",
    "Partitioner",
    "HashModN",
    "FixedSlots",
    "ConsistentHash",
    "RangePartitioner",
    "balance",
    "Balance",
    "movement",
    "movement_curve",
    "balance_curve",
    "placement",
    "Router",
    "sample_keys",
    "availability",
    "Availability",
    "independent_crashes",
    "availability_experiment",
    "needed_replicas",
]

RING = 2**32
REDIS_SLOTS = 16384  # Redis Cluster's number of hash slots


def stable_hash(text: Any) -> int:
    """A 32-bit hash of ``str(text)``: the same in every process and run."""
    return int.from_bytes(hashlib.sha1(str(text).encode()).digest()[:4], "big")


def sample_keys(n: int, *, prefix: str = "user") -> list[str]:
    """``n`` distinct keys such as ``user0000042`` (sorted order = numeric order)."""
    width = max(4, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


class Partitioner:
    """Base class: ``owner(key)`` and membership changes that return a new one."""

    kind = "partitioner"
    nodes: tuple[str, ...]

    def owner(self, key: Any) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def add_node(self, node: str) -> Partitioner:  # pragma: no cover - abstract
        raise NotImplementedError

    def remove_node(self, node: str) -> Partitioner:  # pragma: no cover - abstract
        raise NotImplementedError

    def preference_list(self, key: Any, n: int) -> tuple[str, ...]:
        """The ``n`` nodes that should hold ``key`` (owner first)."""
        start = self.nodes.index(self.owner(key))
        m = len(self.nodes)
        return tuple(self.nodes[(start + i) % m] for i in range(min(n, m)))

    def assign(self, keys: Iterable[Any]) -> dict[Any, str]:
        return {k: self.owner(k) for k in keys}

    def _check_new(self, node: str) -> None:
        if node in self.nodes:
            raise ValueError(f"node {node!r} is already a member ({', '.join(self.nodes)})")

    def _check_member(self, node: str) -> None:
        if node not in self.nodes:
            raise ValueError(f"node {node!r} is not a member ({', '.join(self.nodes)})")
        if len(self.nodes) == 1:
            raise ValueError("cannot remove the last node")


def _nodes(nodes: Sequence[str]) -> tuple[str, ...]:
    nodes = tuple(nodes)
    if not nodes:
        raise ValueError("a partitioner needs at least one node")
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"node names must be distinct, got {list(nodes)}")
    return nodes


@dataclass(frozen=True)
class HashModN(Partitioner):
    """``owner = nodes[hash(key) mod N]``."""

    nodes: tuple[str, ...]
    kind = "hash-mod-n"

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _nodes(self.nodes))

    def owner(self, key: Any) -> str:
        return self.nodes[stable_hash(key) % len(self.nodes)]

    def add_node(self, node: str) -> HashModN:
        self._check_new(node)
        return HashModN(self.nodes + (node,))

    def remove_node(self, node: str) -> HashModN:
        self._check_member(node)
        return HashModN(tuple(n for n in self.nodes if n != node))


@dataclass(frozen=True)
class FixedSlots(Partitioner):
    """A fixed number of hash slots, each assigned to a node (Redis Cluster: 16384).

    ``slot = hash(key) mod slots`` never changes; only the slot table does.  The
    table starts as contiguous, equal runs of slots.  A joining node takes an
    equal share from each current owner (``slots / (N+1)`` in all), so exactly the
    keys of those slots move; a leaving node's slots are dealt round-robin to the
    others.  The hash is SHA-1 based like the rest of this module, not Redis's CRC16.
    """

    nodes: tuple[str, ...]
    table: tuple[str, ...] = ()
    kind = "fixed-slots"

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _nodes(self.nodes))
        if not self.table:
            n = len(self.nodes)
            object.__setattr__(self, "table", tuple(self.nodes[i * n // REDIS_SLOTS] for i in range(REDIS_SLOTS)))
        if set(self.table) - set(self.nodes):
            raise ValueError("the slot table names nodes that are not members")

    @property
    def slots(self) -> int:
        return len(self.table)

    def owner(self, key: Any) -> str:
        return self.table[stable_hash(key) % len(self.table)]

    def add_node(self, node: str) -> FixedSlots:
        self._check_new(node)
        n = len(self.nodes)
        owned: dict[str, list[int]] = {m: [] for m in self.nodes}
        for slot, m in enumerate(self.table):
            owned[m].append(slot)
        table = list(self.table)
        for _ in range(len(table) // (n + 1)):  # one slot at a time, from the node that owns most
            m = max(self.nodes, key=lambda x: (len(owned[x]), x))
            table[owned[m].pop()] = node
        return FixedSlots(self.nodes + (node,), tuple(table))

    def remove_node(self, node: str) -> FixedSlots:
        self._check_member(node)
        rest = tuple(m for m in self.nodes if m != node)
        table = list(self.table)
        k = 0
        for slot, m in enumerate(table):
            if m == node:
                table[slot] = rest[k % len(rest)]
                k += 1
        return FixedSlots(rest, tuple(table))


@dataclass(frozen=True)
class ConsistentHash(Partitioner):
    """A hash ring with ``vnodes`` points per node.

    ``ring`` lists ``(position, node)`` sorted by position; a key belongs to the
    first point at or after ``hash(key)``, wrapping around.
    """

    nodes: tuple[str, ...]
    vnodes: int = 16
    ring: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    kind = "consistent-hashing"

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _nodes(self.nodes))
        if self.vnodes < 1:
            raise ValueError(f"vnodes must be at least 1, got {self.vnodes}")
        if not self.ring:
            points = sorted((stable_hash(f"{n}#{i}"), n) for n in self.nodes for i in range(self.vnodes))
            object.__setattr__(self, "ring", tuple(points))
        object.__setattr__(self, "_positions", [p for p, _ in self.ring])

    def _index(self, key: Any) -> int:
        i = bisect.bisect_left(self._positions, stable_hash(key))  # type: ignore[attr-defined]
        return i % len(self.ring)

    def owner(self, key: Any) -> str:
        return self.ring[self._index(key)][1]

    def preference_list(self, key: Any, n: int) -> tuple[str, ...]:
        """Walk clockwise from the key, collecting the first ``n`` distinct nodes (Dynamo)."""
        out: list[str] = []
        i = self._index(key)
        for step in range(len(self.ring)):
            node = self.ring[(i + step) % len(self.ring)][1]
            if node not in out:
                out.append(node)
                if len(out) == n:
                    break
        return tuple(out)

    def add_node(self, node: str) -> ConsistentHash:
        self._check_new(node)
        return ConsistentHash(self.nodes + (node,), self.vnodes)

    def remove_node(self, node: str) -> ConsistentHash:
        self._check_member(node)
        return ConsistentHash(tuple(n for n in self.nodes if n != node), self.vnodes)

    def arcs(self) -> dict[str, float]:
        """The fraction of the ring each node owns (the expected share of keys)."""
        out = {n: 0.0 for n in self.nodes}
        for i, (pos, node) in enumerate(self.ring):
            prev = self.ring[i - 1][0] if i else self.ring[-1][0] - RING
            out[node] += (pos - prev) / RING
        return out


@dataclass(frozen=True)
class RangePartitioner(Partitioner):
    """Contiguous ranges: node ``i`` owns keys in ``[bounds[i-1], bounds[i])``.

    ``bounds`` has one fewer entry than ``nodes``.  :meth:`from_keys` places
    the boundaries at quantiles of a sample, so that sample is balanced.
    A join splits the most loaded range (by the sample, when one is known) in
    the middle; a leave hands a node's range to its neighbour.
    """

    nodes: tuple[str, ...]
    bounds: tuple[Any, ...] = ()
    sample: tuple[Any, ...] = field(default=(), repr=False)
    kind = "range"

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _nodes(self.nodes))
        if len(self.bounds) != len(self.nodes) - 1:
            raise ValueError(f"{len(self.nodes)} nodes need {len(self.nodes) - 1} boundaries, got {len(self.bounds)}")
        if list(self.bounds) != sorted(self.bounds):
            raise ValueError("range boundaries must be sorted")

    @classmethod
    def from_keys(cls, nodes: Sequence[str], keys: Iterable[Any]) -> RangePartitioner:
        """Boundaries at the quantiles of ``keys``: an even split of that sample."""
        nodes = _nodes(nodes)
        sample = tuple(sorted(set(keys)))
        if len(sample) < len(nodes):
            raise ValueError(f"need at least {len(nodes)} distinct keys to place {len(nodes) - 1} boundaries")
        m = len(nodes)
        bounds = tuple(sample[(i * len(sample)) // m] for i in range(1, m))
        return cls(nodes, bounds, sample)

    def owner(self, key: Any) -> str:
        return self.nodes[bisect.bisect_right(self.bounds, key)]

    def _loads(self) -> list[list[Any]]:
        per: list[list[Any]] = [[] for _ in self.nodes]
        for k in self.sample:
            per[bisect.bisect_right(self.bounds, k)].append(k)
        return per

    def add_node(self, node: str) -> RangePartitioner:
        """Split the range with the most sample keys; the new node takes its upper half."""
        self._check_new(node)
        per = self._loads()
        if not self.sample or max(len(p) for p in per) < 2:
            raise ValueError("a range split needs a key sample with at least two keys in some range")
        i = max(range(len(per)), key=lambda j: (len(per[j]), -j))
        keys = per[i]
        mid = keys[len(keys) // 2]
        nodes = self.nodes[: i + 1] + (node,) + self.nodes[i + 1 :]
        bounds = self.bounds[:i] + (mid,) + self.bounds[i:]
        return RangePartitioner(nodes, bounds, self.sample)

    def remove_node(self, node: str) -> RangePartitioner:
        """The leaving node's range goes to its left neighbour (the right one for the first)."""
        self._check_member(node)
        i = self.nodes.index(node)
        nodes = self.nodes[:i] + self.nodes[i + 1 :]
        bounds = self.bounds[1:] if i == 0 else self.bounds[: i - 1] + self.bounds[i:]
        return RangePartitioner(nodes, bounds, self.sample)


# --- measures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    """How evenly ``keys`` spread over ``loads`` (node -> key count)."""

    loads: tuple[tuple[str, int], ...]
    mean: float
    max_over_mean: float
    cv: float  # coefficient of variation: standard deviation / mean

    def __str__(self) -> str:
        return f"max/mean {self.max_over_mean:.2f}, coefficient of variation {self.cv:.2f}"


def balance(partitioner: Partitioner, keys: Iterable[Any]) -> Balance:
    """Key counts per node and two summaries: max/mean (1.0 is perfect) and the CV."""
    counts = {n: 0 for n in partitioner.nodes}
    for k in keys:
        counts[partitioner.owner(k)] += 1
    loads = list(counts.values())
    mean = sum(loads) / len(loads)
    if mean == 0:
        return Balance(tuple(counts.items()), 0.0, 1.0, 0.0)
    var = sum((x - mean) ** 2 for x in loads) / len(loads)
    return Balance(tuple(counts.items()), mean, max(loads) / mean, math.sqrt(var) / mean)


def movement(before: Partitioner, after: Partitioner, keys: Iterable[Any]) -> float:
    """The fraction of ``keys`` whose owner differs between two partitionings."""
    keys = list(keys)
    if not keys:
        return 0.0
    return sum(before.owner(k) != after.owner(k) for k in keys) / len(keys)


def movement_curve(
    make: Callable[[Sequence[str]], Partitioner], keys: Sequence[Any], sizes: Iterable[int], *, event: str = "join"
) -> list[tuple[int, float]]:
    """For each cluster size N: the fraction of keys moved when one node joins (N -> N+1)
    or leaves (N -> N-1; the last node leaves)."""
    out = []
    for n in sizes:
        nodes = [f"n{i}" for i in range(1, n + 1)]
        p = make(nodes)
        if event == "join":
            q = p.add_node(f"n{n + 1}")
        elif event == "leave":
            q = p.remove_node(nodes[-1])
        else:
            raise ValueError(f"event must be 'join' or 'leave', got {event!r}")
        out.append((n, movement(p, q, keys)))
    return out


def balance_curve(make: Callable[[int], Partitioner], keys: Sequence[Any], params: Iterable[int]) -> list[tuple[int, Balance]]:
    """:func:`balance` for each parameter value (for example vnodes = 1, 2, 4, ...)."""
    return [(p, balance(make(p), keys)) for p in params]


# --- the hybrid: partitions, replica groups, routing ----------------------------------


def placement(partitions: int, nodes: Sequence[str], replicas: int, *, vnodes: int = 16) -> dict[int, tuple[str, ...]]:
    """Replica group of each partition: the next ``replicas`` distinct nodes on a
    consistent-hash ring from the partition's position (Dynamo's preference list)."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    if not 1 <= replicas <= len(nodes):
        raise ValueError(f"replicas must be between 1 and the number of nodes ({len(nodes)}), got {replicas}")
    ring = ConsistentHash(tuple(nodes), vnodes)
    if partitions == len(nodes) and replicas == 1:
        # one partition per node, exactly: the classic "shard per machine"
        return {p: (nodes[p],) for p in range(partitions)}
    return {p: ring.preference_list(f"partition-{p}", replicas) for p in range(partitions)}


@dataclass(frozen=True)
class Router:
    """Send each request to a replica of the key's partition.

    ``partition_of(key)`` is hash-mod-P over partitions (partitions are fixed;
    it is *their* placement on nodes that changes), ``groups`` the replica
    group of each partition.  ``route(key, up)`` picks the first live replica.
    """

    partitions: int
    groups: dict[int, tuple[str, ...]]

    @classmethod
    def build(cls, partitions: int, nodes: Sequence[str], replicas: int = 1) -> Router:
        return cls(partitions, placement(partitions, nodes, replicas))

    def partition_of(self, key: Any) -> int:
        return stable_hash(key) % self.partitions

    def replicas(self, key: Any) -> tuple[str, ...]:
        return self.groups[self.partition_of(key)]

    def route(self, key: Any, up: Callable[[str], bool] | None = None) -> str | None:
        for node in self.replicas(key):
            if up is None or up(node):
                return node
        return None


# --- availability under independent crashes -----------------------------------------


def independent_crashes(
    nodes: Sequence[str], duration: float, rng: Any, *, mttf: float = 4.0, mttr: float = 1.0, quiet: float = 0.0
) -> str:
    """A nemesis script in which each node fails on its own: up for an exponential
    time (mean ``mttf``), then down for one (mean ``mttr``), and so on.  Each
    node is up a fraction ``mttf / (mttf + mttr)`` of the time on average."""
    entries: list[tuple[float, str]] = []
    end = duration * (1 - quiet)
    for n in nodes:
        t = rng.expovariate(1 / mttf)
        while t < end:
            entries.append((t, f"crash {n}"))
            back = t + rng.expovariate(1 / mttr)
            if back >= end:
                entries.append((end, f"restart {n}"))
                break
            entries.append((back, f"restart {n}"))
            t = back + rng.expovariate(1 / mttf)
    entries.sort()
    return "; ".join(f"{t:.4f} {a}" for t, a in entries)


@dataclass(frozen=True)
class Availability:
    """What a run's clients could reach.

    ``ops``: the fraction of single-key operations that succeeded;
    ``all_keys``: the fraction of time every partition had a live replica
    (the chance that a request touching *all* the data could be served);
    ``keys``: the average fraction of partitions reachable.
    """

    ops: float
    all_keys: float
    keys: float


def availability(run: Any, groups: dict[int, tuple[str, ...]], *, needed: int = 1) -> Availability:
    """Measure a run of the ``partitioned`` store: operation success and, from the
    trace's crash/restart events, how long each partition had ``needed`` live replicas."""
    ops = [op for op in run.history if op.type != "invoke"]
    ok = sum(op.type == "ok" and op.f in ("read", "write") for op in ops)
    total = sum(op.f in ("read", "write") for op in ops)
    down: set[str] = set()
    end = run.scenario.duration
    t_prev = 0.0
    all_up_time = 0.0
    part_time = 0.0

    def tally(t: float) -> None:
        nonlocal all_up_time, part_time
        span = t - t_prev
        if span <= 0:
            return
        avail = [sum(n not in down for n in g) >= needed for g in groups.values()]
        if all(avail):
            all_up_time += span
        part_time += span * sum(avail) / len(avail)

    for ev in run.trace:
        if ev.kind in ("crash", "restart", "start") and ev.time <= end:
            tally(ev.time)
            t_prev = max(t_prev, ev.time)
            if ev.kind == "crash":
                down.add(ev.node)
            elif ev.kind == "restart":
                down.discard(ev.node)
    tally(end)
    return Availability(ok / total if total else 1.0, all_up_time / end, part_time / end)


def needed_replicas(store: str, replicas: int) -> int:
    """How many live replicas a partition's group needs to serve, by its store:
    one for the eventual store (any replica answers), a majority for the
    quorum and primary-backup stores (a write must reach a majority)."""
    if store == "gossip":
        return 1
    if store in ("quorum", "primary-backup"):
        return replicas // 2 + 1
    raise ValueError(f"store must be gossip, quorum or primary-backup, got {store!r}")


def availability_experiment(
    partitions: Iterable[int] = (1, 2, 4, 8),
    replicas: Iterable[int] = (1, 3),
    *,
    seeds: Iterable[int] = range(3),
    duration: float = 10.0,
    mttf: float = 4.0,
    mttr: float = 1.0,
    stores: Iterable[str] = ("gossip",),
    clients: int = 2,
    deadline: float = 0.5,
) -> list[dict[str, Any]]:
    """Run the ``partitioned`` store under independent node crashes.

    For each store kind, each number of partitions P (on ``max(P, replicas)``
    nodes) and each replication factor, average :func:`availability` over the
    seeds.  Each row: ``store``, ``partitions``, ``replicas``, ``nodes``,
    ``ops`` (the fraction of the clients' requests that succeeded: the measure
    a user feels), ``all_keys`` and ``keys`` (from the crash timeline, counting a
    partition reachable when it has :func:`needed_replicas` live replicas for
    that store).  With one replica the store kinds coincide, so that row is run
    once, as ``gossip``.  ``clients`` light clients keep requests flowing; a
    request counts as served when it is answered ``ok`` within ``deadline``
    seconds (a client retries at another node after 0.1 s), so it cannot simply wait
    out a crash.
    """
    import dataclasses
    import random

    from .protocols.partitioned import SPECS
    from .runner import node_names, run

    spec = SPECS[0]
    workload = dataclasses.replace(spec.workload, clients=clients, think=0.2,
                                   timeout=min(0.1, deadline), deadline=deadline)
    seeds = tuple(seeds)
    rows = []
    for store in stores:
        needed_replicas(store, 1)  # refuse an unknown store before running anything
        for reps in replicas:
            if reps == 1 and store != "gossip" and "gossip" in stores:
                continue
            for p in partitions:
                n = max(p, reps)
                nodes = node_names(n)
                got = []
                for seed in seeds:
                    script = independent_crashes(nodes, duration, random.Random(f"crashes:{seed}:{n}"),
                                                 mttf=mttf, mttr=mttr)
                    r = run(spec, nodes=n, seed=seed, duration=duration, nemesis=script or "none",
                            workload=workload, options={"partitions": p, "replicas": reps, "store": store})
                    got.append(availability(r, placement(p, nodes, reps), needed=needed_replicas(store, reps)))
                k = len(got)
                rows.append({
                    "store": store, "partitions": p, "replicas": reps, "nodes": n,
                    "ops": sum(a.ops for a in got) / k,
                    "all_keys": sum(a.all_keys for a in got) / k,
                    "keys": sum(a.keys for a in got) / k,
                })
    return rows

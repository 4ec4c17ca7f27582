"""Pictures for partitioning: load per node, keys moved on a join, the ring,
and availability against the number of partitions.

Every function computes with :mod:`consensus_lab.partitioning` and only draws;
each returns the matplotlib ``Figure`` (pass ``ax`` to draw into your own).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None

import matplotlib.pyplot as plt  # noqa: E402

from ..partitioning import (  # noqa: E402
    RING,
    ConsistentHash,
    Partitioner,
    balance,
    movement_curve,
)

__all__ = ["plot_loads", "plot_movement", "plot_ring", "plot_availability", "plot_vnodes_balance"]

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _axes(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def plot_loads(partitioners: Mapping[str, Partitioner], keys: Sequence[Any], *, ax: Any = None, title: str | None = None):
    """Grouped bars: how many of ``keys`` each node owns, for each scheme."""
    fig, ax = _axes(ax, (10, 3.6))
    names = list(partitioners)
    nodes = sorted({n for p in partitioners.values() for n in p.nodes}, key=lambda n: (len(n), n))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        b = balance(partitioners[name], keys)
        loads = dict(b.loads)
        xs = [j + i * width for j in range(len(nodes))]
        ax.bar(xs, [loads.get(n, 0) for n in nodes], width, label=f"{name} (max/mean {b.max_over_mean:.2f})",
               color=_COLORS[i % len(_COLORS)])
    ax.axhline(len(keys) / len(nodes), color="black", lw=1, ls="--", label="perfect balance")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(nodes))])
    ax.set_xticklabels(nodes)
    ax.set_ylabel("keys owned")
    ax.set_title(title or f"{len(keys)} keys on {len(nodes)} nodes")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # never over a bar
    fig.tight_layout()
    return fig


def plot_movement(
    makers: Mapping[str, Callable[[Sequence[str]], Partitioner]],
    keys: Sequence[Any],
    sizes: Iterable[int] = range(2, 11),
    *,
    event: str = "join",
    ax: Any = None,
):
    """Fraction of keys that change owner when one node joins (or leaves), against N, with two
    reference lines: the fair share (what the changed node must gain or give up for the load to stay
    even) and what hash mod N moves in expectation."""
    fig, ax = _axes(ax, (7, 3.6))
    sizes = list(sizes)
    for i, (name, make) in enumerate(makers.items()):
        curve = movement_curve(make, keys, sizes, event=event)
        ax.plot([n for n, _ in curve], [f for _, f in curve], "o-", color=_COLORS[i % len(_COLORS)], label=name)
    fair = [1 / (n + 1) if event == "join" else 1 / n for n in sizes]
    ax.plot(sizes, fair, "k--", lw=1, label="fair share: 1/(N+1)" if event == "join" else "fair share: 1/N")
    modn = [n / (n + 1) if event == "join" else (n - 1) / n for n in sizes]
    ax.plot(sizes, modn, "k:", lw=1, label="hash mod N: N/(N+1)" if event == "join" else "hash mod N: (N-1)/N")
    ax.set_xlabel("nodes before the change (N)")
    ax.set_ylabel("fraction of keys moved")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"keys that move when a node {'joins' if event == 'join' else 'leaves'}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_vnodes_balance(nodes: Sequence[str], keys: Sequence[Any], vnodes: Iterable[int] = (1, 2, 4, 8, 16, 32, 64, 128),
                        *, ax: Any = None):
    """Consistent hashing: load imbalance (max/mean) against virtual nodes per node."""
    fig, ax = _axes(ax, (6, 3.4))
    vs = list(vnodes)
    ratios = [balance(ConsistentHash(tuple(nodes), v), keys).max_over_mean for v in vs]
    ax.plot(vs, ratios, "o-", color=_COLORS[0])
    ax.axhline(1.0, color="black", lw=1, ls="--")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("virtual nodes per node")
    ax.set_ylabel("busiest node / average")
    ax.set_title(f"consistent hashing, {len(nodes)} nodes, {len(keys)} keys")
    fig.tight_layout()
    return fig


def plot_ring(ring: ConsistentHash, keys: Sequence[Any] = (), *, ax: Any = None, title: str | None = None):
    """The hash ring: each node's arcs in its colour, keys as small ticks inside."""
    from ..partitioning import stable_hash

    fig, ax = _axes(ax, (4.6, 4.6))
    colors = {n: _COLORS[i % len(_COLORS)] for i, n in enumerate(ring.nodes)}
    pts = list(ring.ring)
    for i, (pos, node) in enumerate(pts):
        prev = pts[i - 1][0] - (RING if i == 0 else 0)
        a0, a1 = 90 - 360 * prev / RING, 90 - 360 * pos / RING
        theta = [math.radians(a0 + (a1 - a0) * t / 20) for t in range(21)]
        ax.plot([math.cos(t) for t in theta], [math.sin(t) for t in theta], color=colors[node], lw=6,
                solid_capstyle="butt")
        a = math.radians(a1)
        ax.plot([math.cos(a)], [math.sin(a)], "o", color=colors[node], ms=5, mec="black", mew=0.5)
    for k in keys:
        a = math.radians(90 - 360 * stable_hash(k) / RING)
        ax.plot([0.82 * math.cos(a), 0.9 * math.cos(a)], [0.82 * math.sin(a), 0.9 * math.sin(a)],
                color=colors[ring.owner(k)], lw=1)
    arcs = ring.arcs()
    for i, n in enumerate(ring.nodes):
        ax.text(0, 0.25 - 0.16 * i, f"{n}: {arcs[n]:.0%} of the ring", ha="center", va="center", color=colors[n],
                fontsize=9)
    ax.set_xlim(-1.15, 1.15)
    ax.set_ylim(-1.15, 1.15)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title or f"{len(ring.nodes)} nodes x {ring.vnodes} virtual nodes")
    fig.tight_layout()
    return fig


_STORE_NAMES = {"gossip": "eventual store", "quorum": "majority quorums", "primary-backup": "primary-backup"}


def plot_availability(rows: Sequence[Mapping[str, Any]], *, ax: Any = None, measure: str = "all_keys",
                      up: float | None = None, title: str = "partitioning alone does not keep data reachable"):
    """Availability against the number of partitions, one line per replication factor
    and store kind (rows from :func:`consensus_lab.partitioning.availability_experiment`).  With
    ``up`` (each node's share of time up), also the prediction for independent
    failures without replication: every one of P nodes up at once, ``up ** P``."""
    fig, ax = _axes(ax, (6.5, 3.6))
    if up is not None and measure == "all_keys":
        ps = sorted({r["partitions"] for r in rows})
        ax.plot(ps, [up**p for p in ps], "k--", lw=1, label=f"prediction without replication: {up:g}^P")
    labels = {"all_keys": "time every partition was reachable", "keys": "average share of keys reachable",
              "ops": "requests answered ok in time"}
    lines = sorted({(r["replicas"], r.get("store", "gossip")) for r in rows})
    for i, (reps, store) in enumerate(lines):
        sel = sorted((r for r in rows if r["replicas"] == reps and r.get("store", "gossip") == store),
                     key=lambda r: r["partitions"])
        label = "no replication" if reps == 1 else f"{reps} replicas per partition, {_STORE_NAMES.get(store, store)}"
        ax.plot([r["partitions"] for r in sel], [r[measure] for r in sel], "o-", color=_COLORS[i * 2 % len(_COLORS)],
                label=label)
    ax.set_xscale("log", base=2)
    ps = sorted({r["partitions"] for r in rows})
    ax.set_xticks(ps)
    ax.set_xticklabels([str(p) for p in ps])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("partitions (one node each, or more nodes for replicas)")
    ax.set_ylabel(labels.get(measure, measure))
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig

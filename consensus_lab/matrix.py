"""The consistency matrix: what each replication strategy actually guarantees.

Rows are stores with their settings (primary-backup, quorums with
``r + w > n`` and with ``r + w <= n``, gossip with each conflict policy, with
and without session guarantees); columns are the contract's properties
(:data:`consensus_lab.properties.PROPERTIES`), each judged under no faults,
partitions, crashes and clock skew, over many seeds.  Nothing in the table
is written by hand: every cell is computed by running the store and handing
the run to the checkers.

A cell *holds* when the property held in every seed tried, and is *violated*
with the first seed whose run breaks it -- a counterexample anyone can replay
(:meth:`ConsistencyMatrix.replay`) and draw.  A property that the checkers could
not decide in some seed (a search over its time budget) is *unknown* unless
another seed violates it.

>>> from consensus_lab.matrix import compute_matrix, STORES
>>> m = compute_matrix(STORES[:1], seeds=range(2), faults=("none",))
>>> m.cell("primary-backup", "none", "linearizable").status
'holds'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .properties import PROPERTIES, evaluate, run_settled
from .runner import resolve_spec, run
from .sim import Latency, NetworkConfig, Run, Scenario, Workload

__all__ = [
    "Store",
    "Cell",
    "ConsistencyMatrix",
    "STORES",
    "FAULTS",
    "MATRIX_NETWORK",
    "MATRIX_WORKLOAD",
    "compute_matrix",
    "scenario_for",
]

#: fault columns: a nemesis setting each (see ``consensus_lab.runner.make_schedule``)
FAULTS = ("none", "partition", "crash", "clock-skew")

#: a network with a tail: most messages take a few milliseconds, some much longer
MATRIX_NETWORK = NetworkConfig(latency=Latency.exponential(0.02, 0.001))

#: five busy clients behind a load balancer, all on one hot key: enough
#: concurrency for the subtle anomalies to show up in a few seeds, and one key
#: makes the sequential-consistency check exact (it is not local)
MATRIX_WORKLOAD = Workload(
    clients=5, keys=("x",), mix=(("read", 0.7), ("write", 0.3)), think=0.02, sticky=False
)

DURATION = 2.5
NEMESIS_INTERVAL = 0.7

SYMBOLS = {"holds": "✓", "violated": "✗", "unknown": "?"}


@dataclass(frozen=True)
class Store:
    """One row: a protocol with its options and variant."""

    label: str
    protocol: str
    options: tuple[tuple[str, Any], ...] = ()
    variant: str = "correct"
    nodes: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.options, Mapping):
            object.__setattr__(self, "options", tuple(sorted(self.options.items())))

    def command(self) -> str:
        """The ``consensus-lab run`` arguments for this row."""
        parts = [self.protocol]
        if self.nodes is not None:
            parts.append(f"--nodes {self.nodes}")
        if self.variant != "correct":
            parts.append(f"--variant {self.variant}")
        for k, v in self.options:
            parts.append(f"--set {k}={'on' if v is True else 'off' if v is False else v}")
        return " ".join(parts)


STORES: tuple[Store, ...] = (
    Store("primary-backup", "primary-backup"),
    Store("primary-backup, async", "primary-backup", variant="async"),
    Store("primary-backup, local reads", "primary-backup", variant="local-reads"),
    Store("quorum 2+2>3", "quorum", {"n": 3, "r": 2, "w": 2}),
    Store("quorum 1+1<=3", "quorum", {"n": 3, "r": 1, "w": 1}),
    Store("quorum 2+2>3, read repair", "quorum", {"n": 3, "r": 2, "w": 2, "read-repair": True}),
    Store("quorum 2+2>3, sloppy (5 nodes)", "quorum", {"n": 3, "r": 2, "w": 2, "sloppy": True}, nodes=5),
    Store("gossip lww", "gossip", {"conflict": "lww"}),
    Store("gossip lww + sessions", "gossip", {"conflict": "lww", "sessions": True}),
    Store("gossip vv", "gossip", {"conflict": "vv"}),
    Store("gossip vv + sessions", "gossip", {"conflict": "vv", "sessions": True}),
    Store("gossip crdt", "gossip", {"conflict": "crdt"}),
    Store("gossip crdt + sessions", "gossip", {"conflict": "crdt", "sessions": True}),
)


def scenario_for(store: Store, fault: str, seed: int, *, duration: float = DURATION) -> Scenario:
    """The scenario of one matrix run (replay it with ``consensus_lab.run(scenario)``)."""
    return Scenario(
        protocol=store.protocol,
        nodes=store.nodes,
        seed=seed,
        duration=duration,
        network=MATRIX_NETWORK,
        workload=MATRIX_WORKLOAD,
        nemesis=fault,
        nemesis_interval=NEMESIS_INTERVAL,
        variant=store.variant,
        options=store.options,
    )


@dataclass
class Cell:
    """One verdict: ``status`` over ``seeds`` runs; ``seed`` is the first counterexample."""

    status: str = "holds"
    seed: int | None = None
    detail: str = ""
    seeds: int = 0
    unknown: int = 0

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.status]

    def short(self) -> str:
        if self.status == "violated":
            return f"✗ {self.seed}"
        return self.symbol


@dataclass
class ConsistencyMatrix:
    """The computed table; ``cells[(store label, fault, property)]``."""

    stores: tuple[Store, ...]
    faults: tuple[str, ...]
    properties: tuple[str, ...]
    seeds: tuple[int, ...]
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)
    duration: float = DURATION
    seconds: float = 0.0
    runs: int = 0

    def store(self, label: str) -> Store:
        for s in self.stores:
            if s.label == label:
                return s
        raise KeyError(f"no store {label!r} in the matrix (stores: {', '.join(s.label for s in self.stores)})")

    def cell(self, store: str, fault: str, prop: str) -> Cell:
        return self.cells[(store, fault, prop)]

    def holds(self, store: str, prop: str, faults: Iterable[str] | None = None) -> bool:
        """Did ``prop`` hold for ``store`` under every fault setting given (default: all)?"""
        return all(self.cell(store, f, prop).status == "holds" for f in (faults or self.faults))

    def counterexample(self, store: str, prop: str) -> tuple[str, int] | None:
        """``(fault, seed)`` of the first run that violates ``prop``, mildest fault first."""
        for f in self.faults:
            c = self.cell(store, f, prop)
            if c.status == "violated":
                return f, c.seed  # type: ignore[return-value]
        return None

    def replay(self, store: str, fault: str, seed: int | None = None, prop: str | None = None) -> Run:
        """Run a cell's scenario again (its counterexample seed when ``prop`` is given)."""
        if seed is None:
            if prop is None:
                raise ValueError("give a seed, or a property whose counterexample to replay")
            seed = self.cell(store, fault, prop).seed
            if seed is None:
                raise ValueError(f"{prop} holds for {store} under {fault}: there is no counterexample")
        return run(scenario_for(self.store(store), fault, seed, duration=self.duration))

    # --- rendering -------------------------------------------------------------------

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat record per cell (for a DataFrame, JSON, or a test)."""
        out = []
        for s in self.stores:
            for f in self.faults:
                for p in self.properties:
                    c = self.cell(s.label, f, p)
                    out.append({"store": s.label, "fault": f, "property": p, "status": c.status,
                                "seed": c.seed, "seeds": c.seeds, "detail": c.detail})
        return out

    def summary_markdown(self) -> str:
        """Rows = stores, columns = properties; a cell is ✓ when the property held under
        every fault, else ✗ with the mildest fault that breaks it and the seed."""
        head = "| store | " + " | ".join(self.properties) + " |"
        rule = "|---|" + "---|" * len(self.properties)
        lines = [head, rule]
        for s in self.stores:
            cells = []
            for p in self.properties:
                ce = self.counterexample(s.label, p)
                if ce is not None:
                    cells.append(f"✗ {ce[0]} #{ce[1]}")
                elif any(self.cell(s.label, f, p).status == "unknown" for f in self.faults):
                    cells.append("?")
                else:
                    cells.append("✓")
            lines.append(f"| {s.label} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_markdown(self, fault: str | None = None) -> str:
        """One table per fault setting (or just ``fault``): ✓, ✗ with seed, or ?."""
        faults = self.faults if fault is None else (fault,)
        parts = []
        for f in faults:
            lines = [f"**faults: {f}** ({len(self.seeds)} seeds)", "",
                     "| store | " + " | ".join(self.properties) + " |",
                     "|---|" + "---|" * len(self.properties)]
            for s in self.stores:
                lines.append(f"| {s.label} | " + " | ".join(self.cell(s.label, f, p).short() for p in self.properties) + " |")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def __str__(self) -> str:
        return self.to_text()

    def to_text(self, fault: str | None = None) -> str:
        """A plain-text table (fixed-width), for terminals and notebook outputs."""
        props = self.properties
        short = {p: _ABBREV.get(p, p) for p in props}
        faults = self.faults if fault is None else (fault,)
        width = max(len(s.label) for s in self.stores)
        out = []
        for f in faults:
            out.append(f"faults: {f}")
            out.append(" " * width + "  " + " ".join(f"{short[p]:>5}" for p in props))
            for s in self.stores:
                row = " ".join(f"{self.cell(s.label, f, p).short():>5}" for p in props)
                out.append(f"{s.label:<{width}}  {row}")
            out.append("")
        out.append("  ".join(f"{_ABBREV.get(p, p)}={p}" for p in props))
        return "\n".join(out)


_ABBREV = {
    "linearizable": "lin",
    "sequential": "seq",
    "read-your-writes": "ryw",
    "monotonic-reads": "mr",
    "monotonic-writes": "mw",
    "writes-follow-reads": "wfr",
    "convergent": "conv",
    "no-lost-writes": "nolost",
}


def compute_matrix(
    stores: Sequence[Store] = STORES,
    *,
    seeds: Iterable[int] = range(6),
    faults: Sequence[str] = FAULTS,
    properties: Sequence[str] = PROPERTIES,
    duration: float = DURATION,
    timeout: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> ConsistencyMatrix:
    """Run every store under every fault setting for every seed and check every property.

    Once a property is violated in a (store, fault) pair it is not checked
    again there, and once every property is violated the remaining seeds are
    skipped: the first counterexample is what the table reports.
    """
    t0 = time.perf_counter()
    seeds = tuple(seeds)
    for p in properties:
        if p not in PROPERTIES:
            raise ValueError(f"unknown property {p!r} (properties: {', '.join(PROPERTIES)})")
    m = ConsistencyMatrix(tuple(stores), tuple(faults), tuple(properties), seeds, duration=duration)
    for store in stores:
        spec = resolve_spec(store.protocol)
        for fault in faults:
            cells = {p: Cell() for p in properties}
            for p in properties:
                m.cells[(store.label, fault, p)] = cells[p]
            for seed in seeds:
                open_props = [p for p in properties if cells[p].status != "violated"]
                if not open_props:
                    break
                r = run_settled(scenario_for(store, fault, seed, duration=duration), spec)
                m.runs += 1
                if r.violations:  # an invariant broke: say so in every open cell's detail
                    note = f"invariant violated: {r.violations[0]}"
                else:
                    note = ""
                for p in open_props:
                    res = evaluate(p, r, spec, timeout=timeout)
                    c = cells[p]
                    c.seeds += 1
                    if res.status == "violated":
                        c.status, c.seed, c.detail = "violated", seed, res.detail
                    elif res.status == "unknown":
                        c.unknown += 1
                        if c.status == "holds":
                            c.status, c.detail = "unknown", f"seed {seed}: {res.detail}"
                    elif c.status == "holds":
                        c.detail = note or res.detail
            if progress is not None:
                progress(f"{store.label} / {fault}")
    m.seconds = time.perf_counter() - t0
    return m

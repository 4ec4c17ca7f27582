"""Lesson 10, "What do real systems choose?": small runnable models of their choices.

Each claim of the lesson is a function here that runs the library and
returns what it found, so the notebook only calls and shows:

* :mod:`consensus_lab.systems.zookeeper` -- sessions, ephemeral znodes,
  watches, and why a lock needs a fencing token;
* :func:`read_modes` -- etcd's serializable versus linearizable reads and
  ZooKeeper's local reads versus sync-then-read, on the
  ``raft-follower-reads`` spec (:mod:`consensus_lab.protocols.realsystems`);
* :func:`commit_wait_grid` -- Spanner's commit wait on the ``truetime`` spec,
  with clocks inside and outside the uncertainty bound;
* :func:`quorum_choices` -- Dynamo and Cassandra's quorum settings, sloppy
  quorums and hinted handoff, on the ``quorum`` spec;
* :func:`jepsen_etcd` -- real Jepsen histories of etcd against our checker.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..checkers import check_linearizable, load_history, shared_data_dir
from ..protocols import realsystems  # noqa: F401  (importing it registers raft-follower-reads and truetime)
from ..runner import run
from ..sim import Scenario
from .zookeeper import LockStory, ZKTree, lock_story

__all__ = [
    "ZKTree",
    "LockStory",
    "lock_story",
    "Tally",
    "read_modes",
    "stale_read_example",
    "commit_wait_grid",
    "clock_direction_grid",
    "read_repair_difference",
    "skew_script",
    "quorum_choices",
    "quorum_scenario",
    "QUORUM_SETTINGS",
    "preference_split",
    "JepsenResult",
    "jepsen_etcd",
]


@dataclass(frozen=True)
class Tally:
    """What a batch of seeded runs of one setting showed."""

    setting: str
    runs: int
    linearizable: int
    ok_fraction: float  # operations that completed ok, over all operations
    read_p50_ms: float | None
    write_p50_ms: float | None
    read_p99_ms: float | None = None
    write_p99_ms: float | None = None

    def row(self) -> str:
        def ms(v: float | None) -> str:
            return "    - " if v is None else f"{v:6.1f}"

        return (f"{self.setting:46s} linearizable in {self.linearizable:2d}/{self.runs} runs   "
                f"ok {100 * self.ok_fraction:5.1f}%   read p50/p99 {ms(self.read_p50_ms)} /{ms(self.read_p99_ms)} ms   "
                f"write p50/p99 {ms(self.write_p50_ms)} /{ms(self.write_p99_ms)} ms")


def _quantile(xs: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank, in ms) of latencies in seconds; ``None`` for no data."""
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 3) if xs else None


def _tally(setting: str, scenarios: Iterable[Scenario]) -> Tally:
    from ..history import pair_operations
    from ..properties import check_property

    runs = lin = ok = total = 0
    reads: list[float] = []
    writes: list[float] = []
    for sc in scenarios:
        r = run(sc)
        runs += 1
        lin += check_property("linearizable", r)[0]
        for op in pair_operations(r.history, use_time=True):
            total += 1
            if op.status == "ok":
                ok += 1
                (reads if op.f in ("read", "get") else writes).append(op.ret - op.call)
    return Tally(setting, runs, lin, ok / total if total else 0.0, _quantile(reads, 0.5), _quantile(writes, 0.5),
                 _quantile(reads, 0.99), _quantile(writes, 0.99))


# --- etcd and ZooKeeper reads -----------------------------------------------------------------


def read_modes(seeds: Sequence[int] = range(8), *, duration: float = 3.0, nemesis: str = "partition") -> list[Tally]:
    """Reads in four ways on a five-node Raft cluster, each over ``seeds``.

    ``local`` (etcd serializable, ZooKeeper's plain read), ``sync`` (ZooKeeper's
    sync then read), and the leader-only reads of lesson 07: through the log,
    and with the read index (etcd's linearizable read).
    """
    out = []
    settings = [
        ("local reads (serializable)", "raft-follower-reads", {"read_mode": "local"}),
        ("sync, then local read", "raft-follower-reads", {"read_mode": "sync"}),
        ("leader: read through the log", "raft", {"reads": "log"}),
        ("leader: read index (linearizable)", "raft", {"reads": "read-index"}),
    ]
    from ..protocols import get

    workload = get("raft-follower-reads").workload
    for name, protocol, options in settings:
        out.append(_tally(name, (Scenario(protocol=protocol, nodes=5, seed=s, duration=duration, nemesis=nemesis,
                                          options=options, workload=workload) for s in seeds)))
    return out


def stale_read_example(read_mode: str = "local", *, seed: int = 0, duration: float = 0.8) -> tuple[Any, Any]:
    """A short run of ``raft-follower-reads`` and its linearizability verdict (for a picture)."""
    r = run(Scenario(protocol="raft-follower-reads", nodes=5, seed=seed, duration=duration,
                     options={"read_mode": read_mode}))
    return r, check_linearizable(r.history, "kv")


# --- Spanner --------------------------------------------------------------------------------------


def skew_script(offsets: dict[str, float]) -> str:
    """A nemesis script that sets each node's clock offset at time 0."""
    return "; ".join(f"0 skew {n} {o}" for n, o in offsets.items()) or "none"


def clock_direction_grid(seeds: Sequence[int] = range(6), *, epsilon: float = 0.05,
                         duration: float = 3.0) -> list[Tally]:
    """Commit wait off and on with every clock exact, with the leader ahead and the replicas
    behind (by ``0.9 * epsilon``), and the other way round.  Reads always wait for the safe
    time; the table shows in which direction that wait is not enough without commit wait."""
    k = round(0.9 * epsilon, 4)
    settings = (("clocks exact", {}), ("leader ahead, replicas behind", {"n1": k, "n2": -k, "n3": -k}),
                ("leader behind, replicas ahead", {"n1": -k, "n2": k, "n3": k}))
    out = []
    for label, offsets in settings:
        for wait in (False, True):
            out.append(_tally(f"{label}, commit wait {'on' if wait else 'off'}", (
                Scenario(protocol="truetime", nodes=3, seed=s, duration=duration, nemesis=skew_script(offsets),
                         options={"epsilon": epsilon, "commit_wait": wait}) for s in seeds)))
    return out


def commit_wait_grid(seeds: Sequence[int] = range(6), *, epsilon: float = 0.05, duration: float = 3.0) -> list[Tally]:
    """Commit wait on and off, with clock errors inside and outside ``epsilon``.

    The leader's clock runs ahead and the replicas' behind, each by
    ``0.9 * epsilon`` (TrueTime's promise holds) or by ``3 * epsilon`` (it is
    broken: a clock is further off than the uncertainty TrueTime reports).
    """
    out = []
    for label, k in (("clocks within epsilon", 0.9), ("clocks beyond epsilon", 3.0)):
        nem = skew_script({"n1": round(k * epsilon, 4), "n2": round(-k * epsilon, 4), "n3": round(-k * epsilon, 4)})
        for wait in (False, True):
            name = f"{label}, commit wait {'on' if wait else 'off'}"
            out.append(_tally(name, (Scenario(protocol="truetime", nodes=3, seed=s, duration=duration, nemesis=nem,
                                              options={"epsilon": epsilon, "commit_wait": wait}) for s in seeds)))
    return out


# --- Dynamo and Cassandra -------------------------------------------------------------------------


def preference_split(key: str = "x", *, nodes: int = 5, n: int = 3) -> str:
    """A partition that cuts two of ``key``'s ``n`` preferred replicas off from everybody else."""
    from ..partitioning import ConsistentHash

    names = tuple(f"n{i}" for i in range(1, nodes + 1))
    prefs = ConsistentHash(names, vnodes=8).preference_list(key, n)
    cut = sorted(prefs[1:])
    rest = sorted(x for x in names if x not in cut)
    return f"{','.join(cut)}|{','.join(rest)}"


def quorum_scenario(seed: int, options: dict[str, Any], *, duration: float = 3.0) -> Scenario:
    """Five ``quorum`` nodes (``n=3``); two of key x's home replicas are cut off from 0.5 s until
    0.5 s before the end.  Four clients read and write x through any node."""
    from ..sim import Workload

    nem = f"0.5 partition {preference_split('x')}; {duration - 0.5} heal"
    workload = Workload(clients=4, keys=("x",), mix=(("read", 0.5), ("write", 0.5)), think=0.05, sticky=False)
    return Scenario(protocol="quorum", nodes=5, seed=seed, duration=duration, nemesis=nem, options=options,
                    workload=workload)


QUORUM_SETTINGS = {
    "R=1 W=1 (fast, eventual)": {"r": 1, "w": 1},
    "R=2 W=2 (R+W>N)": {"r": 2, "w": 2},
    "R=2 W=2 + read repair (ABD)": {"r": 2, "w": 2, "read-repair": True},
    "R=2 W=2 + sloppy quorum": {"r": 2, "w": 2, "sloppy": True},
}


def quorum_choices(seeds: Sequence[int] = range(6), *, duration: float = 3.0) -> list[Tally]:
    """Dynamo-style settings (:data:`QUORUM_SETTINGS`) on :func:`quorum_scenario`, over ``seeds``."""
    return [
        _tally(name, (quorum_scenario(s, opts, duration=duration) for s in seeds))
        for name, opts in QUORUM_SETTINGS.items()
    ]


def read_repair_difference(seeds: Sequence[int] = range(12), *, duration: float = 2.5) -> list[Tally]:
    """``R=2 W=2`` with and without read repair, where they differ: lesson 03's busy workload
    (five clients on one hot key, a network with a slow tail), no faults, over ``seeds``.  Without
    read repair a read can return a write that is still in progress and a later read the value
    before it; read repair writes the newest value back before answering."""
    from ..matrix import MATRIX_NETWORK, MATRIX_WORKLOAD

    settings = {"R=2 W=2, busy clients": {"r": 2, "w": 2},
                "R=2 W=2 + read repair, busy clients": {"r": 2, "w": 2, "read-repair": True}}
    return [
        _tally(name, (Scenario(protocol="quorum", seed=s, duration=duration, options=opts, network=MATRIX_NETWORK,
                               workload=MATRIX_WORKLOAD) for s in seeds))
        for name, opts in settings.items()
    ]


# --- real histories ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class JepsenResult:
    name: str
    expected: bool | None
    verdict: str
    operations: int
    seconds: float


def jepsen_etcd(limit: int | None = None, *, timeout: float = 10.0) -> list[JepsenResult] | None:
    """Check Porcupine's copies of Jepsen's etcd histories; ``None`` if the shared data is absent."""
    data = shared_data_dir()
    folder = data / "porcupine" if data is not None else None
    if folder is None or not folder.is_dir():
        return None
    expected_file = folder / "expected.json"
    expected = json.loads(expected_file.read_text()) if expected_file.is_file() else {}
    names = sorted(p.name for p in folder.glob("etcd_*.log"))[:limit]
    out = []
    for name in names:
        r = check_linearizable(load_history(folder / name), "cas-register", timeout=timeout)
        out.append(JepsenResult(name, expected.get(name), r.verdict, len(r.operations), r.seconds))
    return out

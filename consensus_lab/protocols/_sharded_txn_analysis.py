"""Judging the capstone: its history model, its checks, and the blocking picture.

The history of a run holds single-key ``read`` operations and multi-key
``txn`` operations (value: the ``(key, value)`` writes).  Three checks:

* **per-key linearizability** -- :func:`per_key_operations` splits each
  transaction into one ``write`` per key (same interval, same outcome) and the
  ``kv`` model checks every key on its own.  This is what a client of one key
  can tell.
* **atomic transactions** -- the ``txn-kv`` model (:class:`TxnKVModel`) treats
  the whole store as one object whose transactions take effect at one
  instant.  A history is linearizable for it when there is one order of all
  operations, respecting real time, in which every transaction's writes appear
  together: per-key linearizability *and* no reader ever sees a transaction on
  one shard and misses it on another (strict serializability of what the
  clients saw, for this workload).  The spec declares ``history_model="txn-kv"``, so
  ``consensus-lab run sharded-txn --check linearizable`` uses it.
* **isolation** -- :func:`check_store_isolation`: Elle's dependency graph
  (:func:`~consensus_lab.checkers.check_isolation`) over the history as
  rw-register transactions, with the version order the shards logged: blind
  writes cannot be ordered from the history alone.  It finds what the other
  checks cannot see, e.g. the write cycle (G0) of the ``ignore-conflicts`` twin.

:func:`check_store` runs all three, plus the torn-transaction check on the final
states (:func:`torn_transactions`).  :func:`in_doubt_timeline` samples how
many keys each shard holds locked for in-doubt transactions, over time -- the
picture of blocking -- and :func:`coordinator_crash` builds the scenario that
crashes a transaction's coordinator between the votes and the decision, for
either variant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from ..checkers import MODELS, check_isolation, check_linearizable
from ..checkers.elle import IsolationResult
from ..checkers.linearizability import LinearizabilityResult
from ..checkers.models import Model
from ..history import Op, Operation, pair_operations

__all__ = [
    "TxnKVModel",
    "register_model",
    "per_key_operations",
    "isolation_operations",
    "store_version_order",
    "check_store_isolation",
    "StoreCheck",
    "check_store",
    "torn_transactions",
    "in_doubt_timeline",
    "coordinator_crash",
    "CrashStory",
    "commits_after_crash",
    "battery_scenario",
    "Battery",
    "run_battery",
]

_EMPTY = (None, "")
_READS = ("read", "get")


class TxnKVModel(Model):
    """The whole store as one object: single-key reads and writes, atomic multi-key ``txn``.

    The state is a sorted tuple of ``(key, value)`` pairs.  ``txn`` with value
    ``((k1, v1), (k2, v2), ...)`` sets all its keys at one instant.  There is
    no partition (a transaction links its keys), so the search sees the whole
    history at once.
    """

    name = "txn-kv"
    _ops = ("read", "get", "write", "put", "txn")

    def init(self) -> Hashable:
        return ()

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        f = op.f
        if f in _READS:
            if op.status == "info":
                return True, state
            current = None
            for k, v in state:
                if k == op.key:
                    current = v
                    break
            out = op.output
            return (out == current or (out in _EMPTY and current in _EMPTY)), state
        if f in ("write", "put"):
            return True, _assign(state, ((op.key, op.value),))
        if f == "txn":
            return True, _assign(state, op.value)
        raise ValueError(self.validate(op))

    def is_pure(self, op: Operation) -> bool:
        return op.f in _READS

    def partition_key(self, op: Operation) -> Hashable:
        return None

    def validate(self, op: Operation) -> str | None:
        if op.f not in self._ops:
            return f"model 'txn-kv' has no operation {op.f!r}; it knows {', '.join(self._ops)}"
        if op.f == "txn" and not (isinstance(op.value, tuple) and all(isinstance(w, tuple) and len(w) == 2 for w in op.value)):
            return f"a txn needs a value ((key, value), ...), got {op.value!r}"
        return None

    def describe(self, op: Operation) -> str:
        if op.f == "txn":
            body = ",".join(f"{k}={v}" for k, v in (op.value or ()))
            return f"txn({body})"
        return super().describe(op)


def _assign(state: tuple, writes: Sequence[tuple[Any, Any]]) -> tuple:
    d = dict(state)
    for k, v in writes:
        d[k] = v
    return tuple(sorted(d.items(), key=lambda kv: repr(kv[0])))


def register_model() -> None:
    """Make ``"txn-kv"`` a model name the checkers (and ``--check linearizable``) understand."""
    MODELS.setdefault("txn-kv", TxnKVModel)


# --- the checks ------------------------------------------------------------------------------


def per_key_operations(history: Sequence[Op] | Sequence[Operation]) -> list[Operation]:
    """The history with every transaction split into one ``write`` per key.

    Each piece keeps the transaction's interval and outcome (``ok``: took
    effect; ``info``: may have; ``fail``: did not).  Operations are renumbered
    in order; the result feeds :func:`~consensus_lab.checkers.check_linearizable`
    with the ``kv`` model.
    """
    ops = list(history) if history and isinstance(history[0], Operation) else pair_operations(history)  # type: ignore[arg-type]
    out: list[Operation] = []
    for op in ops:
        if op.f == "txn":
            for k, v in op.value or ():
                out.append(dataclasses.replace(op, index=len(out), f="write", key=k, value=v, output=None))
        else:
            out.append(dataclasses.replace(op, index=len(out)))
    return out


@dataclass
class StoreCheck:
    """The capstone's verdicts on one run."""

    per_key: LinearizabilityResult
    atomic: LinearizabilityResult
    torn: list[str]
    in_doubt: list[str]
    isolation: IsolationResult | None = None

    @property
    def ok(self) -> bool:
        return self.per_key.ok and self.atomic.ok and not self.torn and (
            self.isolation is None or self.isolation.holds)

    def summary(self) -> str:
        lines = [
            f"per-key linearizable: {self.per_key.detail}",
            f"atomic transactions (txn-kv model): {self.atomic.detail}",
            "torn transactions: " + (", ".join(self.torn) if self.torn else "none"),
        ]
        if self.isolation is not None:
            lines.append(f"isolation (logged version order): {self.isolation.detail}")
        if self.in_doubt:
            lines.append("still in doubt at the end: " + ", ".join(self.in_doubt))
        return "\n".join(lines)


def check_store(run: Any, *, timeout: float = 10.0, isolation: str = "strict-serializable") -> StoreCheck:
    """Per-key linearizability, atomicity of transactions, torn transactions and
    isolation at ``isolation`` (:func:`check_store_isolation`) of one run."""
    history = run.history
    per_key = check_linearizable(per_key_operations(history), "kv", timeout=timeout)
    atomic = check_linearizable(history, TxnKVModel(), timeout=timeout)
    torn, doubt = torn_transactions(run)
    return StoreCheck(per_key, atomic, torn, doubt, check_store_isolation(run, isolation))


# --- isolation, Elle-style ------------------------------------------------------------------------


def isolation_operations(history: Sequence[Op] | Sequence[Operation]) -> list[Operation]:
    """The history as rw-register transactions for :func:`~consensus_lab.checkers.check_isolation`.

    A ``read`` becomes a transaction ``[[:r k v]]``, a ``txn`` one ``[:w k v]`` per
    write, a ``write`` ``[[:w k v]]``; each keeps its interval and outcome.  A read
    that did not complete ``ok`` told nothing and is dropped.  Reads of a key never
    written see ``nil`` (the store's empty value is the initial version).
    """
    ops = list(history) if history and isinstance(history[0], Operation) else pair_operations(history)  # type: ignore[arg-type]
    out: list[Operation] = []
    for op in ops:
        if op.f in _READS:
            if op.status != "ok":
                continue
            seen = None if op.output in _EMPTY else op.output
            mops: tuple = (("r", op.key, seen),)
            out.append(dataclasses.replace(op, index=len(out), f="txn", key=None,
                                           value=(("r", op.key, None),), output=mops))
            continue
        writes = op.value or () if op.f == "txn" else ((op.key, op.value),)
        mops = tuple(("w", k, v) for k, v in writes)
        out.append(dataclasses.replace(op, index=len(out), f="txn", key=None, value=mops,
                                       output=mops if op.status == "ok" else None))
    return out


def store_version_order(run: Any) -> dict[Any, tuple[Any, ...]]:
    """Each key's values in the order its shard installed them (from the durable write log).

    Every shard numbers the writes it installs in log order, the same number on
    every replica (:mod:`consensus_lab.protocols._writelog`); a key lives on one
    shard, so sorting its values by that number gives its version order.
    """
    from ._writelog import versions_in

    by_key: dict[Any, list[tuple[Any, Any]]] = {}
    for (k, v), version in versions_in(run.storage).items():
        by_key.setdefault(k, []).append((version, v))
    return {k: tuple(v for _, v in sorted(pairs, key=lambda p: p[0]))
            for k, pairs in sorted(by_key.items(), key=lambda kv: repr(kv[0]))}


def check_store_isolation(run: Any, level: str = "strict-serializable") -> IsolationResult:
    """Elle's isolation check on one run: the history as rw-register transactions
    (:func:`isolation_operations`) with the version order the shards logged
    (:func:`store_version_order`).  The edges ``wr`` and ``rw`` come from what
    clients read, ``ww`` from the logged order, ``rt`` from real time; a logged
    order that contradicts the reads or real time shows up as a cycle."""
    return check_isolation(isolation_operations(run.history), level, versions=store_version_order(run))


def _groups(run: Any) -> list[tuple[str, ...]]:
    for node in run.nodes.values():
        layout = getattr(node, "layout", None)
        if layout is not None:
            return [tuple(g) for g in layout.groups]
    return []


def torn_transactions(run: Any) -> tuple[list[str], list[str]]:
    """``(torn, in_doubt)`` at the end of a run, from the most advanced live replica of each shard.

    A transaction is *torn* when it is committed on one shard and aborted,
    or committed with no writes installed, on another.  It is *in doubt* on a
    shard that still holds it prepared (its keys locked): plain 2PC ends a run
    like that when the coordinator is down.
    """
    outcomes: dict[str, dict[int, str]] = {}
    doubt: list[str] = []
    for g, members in enumerate(_groups(run)):
        live = [run.nodes[n] for n in members if run.nodes.get(n) is not None]
        if not live:
            continue
        best = max(live, key=lambda node: node.last_applied)
        for kind, txid, outcome, was_prepared in best.sm.decided:
            if kind == "participant":
                outcomes.setdefault(txid, {})[g] = outcome if (outcome == "abort" or was_prepared) else "missing"
        doubt += [f"{txid} on shard {g}" for txid in best.sm.prepared]
    torn = []
    for txid, by_group in outcomes.items():
        values = set(by_group.values())
        if "missing" in values or ("commit" in values and "abort" in values):
            torn.append(f"{txid} ({', '.join(f'shard {g}: {o}' for g, o in sorted(by_group.items()))})")
    return torn, doubt


# --- blocking, over time -----------------------------------------------------------------------


def in_doubt_timeline(scenario: Any, *, step: float = 0.01) -> tuple[list[float], dict[int, list[int]], Any]:
    """Run ``scenario`` and sample, every ``step`` seconds, the keys each shard holds locked.

    Returns ``(times, locked, run)``: ``locked[g][i]`` is the number of keys of
    shard ``g`` locked by in-doubt transactions at ``times[i]``, read from the
    most advanced live replica.  While a shard has no live replica, or its
    replicas have restarted and not yet re-applied their logs as far as before,
    its locks are on disk, unchanged: the count from before is carried on.
    """
    from ..runner import build, collect

    sim, _, schedule = build(scenario)
    times: list[float] = []
    locked: dict[int, list[int]] = {}
    t = 0.0
    groups: list[tuple[str, ...]] | None = None
    high: dict[int, int] = {}  # the furthest any replica of the group has applied so far
    while t <= scenario.duration + 1e-9:
        sim.run_until(t)
        if groups is None:
            groups = _groups(type("R", (), {"nodes": sim.nodes})())
            locked = {g: [] for g in range(len(groups))}
        times.append(round(t, 6))
        for g, members in enumerate(groups):
            live = [sim.nodes[n] for n in members if sim.nodes[n] is not None]
            best = max(live, key=lambda node: node.last_applied) if live else None
            if best is not None and best.last_applied >= high.get(g, 0):
                high[g] = best.last_applied
                locked[g].append(len(best.sm.locks))
            else:  # down, or restarted and not yet caught up: the locks are on disk, unchanged
                locked[g].append(locked[g][-1] if locked[g] else 0)
        t += step
    sim.finish_clients()
    return times, locked, collect(sim, scenario, schedule)


@dataclass(frozen=True)
class CrashStory:
    """A coordinator crash, ready to run: the scenario and what it does."""

    scenario: Any
    coordinator: str
    crash_at: float
    restart_at: float
    keys: tuple[str, ...]

    def describe(self) -> str:
        return (f"{self.scenario.variant}: one transaction on keys {', '.join(self.keys)}; coordinator {self.coordinator} "
                f"crashes at t={self.crash_at:.3f} (votes in, no decision yet) and restarts at t={self.restart_at:.3f}")


def coordinator_crash(variant: str = "correct", *, seed: int = 1, restart_at: float = 2.0, duration: float = 3.0,
                      keys: tuple[str, ...] = ("x", "y", "z")) -> CrashStory:
    """One cross-shard transaction whose coordinator crashes between the votes and the decision.

    A probe run without faults (from ``seed`` on, the first seed whose client
    writes every key) finds the coordinator leader and the moment the last
    ``Vote`` arrives; the story crashes that node just then (every
    participant has voted yes, the decision is not yet in the log) and restarts
    it at ``restart_at``.  :func:`in_doubt_timeline` then shows how long the
    participants hold the transaction's keys locked.
    """
    from ..runner import run
    from ..sim import Latency, NetworkConfig, Scenario, Workload
    from .sharded_txn import SPEC

    net = NetworkConfig(latency=Latency.constant(0.01))
    writer = Workload(clients=1, keys=keys, mix=(("txn", 1.0),), max_ops=1, think=0.3, timeout=0.5,
                      deadline=duration - 0.1, start=0.45)
    for s in range(seed, seed + 100):
        base = Scenario(protocol=SPEC, seed=s, duration=duration, network=net, variant=variant, workload=writer,
                        options={"vote_timeout": 0.5})
        probe = run(base)
        txn = next((op for op in probe.history if op.type == "invoke"), None)
        if txn is None or len(txn.value) != len(keys):
            continue  # the client drew a smaller transaction: try the next seed
        votes = [ev for ev in probe.trace if ev.kind == "deliver" and type(ev.msg).__name__ == "Vote"]
        if not votes:
            continue
        coordinator, crash_at = votes[-1].node, round(votes[-1].time - 0.001, 4)
        sc = base.replace(nemesis=f"{crash_at} crash {coordinator}; {restart_at} restart {coordinator}")
        return CrashStory(sc, coordinator, crash_at, restart_at, tuple(sorted(keys)))
    raise RuntimeError(f"no seed from {seed} gives a transaction on all of {keys}")


def commits_after_crash(variant: str = "correct", *, seed: int = 4, crash_at: float = 0.8,
                        duration: float = 2.5, nodes: int = 9) -> dict[str, int]:
    """Crash each node in turn, for good, at ``crash_at``: how many transactions commit afterwards?

    One run per node, same seed and workload, so the runs differ only in who
    crashed.  Counts ``txn`` operations that complete ``ok`` after the crash.
    """
    from ..runner import run
    from ..sim import Scenario
    from .sharded_txn import WORKLOAD

    out = {}
    for i in range(1, nodes + 1):
        victim = f"n{i}"
        r = run(Scenario(protocol="sharded-txn", nodes=nodes, seed=seed, duration=duration, variant=variant,
                         nemesis=f"{crash_at} crash {victim}", workload=WORKLOAD))
        out[victim] = sum(1 for op in r.history if op.type == "ok" and op.f == "txn" and op.time > crash_at)
    return out


def battery_scenario(seed: int, variant: str = "correct", *, duration: float = 4.0, quiet: float = 1.5,
                     nemesis: str = "random") -> Any:
    """A battery run: random faults; clients stop ``quiet`` seconds before the end so the store settles."""
    from ..sim import Scenario
    from .sharded_txn import WORKLOAD

    workload = dataclasses.replace(WORKLOAD, stop=duration - quiet)
    return Scenario(protocol="sharded-txn", seed=seed, duration=duration, nemesis=nemesis, variant=variant,
                    workload=workload)


@dataclass
class Battery:
    """What a battery of seeded runs found: every seed's problems (an empty list when all is well)."""

    variant: str
    seeds: list[int]
    operations: int
    problems: list[tuple[int, str]]

    def summary(self) -> str:
        found = "; ".join(f"seed {s}: {what}" for s, what in self.problems) or "none"
        return f"{self.variant}: {len(self.seeds)} seeds, {self.operations} operations, problems: {found}"


def run_battery(variant: str = "correct", seeds: Sequence[int] = range(8), *, duration: float = 4.0,
                quiet: float = 1.5, timeout: float = 30.0) -> Battery:
    """Run :func:`battery_scenario` for every seed; check invariants, the history and the final states."""
    from ..runner import run

    problems: list[tuple[int, str]] = []
    operations = 0
    for seed in seeds:
        r = run(battery_scenario(seed, variant, duration=duration, quiet=quiet))
        operations += sum(1 for op in r.history if op.type != "invoke")
        if r.violations:
            problems.append((seed, str(r.violations[0])))
            continue
        c = check_store(r, timeout=timeout)
        if not c.per_key.ok:
            problems.append((seed, c.per_key.detail))
        elif not c.atomic.ok:
            problems.append((seed, c.atomic.detail))
        elif c.torn:
            problems.append((seed, "torn: " + ", ".join(c.torn)))
        elif c.isolation is not None and not c.isolation.holds:
            problems.append((seed, c.isolation.detail))
        elif c.in_doubt:
            problems.append((seed, "in doubt after the quiet period: " + ", ".join(c.in_doubt)))
    return Battery(variant, list(seeds), operations, problems)

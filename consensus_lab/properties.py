"""The contract's consistency properties, checked on a run.

``consensus-lab run --check PROP`` and the consistency matrix
(:mod:`consensus_lab.matrix`) both come here.  Each name maps to a checker in
:mod:`consensus_lab.checkers`, fed with what the run produced:

=======================  ==============================================================
``linearizable``         the history against the protocol's model (``history_model``)
``sequential``           Lamport's sequential consistency, key by key (see below)
``read-your-writes``,    Terry et al.'s session guarantees, one session per client
``monotonic-reads``,     process, judged in the *store's own* version order (each
``monotonic-writes``,    store records the version it gave every write in its
``writes-follow-reads``  durable storage, :mod:`consensus_lab.protocols._writelog`)
``convergent``           after a quiet period, every replica holds the same state
``no-lost-writes``       after a quiet period, every acknowledged write survives
                         (or was overwritten by a write that did not finish
                         before it began)
=======================  ==============================================================

*Quiet period.*  Eventual properties say what happens once clients stop and
the faults end, so for ``convergent`` and ``no-lost-writes`` the run's
scenario is run again with the same faults, its clients stopping at the
original end, and ``SETTLE`` more seconds to reconcile (:func:`settle`).
Everything up to the original end is the same run, event for event.

*Sequential consistency* follows from linearizability (a linearization keeps
each process's order), so the exact search only runs when the history is not
linearizable.  It is not local (two keys can each be sequentially
consistent and not together), and the exact search is exponential, so it is
checked on each key's sub-history: a violation there is a violation of the
whole (sound), while "holds" means "holds on every key".  The details say so.

A property the run cannot judge (no replica states, a search that ran out of
time) comes back ``unknown``; :func:`check_property` reports that as not
holding, so a requested check never passes by default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .history import Op, Operation, pair_operations
from .sim import ProtocolSpec, Run, Scenario, Trace

__all__ = [
    "PROPERTIES",
    "SETTLE",
    "PropertyResult",
    "check_property",
    "evaluate",
    "evaluate_all",
    "settle",
    "run_settled",
    "checked_history",
    "version_order",
    "final_states",
    "explain",
    "Explanation",
    "stale_reads",
    "indeterminate_writes",
]

PROPERTIES = (
    "linearizable",
    "sequential",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
    "convergent",
    "no-lost-writes",
)

SESSION_PROPERTIES = PROPERTIES[2:6]

#: seconds of quiet (no clients, no new faults) before replicas are compared
SETTLE = 2.0

HOLDS, VIOLATED, UNKNOWN = "holds", "violated", "unknown"

_WRITES = ("write", "put", "add", "append", "cas")


@dataclass(frozen=True)
class PropertyResult:
    """``status`` is ``holds``, ``violated`` or ``unknown``; ``detail`` one line."""

    name: str
    status: str
    detail: str

    @property
    def holds(self) -> bool:
        return self.status == HOLDS

    @property
    def violated(self) -> bool:
        return self.status == VIOLATED


def check_property(name: str, run: Run, spec: ProtocolSpec | None = None) -> tuple[bool, str]:
    """``(holds, detail)`` for one contract property (``unknown`` counts as not holding)."""
    r = evaluate(name, run, spec)
    return r.holds, r.detail


def evaluate_all(
    run: Run, spec: ProtocolSpec | None = None, names: Iterable[str] = PROPERTIES, *, timeout: float = 10.0
) -> dict[str, PropertyResult]:
    """Every named property of one run (the quiet-period run is made once and shared)."""
    return {name: evaluate(name, run, spec, timeout=timeout) for name in names}


def evaluate(name: str, run: Run, spec: ProtocolSpec | None = None, *, timeout: float = 10.0) -> PropertyResult:
    """Judge one property; raises ``ValueError`` for a name that is not in :data:`PROPERTIES`."""
    if name not in PROPERTIES:
        raise ValueError(f"unknown property {name!r} (properties: {', '.join(PROPERTIES)})")
    spec = _spec(run, spec)
    if name == "linearizable":
        return _linearizable(run, spec, timeout)
    if name == "sequential":
        return _sequential(run, spec, timeout)
    if name in SESSION_PROPERTIES:
        return _session(name, run, spec)
    return _eventual(name, run, spec)


# --- helpers --------------------------------------------------------------------------


def _spec(run: Run, spec: ProtocolSpec | None) -> ProtocolSpec:
    if spec is not None:
        return spec
    from .runner import resolve_spec

    return resolve_spec(run.scenario.protocol)


def _options(run: Run, spec: ProtocolSpec) -> dict[str, Any]:
    try:
        return spec.resolve_options(dict(run.scenario.options))
    except ValueError:
        return dict(run.scenario.options)


def checked_history(run: Run, spec: ProtocolSpec | None = None) -> tuple[str | None, list[Op]]:
    """The model name and the history as the checkers should see them.

    A CRDT store keeps a set per key, so its ``write v`` is the set model's
    ``add v``; everything else is checked as it is.
    """
    spec = _spec(run, spec)
    model = spec.history_model
    history = list(run.history)
    if spec.name == "gossip" and _options(run, spec).get("conflict") == "crdt":
        model = "set"
        history = [dataclasses.replace(op, f="add") if op.f in ("write", "put") else op for op in history]
    return model, history


def _unknown(name: str, why: str) -> PropertyResult:
    return PropertyResult(name, UNKNOWN, f"unknown: {why}")


def _linearizable(run: Run, spec: ProtocolSpec, timeout: float) -> PropertyResult:
    from .checkers import check_linearizable

    model, history = checked_history(run, spec)
    if model is None:
        return _unknown("linearizable", f"{spec.name} declares no history model")
    result = check_linearizable(history, model, timeout=timeout)
    status = {"linearizable": HOLDS, "not linearizable": VIOLATED}.get(result.verdict, UNKNOWN)
    return PropertyResult("linearizable", status, result.detail)


def _sequential(run: Run, spec: ProtocolSpec, timeout: float) -> PropertyResult:
    from .checkers import check_sequential, get_model
    from .checkers.sequential import HistoryTooLargeError

    model_name, history = checked_history(run, spec)
    if model_name is None:
        return _unknown("sequential", f"{spec.name} declares no history model")
    lin = _linearizable(run, spec, timeout)
    if lin.holds:  # a linearization is a sequentially consistent order
        return PropertyResult("sequential", HOLDS, "sequentially consistent: the history is linearizable, "
                              "and a linearization keeps every process's order")
    if model_name in ("register", "kv"):
        witness = _store_order_witness(history, version_order(run, spec))
        if witness is not None:
            return PropertyResult("sequential", HOLDS, f"sequentially consistent: the store's own write order, "
                                  f"with each read after the write it saw, is a valid order of {witness} operations")
    model = get_model(model_name)
    ops = pair_operations(history)
    by_key: dict[Hashable, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(model.partition_key(op), []).append(op)
    undecided = []
    for key, part in by_key.items():
        try:
            r = check_sequential(part, model, max_operations=10_000, timeout=timeout)
        except (TimeoutError, HistoryTooLargeError) as exc:
            undecided.append(f"key {key!r}: {exc}")
            continue
        if not r.holds:
            where = "" if key is None else f" on key {key!r}"
            return PropertyResult("sequential", VIOLATED, f"not sequentially consistent{where}: {r.detail}")
    if undecided:
        return _unknown("sequential", "; ".join(undecided))
    n = len(by_key)
    return PropertyResult(
        "sequential", HOLDS, f"sequentially consistent on each of {n} key{'s' if n != 1 else ''} ({len(ops)} operations)"
    )


def _store_order_witness(history: list, version: Any) -> int | None:
    """A sequentially consistent order built from the store's own write order, or None.

    Writes of a key go in version order; a read goes after the write whose
    value it returned and before the next write of that key (a read of nothing
    before the first); every process keeps its own order.  If that graph has no
    cycle, any topological order is legal for a register and respects program
    order: the history is sequentially consistent (a sufficient test -- a cycle
    proves nothing, and the exact search takes over).
    """
    if version is None:
        return None
    ops = [op for op in pair_operations(history) if op.status in ("ok", "info")]
    chain: dict[Hashable, list[Operation]] = {}
    writer: dict[tuple[Hashable, Any], Operation] = {}
    kept: list[Operation] = []
    for op in ops:
        if op.f in ("write", "put"):
            v = version(op.key, op.value)
            if v == _TOP or isinstance(v, _Version):
                if op.status == "ok" or isinstance(v, _Version):
                    return None  # an acknowledged write with no version, or a partial order
                continue  # an indeterminate write that never took effect
            chain.setdefault(op.key, []).append(op)
            writer[(op.key, op.value)] = op
            kept.append(op)
        elif op.f in ("read", "get"):
            if op.status == "ok":
                kept.append(op)
        else:
            return None
    succ: dict[int, list[int]] = {op.index: [] for op in kept}
    indeg = {op.index: 0 for op in kept}

    def edge(a: Operation, b: Operation) -> None:
        succ[a.index].append(b.index)
        indeg[b.index] += 1

    position: dict[int, int] = {}
    for writes in chain.values():
        writes.sort(key=lambda w: version(w.key, w.value))
        for i, w in enumerate(writes):
            position[w.index] = i
            if i:
                edge(writes[i - 1], w)
    for op in kept:
        if op.f not in ("read", "get"):
            continue
        writes = chain.get(op.key, [])
        if op.output is None:
            if writes:
                edge(op, writes[0])
            continue
        w = writer.get((op.key, op.output))
        if w is None:
            return None  # a value nobody (visibly) wrote
        edge(w, op)
        i = position[w.index]
        if i + 1 < len(writes):
            edge(op, writes[i + 1])
    by_process: dict[Hashable, list[Operation]] = {}
    for op in sorted(kept, key=lambda o: o.call):
        by_process.setdefault(op.process, []).append(op)
    for seq in by_process.values():
        for a, b in zip(seq, seq[1:], strict=False):
            edge(a, b)
    ready = [i for i, d in indeg.items() if d == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    return done if done == len(kept) else None


# --- session guarantees, in the store's version order --------------------------------------


class _Version:
    """A write's version, ordered totally (timestamps, counters) or partially
    (version vectors).  ``None`` -- a write the store never versioned, so never
    applied -- is above everything: no read saw it."""

    __slots__ = ("v", "partial")

    def __init__(self, v: Any, partial: bool) -> None:
        self.v = v
        self.partial = partial

    def __le__(self, other: _Version) -> bool:
        if other.v is None:
            return True
        if self.v is None:
            return False
        if self.partial:
            from .protocols._versions import vv_leq

            return vv_leq(self.v, other.v)
        return self.v <= other.v

    def __repr__(self) -> str:
        return f"v{self.v!r}"


class Siblings:
    """A read that returned several concurrent values at once (a version-vector store).

    The session checkers count a read's own output among the writes it saw; a
    sibling read saw each sibling (and everything before them), so it stands
    for its first sibling there: equal to it (and to any other stand-in for
    it), with the same hash -- equality stays transitive inside a set.
    """

    __slots__ = ("values",)

    def __init__(self, values: tuple) -> None:
        self.values = tuple(values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Siblings):
            other = other.values[0] if other.values else None
        return bool(self.values) and other == self.values[0]

    def __hash__(self) -> int:
        return hash(self.values[0]) if self.values else 0

    def __repr__(self) -> str:
        return "{" + "|".join(map(repr, self.values)) + "}"


_TOP = (float("inf"),)  # above every flat version tuple: a write never applied


def version_order(run: Run, spec: ProtocolSpec | None = None) -> Callable[[Hashable, Any], Any] | None:
    """``(key, value) -> version`` from the store's write log, or ``None`` when the
    protocol keeps none (the checkers then order writes by invocation time).

    Flat versions (timestamps, counters: tuples of scalars) are returned as they
    are, so the checkers compare them at C speed; a write with no version (never
    applied) is above them all.  Version vectors are wrapped to compare as a
    partial order."""
    from .protocols._writelog import versions_in

    versions = versions_in(run.storage)
    if not versions:
        return None
    if not _partial(versions):
        get = versions.get

        def flat(key: Hashable, value: Any) -> Any:
            return get((key, value), _TOP)

        return flat

    def vector(key: Hashable, value: Any) -> Any:
        if isinstance(value, Siblings):
            from .protocols._versions import vv_merge

            joined: Any = ()
            for v in value.values:
                joined = vv_merge(joined, versions.get((key, v), ()))
            return _Version(joined, True)
        return _Version(versions.get((key, value)), True)

    return vector


def _partial(versions: Mapping[Any, Any]) -> bool:
    """Version vectors are tuples of (node, count) pairs; other versions are flat tuples."""
    for v in versions.values():
        return bool(v) and isinstance(v, tuple) and all(isinstance(x, tuple) and len(x) == 2 for x in v)
    return False


def _session(name: str, run: Run, spec: ProtocolSpec) -> PropertyResult:
    from .checkers import check_session_guarantees

    results = getattr(run, "_session_results", None)
    if results is None:  # all four at once: they share the work of finding what each read saw
        model, history = checked_history(run, spec)
        version = version_order(run, spec)
        if model in ("register", "kv", "cas-register") and version is not None:
            # a read that returned siblings saw each of them and everything before them
            history = [
                dataclasses.replace(op, value=Siblings(op.value))
                if op.type == "ok" and op.f in ("read", "get") and isinstance(op.value, tuple)
                else op
                for op in history
            ]
        results = check_session_guarantees(history, version=version)
        run._session_results = results  # type: ignore[attr-defined]
    result = results[name]
    return PropertyResult(name, HOLDS if result.holds else VIOLATED, result.detail)


# --- eventual properties: after a quiet period ----------------------------------------------


def settle(run: Run, spec: ProtocolSpec | None = None, seconds: float = SETTLE) -> Run:
    """The same run, but clients stop at its end and the system gets ``seconds`` of quiet.

    The faults are the run's own schedule (nothing new happens in the quiet
    period).  The result is cached on the run.
    """
    cached = getattr(run, "_settled", None)
    if cached is not None and cached[0] == seconds:
        return cached[1]
    spec = _spec(run, spec)
    sim, sc, workload, _ = _simulation(run.scenario, spec, run.schedule)
    sim.run_until(sc.duration + seconds)
    sim.finish_clients()
    from .runner import collect

    settled = collect(sim, sc.replace(duration=sc.duration + seconds, workload=workload), list(run.schedule))
    run._settled = (seconds, settled)  # type: ignore[attr-defined]
    return settled


def run_settled(scenario: Scenario, spec: ProtocolSpec | None = None, seconds: float = SETTLE) -> Run:
    """``run(scenario)`` and its quiet-period continuation (:func:`settle`) from one
    simulation: the run is what ``consensus_lab.run(scenario)`` returns (same
    history and final states), and ``settle(run)`` is ready without a second run."""
    import copy

    from .history import Op
    from .runner import collect

    spec = _spec_of(scenario, spec)
    sim, sc, workload, schedule = _simulation(scenario, spec, None)
    sim.run_until(sc.duration)
    history = list(sim.history)
    for c in sim._clients:  # what finish_clients() would add at the end of a plain run
        if c.op is not None:
            f, key, value = c.op
            history.append(Op(c.process, "info", f, key, value, sim.now))
    first = Run(
        scenario=scenario,
        trace=Trace(list(sim.trace._rows)),  # type: ignore[attr-defined]
        history=history,
        violations=list(sim.violations),
        stats=sim.summary_stats(),
        goals=dict(sim.goals),
        schedule=list(schedule),
        nodes=copy.deepcopy(dict(sim.nodes)),
        storage={n: st.snapshot() for n, st in sim.storage.items()},
    )
    sim.run_until(sc.duration + seconds)
    sim.finish_clients()
    settled = collect(sim, sc.replace(duration=sc.duration + seconds, workload=workload), list(schedule))
    first._settled = (seconds, settled)  # type: ignore[attr-defined]
    return first


def _spec_of(scenario: Scenario, spec: ProtocolSpec | None) -> ProtocolSpec:
    if spec is not None:
        return spec
    from .runner import resolve_spec

    return resolve_spec(scenario.protocol)


def _simulation(scenario: Scenario, spec: ProtocolSpec, schedule: list | None) -> tuple[Any, Scenario, Any, list]:
    """A Simulation of ``scenario`` whose clients stop at its end (for the quiet period)."""
    from .runner import ScenarioError, make_schedule, node_names
    from .sim import Simulation

    sc = scenario
    options = spec.resolve_options(dict(sc.options))
    n = sc.nodes if sc.nodes is not None else spec.default_nodes
    if sc.variant not in spec.variants:
        raise ScenarioError(f"{spec.name} has no variant {sc.variant!r}")
    nodes = node_names(n)
    if schedule is None:
        schedule = make_schedule(sc, nodes, spec.random_faults, spec.random_tuning)
    workload = dataclasses.replace(sc.workload if sc.workload is not None else spec.workload, stop=sc.duration)
    variant = sc.variant

    def make_node(nid: str, cluster: tuple[str, ...]):
        return spec.make_node(nid, cluster, options, variant)

    sim = Simulation(
        make_node,
        nodes,
        seed=sc.seed,
        network=sc.network,
        workload=workload,
        schedule=schedule,
        invariants=spec.invariants(options, variant),
    )
    return sim, sc, workload, list(schedule)


def final_states(run: Run, spec: ProtocolSpec | None = None) -> dict[str, Any]:
    """Each live replica's state (``spec.replica_state``) as a key -> value mapping."""
    spec = _spec(run, spec)
    if spec.replica_state is None:
        raise ValueError(f"{spec.name} declares no replica_state: its convergence cannot be checked")
    out = {}
    for nid, node in run.nodes.items():
        if node is None:
            continue
        state = spec.replica_state(node)
        if isinstance(state, tuple) and all(isinstance(x, tuple) and len(x) == 2 for x in state):
            state = dict(state)
        out[nid] = state
    return out


def _converged(states: dict[str, Any], run: Run, check: Callable, writes: list) -> Any:
    """Compare whole states -- or, when each key lives on only some nodes
    (nodes offer ``replicas_of(key)``), each key on its own replicas."""
    live = [n for n in run.nodes.values() if n is not None]
    if not live or not hasattr(live[0], "replicas_of") or not all(isinstance(s, Mapping) for s in states.values()):
        return check(states)
    keys = sorted({k for s in states.values() for k in s} | {op.key for op in writes}, key=repr)
    first = None
    for key in keys:
        group = {nid: {key: states[nid].get(key)} for nid in live[0].replicas_of(key) if nid in states}
        if not group:
            continue
        result = check(group)
        if not result.holds:
            return result
        first = first or result
    return first if first is not None else check(states)


def _eventual(name: str, run: Run, spec: ProtocolSpec) -> PropertyResult:
    from .checkers import check_convergence, check_no_lost_writes

    if spec.replica_state is None:
        return _unknown(name, f"{spec.name} declares no replica_state")
    settled = settle(run, spec)
    states = final_states(settled, spec)
    down = [nid for nid, node in settled.nodes.items() if node is None]
    if not states:
        return _unknown(name, "no replica is up after the quiet period")
    _, history = checked_history(settled, spec)
    writes = [op for op in pair_operations(history) if op.f in _WRITES and op.status == "ok"]
    if name == "convergent":
        result = _converged(states, settled, check_convergence, writes)
    else:
        result = check_no_lost_writes(states, writes)
    note = f" (down at the end, not compared: {', '.join(down)})" if down else ""
    return PropertyResult(name, HOLDS if result.holds else VIOLATED, result.detail + note)


# --- evidence for pictures ---------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """A verdict with the operations that show it, in simulated time.

    ``ops`` are the operations a reader should look at (for a violation: the
    ones the counterexample names); ``start``/``end`` a window around them for
    :func:`consensus_lab.viz.spacetime.plot_spacetime`.
    """

    name: str
    status: str
    detail: str
    ops: tuple[Operation, ...] = ()
    start: float | None = None
    end: float | None = None


def explain(name: str, run: Run, spec: ProtocolSpec | None = None, *, margin: float = 0.05) -> Explanation:
    """:func:`evaluate` plus the operations involved and a time window around them."""
    import re

    result = evaluate(name, run, spec)
    timed = pair_operations(run.history, use_time=True)
    picked: list[int] = []
    if result.violated:
        if name in ("linearizable", "sequential"):
            from .checkers import check_linearizable

            model, history = checked_history(run, spec)
            lin = check_linearizable(history, model)
            picked = _around_unplaceable(lin.unplaceable, timed)
        elif name in SESSION_PROPERTIES:
            picked = [int(x) for x in re.findall(r"op #(\d+)", result.detail.split(" (and ")[0])]
        else:
            picked = [int(x) for x in re.findall(r"op #(\d+)", result.detail)][:1]
            if name == "no-lost-writes" and picked:
                picked += _survivor(timed[picked[0]], settle(run, spec), spec, timed)
    ops = tuple(sorted({timed[i] for i in picked if 0 <= i < len(timed)}, key=lambda o: o.call))
    if not ops:
        return Explanation(name, result.status, result.detail)
    finite = [t for op in ops for t in (op.call, op.ret) if t != float("inf")]
    return Explanation(name, result.status, result.detail, ops, max(0.0, min(finite) - margin), max(finite) + margin)


def _survivor(lost: Operation, settled: Run, spec: ProtocolSpec | None, timed: list[Operation]) -> list[int]:
    """The write whose value the replicas kept instead of ``lost``."""
    for state in final_states(settled, spec).values():
        value = state.get(lost.key) if isinstance(state, Mapping) else None
        for w in timed:
            if w.key == lost.key and w.f in _WRITES and w.value == value:
                return [w.index]
    return []


def _around_unplaceable(unplaceable: list[int], timed: list[Operation]) -> list[int]:
    """An operation no order can place, the last operation on its key that had
    finished before it began (what it contradicts), and the write that one saw."""
    picked = []
    for i in unplaceable[:1]:
        u = timed[i]
        picked.append(i)
        before = [op for op in timed if op.key == u.key and op.status == "ok" and op.ret < u.call]
        if not before:
            continue
        last = max(before, key=lambda op: op.ret)
        picked.append(last.index)
        value = last.output if last.f in ("read", "get") else last.value
        for w in timed:
            if w.key == u.key and w.f in _WRITES and w.value == value and w.index != last.index:
                picked.append(w.index)
                break
    return picked


def stale_reads(history: list[Op]) -> list[tuple[Operation, Operation]]:
    """Reads that returned a value older than a write that had already *finished*
    before the read began: ``(read, the write it missed)`` pairs, in time order.

    "Older" is real time: the value read was written by a write that finished
    before the missed one started (or the key was never written)."""
    ops = pair_operations(history, use_time=True)
    writes = [op for op in ops if op.f in _WRITES and op.status == "ok"]
    by_value = {(w.key, w.value): w for w in writes}
    out = []
    for r in ops:
        if r.f not in ("read", "get") or r.status != "ok" or isinstance(r.output, tuple):
            continue
        done = [w for w in writes if w.key == r.key and w.ret < r.call]
        if not done:
            continue
        latest = max(done, key=lambda w: w.ret)
        seen = by_value.get((r.key, r.output))
        if r.output is None or (seen is not None and seen.ret < latest.call):
            out.append((r, latest))
    return out


def indeterminate_writes(history: list[Op]) -> list[tuple[Operation, bool]]:
    """Writes whose client never learned the outcome (``info``), each with whether
    some read later returned its value -- it took effect after all."""
    ops = pair_operations(history, use_time=True)
    read_values = {(op.key, op.output) for op in ops if op.f in ("read", "get") and op.status == "ok"}
    return [(w, (w.key, w.value) in read_values) for w in ops if w.f in _WRITES and w.status == "info"]

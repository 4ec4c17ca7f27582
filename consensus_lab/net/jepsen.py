"""A Jepsen-style test of real processes: clients, a nemesis, a recorded history, a verdict.

:func:`run_jepsen` starts a :class:`~consensus_lab.net.cluster.Cluster`, runs
``clients`` client processes that draw operations from the protocol's workload
(the simulator's generator) for ``time_limit`` seconds while a nemesis injects
faults into the real processes, then ends everything and judges:

* the **history** (every invoke and its ok/fail/info, in real-time order) with
  the linearizability checker, for protocols whose spec names a history model;
* the **node logs**, for the rules a client cannot see (Raft: at most one leader
  per term; a node votes for at most one candidate per term, restarts included).

Everything lands in the run directory: ``history.edn`` (Jepsen's EDN, nemesis
events included), ``history.json``, ``nemesis.log``, ``result.json`` and one
folder per node (its journal, ``node.log``, stdout and stderr).  A real run
cannot be replayed -- the seed fixes the operations and the fault schedule, not
the operating system's timing -- which is the point of the lesson: the simulator
finds the bug, a real run shows that it is real.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import protocols
from ..history import Op, history_to_json
from ..sim.clients import Workload, generate_op
from ..sim.trace import Trace
from .cluster import Cluster, ProcessCluster

__all__ = ["NEMESES", "JepsenResult", "run_jepsen", "node_log_violations", "history_edn"]

NEMESES = ("kill", "pause", "partition", "clock")


@dataclass
class JepsenResult:
    """What a real run produced, and the verdicts on it."""

    protocol: str
    variant: str
    nodes: int
    seed: int
    run_dir: Path
    history: list[Op]
    faults: list[dict[str, Any]]
    verdict: str  # "linearizable" | "not linearizable" | "unknown" | "not checked"
    violations: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    trace: Trace | None = None  # messages, faults (when the nodes recorded their messages)

    @property
    def ok(self) -> bool:
        return not self.violations and self.verdict in ("linearizable", "not checked")

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "variant": self.variant, "nodes": self.nodes,
                "seed": self.seed, "run_dir": str(self.run_dir), "verdict": self.verdict,
                "violations": self.violations, "faults": len(self.faults), "stats": self.stats}

    def summary(self) -> str:
        ops = self.stats.get("ops", {})
        bad = "; ".join(self.violations) if self.violations else "no violation in the node logs"
        return (f"{self.protocol} ({self.variant}), {self.nodes} real processes, seed {self.seed}: "
                f"{ops.get('ok', 0)} ok, {ops.get('fail', 0)} fail, {ops.get('info', 0)} info, "
                f"{len(self.faults)} faults; history {self.verdict}; {bad}")


# --- the nemesis ------------------------------------------------------------------------------


class _Nemesis:
    """Draws faults from ``kinds`` with its own seeded generator and undoes each one."""

    def __init__(self, cluster: ProcessCluster, kinds: Sequence[str], rng: random.Random,
                 log: Callable[[str, str, Any], None]) -> None:
        self.c, self.kinds, self.rng, self.log = cluster, list(kinds), rng, log

    def _targets(self) -> list[str]:
        names = self.c.names
        size = self.rng.choice([1, 1, len(names) // 2 + 1, len(names)])  # one, a majority, all
        return sorted(self.rng.sample(names, min(size, len(names))))

    async def run(self, stop_at: float) -> None:
        while time.monotonic() < stop_at:
            await asyncio.sleep(self.rng.uniform(0.2, 0.8))
            if time.monotonic() >= stop_at or not self.kinds:
                break
            kind = self.rng.choice(self.kinds)
            hold = self.rng.uniform(0.2, 1.0)
            if kind == "kill":
                targets = self._targets()
                for n in targets:
                    self.c.kill(n)
                self.log("kill", targets)
                await asyncio.sleep(hold)
                self.log("start", targets)
                await self.c.restart(*targets)
            elif kind == "pause":
                targets = self._targets()
                for n in targets:
                    self.c.pause(n)
                self.log("pause", targets)
                await asyncio.sleep(hold)
                for n in targets:
                    self.c.resume(n)
                self.log("resume", targets)
            elif kind == "partition":
                names = list(self.c.names)
                self.rng.shuffle(names)
                cut = self.rng.randrange(1, len(names))
                groups = [sorted(names[:cut]), sorted(names[cut:])]
                await self.c.partition(groups)
                self.log("partition", groups)
                await asyncio.sleep(hold)
                await self.c.heal()
                self.log("heal", None)
            elif kind == "clock":
                n = self.rng.choice(self.c.names)
                offset = round(self.rng.uniform(-0.5, 0.5), 3)
                await self.c.set_skew(n, offset)
                self.log("clock", [n, offset])
        await self.settle()

    async def leader(self) -> str | None:
        """The live node that says it leads the highest term (None if none does)."""
        best: tuple[int, str] | None = None
        for n in self.c.names:
            if not self.c.alive(n) or n in self.c.paused or not hasattr(self.c, "control"):
                continue
            st = await self.c.control(n, "status")  # type: ignore[attr-defined]
            view = (st or {}).get("view", {})
            if view.get("role") == "leader" and (best is None or view.get("term", 0) > best[0]):
                best = (view.get("term", 0), n)
        return None if best is None else best[1]

    async def _resolve(self, target: Any) -> list[str]:
        if target in (None, "all"):
            return list(self.c.names)
        if target == "leader":
            who = await self.leader()
            return [] if who is None else [who]
        return [target] if isinstance(target, str) else list(target)

    async def script(self, start: float, steps: Sequence[tuple[float, str, Any]]) -> None:
        """Scripted faults: ``(seconds after the start, action, target)`` in time order.

        Actions: ``kill``, ``start``, ``pause``, ``resume`` (target: a node, a list,
        ``"leader"`` or ``"all"``), ``partition`` (target: a list of groups, or one
        node / ``"leader"`` cut off from the rest), ``heal``, ``clock`` (target:
        ``(node, offset)``).  What a step did is logged with the node names it hit.
        """
        for at, action, target in steps:
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            if action == "partition":
                if isinstance(target, str):
                    alone = await self._resolve(target)
                    groups = [alone, [n for n in self.c.names if n not in alone]]
                else:
                    groups = [list(g) for g in target]
                await self.c.partition(groups)
                self.log("partition", groups)
            elif action == "heal":
                await self.c.heal()
                self.log("heal", None)
            elif action == "clock":
                node, offset = target
                await self.c.set_skew(node, offset)
                self.log("clock", [node, offset])
            else:
                nodes = await self._resolve(target)
                if action == "kill":
                    for n in nodes:
                        self.c.kill(n)
                elif action == "start":
                    nodes = [n for n in nodes if not self.c.alive(n)]
                    self.log(action, nodes)
                    await self.c.restart(*nodes)
                    continue
                elif action == "pause":
                    for n in nodes:
                        self.c.pause(n)
                elif action == "resume":
                    for n in nodes:
                        self.c.resume(n)
                else:
                    raise ValueError(f"unknown scripted action {action!r}")
                self.log(action, nodes)

    async def settle(self) -> None:
        """Undo everything: heal, resume, restart, clocks back to true time."""
        for n in self.c.names:
            self.c.resume(n)
        await self.c.heal()
        await self.c.restart(*self.c.names)
        for n in self.c.names:
            if self.c.skew[n]:
                await self.c.set_skew(n, 0.0)


# --- the run ----------------------------------------------------------------------------------


async def _drive(cluster: ProcessCluster, workload: Workload, *, clients: int, time_limit: float,
                 kinds: Sequence[str], seed: int, progress: Callable[[float], None] | None,
                 schedule: Sequence[tuple[float, str, Any]] | None = None) -> tuple[list[Op], list[dict]]:
    history: list[Op] = []
    faults: list[dict[str, Any]] = []
    written: list[Any] = []
    counter = [0]
    next_process = [clients]
    start = time.monotonic()
    stop_at = start + time_limit

    def now() -> float:
        return round(time.monotonic() - cluster.epoch, 6)

    def log_fault(f: str, value: Any, *, _t: Callable[[], float] = now) -> None:
        faults.append({"process": "nemesis", "type": "info", "f": f, "value": value, "time": _t()})

    async def client_loop(k: int) -> None:
        rng = random.Random(f"{seed}/client/{k}")
        process = k
        cl = cluster.client(f"c{process}", timeout=workload.timeout, deadline=workload.deadline,
                            first=cluster.names[k % len(cluster.names)])
        try:
            while time.monotonic() < stop_at:
                counter[0] += 1
                f, key, value = generate_op(workload, rng, counter[0], written)
                if f not in ("read", "get"):
                    written.append(value if f != "cas" else value[1])
                history.append(Op(process, "invoke", f, key, value, now()))
                typ, out = await cl.call(f, key, value)
                history.append(Op(process, typ, f, key,
                                  out if (typ == "ok" and f in ("read", "get")) else value, now()))
                if typ == "info":  # as in Jepsen: this process is spent, a fresh one takes over
                    cl.close()
                    process = next_process[0]
                    next_process[0] += 1
                    cl = cluster.client(f"c{process}", timeout=workload.timeout,
                                        deadline=workload.deadline)
                await asyncio.sleep(rng.uniform(0, 2 * workload.think))
        finally:
            cl.close()

    async def ticker() -> None:
        while time.monotonic() < stop_at:
            if progress is not None:
                progress(min(1.0, (time.monotonic() - start) / time_limit))
            await asyncio.sleep(0.25)
        if progress is not None:
            progress(1.0)

    nemesis = _Nemesis(cluster, kinds, random.Random(f"{seed}/nemesis"), log_fault)

    async def faults_then_settle() -> None:
        if schedule is None:
            await nemesis.run(stop_at)
        else:
            await nemesis.script(start, schedule)
            await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
            await nemesis.settle()

    await asyncio.gather(faults_then_settle(), ticker(), *(client_loop(k) for k in range(clients)))
    return history, faults


def run_jepsen(
    protocol: str,
    *,
    variant: str = "correct",
    nodes: int = 3,
    time_limit: float = 10.0,
    clients: int = 3,
    nemesis: Sequence[str] | None = None,
    seed: int = 0,
    run_dir: str | Path,
    disk: str = "fsync",
    flush_interval: float = 1.0,
    options: Mapping[str, Any] | None = None,
    check_timeout: float = 30.0,
    think: float | None = None,
    schedule: Sequence[tuple[float, str, Any]] | None = None,
    record_messages: bool = False,
    progress: bool | Callable[[float], None] | None = None,
) -> JepsenResult:
    """Start ``nodes`` real processes, run clients and the nemesis, check what happened.

    ``protocol`` is a protocol name or ``"etcd"`` (a real etcd cluster, when installed);
    ``nemesis`` lists fault kinds (default: every kind the cluster supports);
    ``think`` replaces the workload's mean pause between a client's operations;
    ``schedule`` replaces the random nemesis by scripted faults (see ``_Nemesis.script``);
    ``record_messages`` has the nodes log their messages, so ``result.trace`` can be drawn;
    ``progress=True`` shows a progress bar (tqdm: a widget in a notebook, a line in a terminal),
    a callable gets the fraction of the run done.
    """
    from ..checkers.linearizability import check_linearizable

    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ValueError(f"run directory {run_dir} is not empty (the nodes would start from an "
                         "earlier run's data); give a new or empty directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    cluster: ProcessCluster
    if protocol == "etcd":
        from .etcd import EtcdCluster

        if variant != "correct":
            raise ValueError("etcd has no variants here (it is the real thing)")
        cluster = EtcdCluster(nodes, run_dir)
        spec = protocols.get("raft")  # the same operation mix as our Raft key-value service
    else:
        cluster = Cluster(protocol, nodes, run_dir, variant=variant, options=options, seed=seed,
                          disk=disk, flush_interval=flush_interval, record=record_messages)
        spec = cluster.spec
    nemesis = list(cluster.faults if nemesis is None else nemesis)
    bad = [k for k in nemesis if k not in cluster.faults]
    if bad:
        raise ValueError(f"{protocol} cannot be given the nemesis {', '.join(bad)} here "
                         f"(its faults: {', '.join(cluster.faults)})")

    async def go() -> tuple[list[Op], list[dict]]:
        cluster.start()
        await cluster.wait_ready()
        workload = spec.workload if think is None else dataclasses.replace(spec.workload, think=think)
        return await _drive(cluster, workload, clients=clients, time_limit=time_limit, kinds=nemesis,
                            seed=seed, progress=progress or None, schedule=schedule)

    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=100, desc=f"{protocol} on {nodes} processes", unit="%",
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

        def progress(frac: float) -> None:
            bar.n = round(100 * frac)
            bar.refresh()

    try:
        with cluster:
            history, faults = _run_async(go)
    finally:
        if bar is not None:
            bar.close()
    verdict = "not checked"
    model = spec.history_model
    if model is not None and history:
        verdict = check_linearizable(history, model, timeout=check_timeout).verdict
    violations = node_log_violations(protocol, run_dir, cluster.names)
    counts = defaultdict(int)
    for op in history:
        if op.type != "invoke":
            counts[op.type] += 1
    result = JepsenResult(protocol, variant, nodes, seed, run_dir, history, faults, verdict,
                          violations, {"ops": dict(counts), "faults": len(faults)},
                          trace_from_logs(run_dir, cluster.names, faults) if record_messages else None)
    _write(result)
    return result


def _run_async(make: Callable[[], Any]) -> Any:
    """Run the coroutine ``make()`` to its end, also where an event loop already runs (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


# --- what the node logs show ------------------------------------------------------------------


def _read_logs(run_dir: Path, names: Sequence[str]) -> list[dict[str, Any]]:
    events = []
    for n in names:
        path = run_dir / n / "node.log"
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by kill -9
    return events


def node_log_violations(protocol: str, run_dir: str | Path, names: Sequence[str]) -> list[str]:
    """Rules checked from the nodes' own logs.

    For every protocol: a node that raised.  For Raft, the rules a client cannot
    see: at most one leader per term (election safety); a node votes for at most
    one candidate per term; and what Figure 2 calls persistent state survives a
    restart -- the term never goes back, a vote cast in the current term is not
    forgotten, and the log keeps every entry the node knew to be committed.
    """
    events = _read_logs(Path(run_dir), names)
    out = [f"node {e['node']} raised in {e.get('handler')}: {e.get('error')}"
           for e in events if e.get("event") == "error"]
    if protocol not in ("raft", "raft-follower-reads"):
        return out
    leaders: dict[int, set[str]] = defaultdict(set)
    votes: dict[tuple[str, int], set[str]] = defaultdict(set)
    for e in events:
        if e.get("event") != "view" or not isinstance(e.get("term"), int):
            continue
        if e.get("role") == "leader":
            leaders[e["term"]].add(e["node"])
        if e.get("vote") is not None:
            votes[(e["node"], e["term"])].add(e["vote"])
    for term, who in sorted(leaders.items()):
        if len(who) > 1:
            out.append(f"election safety: {' and '.join(sorted(who))} both led term {term}")
    for (node, term), whom in sorted(votes.items()):
        if len(whom) > 1:
            out.append(f"one vote per term: {node} voted for {' and '.join(sorted(whom))} in term {term}")
    for n in names:
        out += _durability(n, [e for e in events if e.get("node") == n])
    return out


def _durability(node: str, events: list[dict[str, Any]]) -> list[str]:
    """Raft's persistent state across one node's restarts (its log, in order)."""
    out: list[str] = []
    before: dict[str, Any] | None = None  # the last view before the restart
    committed = 0  # the highest commit index the node ever knew
    restarted = False
    for e in events:
        if e.get("event") == "start":
            restarted = before is not None
            continue
        if e.get("event") != "view":
            continue
        if restarted and before is not None:
            restarted = False
            t = e.get("t")
            if e.get("term", 0) < before.get("term", 0):
                out.append(f"persistent state: {node}'s term went back from {before['term']} to "
                           f"{e.get('term')} when it restarted at {t} s")
            elif (e.get("term") == before.get("term") and before.get("vote") is not None
                  and e.get("vote") != before["vote"]):
                out.append(f"persistent state: {node} forgot its vote for {before['vote']} in term "
                           f"{before['term']} when it restarted at {t} s")
            if e.get("log_terms_len", committed) < committed:
                out.append(f"persistent state: {node} restarted at {t} s with {e.get('log_terms_len')} "
                           f"log entries, but it knew {committed} to be committed")
        before = e
        committed = max(committed, e.get("commit_index") or 0)
    return out


def trace_from_logs(run_dir: str | Path, names: Sequence[str], faults: Sequence[Mapping[str, Any]]) -> Trace:
    """A trace (as the simulator records one) built from the nodes' message logs and the faults.

    Sends, receipts and link-filter drops come from each node's ``node.log``;
    kills, restarts, partitions and heals from the nemesis.  Times are seconds
    on the shared monotonic clock, so the space-time diagram of
    :func:`consensus_lab.viz.plot_spacetime` can draw it.
    """
    ids: dict[str, int] = {}
    rows: list[tuple] = []
    for e in _read_logs(Path(run_dir), names):
        kind = {"send": "send", "recv": "deliver", "drop": "drop"}.get(e.get("event", ""))
        if kind is None or e.get("id") is None:
            continue
        mid = ids.setdefault(str(e["id"]), len(ids))
        info = "partition" if kind == "drop" else None
        rows.append((e["t"], kind, e["node"], e.get("peer"), mid, {"type": e.get("type")}, info))
    for f in faults:
        kind = {"kill": "crash", "start": "restart", "partition": "partition", "heal": "heal"}.get(f["f"])
        if kind in ("crash", "restart"):
            rows += [(f["time"], kind, n, None, None, None, None) for n in f["value"] or ()]
        elif kind is not None:
            rows.append((f["time"], kind, None, None, None, None, f["value"]))
    rows.sort(key=lambda r: (r[0], r[1] != "send"))
    return Trace(rows)


# --- files ------------------------------------------------------------------------------------


def _edn(v: Any) -> str:
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + " ".join(_edn(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_edn(k)} {_edn(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def history_edn(history: Sequence[Op], faults: Sequence[Mapping[str, Any]] = ()) -> str:
    """The history as Jepsen writes it: one EDN map a line, nemesis events included."""
    rows = [(op.time, 0, f"{{:process {op.process}, :type :{op.type}, :f :{op.f}, "
                         f":key {_edn(op.key)}, :value {_edn(op.value)}, :time {int(op.time * 1e9)}}}")
            for op in history]
    rows += [(f["time"], 1, f"{{:process :nemesis, :type :info, :f :{f['f']}, "
                            f":value {_edn(f['value'])}, :time {int(f['time'] * 1e9)}}}")
             for f in faults]
    rows.sort(key=lambda r: (r[0], r[1]))
    return "\n".join(r[2] for r in rows) + "\n"


def _write(r: JepsenResult) -> None:
    (r.run_dir / "history.edn").write_text(history_edn(r.history, r.faults))
    (r.run_dir / "history.json").write_text(history_to_json(r.history))
    (r.run_dir / "nemesis.log").write_text("".join(json.dumps(f) + "\n" for f in r.faults))
    (r.run_dir / "result.json").write_text(json.dumps(r.to_dict(), indent=1, sort_keys=True))

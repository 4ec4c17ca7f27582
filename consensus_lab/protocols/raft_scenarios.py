"""The Raft battery: the well-known lab tests as seeded, simulated scenarios.

Each :class:`RaftScenario` is data: a cluster size, a workload, a network, and
a fault *timeline* such as ::

    "1 isolate leader:L1; 1.8 expect leader; 2 heal; 2.6 expect leader"

Timelines use the simulator's script words (``crash``, ``restart``,
``partition G|H``, ``cut A>B``, ``heal``, ``loss P``) plus ``isolate N`` and
``cut A<>B`` (both directions: a *partial* partition when others still hear
both), and
node names may be *symbols* resolved when the entry runs, as the lab's tester
does ("disconnect the leader"):

``leader``     the live leader with the highest term
``follower``   a live node that the leader can reach (chosen by the seed)
``any``        any live node not yet named in the entry
``rest``       (in a partition) every node not named in the other groups
``all``        (crash/restart) every node
``X:NAME``     binds what ``X`` resolved to; ``$NAME`` uses it later

``expect`` entries check the cluster: ``leader`` (a leader that reaches a
majority), ``same-leader`` (the same leader and term as the last check),
``no-leader``, ``progress W`` / ``no-progress W`` (an operation completed, or
none did, in the last W seconds), ``agree`` (every live node has the same
commit index and the same key-value state), ``installed`` (some follower
installed a snapshot) and ``complete`` (every operation got a definite answer).
Raft promises liveness only with high probability, so the *liveness*
expectations (``leader``, ``progress``, ``agree``, ``installed``) wait for up
to 1.5 s, until the next fault, as the lab's tester waits for a leader or an
agreement; the others are strict and checked at once.

A :class:`Churn` adds random faults decided as the run goes, like the lab's
figure-8 and churn tests: at random moments strike the leader (or any node),
by a crash or by cutting it off, and bring it back a little later.

Running a scenario records the faults it applied as a plain script, so the
:class:`~consensus_lab.sim.Run` it returns carries a :class:`Scenario` that
``consensus_lab.run`` replays to the same trace, byte for byte.

The battery also keeps, for every broken twin, a seed on which it fails
(:data:`KEPT_SEEDS`), and a few helpers that the Raft lesson uses to look at
runs: :func:`vote_tally`, :func:`states_at`, :func:`commit_trials`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..runner import build, collect
from ..sim import Latency, NetworkConfig, Run, Scenario, Workload
from ._raft_driver import Driver, TimelineError

__all__ = [
    "Churn",
    "RaftScenario",
    "BATTERY",
    "KEPT_SEEDS",
    "TimelineError",
    "scenario_names",
    "get_scenario",
    "run_scenario",
    "check_linearizable_run",
    "find_failure",
    "failing_seeds",
    "kept_run",
    "KEPT_VIOLATIONS",
    "violation_evidence",
    "run_failed",
    "vote_tally",
    "terms_without_leader",
    "duplicate_entries",
    "states_at",
    "moment_when",
    "commit_trials",
    "majority_probability",
    "product_probability",
]

@dataclass(frozen=True)
class Churn:
    """Random faults decided while the run goes (the lab's figure-8 and churn loops).

    Between ``start`` and ``stop``, after a gap drawn from ``gap``, strike with
    probability ``p``: pick the leader (``target="leader"``) or any node
    (``"any"``), crash it or cut it off (``fault`` is ``crash``, ``isolate``
    or ``both``) and bring it back after a time drawn from ``down``.  Never
    leave fewer than ``min_up`` nodes up and connected (default: a majority).
    With ``after_command`` the leader is struck only just after it took a
    command it has not committed yet (the lab's figure-8 test crashes the
    leader right after ``Start()``); the churn looks every 4 ms for that moment.
    At ``stop`` everything is restarted and healed.
    """

    start: float
    stop: float
    gap: tuple[float, float] = (0.05, 0.3)
    target: str = "leader"
    fault: str = "crash"
    p: float = 0.9
    down: tuple[float, float] = (0.05, 0.5)
    min_up: int | None = None
    after_command: bool = False

    def __post_init__(self) -> None:
        if self.target not in ("leader", "any"):
            raise ValueError(f"churn target must be 'leader' or 'any', got {self.target!r}")
        if self.fault not in ("crash", "isolate", "both"):
            raise ValueError(f"churn fault must be 'crash', 'isolate' or 'both', got {self.fault!r}")


@dataclass(frozen=True)
class RaftScenario:
    """One named scenario of the battery (see the module docstring)."""

    name: str
    lab_test: str
    about: str
    nodes: int = 3
    duration: float = 4.0
    timeline: str = ""
    churn: Churn | None = None
    workload: Workload = field(default_factory=lambda: Workload(clients=1))
    network: NetworkConfig = field(default_factory=NetworkConfig)
    options: tuple[tuple[str, Any], ...] = ()

    def base(self, seed: int, variant: str = "correct", options: dict | None = None) -> Scenario:
        """The scenario without faults (the driver adds them as it runs)."""
        opts = dict(self.options)
        opts.update(options or {})
        return Scenario(
            protocol="raft",
            nodes=self.nodes,
            seed=seed,
            duration=self.duration,
            network=self.network,
            workload=self.workload,
            variant=variant,
            options=opts,
        )

    def run(self, seed: int, variant: str = "correct", **kw: Any) -> Run:
        return run_scenario(self, seed, variant=variant, **kw)


# --- running --------------------------------------------------------------------------------


def check_linearizable_run(run: Run, *, timeout: float = 20.0) -> dict[str, Any]:
    """Check a run's client history with the linearizability checker (``kv`` model)."""
    from ..checkers import check_linearizable
    res = check_linearizable(run.history, "kv", timeout=timeout)
    return {"holds": bool(res.ok), "detail": res.detail}


def run_scenario(
    scenario: RaftScenario | str,
    seed: int,
    *,
    variant: str = "correct",
    options: dict | None = None,
    check: bool = True,
    stop_on_violation: bool = False,
) -> Run:
    """Run one battery scenario with one seed.

    The returned run's ``scenario`` holds the faults as a plain script, so
    ``consensus_lab.run(r.scenario)`` replays it exactly.  ``r.checks`` holds
    the timeline's expectations and (with ``check``) the linearizability
    verdict of the client history.  ``stop_on_violation`` ends the run at the
    first invariant violation (for searches over many seeds).
    """
    sc = get_scenario(scenario)
    base = sc.base(seed, variant, options)
    sim, _spec, _ = build(base)
    sim.stop_on_violation = stop_on_violation
    driver = Driver(sim, sc, seed)
    driver.run()
    sim.finish_clients()
    script = driver.script()
    r = collect(sim, base.replace(nemesis=script or "none"), driver.schedule)
    r.checks.update(driver.checks)
    if check:
        r.checks["linearizable"] = check_linearizable_run(r)
    return r


def run_failed(r: Run, *, liveness: bool = True) -> str | None:
    """Why a run fails (a violation or a failed check), or ``None``.

    With ``liveness=False`` only safety counts: violations, linearizability and
    the strict expectations (no leader / no progress without a majority, the
    same leader without faults, every operation complete).
    """
    if r.violations:
        return str(r.violations[0])
    for name, c in r.checks.items():
        if not c["holds"] and (liveness or not c.get("liveness")):
            return f"{name}: {c['detail']}"
    return None


def find_failure(
    variant: str,
    seeds: Iterable[int],
    scenarios: Sequence[str] | None = None,
    *,
    safety_only: bool = True,
) -> tuple[str, int, Run] | None:
    """Search the battery for the first run of ``variant`` that breaks an invariant.

    Tries each seed on every scenario (in battery order) and returns
    ``(scenario name, seed, run)`` for the first run with a violation (or, with
    ``safety_only=False``, also a failed check), or ``None``.
    """
    names = list(scenarios) if scenarios is not None else scenario_names()
    for seed in seeds:
        for name in names:
            r = run_scenario(name, seed, variant=variant, check=not safety_only, stop_on_violation=safety_only)
            if r.violations or (not safety_only and run_failed(r)):
                return name, seed, r
    return None


def failing_seeds(name: str, variant: str, seeds: Iterable[int]) -> list[int]:
    """The seeds among ``seeds`` on which ``variant`` breaks an invariant in scenario ``name``."""
    return [s for s in seeds if run_scenario(name, s, variant=variant, check=False, stop_on_violation=True).violations]


# --- the battery ----------------------------------------------------------------------------

_UNRELIABLE = NetworkConfig(latency=Latency.exponential(0.02, 0.002), loss=0.1, duplicate=0.05)
_MIX = (("read", 0.4), ("write", 0.4), ("cas", 0.2))


def _w(clients: int, duration: float, think: float = 0.1, **kw: Any) -> Workload:
    """Clients stop 0.8 s before the end, so the last expectations see a quiet cluster."""
    opts = {"timeout": 0.4, "deadline": 2.0, **kw}
    return Workload(clients=clients, keys=("x", "y"), mix=_MIX, think=think, stop=duration - 0.8, **opts)


def _many_elections(rounds: int, start: float, every: float) -> str:
    parts = []
    for k in range(rounds):
        t = round(start + k * every, 3)
        parts.append(f"{t:g} partition any|any|any|rest; {t + 0.3:g} expect leader; {t + every * 0.95:g} heal")
    return "; ".join(parts)


_SCENARIOS = [
    RaftScenario(
        "initial-election",
        "TestInitialElection2A",
        "three nodes elect one leader, and with no failure it stays (the term does not change)",
        nodes=3,
        duration=2.0,
        timeline="0.7 expect leader; 1.3 expect same-leader; 1.9 expect same-leader",
        workload=Workload(clients=0),
    ),
    RaftScenario(
        "re-election",
        "TestReElection2A",
        "cut the leader off: a new one is elected; lose a majority: no leader; rejoin: a leader again",
        nodes=3,
        duration=5.0,
        timeline=(
            "0.7 expect leader; 0.8 isolate leader:L1; 0.9 expect leader; 1.9 heal; 2.0 expect leader; "
            "2.2 partition leader:L2|follower:F|rest; 2.9 expect no-leader; 3.0 partition $L2|rest; "
            "3.1 expect leader; 4.1 heal; 4.2 expect leader; 4.6 expect agree"
        ),
        workload=_w(1, 5.0),
    ),
    RaftScenario(
        "many-elections",
        "TestManyElections2A",
        "seven nodes; again and again three of them are cut off at random: the other four elect a leader",
        nodes=7,
        duration=5.2,
        timeline=_many_elections(3, 0.6, 1.2) + "; 4.3 expect leader; 4.7 expect agree",
        workload=_w(1, 5.2, think=0.2),
    ),
    RaftScenario(
        "basic-agree",
        "TestBasicAgree2B",
        "no faults: every operation completes and all nodes agree",
        nodes=3,
        duration=2.0,
        timeline="1.1 expect progress 0.8; 1.6 expect agree; 1.9 expect complete",
        workload=_w(1, 2.0, think=0.05),
    ),
    RaftScenario(
        "fail-agree",
        "TestFailAgree2B",
        "agreement goes on while one follower is cut off, and it catches up when it rejoins",
        nodes=3,
        duration=3.5,
        timeline="0.7 isolate follower:F; 1.5 expect progress 0.6; 1.8 heal; 2.6 expect progress 0.6; 3.0 expect agree",
        workload=_w(2, 3.5),
    ),
    RaftScenario(
        "fail-no-agree",
        "TestFailNoAgree2B",
        "five nodes; three followers cut off: the leader cannot commit; they rejoin: agreement again",
        nodes=5,
        duration=3.8,
        timeline=(
            "0.7 partition leader,follower|any|any|any; 1.8 expect no-progress 0.7; 1.9 heal; "
            "2.9 expect progress 0.6; 3.3 expect agree"
        ),
        workload=_w(2, 3.8),
    ),
    RaftScenario(
        "concurrent-starts",
        "TestConcurrentStarts2B",
        "five clients at once with hardly a pause: every operation completes; the history is linearizable",
        nodes=3,
        duration=1.8,
        timeline="1.0 expect progress 0.5; 1.5 expect agree; 1.7 expect complete",
        workload=_w(5, 1.8, think=0.02),
    ),
    RaftScenario(
        "rejoin",
        "TestRejoin2B",
        "the cut-off leader takes writes it cannot commit; a new leader moves on; the old one rejoins and is overwritten",
        nodes=3,
        duration=4.5,
        timeline=(
            "0.7 isolate leader:L1; 1.5 expect progress 0.6; 1.9 isolate leader:L2; 2.7 expect progress 0.6; "
            "3.1 heal; 3.6 expect progress 0.6; 4.0 expect agree"
        ),
        workload=_w(2, 4.5),
    ),
    RaftScenario(
        "backup",
        "TestBackup2B",
        "leaders with long conflicting logs are cut off in turn; the winner backs its followers up quickly",
        nodes=5,
        duration=5.6,
        timeline=(
            "0.7 partition leader:L1,follower:F1|any:A|any:B|any:C; 1.55 expect no-progress 0.5; "
            "1.6 partition $L1|$F1|$A,$B,$C; 2.4 expect progress 0.5; "
            "2.5 partition leader:L2,follower:Y|any:O|$L1|$F1; 3.35 expect no-progress 0.5; "
            "3.4 partition $L1,$F1,$O|$L2|$Y; 4.2 expect progress 0.5; 4.3 heal; 5.1 expect agree"
        ),
        # short client deadlines: a client stuck at a cut-off leader soon gives up and
        # starts a new operation there, so the minority leaders collect long logs
        workload=_w(3, 5.6, think=0.05, timeout=0.1, deadline=0.3),
    ),
    RaftScenario(
        "persist",
        "TestPersist12C/TestPersist32C",
        "every node crashes at once and restarts from disk; then, with the leader and a follower unable "
        "to hear each other, nodes crash and restart quickly, again and again",
        nodes=3,
        duration=4.8,
        timeline=(
            "0.7 crash all; 0.9 restart all; 1.5 expect progress 0.5; 1.6 cut leader<>follower; 3.6 heal; "
            "4.3 expect agree"
        ),
        churn=Churn(start=1.7, stop=3.6, gap=(0.03, 0.1), target="any", fault="crash", p=0.9, down=(0.005, 0.03)),
        workload=_w(2, 4.8),
    ),
    RaftScenario(
        "figure-8",
        "TestFigure82C",
        "leaders crash just after they take a command, again and again, leaving logs like those of figure 8",
        nodes=5,
        duration=5.0,
        churn=Churn(
            start=0.4, stop=3.5, gap=(0.1, 0.4), target="leader", fault="crash", p=0.9, down=(0.05, 0.6),
            after_command=True,
        ),
        timeline="4.5 expect progress 0.6; 4.7 expect agree",
        workload=_w(3, 5.0),
    ),
    RaftScenario(
        "figure-8-unreliable",
        "TestFigure8Unreliable2C",
        "leaders are cut off just after they take a command, on a network that loses, duplicates and reorders",
        nodes=5,
        duration=5.0,
        churn=Churn(
            start=0.4, stop=3.5, gap=(0.05, 0.3), target="leader", fault="isolate", p=0.9, down=(0.05, 0.4),
            after_command=True,
        ),
        timeline="3.5 loss 0; 4.5 expect progress 0.6; 4.7 expect agree",
        network=_UNRELIABLE,
        workload=_w(3, 5.0),
    ),
    RaftScenario(
        "unreliable-churn",
        "TestUnreliableChurn2C",
        "any node crashes or is cut off at random on an unreliable network",
        nodes=5,
        duration=5.0,
        churn=Churn(start=0.4, stop=3.5, gap=(0.05, 0.3), target="any", fault="both", p=0.8, down=(0.05, 0.8)),
        timeline="3.5 loss 0; 4.5 expect progress 0.6; 4.7 expect agree",
        network=_UNRELIABLE,
        workload=_w(3, 5.0),
    ),
    RaftScenario(
        "snapshots",
        "TestSnapshotInstallCrash2D/TestSnapshotAllCrash2D",
        "snapshots every 8 entries; a follower cut off long enough needs InstallSnapshot; crashes and partitions",
        nodes=3,
        duration=5.0,
        timeline=(
            "0.6 isolate follower:F; 1.6 heal; 2.1 expect installed; 2.2 crash all; 2.3 restart all; "
            "2.8 expect progress 0.4; 4.6 expect agree"
        ),
        churn=Churn(start=2.9, stop=3.9, gap=(0.05, 0.3), target="any", fault="both", p=0.8, down=(0.05, 0.5)),
        options=(("snapshot_every", 8),),
        workload=_w(2, 5.0, think=0.03),
    ),
]

#: the battery, in the order of the lab's tests
BATTERY: dict[str, RaftScenario] = {s.name: s for s in _SCENARIOS}

#: for each broken twin, the (scenario, seed) on which the battery catches it first
#: (seeds tried in order, each on every scenario in battery order; see find_failure)
KEPT_SEEDS: dict[str, tuple[str, int]] = {
    "commit-previous-term": ("figure-8-unreliable", 3),
    "volatile-vote": ("persist", 1),
    "no-up-to-date-check": ("many-elections", 0),
    "stale-truncate": ("rejoin", 0),
    "log-by-reference": ("persist", 0),
    "article": ("many-elections", 0),
}

#: the invariant each kept seed breaks first
KEPT_VIOLATIONS: dict[str, str] = {
    "commit-previous-term": "leader completeness",
    "volatile-vote": "election safety",
    "no-up-to-date-check": "leader completeness",
    "stale-truncate": "leader completeness",
    "log-by-reference": "leader completeness",
    "article": "election safety",
}


def scenario_names() -> list[str]:
    return list(BATTERY)


def get_scenario(name: RaftScenario | str) -> RaftScenario:
    if isinstance(name, RaftScenario):
        return name
    try:
        return BATTERY[name]
    except KeyError:
        raise KeyError(f"no Raft scenario {name!r} (scenarios: {', '.join(BATTERY)})") from None


def kept_run(variant: str) -> Run:
    """Replay the kept failing run of a broken twin."""
    name, seed = KEPT_SEEDS[variant]
    return run_scenario(name, seed, variant=variant, check=False)


# --- looking at runs ----------------------------------------------------------------------


def _field(msg: Any, name: str) -> Any:
    return msg.get(name) if isinstance(msg, dict) else getattr(msg, name, None)


def _type(msg: Any) -> str:
    return str(msg.get("type")) if isinstance(msg, dict) else type(msg).__name__


def vote_tally(run: Run) -> list[dict[str, Any]]:
    """Every candidacy in a run: who stood in which term and who voted for it.

    Read from the trace: a ``RequestVote`` sent by X in term T makes X a
    candidate (it voted for itself); each granted ``RequestVoteReply``
    delivered to X in term T is one more vote.  ``leader`` says whether X then
    acted as leader of T (sent ``AppendEntries`` in T).
    """
    nodes = run.node_ids
    majority = len(nodes) // 2 + 1
    cands: dict[tuple[int, str], dict[str, Any]] = {}
    led: set[tuple[int, str]] = set()
    for ev in run.trace:
        if ev.kind == "send":
            t = _type(ev.msg)
            if t == "RequestVote":
                key = (_field(ev.msg, "term"), ev.node)
                if key not in cands:
                    cands[key] = {"term": key[0], "candidate": ev.node, "time": ev.time, "voters": [ev.node]}
            elif t == "AppendEntries":
                led.add((_field(ev.msg, "term"), ev.node))
        elif ev.kind == "deliver" and _type(ev.msg) == "RequestVoteReply" and _field(ev.msg, "vote_granted"):
            key = (_field(ev.msg, "term"), ev.node)
            c = cands.get(key)
            if c is not None and ev.peer not in c["voters"]:
                c["voters"].append(ev.peer)
    out = []
    for key in sorted(cands, key=lambda k: (k[0], cands[k]["time"])):
        c = cands[key]
        c["voters"] = sorted(c["voters"])
        c["votes"] = len(c["voters"])
        c["majority"] = c["votes"] >= majority
        c["leader"] = key in led
        out.append(c)
    return out


def terms_without_leader(run: Run) -> list[dict[str, Any]]:
    """The terms in which someone stood for election and nobody won.

    Each item: ``term`` and ``votes`` (candidate -> number of votes), from
    :func:`vote_tally`.  A candidate may have more votes than every rival and
    still not win: it needs a majority of the whole cluster.
    """
    by_term: dict[int, list[dict[str, Any]]] = {}
    for c in vote_tally(run):
        by_term.setdefault(c["term"], []).append(c)
    out = []
    for term in sorted(by_term):
        cands = by_term[term]
        if not any(c["leader"] for c in cands):
            out.append({"term": term, "votes": {c["candidate"]: c["votes"] for c in cands}})
    return out


def duplicate_entries(run: Run) -> list[tuple[str, int, list[int]]]:
    """Commands that sit more than once in some node's final log: ``(client, seq, indices)``.

    A client that times out retries with the same ``(client, seq)``; if the first
    try was already in the log, the retry can land there again.  The state
    machine's session table applies it once.
    """
    seen: dict[tuple[str, int], set[int]] = {}
    for n in run.node_ids:
        st = run.storage.get(n, {})
        for i in range(1, st.get("log_end", 0) + 1):
            e = st.get(f"log/{i}")
            if e is not None and e.command is not None:
                seen.setdefault((e.command.client, e.command.seq), set()).add(i)
    return [(c, q, sorted(ix)) for (c, q), ix in sorted(seen.items()) if len(ix) > 1]


def _replay(scenario: Scenario | Run):
    sc = scenario.scenario if isinstance(scenario, Run) else scenario
    sim, _, _ = build(sc)
    sim.start()
    return sim, sc


def states_at(scenario: Scenario | Run, times: Sequence[float]) -> dict[float, dict[str, dict | None]]:
    """Replay a run and take every node's ``state_view()`` at each of ``times``.

    Returns ``{time: {node: view}}``, what
    :func:`consensus_lab.viz.raft_logs.plot_logs` draws; a crashed node's view
    is what it has on disk (role ``"down"``).
    """
    from .raft import durable_view

    sim, _ = _replay(scenario)
    out = {}
    for t in sorted(times):
        sim.run_until(t)
        out[t] = {
            n: (node.state_view() if node is not None else durable_view(sim.storage[n]))
            for n, node in sim.nodes.items()
        }
    return out


def moment_when(
    scenario: Scenario | Run, predicate: Callable[[dict[str, Any]], bool], *, until: float | None = None
) -> float | None:
    """The first time, replaying, at which ``predicate(nodes)`` holds (``None`` if never).

    ``nodes`` maps node ids to live node objects (``None`` when crashed).
    """
    sim, sc = _replay(scenario)
    end = sc.duration if until is None else until
    while sim.now <= end:
        if predicate(sim.nodes):
            return sim.now
        if not sim.step():
            break
    return None


def violation_evidence(run: Run, invariant: str | None = None) -> dict[str, Any] | None:
    """Replay a run to its first violation and return the facts the invariants saw.

    For leader completeness: ``index`` and ``entry`` (the lost entry),
    ``created_at`` (when it first appeared in a log), ``committed_at``,
    ``commit_term`` and ``committed_by`` (who first knew it committed, in which
    term), ``leader`` and ``leader_term`` (the leader without it) and ``time``.
    """
    if not run.violations:
        return None
    name = invariant or run.violations[0].invariant
    sim, _ = _replay(run)
    sim.stop_on_violation = True
    sim.run_until(run.scenario.duration)
    for inv in sim.invariants:
        monitor = getattr(inv, "monitor", None)
        if monitor is not None and name in monitor.evidence:
            return dict(monitor.evidence[name], invariant=name)
    return None


def majority_probability(n: int, p_up: float) -> float:
    """P(at least a majority of ``n`` nodes is up), each up with ``p_up`` independently."""
    m = n // 2 + 1
    return sum(math.comb(n, k) * p_up**k * (1 - p_up) ** (n - k) for k in range(m, n + 1))


def product_probability(n: int, p_up: float) -> float:
    """The wrong answer: P(every node is up)."""
    return p_up**n


def commit_trials(n: int = 5, p_down: float = 0.3, seeds: Iterable[int] = range(200)) -> dict[str, Any]:
    """Estimate by simulation how often a write commits when each node is down with ``p_down``.

    For every seed, each node is crashed from the start with probability
    ``p_down`` (drawn from the seed), one client writes once, and we see
    whether the write completes within two seconds.
    """
    runs = commits = 0
    for seed in seeds:
        rng = random.Random(f"consensus_lab:{seed}:commit-trials")
        down = [f"n{i}" for i in range(1, n + 1) if rng.random() < p_down]
        script = "; ".join(f"0 crash {d}" for d in down) or "none"
        sc = Scenario(
            protocol="raft",
            nodes=n,
            seed=seed,
            duration=2.0,
            nemesis=script,
            workload=Workload(clients=1, keys=("x",), mix=(("write", 1.0),), max_ops=1, timeout=0.3, deadline=1.9),
        )
        sim, _, _ = build(sc)
        sim.run_until(sc.duration)
        runs += 1
        commits += any(op.type == "ok" for op in sim.history)
    p_up = 1 - p_down
    return {
        "runs": runs,
        "committed": commits,
        "rate": commits / runs if runs else 0.0,
        "majority": majority_probability(n, p_up),
        "product": product_probability(n, p_up),
    }

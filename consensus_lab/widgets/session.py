"""A scenario you can act on: the model behind the scenario lab (no widgets here).

A :class:`LabSession` holds one :class:`~consensus_lab.sim.Simulation` built
from a :class:`~consensus_lab.sim.Scenario` and drives it by hand: process one
event (:meth:`~LabSession.step`), let time run (:meth:`~LabSession.advance`,
:meth:`~LabSession.run_to_end`), or break something now (:meth:`~LabSession.crash`,
:meth:`~LabSession.restart`, :meth:`~LabSession.partition`, :meth:`~LabSession.heal`,
:meth:`~LabSession.drop_next`).

Every fault applied by hand is applied exactly as a scripted nemesis event at
the same time would be (the events at that very moment wait until after it),
at a time rounded up to a tenth of a millisecond.  So the faults print as a
script (:meth:`~LabSession.script`) and ``run(session.replay_scenario())``
gives the same trace, byte for byte -- except for messages dropped by hand,
which no script can name (they are listed in :attr:`~LabSession.log`).

As it goes, the session keeps a :class:`Snapshot` of every node's
``state_view()`` after each action and every ``snapshot_every`` simulated
seconds, so the time scrubber can show any earlier moment without running
anything again.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..runner import build, collect
from ..sim import (
    Crash,
    Heal,
    Partition,
    Restart,
    Run,
    Scenario,
    SimulationError,
    schedule_to_script,
)
from ..sim.nemesis import Action
from ..sim.trace import TraceEvent

__all__ = ["LabSession", "Snapshot", "LabError"]

_GRID = 1e-4  # manual actions happen at times rounded up to this (scripts keep 4 decimals)


class LabError(ValueError):
    """An action the lab cannot do now (the message says why and what to do)."""


@dataclass(frozen=True)
class Snapshot:
    """What every node looked like at one moment."""

    time: float
    rows: int  # how many trace events had happened
    views: Mapping[str, Mapping[str, Any] | None]  # node -> state_view() copy; None when down
    down: Mapping[str, Mapping[str, Any]]  # node -> what its durable storage says, when down
    history: int  # how many history events had happened
    violations: int
    goals: Mapping[str, float | None]
    partition: tuple[tuple[str, ...], ...] | None  # the groups, when the network is split


def _copy_view(view: Any) -> dict[str, Any]:
    """A copy of a ``state_view()`` that later changes to the node cannot reach."""
    if not isinstance(view, Mapping):
        return {"state": view}
    out = {}
    for k, v in view.items():
        if isinstance(v, list | dict | set):
            v = v.copy()
        out[str(k)] = v
    return out


def _grid_up(t: float) -> float:
    """The smallest 4-decimal time >= t."""
    g = round(math.ceil(t / _GRID - 1e-7) * _GRID, 4)
    while g < t:
        g = round(g + _GRID, 4)
    return g


@dataclass
class LogEntry:
    """One thing done by hand: when, what, and how it reads in a script."""

    time: float
    text: str
    action: Action | None = None  # None for what a script cannot say (a hand-dropped message)


class LabSession:
    """Drive one scenario by hand, keeping snapshots for the scrubber.

    ``down_view(storage) -> dict`` (optional) summarises a crashed node from
    its durable storage (the Raft panel shows the stored term and vote).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        snapshot_every: float = 0.05,
        pause_on_violation: bool = True,
        down_view: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
    ) -> None:
        if snapshot_every <= 0:
            raise ValueError(f"snapshot_every must be > 0 seconds, got {snapshot_every!r}")
        self.snapshot_every = float(snapshot_every)
        self.pause_on_violation = pause_on_violation
        self.down_view = down_view
        self.reset(scenario)

    # --- building ---------------------------------------------------------------------

    def reset(self, scenario: Scenario | None = None) -> None:
        """Start again from time 0 (with another scenario, if given); forgets hand-made faults."""
        sc = scenario if scenario is not None else self.scenario
        sim, spec, schedule = build(sc)
        self.scenario = sc
        self.sim = sim
        self.spec = spec
        self.base_schedule: list[tuple[float, Action]] = list(schedule)
        self.manual: list[tuple[float, Action]] = []
        self.log: list[LogEntry] = []
        self.snapshots: list[Snapshot] = []
        self._snap_times: list[float] = []
        self._floor = -1.0  # time of the last event processed by step(): a later action must come after it
        self._finished = False
        self._verdicts: dict[int, Any] = {}
        sim.start()
        self._snapshot()

    @property
    def node_ids(self) -> tuple[str, ...]:
        return self.sim.node_ids

    @property
    def now(self) -> float:
        return self.sim.now

    @property
    def duration(self) -> float:
        return float(self.scenario.duration)

    @property
    def finished(self) -> bool:
        """True once the run reached the scenario's end (clients closed, as ``run()`` does)."""
        return self._finished

    @property
    def rows(self) -> list[tuple]:
        """The trace so far as raw rows ``(time, kind, node, peer, msg_id, msg, info)``."""
        trace = self.sim.trace
        rows = getattr(trace, "_rows", None)
        return rows if rows is not None else [(e.time, e.kind, e.node, e.peer, e.msg_id, e.msg, e.info) for e in trace]

    def is_up(self, node: str) -> bool:
        return self.sim.nodes.get(node) is not None

    def partition_groups(self) -> tuple[tuple[str, ...], ...] | None:
        """The current split of the network (None when every link works)."""
        return self._groups()

    # --- snapshots --------------------------------------------------------------------

    def _groups(self) -> tuple[tuple[str, ...], ...] | None:
        blocked = self.sim.links.blocked
        if not blocked:
            return None
        groups: list[list[str]] = []
        for n in self.node_ids:
            for g in groups:
                if (n, g[0]) not in blocked and (g[0], n) not in blocked:
                    g.append(n)
                    break
            else:
                groups.append([n])
        return tuple(tuple(g) for g in groups)

    def _snapshot(self) -> None:
        sim = self.sim
        views: dict[str, Any] = {}
        down: dict[str, Any] = {}
        for n in self.node_ids:
            node = sim.nodes[n]
            if node is None:
                views[n] = None
                if self.down_view is not None:
                    try:
                        down[n] = dict(self.down_view(sim.storage[n]))
                    except Exception:  # a summary must never break the lab
                        down[n] = {}
            else:
                views[n] = _copy_view(node.state_view())
        snap = Snapshot(
            time=sim.now,
            rows=len(self.rows),
            views=views,
            down=down,
            history=len(sim.history),
            violations=len(sim.violations),
            goals=dict(sim.goals),
            partition=self._groups(),
        )
        if self.snapshots and self.snapshots[-1].time == snap.time:
            self.snapshots[-1] = snap
        else:
            self.snapshots.append(snap)
            self._snap_times.append(snap.time)

    def snapshot_at(self, t: float | None = None) -> Snapshot:
        """The state at time ``t`` (the last snapshot taken at or before it); now by default."""
        if t is None:
            return self.snapshots[-1]
        i = bisect.bisect_right(self._snap_times, t + 1e-12) - 1
        return self.snapshots[max(i, 0)]

    # --- time -------------------------------------------------------------------------

    def _check_running(self) -> None:
        if self._finished:
            raise LabError(f"the run is over (t = {self.duration:g} s): press Reset to start again")

    def _advance_strict(self, t: float) -> None:
        """Process every event strictly before ``t``; then it is time ``t``."""
        sim = self.sim
        if t <= sim.now:
            return
        sim.run_until(math.nextafter(t, -math.inf))
        sim.now = t

    def step(self) -> TraceEvent | None:
        """Process events until one shows in the trace; return it (None at the end)."""
        self._check_running()
        sim = self.sim
        before = len(self.rows)
        while len(self.rows) == before:
            upcoming = sim.next_event_time()
            if upcoming is None or upcoming > self.duration:
                self._finish()  # nothing left to do before the end
                return None
            if not sim.step():
                self._finish()
                return None
        self._floor = sim.now
        self._snapshot()
        r = self.rows[before]
        return TraceEvent(before, *r)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (stopping at the end of the scenario).

        With ``pause_on_violation`` it stops at the first snapshot after a new
        invariant violation.
        """
        self._check_running()
        if seconds <= 0:
            raise LabError(f"time runs forward: advance by a positive number of seconds, not {seconds!r}")
        target = min(self.duration, round(self.sim.now + seconds, 9))
        self._run_to(target)

    def run_to(self, t: float) -> None:
        """Let time run until ``t`` (at most the end of the scenario)."""
        self._check_running()
        self._run_to(min(self.duration, t))

    def run_to_end(self) -> None:
        """Let time run to the end of the scenario."""
        self._check_running()
        self._run_to(self.duration)

    def _run_to(self, target: float) -> None:
        sim = self.sim
        seen = len(sim.violations)
        every = self.snapshot_every
        g = (math.floor(sim.now / every + 1e-9) + 1) * every
        while g < target - 1e-12:
            self._advance_strict(round(g, 9))
            self._snapshot()
            if self.pause_on_violation and len(sim.violations) > seen:
                return
            g += every
        if target >= self.duration:
            self._finish()
        else:
            self._advance_strict(target)
            self._snapshot()

    def _finish(self) -> None:
        """Run to the scenario's end exactly as ``run()`` does and close the clients."""
        if self._finished:
            return
        self.sim.run_until(self.duration)
        self.sim.finish_clients()
        self._finished = True
        self._snapshot()

    # --- faults by hand ------------------------------------------------------------------

    def _action_time(self) -> float:
        t = _grid_up(self.sim.now)
        if t <= self._floor:
            t = _grid_up(math.nextafter(self._floor, math.inf))
        return t

    def act(self, action: Action) -> float:
        """Apply a fault now, exactly as a scripted nemesis event would be; return its time."""
        self._check_running()
        sim = self.sim
        t = self._action_time()
        if t > self.duration:
            raise LabError(f"the run ends at t = {self.duration:g} s: press Reset to start again")
        self._advance_strict(t)
        sim.stats["events"] += 1
        try:
            sim.apply_fault(action)
        except SimulationError as exc:
            raise LabError(str(exc)) from None
        if sim.invariants:
            sim.check_invariants()  # as after a scheduled nemesis event
        self.manual.append((t, action))
        self.log.append(LogEntry(t, action.script(), action))
        self._snapshot()
        return t

    def _node(self, node: str) -> str:
        if node not in self.node_ids:
            raise LabError(f"unknown node {node!r}: pick one of {', '.join(self.node_ids)}")
        return node

    def crash(self, node: str) -> float:
        if not self.is_up(self._node(node)):
            raise LabError(f"{node} is already down: Restart it first")
        return self.act(Crash(node))

    def restart(self, node: str) -> float:
        if self.is_up(self._node(node)):
            raise LabError(f"{node} is running: Crash it first")
        return self.act(Restart(node))

    def partition(self, groups: Sequence[Sequence[str]] | str) -> float:
        """Split the network into exactly these groups (``"n1,n2|n3"`` works too).

        Nodes left out form one more group.  An existing split is healed first,
        so the network ends up exactly as asked.
        """
        if isinstance(groups, str):
            groups = [g.split(",") for g in groups.replace(" ", "").split("|") if g]
        gs = [tuple(self._node(n) for n in g) for g in groups if g]
        flat = [n for g in gs for n in g]
        if len(flat) != len(set(flat)):
            raise LabError(f"a node appears in two groups: {' | '.join(','.join(g) for g in gs)}")
        rest = tuple(n for n in self.node_ids if n not in flat)
        if rest:
            gs.append(rest)
        if len(gs) < 2:
            raise LabError("a partition needs at least two groups, e.g. n1,n2|n3")
        if self.sim.links.blocked:
            self.act(Heal())
        return self.act(Partition(tuple(gs)))

    def heal(self) -> float:
        if not self.sim.links.blocked:
            raise LabError("every link already works: nothing to heal")
        return self.act(Heal())

    def drop_next(self) -> TraceEvent | None:
        """Drop the message that would be delivered next (None if nothing is in flight)."""
        self._check_running()
        ev = self.sim.drop_next_message()
        if ev is not None:
            text = f"drop {ev.msg_type} {ev.peer}->{ev.node}"
            self.log.append(LogEntry(self.sim.now, text, None))
            self._snapshot()
        return ev

    # --- reading it back ----------------------------------------------------------------

    def schedule(self) -> list[tuple[float, Action]]:
        """The whole fault timeline: the scenario's own faults and those made by hand."""
        return sorted(self.base_schedule + self.manual, key=lambda ta: ta[0])

    def script(self) -> str:
        """The fault timeline as a script you can paste into ``nemesis=``."""
        return schedule_to_script(self.schedule())

    def replay_scenario(self) -> Scenario:
        """The scenario with every fault (scripted and by hand) as a plain script."""
        script = self.script()
        if not self.manual:
            return self.scenario
        return self.scenario.replace(nemesis=script or "none")

    def to_run(self) -> Run:
        """What happened so far as a :class:`~consensus_lab.sim.Run` (for plots and checks)."""
        return collect(self.sim, self.replay_scenario(), self.schedule())

    def history_until(self, t: float | None = None) -> list:
        """The client history up to time ``t`` (all of it by default)."""
        h = self.sim.history
        if t is None or t >= self.now:
            return list(h)
        return list(h[: bisect.bisect_right(h, t + 1e-12, key=lambda op: op.time)])

    def violations_until(self, t: float | None = None) -> list:
        v = self.sim.violations
        return list(v) if t is None else [x for x in v if x.time <= t + 1e-12]

    def events_until(self, t: float | None = None, last: int = 12) -> list[TraceEvent]:
        rows = self.rows
        end = len(rows) if t is None or t >= self.now else self.rows_until(t)
        start = max(0, end - last)
        return [TraceEvent(i, *rows[i]) for i in range(start, end)]

    def rows_until(self, t: float) -> int:
        """How many trace events happened at or before time ``t``."""
        return bisect.bisect_right(self.rows, t + 1e-12, key=lambda r: r[0])

    def verdict(self, t: float | None = None, *, timeout: float = 0.25) -> Any:
        """The linearizability verdict of the history up to ``t`` (None without a model).

        Open operations count as indeterminate.  Results are cached by history length.
        """
        model = self.spec.history_model
        if model is None:
            return None
        from ..checkers import check_linearizable

        h = self.history_until(t)
        key = len(h)
        if key not in self._verdicts:
            self._verdicts[key] = check_linearizable(h, model, timeout=timeout)
        return self._verdicts[key]

"""The driver behind :mod:`consensus_lab.protocols.raft_scenarios`.

It runs one battery scenario: it applies the timeline (resolving symbols such
as ``leader`` against the live cluster), the random churn, and the
expectations, and it records every fault it applied so that the run can be
replayed from a plain script.  See the module docstring of
``raft_scenarios`` for the timeline language.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..sim import Heal
from ..sim.nemesis import Action, Crash, Cut, Partition, Restart, SetLoss

__all__ = ["TimelineError", "parse_timeline", "LIVENESS_EXPECTATIONS", "Driver"]

LEADER = "leader"


class TimelineError(ValueError):
    """A timeline entry that cannot be understood."""


@dataclass(frozen=True)
class _Entry:
    time: float
    verb: str
    args: tuple[str, ...]
    text: str


_VERBS = ("crash", "restart", "isolate", "partition", "cut", "heal", "loss", "expect")
LIVENESS_EXPECTATIONS = ("leader", "progress", "agree", "installed")
_EXPECTS = ("leader", "same-leader", "no-leader", "progress", "no-progress", "agree", "installed", "complete")


def parse_timeline(text: str) -> list[_Entry]:
    out = []
    for raw in text.replace("\n", ";").split(";"):
        entry = raw.strip()
        if not entry:
            continue
        words = entry.split()
        try:
            t = float(words[0])
        except ValueError:
            raise TimelineError(f"timeline entry {entry!r} must start with a time") from None
        if len(words) < 2 or words[1] not in _VERBS:
            raise TimelineError(f"timeline entry {entry!r}: the action must be one of {', '.join(_VERBS)}")
        if words[1] == "expect" and (len(words) < 3 or words[2] not in _EXPECTS):
            raise TimelineError(f"timeline entry {entry!r}: expect one of {', '.join(_EXPECTS)}")
        out.append(_Entry(t, words[1], tuple(words[2:]), entry))
    out.sort(key=lambda e: e.time)
    return out


def _t(x: float) -> float:
    """Round a fault time to the millisecond, so that the script replays it exactly."""
    return round(x, 3)


class Driver:
    """Runs one scenario: applies the timeline and the churn, records the faults."""

    def __init__(self, sim: Any, sc: Any, seed: int) -> None:  # sc: a RaftScenario
        self.sim = sim
        self.sc = sc
        self.nodes = sim.node_ids
        self.rng = random.Random(f"consensus_lab:{seed}:raft-scenario:{sc.name}")
        self.vars: dict[str, list[str]] = {}
        self.schedule: list[tuple[float, Action]] = []
        self.checks: dict[str, dict[str, Any]] = {}
        self.isolated: list[str] = []  # nodes the churn has cut off
        self.crashed: list[str] = []  # nodes the churn has crashed
        self.last_leader: tuple[str, int] | None = None
        self._heap: list[tuple[float, int, str, Any]] = []
        self._n = 0

    # scheduling
    def push(self, t: float, kind: str, payload: Any) -> None:
        self._n += 1
        heapq.heappush(self._heap, (_t(t), self._n, kind, payload))

    def run(self) -> None:
        sc, sim = self.sc, self.sim
        sim.start()
        entries = parse_timeline(sc.timeline)
        for k, e in enumerate(entries):
            if e.verb == "expect":
                later = [x.time for x in entries[k + 1 :] if x.verb != "expect" and x.time > e.time]
                deadline = min([e.time + 1.5, sc.duration, *later])
                self.push(e.time, "expect", (e, deadline))
            else:
                self.push(e.time, "entry", (e, 0))
        if sc.churn is not None:
            self.push(sc.churn.start, "churn", None)
            self.push(sc.churn.stop, "churn-stop", None)
        while self._heap and self._heap[0][0] < sc.duration:
            t, _, kind, payload = heapq.heappop(self._heap)
            sim.run_until(math.nextafter(t, -math.inf))
            if sim.stop_on_violation and sim.violations:
                return
            sim.now = max(sim.now, t)
            if kind == "entry":
                self.entry(*payload)
            elif kind == "expect":
                self.expect(*payload)
            elif kind == "churn":
                self.churn_step()
            elif kind == "churn-stop":
                self.churn_stop()
            elif kind == "recover":
                self.recover(payload)
        sim.run_until(sc.duration)

    def apply(self, action: Action) -> None:
        """Apply a fault now, exactly as a scripted nemesis event would be."""
        sim = self.sim
        sim.stats["events"] += 1
        sim.apply_fault(action)
        if sim.invariants:
            sim.check_invariants()
        self.schedule.append((sim.now, action))

    def set_partition(self, groups: Sequence[Sequence[str]]) -> None:
        """Make the network exactly these groups (the simulator's partitions add up)."""
        if self.sim.links.blocked:
            self.apply(Heal())
        if len(groups) > 1:
            self.apply(Partition(tuple(tuple(g) for g in groups)))

    def script(self) -> str:
        return "; ".join(f"{t!r} {a.script()}" for t, a in self.schedule)

    # looking at the cluster
    def live(self) -> list[str]:
        return [n for n in self.nodes if self.sim.nodes[n] is not None]

    def connected(self, a: str, b: str) -> bool:
        blocked = self.sim.links.blocked
        return (a, b) not in blocked and (b, a) not in blocked

    def leader(self) -> str | None:
        best = None
        for n in self.live():
            node = self.sim.nodes[n]
            if node.role == LEADER and (best is None or node.current_term > self.sim.nodes[best].current_term):
                best = n
        return best

    def reach(self, n: str) -> list[str]:
        return [m for m in self.live() if m == n or self.connected(n, m)]

    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    def ruling_leader(self) -> str | None:
        """A leader that reaches a majority, with no live node it reaches at a higher term."""
        best = None
        for n in self.live():
            node = self.sim.nodes[n]
            if node.role != LEADER:
                continue
            group = self.reach(n)
            if len(group) >= self.majority() and all(
                self.sim.nodes[m].current_term <= node.current_term for m in group
            ):
                if best is None or node.current_term > self.sim.nodes[best].current_term:
                    best = n
        return best

    # resolving names
    def resolve(self, word: str, named: list[str], entry: _Entry) -> list[str]:
        name, _, bind = word.partition(":")
        if name.startswith("$"):
            if name[1:] not in self.vars:
                raise TimelineError(f"{name} is not bound before {entry.text!r}")
            got = list(self.vars[name[1:]])
        elif name in self.nodes:
            got = [name]
        elif name == "all":
            got = list(self.nodes)
        elif name == "leader":
            lead = self.leader()
            got = [lead] if lead is not None else []
        elif name == "follower":
            lead = self.leader()
            pool = [n for n in self.live() if n not in named and n != lead and (lead is None or self.connected(lead, n))]
            got = [pool[self.rng.randrange(len(pool))]] if pool else []
        elif name == "any":
            pool = [n for n in self.live() if n not in named]
            got = [pool[self.rng.randrange(len(pool))]] if pool else []
        else:
            raise TimelineError(f"unknown node or symbol {name!r} in timeline entry {entry.text!r}")
        if bind:
            self.vars[bind] = got
        return got

    def resolve_groups(self, spec: str, entry: _Entry) -> list[list[str]] | None:
        groups_words = [g.split(",") for g in spec.split("|")]
        groups: list[list[str]] = [[] for _ in groups_words]
        named: list[str] = []
        # explicit names and bound variables first, then symbols in order, then `rest`
        for phase in (0, 1):
            for gi, words in enumerate(groups_words):
                for w in words:
                    base = w.partition(":")[0]
                    symbolic = base in ("leader", "follower", "any")
                    if base == "rest" or (phase == 0) == symbolic:
                        continue
                    got = self.resolve(w, named, entry)
                    if not got:
                        return None
                    groups[gi] += got
                    named += got
        for gi, words in enumerate(groups_words):
            for w in words:
                if w.partition(":")[0] == "rest":
                    rest = [n for n in self.nodes if n not in named]
                    groups[gi] += rest
                    named += rest
                    bind = w.partition(":")[2]
                    if bind:
                        self.vars[bind] = rest
        return [sorted(g) for g in groups if g]

    # timeline entries
    def entry(self, e: _Entry, tries: int) -> None:
        needs_leader = any("leader" in a or "follower" in a for a in e.args)
        if needs_leader and self.leader() is None:
            if tries < 20:  # wait for an election, as the lab's tester does
                self.push(self.sim.now + 0.05, "entry", (e, tries + 1))
            else:
                self.note(f"timeline@{e.time:g}", False, f"no leader to resolve {e.text!r}", liveness=True)
            return
        if e.verb in ("crash", "restart"):
            if len(e.args) != 1:
                raise TimelineError(f"{e.verb} takes one node in {e.text!r}")
            for n in self.resolve(e.args[0], [], e):
                if (self.sim.nodes[n] is None) == (e.verb == "restart"):
                    self.apply(Crash(n) if e.verb == "crash" else Restart(n))
        elif e.verb == "isolate":
            got = self.resolve(e.args[0], [], e)
            if got:
                self.set_partition([got, [n for n in self.nodes if n not in got]])
        elif e.verb == "partition":
            groups = self.resolve_groups(e.args[0], e)
            if groups:
                self.set_partition(groups)
        elif e.verb == "cut":
            both = "<>" in e.args[0]
            a, _, b = e.args[0].replace("<>", ">").partition(">")
            for x in self.resolve(a, [], e):
                for y in self.resolve(b, [x], e):
                    self.apply(Cut(x, y))
                    if both:
                        self.apply(Cut(y, x))
        elif e.verb == "heal":
            self.apply(Heal())
        elif e.verb == "loss":
            self.apply(SetLoss(float(e.args[0])))

    def note(self, name: str, holds: bool, detail: str, liveness: bool = False) -> None:
        key, k = name, 2
        while key in self.checks:
            key = f"{name}#{k}"
            k += 1
        self.checks[key] = {"holds": bool(holds), "detail": detail, "liveness": liveness}

    def expect(self, e: _Entry, deadline: float) -> None:
        """Check an expectation.  Liveness ones (leader, progress, agree, installed)
        may wait, re-checking every 50 ms, until ``deadline`` (the next fault, at
        most 1.5 s later), as the lab's tester waits for a leader or an agreement."""
        what = e.args[0]
        now = self.sim.now
        name = f"expect {what}@{e.time:g}"
        holds, detail = self._evaluate(what, e.args[1:])
        if what in LIVENESS_EXPECTATIONS:
            if not holds and now + 0.05 < deadline:
                self.push(now + 0.05, "expect", (e, deadline))
                return
            if what == "leader" and holds:
                self.last_leader = self._leader_term()
            self.note(name, holds, f"{detail} (t={now:.3f})", liveness=True)
        else:
            self.note(name, holds, detail)

    def _leader_term(self) -> tuple[str, int] | None:
        lead = self.ruling_leader()
        return None if lead is None else (lead, self.sim.nodes[lead].current_term)

    def _evaluate(self, what: str, args: tuple[str, ...]) -> tuple[bool, str]:
        sim, now = self.sim, self.sim.now
        if what == "leader":
            lt = self._leader_term()
            return lt is not None, "no leader reaches a majority" if lt is None else f"{lt[0]} leads term {lt[1]}"
        if what == "same-leader":
            lt = self._leader_term()
            if lt is None or (self.last_leader is not None and lt != self.last_leader):
                return False, f"leader changed from {self.last_leader} to {lt} with no fault"
            self.last_leader = lt
            return True, f"{lt[0]} still leads term {lt[1]}"
        if what == "no-leader":
            lt = self._leader_term()
            return lt is None, "no leader reaches a majority" if lt is None else f"{lt[0]} leads term {lt[1]}"
        if what in ("progress", "no-progress"):
            window = float(args[0]) if args else 1.0
            done = sum(1 for op in sim.history if op.type in ("ok", "fail") and now - window < op.time <= now)
            ok = done > 0 if what == "progress" else done == 0
            return ok, f"{done} operation(s) completed in the last {window:g} s"
        if what == "agree":
            return self._agree()
        if what == "installed":
            n = sum(1 for e in sim.trace if e.kind == "deliver" and e.msg_type == "InstallSnapshot")
            return n > 0, f"{n} InstallSnapshot message(s) delivered"
        # complete
        types = [op.type for op in sim.history if op.type != "invoke"]
        invoked = sum(1 for op in sim.history if op.type == "invoke")
        info = types.count("info")
        ok = info == 0 and len(types) == invoked
        return ok, f"{invoked} invoked, {len(types) - info} completed, {info} indeterminate"

    def _agree(self) -> tuple[bool, str]:
        """Every live node has caught up with the leader's commit index, and what it
        knows committed is the leader's log.  (Commit indexes may still differ: a new
        leader commits an earlier term's tail only with an entry of its own term.)"""
        sim = self.sim
        live = [sim.nodes[n] for n in self.live()]
        indexes = ", ".join(f"{n.id}={n.commit_index}" for n in live)
        lt = self._leader_term()
        if lt is None:
            return False, f"no leader; commit index {indexes}"
        lead = sim.nodes[lt[0]]
        for n in live:
            if n.commit_index < lead.commit_index:
                return False, f"{n.id} has not caught up; commit index {indexes}"
            for i in range(max(n.snapshot_index, lead.snapshot_index) + 1, n.commit_index + 1):
                if n.entry_at(i) != lead.entry_at(i):
                    return False, f"{n.id} and leader {lead.id} differ at index {i}; commit index {indexes}"
        return True, f"all caught up with leader {lead.id}; commit index {indexes}"

    # churn
    def up_and_connected(self) -> list[str]:
        return [n for n in self.live() if n not in self.isolated]

    def _repartition(self) -> None:
        rest = [n for n in self.nodes if n not in self.isolated]
        self.set_partition([[n] for n in sorted(self.isolated)] + ([rest] if rest else []))

    def churn_step(self) -> None:
        c, rng, now = self.sc.churn, self.rng, self.sim.now
        if now >= c.stop:
            return
        min_up = c.min_up if c.min_up is not None else self.majority()
        if c.after_command and not self._fresh_command():
            self.push(now + 0.004, "churn", None)
            return
        if rng.random() < c.p:
            if c.target == "leader":
                lead = self.leader()
                victim = lead if lead in self.up_and_connected() else None
            else:
                pool = self.up_and_connected()
                victim = pool[rng.randrange(len(pool))] if pool else None
            fault = c.fault if c.fault != "both" else ("crash", "isolate")[rng.randrange(2)]
            if victim is not None and len(self.up_and_connected()) - 1 >= min_up:
                if fault == "crash":
                    self.crashed.append(victim)
                    self.apply(Crash(victim))
                else:
                    self.isolated.append(victim)
                    self._repartition()
                self.push(now + rng.uniform(*c.down), "recover", victim)
        self.push(now + rng.uniform(*c.gap), "churn", None)

    def _fresh_command(self) -> bool:
        """Does the leader hold an entry of its own term that it has not committed?"""
        lead = self.leader()
        if lead is None:
            return False
        node = self.sim.nodes[lead]
        last = node.last_log_index
        return last > node.commit_index and node.term_at(last) == node.current_term

    def recover(self, n: str) -> None:
        if n in self.crashed:
            self.crashed.remove(n)
            if self.sim.nodes[n] is None:
                self.apply(Restart(n))
        elif n in self.isolated:
            self.isolated.remove(n)
            self._repartition()

    def churn_stop(self) -> None:
        for n in list(self.crashed):
            self.recover(n)
        if self.isolated:
            self.isolated = []
            self._repartition()

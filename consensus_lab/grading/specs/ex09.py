"""Exercise 9 judged: Raft log replication and the commit rule.

On top of the election rules: every log is persisted as it changes; logs
match (same index and term, same prefix); a leader only appends; a leader
commits an entry by counting replicas only if the entry is of its current
term and a majority stores it; committed entries never change (state machine
safety) and every new leader has them all (leader completeness); clients hear
``Ok(index)`` only for committed entries.  At the end of a run whose faults
have healed, all logs are equal and every node has caught up with the
leader's commit index.
"""

from __future__ import annotations

from typing import Any

from ...sim.clients import Ok
from ..checks import Check, NodeSpec, Violation
from ..exercises.ex09 import Entry
from ._raft import HINTS, ElectionJudge, RaftSearch, election_view_problem, one_leader_per_term


class LogJudge(ElectionJudge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.committed: list[Entry] = []
        self.last: dict[str, dict] = {}

    def became_leader(self, nid: str, term: int, view: dict, now: float) -> None:
        log = view["log"]
        n = len(self.committed)
        if log[:n] != tuple(self.committed):
            raise Violation("leader completeness", f"{nid} became leader of term {term} without every committed "
                            f"entry (committed up to index {n})", now)

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        st = self.store(nid)
        old_log = st.get("log", ()) if "log" not in before else before["log"]  # the log before this call
        old_log = old_log if isinstance(old_log, tuple) else ()
        super().after_call(node, handler, before, effects, view_changed, now)
        view = node.hosted_view
        log = view["log"]
        if view_changed:
            stored = st.get("log", ())
            if tuple(stored) != log:
                raise Violation("persist the log", f"{nid} has {len(log)} entries in its log but "
                                f"{len(stored) if isinstance(stored, tuple) else '?'} in storage (call persist_log "
                                "after every change)", now)
            prev = self.last.get(nid)
            ci = view["commit_index"]
            if prev is not None and view["role"] == "leader" and prev["role"] == "leader" \
                    and prev["current_term"] == view["current_term"]:
                old = prev["log"]
                if log[: len(old)] != old:
                    raise Violation("a leader only appends", f"{nid}, leader of term {view['current_term']}, "
                                    "changed or removed entries of its own log", now)
                if ci > prev["commit_index"]:
                    entry = log[ci - 1]
                    if entry.term != view["current_term"]:
                        raise Violation("the commit rule", f"{nid}, leader of term {view['current_term']}, moved "
                                        f"commit_index to {ci}, an entry of term {entry.term}: a leader may only "
                                        "count replicas for entries of its own term", now)
                    holders = sum(1 for n in self.nodes if len(self.store(n).get("log", ())) >= ci
                                  and self.store(n).get("log")[ci - 1] == entry)
                    if holders < self.majority:
                        raise Violation("the commit rule", f"{nid} committed index {ci} when only {holders} "
                                        f"node(s) stored it; a majority is {self.majority}", now)
            n = len(self.committed)
            if ci > n:
                if log[:n] != tuple(self.committed):
                    raise Violation("state machine safety", f"{nid} committed index {ci} but its log differs "
                                    f"from entries committed earlier", now)
                self.committed.extend(log[n:ci])
            elif log[:ci] != tuple(self.committed[:ci]):
                bad = next(i for i in range(ci) if log[i] != self.committed[i]) + 1
                raise Violation("state machine safety", f"{nid} holds {log[bad - 1]} at committed index {bad}, "
                                f"where {self.committed[bad - 1]} was committed", now)
            self._log_matching(nid, log, now)
            self.last[nid] = view
        for eff in effects:
            if eff[0] == "send":
                msg = eff[2]
                if type(msg).__name__ == "AppendEntriesReply" and msg.success:
                    self._prev_checked(nid, old_log, now)
                    stored = st.get("log", ())
                    if msg.match_index > len(stored):
                        raise Violation("persist before you acknowledge", f"{nid} acknowledged entries up to "
                                        f"{msg.match_index} but stores {len(stored)}", now)
            elif eff[0] == "reply":
                request, result = eff[1], eff[2]
                if not isinstance(result, Ok):
                    continue
                index = result.value
                if type(index) is not int or not 1 <= index <= len(log):
                    raise Violation("answer with the entry's index", f"{nid} answered {result!r}", now)
                if index > view["commit_index"] or view["role"] != "leader":
                    raise Violation("answer only committed entries", f"{nid} answered a client for index {index} "
                                    f"with commit_index {view['commit_index']} (role {view['role']})", now)
                if log[index - 1].command != request.value:
                    raise Violation("answer only committed entries", f"{nid} answered {request.value!r} with index "
                                    f"{index}, which holds {log[index - 1].command!r}", now)

    def _prev_checked(self, nid: str, old_log: tuple, now: float) -> None:
        """A follower that says success to an AppendEntries must have had its entry at prev_index of prev_term."""
        rows = self.sim._rows
        if not rows or rows[-1][1] != "deliver" or type(rows[-1][5]).__name__ != "AppendEntries":
            return
        msg = rows[-1][5]
        p = msg.prev_index
        if p == 0:
            return
        have = old_log[p - 1].term if 0 < p <= len(old_log) else None
        if have != msg.prev_term:
            raise Violation("log matching", f"{nid} accepted AppendEntries(prev_index={p}, prev_term={msg.prev_term}) "
                            f"from {rows[-1][3]} although its log "
                            + (f"holds an entry of term {have} there" if have is not None else f"has only {len(old_log)} entries")
                            + ": check prev_index and prev_term before appending", now, nodes=(nid, rows[-1][3]))

    def _log_matching(self, nid: str, log: tuple, now: float) -> None:
        for other, v in self.live_views().items():
            if other == nid:
                continue
            theirs = v.get("log", ())
            i = min(len(log), len(theirs))
            while i > 0 and log[i - 1].term != theirs[i - 1].term:
                i -= 1
            if i and log[:i] != theirs[:i]:
                raise Violation("log matching", f"{nid} and {other} agree on the term of entry {i} but not on "
                                "all the entries before it", now)

    def final(self) -> str | None:
        text = super().final()
        if text:
            return text
        expect = self.params.get("expect", {})
        ok = [op for op in self.sim.history if op.type == "ok"]
        if len(ok) < int(expect.get("min_ok", 0)):
            return f"only {len(ok)} client commands were committed and answered; expected {expect['min_ok']}"
        views = self.live_views()
        if expect.get("converged", False) and views:
            first = next(iter(views))
            leaders = [v for v in views.values() if v["role"] == "leader"]
            top = max((v["commit_index"] for v in leaders), default=0)
            for _nid, v in sorted(views.items()):
                if v["log"] != views[first]["log"] or v["commit_index"] < top:
                    return ("at the end, after every fault had healed, the logs have not converged: "
                            + ", ".join(f"{n}: {len(x['log'])} entries, commit_index {x['commit_index']}"
                                        for n, x in sorted(views.items())))
        committed = {e.command for e in self.committed}
        for op in ok:
            if op.value not in committed:
                return f"client command {op.value!r} was acknowledged but is not in the committed log"
        return None


def _log_invariants(view) -> list:
    """Stateless log invariants for the explorer: log matching, and committed entries agree."""
    from ...sim import invariant

    def pairs(world):
        """Every two live nodes, each as (id, log, commit index)."""
        seen = [(n.id, tuple(view(n).get("log", ())), int(view(n).get("commit_index", 0))) for n in world.live()]
        for k, a in enumerate(seen):
            for b in seen[k + 1:]:
                yield a, b

    @invariant("log matching")
    def matching(world) -> str | None:
        for (a, la, _), (b, lb, _) in pairs(world):
            i = min(len(la), len(lb))
            while i > 0 and la[i - 1].term != lb[i - 1].term:
                i -= 1
            if i and la[:i] != lb[:i]:
                return f"{a} and {b} agree on the term of entry {i} but not on all the entries before it"
        return None

    @invariant("committed entries agree")
    def committed(world) -> str | None:
        for (a, la, ca), (b, lb, cb) in pairs(world):
            for i in range(min(ca, cb, len(la), len(lb))):
                if la[i] != lb[i]:
                    return f"{a} and {b} both committed entry {i + 1} but hold {la[i]!r} and {lb[i]!r}"
        return None

    return [matching, committed]


def _view_problem(view: Any) -> str | None:
    problem = election_view_problem(view)
    if problem:
        return problem
    log = view.get("log")
    if type(log) is not tuple or any(type(e) is not Entry for e in log):
        return "log must be a list of Entry"
    if any(type(e.term) is not int for e in log) or any(a.term > b.term for a, b in zip(log, log[1:], strict=False)):
        return "log terms must be ints that never decrease along the log"
    ci = view.get("commit_index")
    if type(ci) is not int or not 0 <= ci <= len(log):
        return f"commit_index must be between 0 and the log length, not {ci!r}"
    return None


class Spec(RaftSearch, NodeSpec):
    id = "ex09"
    title = "Raft log replication and the commit rule"
    notebook = "ex09_raft_log_replication.ipynb"
    judge_class = LogJudge
    hints = {
        **HINTS,
        "log matching": "Accept AppendEntries only if your log has an entry at prev_index with prev_term; "
        "otherwise refuse, and let the leader move next_index back.",
        "state machine safety": "A follower must replace conflicting entries (same index, other term) and "
        "commit no further than min(leader_commit, the last entry this message checked).",
        "the commit rule": "Move commit_index to N only when a majority stores N and the entry at N is of "
        "the leader's current term.",
        "leader completeness": "Grant a vote only to a candidate whose log is at least as up to date as yours.",
        "answer only committed entries": "Reply Ok(index) to a client only once that index is committed.",
        "persist the log": "Call persist_log after every change of the log, in the same handler.",
    }
    defaults = {
        "nodes": 3,
        "duration": 3.0,
        "quiet": 0.4,
        "workload": {"clients": 2, "keys": ["log"], "mix": [["append", 1.0]], "think": 0.05, "timeout": 0.4,
                     "deadline": 1.0},
    }
    checks = (
        Check("commands are replicated and committed", 3, hint="replicate sends the entries from "
              "next_index on, after the entry at next_index - 1; a follower accepts them only if it has that "
              "entry with that term.",
              params={"seeds": [1, 2], "duration": 2.5, "workload": {"stop": 1.5, "think": 0.1},
                      "expect": {"min_ok": 10, "converged": True}}),
        Check("followers catch up", 2, hint="On a failed AppendEntriesReply move next_index back and send "
              "again; on success set match_index and next_index from the reply.",
              params={"seeds": [3], "nodes": 5, "duration": 3.0, "nemesis": "0.4 partition n4,n5|n1,n2,n3; 1.4 heal",
                      "workload": {"stop": 1.8}, "expect": {"converged": True, "min_ok": 12}}),
        Check("the commit rule", 3, hint="Commit index N only when a majority has it AND its entry is of "
              "the current term; older entries then commit with it.",
              params={"seeds": [4], "nodes": 5, "duration": 3.5, "nemesis": "crash,partition",
                      "nemesis_interval": 0.4, "workload": {"stop": 2.0}, "expect": {"converged": True, "min_ok": 8}}),
        Check("conflicting entries are replaced", 2, hint="When an entry conflicts with a new one (same "
              "index, different term), delete it and everything after it; never delete entries that match.",
              params={"seeds": [5], "nodes": 3, "duration": 3.5, "nemesis": "partition", "nemesis_interval": 0.5,
                      "network": {"loss": 0.05}, "workload": {"stop": 2.0}, "expect": {"converged": True, "min_ok": 12}}),
    )

    def lab_invariants(self, view: Any = None) -> list:
        return [one_leader_per_term(view or self.module.view), *_log_invariants(view or self.module.view)]

    def search_invariants(self) -> list:
        return [*super().search_invariants(), *_log_invariants(lambda node: node.view)]

    def validate_view(self, view: Any) -> str | None:
        return _view_problem(view)


SPEC = Spec()

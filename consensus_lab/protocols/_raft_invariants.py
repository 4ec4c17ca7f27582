"""Raft's safety properties (Figure 3 of the paper), checked after every event.

The five ``always`` invariants, each reported under its own name:

* **Election safety** -- at most one leader can be elected in a given term.
* **Leader append-only** -- a leader never overwrites or deletes entries in its
  log; it only appends new entries.
* **Log matching** -- if two logs contain an entry with the same index and term,
  then the logs are identical in all entries up through the given index.
* **Leader completeness** -- if a log entry is committed in a given term, then
  that entry will be present in the logs of the leaders of all higher terms.
* **State machine safety** -- if a server has applied a log entry at a given
  index to its state machine, no other server will ever apply a different log
  entry for the same index.

and two ``sometimes`` goals, "a leader is elected" and "an entry commits".

They read nodes only through the small read-only views every Raft node offers
(``role``, ``current_term``, ``commit_index``, ``last_applied``,
``last_log_index``, ``snapshot_index``, ``term_at(i)``, ``entry_at(i)``), so
a student's node is checked exactly like ours.

They run after every event, so they share one :class:`RaftMonitor` that looks
only at what changed.  For each node it keeps a summary (role, term, last
index and entry, commit index, applied index); a node whose summary is the same
as at the last event is skipped (an event changes at most one node).  For a
node that changed it checks:

* its leadership against the leader already recorded for that term;
* as a leader still in the same term, that the entry it had last is still there;
* its new log entries against a registry of every ``(index, term)`` ever seen,
  holding the command and the term before it (by induction, the same as log
  matching over whole prefixes);
* its newly committed entries against every entry ever known committed (with
  the term in which it was first seen committed), and a new leader against all
  of them;
* its newly applied entries against the entry applied first at each index.

The first violation of each property is reported with the events before it.
"""

from __future__ import annotations

from typing import Any

from ..sim import Invariant, World

__all__ = [
    "RaftMonitor",
    "ElectionSafety",
    "LeaderAppendOnly",
    "LogMatching",
    "LeaderCompleteness",
    "StateMachineSafety",
    "LeaderElected",
    "EntryCommitted",
    "raft_invariants",
    "INVARIANT_NAMES",
]

LEADER = "leader"

ELECTION_SAFETY = "election safety"
LEADER_APPEND_ONLY = "leader append-only"
LOG_MATCHING = "log matching"
LEADER_COMPLETENESS = "leader completeness"
STATE_MACHINE_SAFETY = "state machine safety"
INVARIANT_NAMES = (ELECTION_SAFETY, LEADER_APPEND_ONLY, LOG_MATCHING, LEADER_COMPLETENESS, STATE_MACHINE_SAFETY)


def _same(a: Any, b: Any) -> bool:
    """Two entries are the same when their terms and commands are equal."""
    return a is b or (a is not None and b is not None and a.term == b.term and a.command == b.command)


class RaftMonitor:
    """The shared memory of the Raft invariants for one run (see the module docstring)."""

    def __init__(self) -> None:
        self.problems: dict[str, str] = {}
        self.evidence: dict[str, dict[str, Any]] = {}  # name -> the facts behind its first violation
        self.now = 0.0
        self._callers: set[str] = set()
        # per node: (node object, role, term, last index, last entry, commit index, last applied)
        self.summary: dict[str, tuple] = {}
        self.leaders: dict[int, str] = {}  # term -> the one leader seen for it
        self.leading: dict[str, int] = {}  # node id -> term, for nodes that are leaders now
        # (index, term) -> (first holder, command, previous term, time first seen)
        self.registry: dict[tuple[int, int], tuple[str, Any, int | None, float]] = {}
        self.mirror: dict[str, list[Any]] = {}  # node id -> its log as last checked (index i at [i])
        self.committed: dict[int, tuple[Any, int, str]] = {}  # index -> (entry, term first seen committed, node)
        self.committed_at: dict[int, float] = {}
        self.applied: dict[int, tuple[Any, str]] = {}  # index -> (entry, first node to apply it)

    def refresh(self, world: World, caller: str) -> None:
        """Scan once per event: the first invariant called after an event triggers it."""
        if not self._callers or caller in self._callers:
            self._callers = {caller}
            self.scan(world)
        else:
            self._callers.add(caller)

    def fail(self, name: str, message: str, **facts: Any) -> None:
        if name not in self.problems:
            self.problems[name] = message
            self.evidence[name] = {"time": self.now, **facts}

    def scan(self, world: World) -> None:
        self.now = world.now
        summary = self.summary
        for nid, node in world.nodes.items():
            if node is None:
                if nid in summary:
                    del summary[nid]
                    self.leading.pop(nid, None)
                continue
            last = node.last_log_index
            now = (node, node.role, node.current_term, last, node.entry_at(last), node.commit_index, node.last_applied)
            old = summary.get(nid)
            if old is not None and old[0] is node and old[1:4] == now[1:4] and old[4] is now[4] and old[5:] == now[5:]:
                continue
            summary[nid] = now
            if old is not None and old[0] is not node:
                old = None  # the node restarted: its volatile state is new
            self._check_node(nid, node, old, now)

    def _check_node(self, nid: str, node: Any, old: tuple | None, now: tuple) -> None:
        _, role, term, last, last_entry, commit, applied = now
        is_leader = role == LEADER
        new_leader = is_leader and (old is None or old[1] != LEADER or old[2] != term)
        if is_leader:
            # Election safety: at most one leader per term.
            who = self.leaders.get(term)
            if who is None:
                self.leaders[term] = nid
            elif who != nid:
                self.fail(ELECTION_SAFETY, f"{who} and {nid} are both leaders of term {term}", term=term, leaders=[who, nid])
            # Leader append-only: what it had is still there.
            if not new_leader:
                old_last, old_entry = old[3], old[4]
                if last < old_last:
                    self.fail(LEADER_APPEND_ONLY, f"leader {nid} of term {term} cut its log from {old_last} to {last} entries")
                elif old_last > node.snapshot_index and not _same(node.entry_at(old_last), old_entry):
                    self.fail(LEADER_APPEND_ONLY, f"leader {nid} of term {term} overwrote its entry at index {old_last}")
            self.leading[nid] = term
        else:
            self.leading.pop(nid, None)
        # Log matching: check the entries that are new since we last looked.
        if old is None or old[3] != last or old[4] is not last_entry:
            self._check_log(nid, node, last)
        # Leader completeness, part 1: record (and compare) newly committed entries.
        start = old[5] if old is not None else node.snapshot_index
        new_commits = self._record_commits(nid, node, start, commit, term) if commit > start else ()
        # Leader completeness, part 2: a new leader holds every earlier committed entry;
        # a new commit is held by every leader of a later term.
        if new_leader:
            for i, (e, when, by) in self.committed.items():
                if when < term and self._lacks(node, i, e):
                    self._incomplete(nid, term, i, e, when, by)
                    break
        if new_commits:
            for lid, lterm in self.leading.items():
                lnode = self.summary[lid][0]
                for i in new_commits:
                    e, when, by = self.committed[i]
                    if when < lterm and self._lacks(lnode, i, e):
                        self._incomplete(lid, lterm, i, e, when, by)
        # State machine safety.
        done = old[6] if old is not None else node.snapshot_index
        if applied > done:
            self._record_applied(nid, node, done, applied)

    def _check_log(self, nid: str, node: Any, last: int) -> None:
        mirror = self.mirror.get(nid)
        floor = node.snapshot_index
        if mirror is None:
            mirror = self.mirror[nid] = [None]
        # where does the log depart from what we saw last?
        first = min(len(mirror) - 1, last)
        while first > floor and not _same(mirror[first], node.entry_at(first)):
            first -= 1
        del mirror[first + 1 :]
        while len(mirror) <= first:
            mirror.append(None)
        registry = self.registry
        for i in range(first + 1, last + 1):
            e = node.entry_at(i)
            mirror.append(e)
            if e is None:
                continue
            prev_term = node.term_at(i - 1)
            known = registry.get((i, e.term))
            if known is None:
                registry[(i, e.term)] = (nid, e.command, prev_term, self.now)
                continue
            holder, command, known_prev, _ = known
            if command != e.command:
                self.fail(
                    LOG_MATCHING,
                    f"{holder} and {nid} both hold an entry at index {i} of term {e.term} "
                    f"with different commands ({command} vs {e.command})",
                )
            elif prev_term is not None and known_prev is not None and prev_term != known_prev:
                self.fail(
                    LOG_MATCHING,
                    f"{holder} and {nid} agree on index {i} term {e.term} but not before it: the entry at "
                    f"index {i - 1} has term {known_prev} on {holder} and {prev_term} on {nid}",
                )

    def _record_commits(self, nid: str, node: Any, start: int, commit: int, term: int) -> list[int]:
        new = []
        committed = self.committed
        for i in range(start + 1, commit + 1):
            e = node.entry_at(i)
            if e is None:
                continue  # covered by a snapshot
            known = committed.get(i)
            if known is None:
                committed[i] = (e, term, nid)
                self.committed_at[i] = self.now
                new.append(i)
            elif not _same(known[0], e):
                self.fail(
                    LEADER_COMPLETENESS,
                    f"index {i} is committed with two different entries: {known[0]} on {known[2]} and {e} on {nid}",
                )
        return new

    @staticmethod
    def _lacks(node: Any, index: int, entry: Any) -> bool:
        if index <= node.snapshot_index:
            return False  # compacted into its snapshot, which holds only committed entries
        return not _same(node.entry_at(index), entry)

    def _incomplete(self, nid: str, term: int, i: int, e: Any, when: int, by: str) -> None:
        seen = self.registry.get((i, e.term))
        self.fail(
            LEADER_COMPLETENESS,
            f"{nid} is leader of term {term} but lacks the entry {e} at index {i}, "
            f"committed in term {when} (seen committed on {by})",
            index=i,
            entry=e,
            commit_term=when,
            committed_by=by,
            committed_at=self.committed_at.get(i),
            created_at=seen[3] if seen else None,
            leader=nid,
            leader_term=term,
        )

    def _record_applied(self, nid: str, node: Any, done: int, applied_index: int) -> None:
        applied = self.applied
        for i in range(done + 1, applied_index + 1):
            e = node.entry_at(i)
            if e is None:
                continue  # installed from a snapshot
            known = applied.get(i)
            if known is None:
                applied[i] = (e, nid)
            elif not _same(known[0], e):
                self.fail(STATE_MACHINE_SAFETY, f"{known[1]} applied {known[0]} at index {i} but {nid} applied {e}")


class _MonitoredInvariant(Invariant):
    kind = "always"

    def __init__(self, monitor: RaftMonitor | None = None) -> None:
        self.monitor = monitor if monitor is not None else RaftMonitor()

    def check(self, world: World) -> str | None:
        m, name = self.monitor, self.name
        callers = m._callers
        if not callers or name in callers:  # (RaftMonitor.refresh, inlined: this runs after every event)
            m._callers = {name}
            m.scan(world)
        else:
            callers.add(name)
        return m.problems.get(name) if m.problems else None


class ElectionSafety(_MonitoredInvariant):
    """At most one leader can be elected in a given term (5.2)."""

    name = ELECTION_SAFETY


class LeaderAppendOnly(_MonitoredInvariant):
    """A leader never overwrites or deletes entries in its log (5.3)."""

    name = LEADER_APPEND_ONLY


class LogMatching(_MonitoredInvariant):
    """Same index and term in two logs => identical logs up to that index (5.3)."""

    name = LOG_MATCHING


class LeaderCompleteness(_MonitoredInvariant):
    """An entry committed in a term is in the log of every leader of a later term (5.4)."""

    name = LEADER_COMPLETENESS


class StateMachineSafety(_MonitoredInvariant):
    """No two nodes apply different entries at the same index (5.4.3)."""

    name = STATE_MACHINE_SAFETY


class LeaderElected(Invariant):
    name = "a leader is elected"
    kind = "sometimes"

    def check(self, world: World) -> str | None:
        for node in world.nodes.values():
            if node is not None and node.role == LEADER:
                return "reached"
        return None


class EntryCommitted(Invariant):
    name = "an entry commits"
    kind = "sometimes"

    def check(self, world: World) -> str | None:
        for node in world.nodes.values():
            if node is not None and node.commit_index > 0:
                return "reached"
        return None


def raft_invariants(options: Any = None, variant: str = "correct") -> list[Invariant]:
    """Fresh invariant objects for one run, sharing one fresh :class:`RaftMonitor`."""
    m = RaftMonitor()
    return [
        ElectionSafety(m),
        LeaderAppendOnly(m),
        LogMatching(m),
        LeaderCompleteness(m),
        StateMachineSafety(m),
        LeaderElected(),
        EntryCommitted(),
    ]

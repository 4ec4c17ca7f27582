"""Tests that kill mutants of Raft's invariants, log and node (docs/mutation.md): one rule each, named by what it guards.

The invariants' tests drive the shared :class:`RaftMonitor` through hand-built worlds, one
event at a time, with nodes seen only through the read-only views it uses (``_View``): each
rule is shown to report a small violation under its own name, with its words and evidence,
and to stay quiet on a correct cluster.
"""

from __future__ import annotations

from consensus_lab.protocols._raft_invariants import (
    ElectionSafety,
    EntryCommitted,
    LeaderAppendOnly,
    LeaderElected,
    RaftMonitor,
    raft_invariants,
)
from consensus_lab.protocols.raft_log import Command, Entry
from consensus_lab.sim import World

ES, LAO, LM, LC, SMS = (
    "election safety",
    "leader append-only",
    "log matching",
    "leader completeness",
    "state machine safety",
)


def _e(term: int, seq: int) -> Entry:
    """A fresh entry: two calls give equal entries that are different objects (as after a copy)."""
    return Entry(term, Command("c", seq, "write", "x", seq))


class _View:
    """A Raft node as the invariants see it (role, term, log after a snapshot, commit, applied).

    ``reads`` counts ``entry_at`` calls: the monitor is meant to read only what changed.
    """

    def __init__(self, nid, role="follower", term=1, log=(), commit=0, applied=0, snapshot=0, snapshot_term=0):
        self.id, self.role, self.current_term = nid, role, term
        self.log = list(log)  # the entries after the snapshot
        self.snapshot_index, self.snapshot_term = snapshot, snapshot_term
        self.commit_index, self.last_applied = commit, applied
        self.reads = 0

    @property
    def last_log_index(self):
        return self.snapshot_index + len(self.log)

    def entry_at(self, i):
        self.reads += 1
        k = i - self.snapshot_index
        return self.log[k - 1] if 0 < k <= len(self.log) else None

    def term_at(self, i):
        k = i - self.snapshot_index
        if k == 0:
            return self.snapshot_term
        return self.log[k - 1].term if 0 < k <= len(self.log) else None


class _Run:
    """The invariants of one run, called after each event as the simulator calls them."""

    def __init__(self, *nodes):
        self.invariants = raft_invariants()
        self.monitor = self.invariants[0].monitor
        self.world = World({n.id: n for n in nodes}, {})

    def step(self, now=None):
        """One event at time ``now``: every invariant checked; returns the problems found so far."""
        if now is not None:
            self.world.now = now
        seen = {i.name: i.check(self.world) for i in self.invariants if i.kind == "always"}
        return {k: v for k, v in seen.items() if v is not None}


# --- a correct cluster, event by event ----------------------------------------------------------


def test_the_raft_invariants_stay_quiet_on_a_correct_cluster_event_by_event():
    """Copies of entries (equal, other objects), a divergent uncommitted tail, a lagging candidate
    of a later term, a leader that appends, commits, snapshots its whole log, crashes, and a new
    leader that holds every committed entry (part of them in its snapshot): no rule fires."""
    a1, b2, c2, d2 = _e(1, 1), _e(2, 2), _e(2, 3), _e(2, 4)
    n1 = _View("n1", "leader", 2, [a1, b2], commit=1, applied=1)
    n2 = _View("n2", "follower", 2, [_e(1, 1), _e(2, 2)], commit=1, applied=1)
    n3 = _View("n3", "candidate", 3)  # partitioned: timed out into term 3 with an empty log
    n4 = _View("n4", "follower", 1, [_e(1, 1), _e(1, 9)], commit=1, applied=1)  # an uncommitted tail
    r = _Run(n1, n2, n3, n4)
    r.world.nodes["n5"] = None  # down from the start
    assert r.step(0.1) == {}
    n1.log.append(c2)
    n1.commit_index = n1.last_applied = 2  # appends and commits
    assert r.step(0.2) == {}
    n1.commit_index = n1.last_applied = 3  # commits without appending
    assert r.step(0.3) == {}
    n4.current_term, n4.log = 2, [n4.log[0], _e(2, 2), _e(2, 3)]  # the tail replaced by the leader's
    n4.commit_index = n4.last_applied = 3
    n2.log.append(_e(2, 3))
    n2.commit_index = n2.last_applied = 3
    assert r.step(0.4) == {}
    n1.snapshot_index, n1.snapshot_term, n1.log = 3, 2, []  # the leader compacts everything
    assert r.step(0.5) == {}
    n1.log.append(d2)
    assert r.step(0.6) == {}
    r.world.nodes["n3"] = None  # a follower crashes
    assert r.step(0.7) == {}
    r.world.nodes["n1"] = None  # the leader crashes
    assert r.step(0.8) == {}
    n2.log.append(_e(2, 4))
    n2.snapshot_index, n2.snapshot_term, n2.log = 3, 2, n2.log[3:]  # entries 1..3 in its snapshot
    n2.role, n2.current_term = "candidate", 3
    assert r.step(0.9) == {}
    n2.role = "leader"  # holds 1..3 (snapshot) and 4
    assert r.step(1.0) == {}
    n4.log.append(_e(2, 4))
    n4.commit_index = n4.last_applied = 4  # index 4, created in term 2, commits under the new leader
    assert r.step(1.1) == {}
    n2.commit_index = n2.last_applied = 4
    assert r.step(1.2) == {}


def test_the_raft_invariants_share_one_fresh_monitor_and_each_rule_works_alone():
    first, second = raft_invariants(), raft_invariants()
    monitors = {id(i.monitor) for i in first if hasattr(i, "monitor")}
    assert len(monitors) == 1 and len([i for i in first if hasattr(i, "monitor")]) == 5
    assert first[0].monitor is not second[0].monitor
    alone = ElectionSafety()
    assert isinstance(alone.monitor, RaftMonitor)
    world = World({"n1": _View("n1", "leader", 2), "n2": _View("n2", "leader", 2)}, {})
    assert alone.check(world) == "n1 and n2 are both leaders of term 2"
    shared = RaftMonitor()
    assert LeaderAppendOnly(shared).monitor is shared


def test_the_raft_goals_are_a_leader_elected_and_an_entry_committed():
    n1, n2 = _View("n1", "follower", 1), _View("n2", "candidate", 1)
    world = World({"n0": None, "n1": n1, "n2": n2}, {})
    elected, committed = LeaderElected(), EntryCommitted()
    assert elected.check(world) is None and committed.check(world) is None
    n1.commit_index = 1
    assert committed.check(world) == "reached" and elected.check(world) is None
    n2.role = "leader"
    assert elected.check(world) == "reached"


# --- how the monitor runs: once per event, on what changed ---------------------------------------


def test_the_raft_monitor_scans_once_per_event_whatever_order_its_callers_come_in():
    """`RaftMonitor.refresh`: the first caller after an event scans; the others of that event do
    not; a caller that comes again starts the next event."""
    n1, n2 = _View("n1", "leader", 2), _View("n2", "follower", 2)
    world = World({"n1": n1, "n2": n2}, {})
    m = RaftMonitor()
    m.refresh(world, "a")
    n2.role = "leader"
    m.refresh(world, "b")
    assert m.problems == {}
    m.refresh(world, "b")
    assert m.problems == {ES: "n1 and n2 are both leaders of term 2"}


def test_the_monitored_invariants_scan_once_per_event_and_report_their_own_problem():
    n1, n2 = _View("n1", "leader", 2), _View("n2", "follower", 2)
    world = World({"n1": n1, "n2": n2}, {})
    es, lao = raft_invariants()[:2]
    assert es.check(world) is None
    n2.role = "leader"
    assert lao.check(world) is None and es.monitor.problems == {}
    assert lao.check(world) is None and es.monitor.problems != {}
    assert es.check(world) == "n1 and n2 are both leaders of term 2"


def test_the_raft_monitor_reads_only_what_changed():
    """The invariants run after every event: appending, committing, applying, overwriting the last
    entry or compacting a long log costs a few reads of ``entry_at``, not one per entry."""
    entries = [_e(1, i) for i in range(1, 41)]
    n1 = _View("n1", log=entries, commit=40, applied=40, snapshot_term=1)
    lead = _View("n2", "leader", 1, log=list(entries), commit=40, applied=40, snapshot_term=1)
    r = _Run(n1, lead)
    assert r.step(1.0) == {}
    steps = (
        ("append", lambda n: n.log.append(_e(1, 41))),
        ("commit", lambda n: setattr(n, "commit_index", 41)),
        ("apply", lambda n: setattr(n, "last_applied", 41)),
        ("append", lambda n: n.log.append(_e(1, 42))),
        ("overwrite the last entry", lambda n: n.log.__setitem__(-1, _e(2, 43))),
        ("compact", lambda n: (setattr(n, "snapshot_index", 40), n.log.__delitem__(slice(0, 40)))),
        ("append", lambda n: n.log.append(_e(3, 44) if n is n1 else _e(1, 45))),
        ("install a snapshot of the whole log", lambda n: (setattr(n, "snapshot_index", 43), n.log.clear())),
    )
    for what, change in steps:
        for n in (n1, lead):
            if n is lead and what.startswith(("overwrite", "install")):
                continue  # (a leader does not)
            change(n)
            n.reads = 0
            assert r.step() == {}, what
            assert n.reads <= 6, (what, n.id, n.reads)


# --- each rule reports its violation -------------------------------------------------------------


def test_election_safety_names_both_leaders_of_a_term_with_its_evidence():
    """A crashed node listed first, a leader that does not change, then a second leader."""
    n1, n2, n3 = _View("n1", "leader", 2), _View("n2", "follower", 2), _View("n3", "follower", 2)
    r = _Run(n1, n2, n3)
    r.world.nodes = {"n0": None, **r.world.nodes}
    assert r.step(1.0) == {}
    n2.role = "leader"
    assert r.step(2.5) == {ES: "n1 and n2 are both leaders of term 2"}
    assert r.monitor.evidence[ES] == {"time": 2.5, "term": 2, "leaders": ["n1", "n2"]}
    n3.role = "leader"  # the first violation is the one kept
    assert r.step(3.0) == {ES: "n1 and n2 are both leaders of term 2"}
    assert r.monitor.evidence[ES]["time"] == 2.5


def test_leader_append_only_catches_a_leader_that_cuts_or_overwrites_its_log():
    a1, b2, c2 = _e(1, 1), _e(2, 2), _e(2, 3)
    cut = _View("n1", "leader", 2, [a1, b2, c2])
    r = _Run(cut)
    assert r.step(1.0) == {}
    cut.log = [a1, b2]
    assert r.step(2.0) == {LAO: "leader n1 of term 2 cut its log from 3 to 2 entries"}
    assert r.monitor.evidence[LAO] == {"time": 2.0}

    over = _View("n1", "leader", 2, [a1, b2])
    r = _Run(over)
    assert r.step(1.0) == {}
    over.log = [a1, _e(2, 7)]  # the same length, another last entry
    assert r.step(2.0)[LAO] == "leader n1 of term 2 overwrote its entry at index 2"


def test_leader_append_only_holds_a_leader_to_its_log_only_within_its_term():
    """A leader re-elected in a later term, or a candidate that wins, starts a new record."""
    a1, b2, c2 = _e(1, 1), _e(2, 2), _e(2, 3)
    n1 = _View("n1", "leader", 2, [a1, b2, c2])
    r = _Run(n1)
    assert r.step(1.0) == {}
    n1.current_term, n1.log = 3, [a1]  # (stepped down, truncated, won term 3: between two looks)
    assert r.step(2.0) == {}
    n1.role, n1.current_term = "candidate", 4
    assert r.step(3.0) == {}
    n1.role, n1.log = "leader", [a1, _e(4, 8)]
    assert r.step(4.0) == {}


def test_log_matching_catches_two_commands_under_one_index_and_term():
    n1 = _View("n1", log=[_e(1, 1), _e(1, 2)])
    n2 = _View("n2", log=[_e(1, 1)])
    r = _Run(n1, n2)
    assert r.step(1.0) == {}
    n2.log.append(_e(1, 9))  # appended later: index 2, term 1, another command
    assert r.step(2.0) == {
        LM: "n1 and n2 both hold an entry at index 2 of term 1 with different commands "
        "(c#2 write x 2 vs c#9 write x 9)"
    }


def test_log_matching_sees_an_entry_overwritten_at_the_same_index():
    """A follower whose last entry is replaced (same index, same commit): its log is read again."""
    n1 = _View("n1", log=[_e(1, 1), _e(1, 2)])
    n2 = _View("n2", term=2, log=[_e(1, 1), _e(2, 5)])
    r = _Run(n1, n2)
    assert r.step(1.0) == {}
    n2.log[1] = _e(1, 9)
    assert LM in r.step(2.0)


def test_log_matching_catches_a_log_that_repeats_its_last_entry_object():
    """A node that appends the same entry object twice (a duplicate): the new index is checked."""
    a1 = _e(1, 1)
    n1 = _View("n1", log=[_e(1, 1), _e(1, 2)])
    n2 = _View("n2", log=[a1])
    r = _Run(n1, n2)
    assert r.step(1.0) == {}
    n2.log.append(a1)
    assert r.step(2.0) == {
        LM: "n1 and n2 both hold an entry at index 2 of term 1 with different commands "
        "(c#2 write x 2 vs c#1 write x 1)"
    }


def test_log_matching_checks_a_replaced_log_from_the_first_entry_that_changed():
    """A follower that overwrites its last entry, then takes a whole new log from index 1 (a
    broken leader's: it repeats an entry of the old log one index later): index 1 is checked."""
    n1 = _View("n1", log=[_e(1, 1)])
    n2 = _View("n2", term=2, log=[_e(1, 1), _e(1, 2)])
    r = _Run(n1, n2)
    assert r.step(1.0) == {}
    n2.log[1] = _e(2, 3)
    assert r.step(2.0) == {}
    n2.log = [_e(1, 9), _e(1, 2), _e(2, 3)]
    assert r.step(3.0)[LM] == (
        "n1 and n2 both hold an entry at index 1 of term 1 with different commands "
        "(c#1 write x 1 vs c#9 write x 9)"
    )


def test_log_matching_compares_the_terms_before_an_entry_both_logs_hold():
    n1 = _View("n1", term=2, log=[_e(1, 1), _e(1, 2), _e(2, 3)])
    n2 = _View("n2", term=2, log=[_e(1, 1), _e(2, 7), _e(2, 3)])
    assert _Run(n1, n2).step(1.0) == {
        LM: "n1 and n2 agree on index 3 term 2 but not before it: the entry at index 2 has term 1 "
        "on n1 and 2 on n2"
    }


def test_log_matching_does_not_compare_a_term_a_view_cannot_give():
    """A node whose view has no term at its snapshot index (``term_at`` gives None, as for any
    compacted index) is compared only where both terms are known, whichever node is seen first."""
    for order in (0, 1):
        full = _View("n1", term=2, log=[_e(1, 1), _e(1, 2), _e(2, 3)])
        compact = _View("n2", term=2, log=[_e(2, 3)], snapshot=2, snapshot_term=None)
        assert _Run(*((full, compact) if order else (compact, full))).step(1.0) == {}


def test_log_matching_checks_the_entries_after_a_snapshot():
    """A node that installs a snapshot: the entries after it are checked, committed and applied."""
    n1 = _View("n1", log=[_e(1, 1), _e(1, 2), _e(1, 3)], commit=3, applied=3)
    n2 = _View("n2")
    r = _Run(n1, n2)
    assert r.step(1.0) == {}
    n2.snapshot_index, n2.snapshot_term, n2.log = 2, 1, [_e(1, 9)]
    n2.commit_index = n2.last_applied = 3
    assert r.step(2.0) == {
        LM: "n1 and n2 both hold an entry at index 3 of term 1 with different commands "
        "(c#3 write x 3 vs c#9 write x 9)",
        LC: "index 3 is committed with two different entries: [1] c#3 write x 3 on n1 and "
        "[1] c#9 write x 9 on n2",
        SMS: "n1 applied [1] c#3 write x 3 at index 3 but n2 applied [1] c#9 write x 9",
    }


def test_leader_completeness_catches_an_index_committed_with_two_entries():
    """The same command in another term is another entry."""
    for other in (_e(1, 9), _e(2, 1)):
        n1 = _View("n1", term=2, log=[_e(1, 1)], commit=1)
        n2 = _View("n2", term=2, log=[other])
        r = _Run(n1, n2)
        assert LC not in r.step(1.0)
        n2.commit_index = 1
        assert r.step(2.0)[LC] == (
            f"index 1 is committed with two different entries: [1] c#1 write x 1 on n1 and {other} on n2"
        )


def _lacks_entry_2(leader, leader_term, by, time, committed_at):
    """The problem and the evidence for a leader without ``[2] c#2`` (index 2, created at 0.5,
    committed in term 2, first seen committed on ``by`` at ``committed_at``)."""
    problem = (
        f"{leader} is leader of term {leader_term} but lacks the entry [2] c#2 write x 2 at index 2, "
        f"committed in term 2 (seen committed on {by})"
    )
    evidence = {
        "time": time, "index": 2, "entry": _e(2, 2), "commit_term": 2, "committed_by": by,
        "committed_at": committed_at, "created_at": 0.5, "leader": leader, "leader_term": leader_term,
    }
    return {LC: problem}, evidence


def test_leader_completeness_catches_a_new_leader_without_a_committed_entry_with_its_evidence():
    """A candidate that wins its term without an entry committed in an earlier term."""
    n1 = _View("n1", term=2, log=[_e(1, 1), _e(2, 2)], commit=1, applied=1)
    n2 = _View("n2", "candidate", 3, log=[_e(1, 1)])
    r = _Run(n1, n2)
    assert r.step(0.5) == {}
    n1.commit_index = 2
    assert r.step(1.0) == {}
    n2.role = "leader"
    problems, evidence = _lacks_entry_2("n2", 3, by="n1", time=2.0, committed_at=1.0)
    assert r.step(2.0) == problems
    assert r.monitor.evidence[LC] == evidence


def test_leader_completeness_catches_a_leader_without_an_entry_committed_after_it_was_elected():
    n1 = _View("n1", "leader", 3, log=[_e(1, 1)])
    n2 = _View("n2", term=2, log=[_e(1, 1), _e(2, 2)], commit=1)
    r = _Run(n1, n2)
    assert r.step(0.5) == {}
    n2.commit_index = 2  # (a message of the old leader, late)
    problems, evidence = _lacks_entry_2("n1", 3, by="n2", time=1.0, committed_at=1.0)
    assert r.step(1.0) == problems
    assert r.monitor.evidence[LC] == evidence


def test_leader_completeness_holds_only_the_leaders_of_later_terms_and_only_while_they_lead():
    """Figure 3: an entry committed in a term is in the log of the leaders of all higher terms --
    not of a leader of the same term, nor of a node that led once and stepped down."""
    n1 = _View("n1", "candidate", 4, log=[_e(1, 1)])
    n2 = _View("n2", term=4, log=[_e(1, 1), _e(4, 2)], commit=1)
    n3 = _View("n3", "leader", 5, log=[_e(1, 1)])
    r = _Run(n1, n2, n3)
    assert r.step(1.0) == {}
    n3.role = "follower"  # steps down
    assert r.step(2.0) == {}
    n2.commit_index = 2  # committed in term 4; n1 (about to lead term 4) and n3 lack it
    assert r.step(3.0) == {}
    n1.role = "leader"
    assert r.step(4.0) == {}
    n2.log.append(_e(4, 3))
    n2.commit_index = 3  # another entry of term 4 commits while n1 leads term 4
    assert r.step(5.0) == {}


def test_a_new_leader_without_a_committed_entry_is_still_checked_for_what_it_applied():
    n1 = _View("n1", term=1, log=[_e(1, 1)], commit=1, applied=1)
    n2 = _View("n2", "leader", 2, log=[_e(1, 9)], commit=1, applied=1)
    problems = _Run(n1, n2).step(1.0)
    assert LC in problems
    assert problems[SMS] == "n1 applied [1] c#1 write x 1 at index 1 but n2 applied [1] c#9 write x 9"


def test_state_machine_safety_names_the_first_node_to_apply_each_entry():
    n1 = _View("n1", log=[_e(1, 1)], commit=1, applied=1)
    n2 = _View("n2", log=[_e(1, 9)], commit=1)
    r = _Run(n1, n2)
    assert SMS not in r.step(1.0)
    n2.last_applied = 1
    assert r.step(2.0)[SMS] == "n1 applied [1] c#1 write x 1 at index 1 but n2 applied [1] c#9 write x 9"


def test_a_follower_that_loses_a_committed_entry_is_reported_when_it_leads_without_it():
    """The stale-truncate story: two followers cut their logs below their commit index (one had
    applied the lost entry, one had not yet) and commit more; the violation is the one that
    leads without the entry, with the evidence lesson 07 plots.  The monitor compares each index
    once, when a node commits (or applies) it: what a node applied stays what it applied."""
    n1 = _View("n1", term=1, log=[_e(1, 1), _e(1, 2)], commit=2, applied=2)
    n3 = _View("n3", term=1, log=[_e(1, 1), _e(1, 2)], commit=2, applied=1)
    n4 = _View("n4", term=1, log=[_e(1, 1), _e(1, 2)], commit=2, applied=2)
    r = _Run(n1, n3, n4)
    assert r.step(1.0) == {}
    for n in (n3, n4):
        n.current_term, n.log = 2, [n.log[0], _e(2, 5)]  # truncated below its commit index
        assert r.step() == {}
    n3.log.append(_e(2, 6))
    n3.commit_index = 3  # (its applying stops at the lost entry)
    assert r.step(3.0) == {}
    n4.log.append(_e(2, 6))
    n4.commit_index = n4.last_applied = 3
    assert r.step(3.5) == {}
    n3.role, n3.current_term = "leader", 3
    assert r.step(4.0) == {
        LC: "n3 is leader of term 3 but lacks the entry [1] c#2 write x 2 at index 2, "
        "committed in term 1 (seen committed on n1)"
    }


def test_a_lost_entry_never_seen_appended_has_no_creation_time_in_the_evidence():
    """A node that rewrites an entry in the middle of its log (its last entry unchanged) and
    commits it: a new leader without it is reported, ``created_at`` unknown."""
    b1 = _e(1, 2)
    n1 = _View("n1", log=[_e(1, 1), b1])
    n2 = _View("n2", "candidate", 2, log=[_e(1, 1)])
    r = _Run(n1, n2)
    assert r.step(1.0) == {}
    n1.log[0] = _e(0, 9)  # in place; never appended, so never seen in a log
    n1.commit_index = 1
    assert r.step(2.0) == {}
    n2.role = "leader"
    assert LC in r.step(3.0)
    assert r.monitor.evidence[LC]["created_at"] is None and r.monitor.evidence[LC]["index"] == 1


def test_a_restarted_node_is_checked_afresh_even_when_its_summary_looks_the_same():
    """A node object replaced (a restart between two looks): what it commits is compared again."""
    b1 = _e(1, 2)
    r = _Run(_View("n1", log=[_e(1, 1)]))
    assert r.step(1.0) == {}
    r.world.nodes["n1"] = _View("n1", log=[_e(1, 1), b1], commit=2)  # another summary
    assert r.step(2.0) == {}
    r.world.nodes["n1"] = _View("n1", log=[_e(1, 9), b1], commit=2)  # the same summary
    assert r.step(3.0) == {
        LC: "index 1 is committed with two different entries: [1] c#1 write x 1 on n1 and "
        "[1] c#9 write x 9 on n1"
    }

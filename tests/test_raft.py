"""Raft, rule by rule (Figure 2 of the paper), then as a whole.

Handler tests feed one message to a node held in a FakeContext and look at the
effects; the later tests run the simulator.  The named battery lives in
test_raft_battery.py.
"""

from __future__ import annotations

import pytest

from consensus_lab import Scenario, Workload, run
from consensus_lab.protocols import get
from consensus_lab.protocols._raft_invariants import INVARIANT_NAMES, raft_invariants
from consensus_lab.protocols.raft import (
    CANDIDATE,
    FOLLOWER,
    LEADER,
    VARIANTS,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    RaftConfig,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    durable_view,
)
from consensus_lab.protocols.raft_log import Command, Entry, KVStateMachine, RaftLog, Snapshot
from consensus_lab.sim import ClientRequest, Fail, Ok, Redirect, World
from consensus_lab.testing import FakeContext

C3 = ("n1", "n2", "n3")
C5 = ("n1", "n2", "n3", "n4", "n5")


def node(nid="n1", cluster=C3, variant="correct", storage=None, **options):
    ctx = FakeContext(nid, storage=storage)
    n = RaftNode(nid, cluster, RaftConfig.from_options(options, variant))
    n.on_start(ctx)
    ctx.clear()
    return n, ctx


def cmd(i, f="write", key="x", value=None, client="c0"):
    return Command(client, i, f, key, i if value is None and f == "write" else value)


def with_log(n, ctx, terms, term=None):
    """Give node n a log with these terms (commands write 1, 2, ...) and persist it."""
    for i, t in enumerate(terms, start=1):
        n.log.append(Entry(t, cmd(i)))
    n.current_term = term if term is not None else (terms[-1] if terms else 0)
    ctx.storage["term"] = n.current_term
    n._save_log_from(ctx, 1)
    ctx.clear()


def make_leader(n, ctx, term=None):
    if term is not None:
        n.current_term = term - 1
    n.start_election(ctx)
    for p in n.peers[: n.majority - 1]:
        n.on_message(ctx, p, RequestVoteReply(n.current_term, True))
    assert n.role == LEADER
    ctx.clear()


# --- registration ---------------------------------------------------------------------------


def test_spec_is_registered_with_correct_first_and_the_twins():
    spec = get("raft")
    assert list(spec.variants) == [
        "correct",
        "commit-previous-term",
        "volatile-vote",
        "no-up-to-date-check",
        "stale-truncate",
        "log-by-reference",
        "article",
    ]
    assert spec.history_model == "kv"
    assert spec.variants == VARIANTS
    names = [i.name for i in spec.invariants({}, "correct")]
    assert names[:5] == list(INVARIANT_NAMES)
    assert "a leader is elected" in names and "an entry commits" in names


def test_bad_options_say_what_to_fix():
    with pytest.raises(ValueError, match="election_min"):
        RaftConfig.from_options({"election_min": 0.5, "election_max": 0.2})
    with pytest.raises(ValueError, match="reads"):
        RaftConfig.from_options({"reads": "lease"})


# --- elections (5.2, 5.4.1) -----------------------------------------------------------------


def test_election_timeout_makes_a_candidate_that_votes_for_itself_on_disk_first():
    n, ctx = node()
    n.on_timer(ctx, "election", None)
    assert n.role == CANDIDATE and n.current_term == 1 and n.voted_for == "n1"
    assert ctx.storage["term"] == 1 and ctx.storage["vote"] == "n1"
    assert ctx.sent() == [("n2", RequestVote(1, "n1", 0, 0)), ("n3", RequestVote(1, "n1", 0, 0))]
    assert "election" in ctx.timers()


def test_election_timeouts_are_randomized_within_the_configured_range():
    delays = set()
    for seed in range(20):
        ctx = FakeContext("n1", seed=seed)
        RaftNode("n1", C3).on_start(ctx)
        delays.add(ctx.timers()["election"])
    assert len(delays) == 20 and all(0.15 <= d <= 0.30 for d in delays)


def test_vote_is_granted_once_per_term_and_persisted_before_the_reply():
    n, ctx = node()
    n.on_message(ctx, "n2", RequestVote(1, "n2", 0, 0))
    assert ctx.sent() == [("n2", RequestVoteReply(1, True))]
    assert ctx.storage["vote"] == "n2" and ctx.storage["term"] == 1
    ctx.clear()
    n.on_message(ctx, "n3", RequestVote(1, "n3", 0, 0))
    assert ctx.sent() == [("n3", RequestVoteReply(1, False))]
    ctx.clear()
    n.on_message(ctx, "n2", RequestVote(1, "n2", 0, 0))  # a retry from the same candidate
    assert ctx.sent() == [("n2", RequestVoteReply(1, True))]


def test_request_vote_from_an_older_term_is_refused():
    n, ctx = node()
    n.current_term = 5
    n.on_message(ctx, "n2", RequestVote(4, "n2", 9, 4))
    assert ctx.sent() == [("n2", RequestVoteReply(5, False))]
    assert n.voted_for is None


@pytest.mark.parametrize(
    "cand_last, granted",
    [((2, 2), False), ((3, 1), False), ((3, 2), True), ((1, 3), True)],  # (last index, last term)
)
def test_up_to_date_check_compares_last_terms_then_lengths(cand_last, granted):
    n, ctx = node()
    with_log(n, ctx, [1, 2, 2], term=2)
    n.on_message(ctx, "n2", RequestVote(3, "n2", cand_last[0], cand_last[1]))
    assert ctx.sent() == [("n2", RequestVoteReply(3, granted))]


def test_broken_twin_without_up_to_date_check_votes_for_a_stale_log():
    n, ctx = node(variant="no-up-to-date-check")
    with_log(n, ctx, [1, 2, 2], term=2)
    n.on_message(ctx, "n2", RequestVote(3, "n2", 0, 0))
    assert ctx.sent() == [("n2", RequestVoteReply(3, True))]


def test_article_twin_votes_for_every_candidate_of_its_term_whatever_their_logs():
    n, ctx = node(variant="article")
    with_log(n, ctx, [1, 2, 2], term=2)
    n.on_message(ctx, "n2", RequestVote(3, "n2", 0, 0))
    n.on_message(ctx, "n3", RequestVote(3, "n3", 1, 1))
    assert ctx.sent() == [("n2", RequestVoteReply(3, True)), ("n3", RequestVoteReply(3, True))]


@pytest.mark.parametrize("variant, committed", [("correct", 0), ("article", 1)])
def test_article_twin_commits_after_one_follower_of_five(variant, committed):
    n, ctx = node(cluster=C5, variant=variant)
    make_leader(n, ctx)
    n.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 1))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1))
    assert n.commit_index == committed  # 2 of 5 stored it: a minority


def test_broken_twin_volatile_vote_forgets_its_vote_after_a_restart():
    for variant, remembered in (("correct", "n2"), ("volatile-vote", None)):
        n, ctx = node(variant=variant)
        n.on_message(ctx, "n2", RequestVote(1, "n2", 0, 0))
        again = RaftNode("n1", C3, RaftConfig.from_options({}, variant))
        again.on_start(ctx)
        assert again.current_term == 1 and again.voted_for == remembered
        ctx.clear()
        again.on_message(ctx, "n3", RequestVote(1, "n3", 0, 0))
        assert ctx.sent() == [("n3", RequestVoteReply(1, variant == "volatile-vote"))]


def test_a_candidate_needs_a_majority_of_the_whole_cluster():
    n, ctx = node(cluster=C5)
    n.on_timer(ctx, "election", None)
    n.on_message(ctx, "n2", RequestVoteReply(1, True))
    n.on_message(ctx, "n3", RequestVoteReply(1, False))
    n.on_message(ctx, "n4", RequestVoteReply(1, False))
    assert n.role == CANDIDATE  # 2 of 5: more than any rival, but not a majority
    n.on_message(ctx, "n2", RequestVoteReply(1, True))  # a duplicate does not count twice
    assert n.role == CANDIDATE
    ctx.clear()
    n.on_message(ctx, "n5", RequestVoteReply(1, True))
    assert n.role == LEADER
    # Fig. 2: upon election, empty AppendEntries to every server
    sent = ctx.sent()
    assert [d for d, _ in sent] == ["n2", "n3", "n4", "n5"]
    assert all(isinstance(m, AppendEntries) and m.entries == () for _, m in sent)


def test_a_candidate_retries_only_unanswered_vote_requests():
    n, ctx = node()
    n.on_timer(ctx, "election", None)
    n.on_message(ctx, "n2", RequestVoteReply(1, False))
    ctx.clear()
    n.on_timer(ctx, "heartbeat", None)
    assert ctx.sent() == [("n3", RequestVote(1, "n1", 0, 0))]


def test_a_higher_term_makes_any_node_step_down_and_persist_it():
    n, ctx = node()
    make_leader(n, ctx)
    n.on_message(ctx, "n2", AppendEntriesReply(7, False))
    assert n.role == FOLLOWER and n.current_term == 7 and n.voted_for is None
    assert ctx.storage["term"] == 7 and ctx.storage["vote"] is None


def test_a_candidate_steps_down_when_a_leader_of_its_term_appears():
    n, ctx = node()
    n.on_timer(ctx, "election", None)
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 0, 0, (), 0))
    assert n.role == FOLLOWER and n.leader_id == "n2"


# --- AppendEntries, receiver side (5.3) -------------------------------------------------------


def test_append_entries_from_an_older_term_is_refused():
    n, ctx = node()
    n.current_term = 3
    n.on_message(ctx, "n2", AppendEntries(2, "n2", 0, 0, (Entry(2, cmd(1)),), 0))
    assert ctx.sent() == [("n2", AppendEntriesReply(3, False))]
    assert n.last_log_index == 0


def test_consistency_check_refuses_a_missing_previous_entry_and_names_the_gap():
    n, ctx = node()
    with_log(n, ctx, [1, 1])
    n.on_message(ctx, "n2", AppendEntries(2, "n2", 5, 2, (Entry(2, cmd(6)),), 0))
    assert ctx.sent() == [("n2", AppendEntriesReply(2, False, 0, 3, None))]


def test_consistency_check_names_the_conflicting_term_and_its_first_index():
    n, ctx = node()
    with_log(n, ctx, [1, 2, 2, 2])
    n.on_message(ctx, "n2", AppendEntries(3, "n2", 4, 3, (), 0))
    assert ctx.sent() == [("n2", AppendEntriesReply(3, False, 0, 2, 2))]


def test_conflicting_suffix_is_deleted_and_new_entries_appended_on_disk():
    n, ctx = node()
    with_log(n, ctx, [1, 2, 2, 2])
    new = (Entry(3, cmd(10)), Entry(3, cmd(11)))
    n.on_message(ctx, "n2", AppendEntries(3, "n2", 2, 2, new, 0))
    assert n.log_terms() == (1, 2, 3, 3)
    assert ctx.sent() == [("n2", AppendEntriesReply(3, True, 4))]
    assert ctx.storage["log_end"] == 4 and ctx.storage["log/3"] == new[0]


def test_a_stale_append_entries_does_not_cut_the_log_but_the_twin_does():
    for variant, expect in (("correct", (1, 1, 1, 1)), ("stale-truncate", (1, 1))):
        n, ctx = node(variant=variant)
        with_log(n, ctx, [1, 1, 1, 1])
        stale = AppendEntries(1, "n2", 1, 1, (n.entry_at(2),), 0)  # delayed: index 2 only
        n.on_message(ctx, "n2", stale)
        assert n.log_terms() == expect, variant
        assert ctx.storage["log_end"] == len(expect)


def test_follower_learns_commit_index_but_not_past_the_last_new_entry():
    n, ctx = node()
    with_log(n, ctx, [1, 1, 1, 1])
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 2, 1, (), 4))
    assert n.commit_index == 2 and n.last_applied == 2
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 4, 1, (), 4))
    assert n.commit_index == 4 and n.sm.data == {"x": 4}


# --- the leader (5.3, 5.4.2) -------------------------------------------------------------------


def test_leader_backs_up_a_whole_term_per_rejection():
    n, ctx = node()
    with_log(n, ctx, [1, 1, 2, 2, 4, 4], term=4)
    make_leader(n, ctx, term=5)
    # the follower's entry at 6 has term 3, its term-3 run starts at 4: the leader has
    # no term 3, so it goes to the follower's first index of that term
    n.on_message(ctx, "n2", AppendEntriesReply(5, False, 0, 4, 3))
    assert n.ls.next_index["n2"] == 4
    (dst, m), = ctx.sent()
    assert dst == "n2" and m.prev_log_index == 3 and [e.term for e in m.entries] == [2, 4, 4]
    ctx.clear()
    # a follower whose conflicting term the leader has: skip to after the leader's last entry of it
    n.on_message(ctx, "n3", AppendEntriesReply(5, False, 0, 3, 2))
    assert n.ls.next_index["n3"] == 5


def test_leader_never_commits_an_older_term_entry_by_counting_replicas():
    n, ctx = node()
    with_log(n, ctx, [1, 2], term=2)
    make_leader(n, ctx, term=4)
    n.on_message(ctx, "n2", AppendEntriesReply(4, True, 2))  # index 2 (term 2) now on a majority
    assert n.commit_index == 0
    n.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 7))
    n.on_message(ctx, "n2", AppendEntriesReply(4, True, 3))  # the term-4 entry on a majority
    assert n.commit_index == 3  # ...and the term-2 entry commits with it, indirectly


def test_broken_twin_commits_an_older_term_entry_by_counting():
    n, ctx = node(variant="commit-previous-term")
    with_log(n, ctx, [1, 2], term=2)
    make_leader(n, ctx, term=4)
    n.on_message(ctx, "n2", AppendEntriesReply(4, True, 2))
    assert n.commit_index == 2


def test_heartbeats_go_only_to_followers_we_sent_nothing_since_the_last_beat():
    n, ctx = node()
    make_leader(n, ctx)
    n.on_timer(ctx, "heartbeat", None)
    assert [d for d, _ in ctx.sent()] == ["n2", "n3"]
    ctx.clear()
    n.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 1))  # sends the entry to n2 and n3
    ctx.clear()
    n.on_timer(ctx, "heartbeat", None)  # both heard from us since the last beat
    assert ctx.sent() == [] and ctx.timers()["heartbeat"] == 0.05
    n.on_timer(ctx, "heartbeat", None)
    assert [d for d, _ in ctx.sent()] == ["n2", "n3"]


def test_stale_success_replies_never_move_match_index_back():
    n, ctx = node()
    make_leader(n, ctx)
    for i in range(3):
        n.on_client_request(ctx, ClientRequest("c1", i + 1, "write", "x", i))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 3))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1))  # reordered, older
    assert n.ls.match_index["n2"] == 3 and n.ls.next_index["n2"] == 4


# --- persistence -------------------------------------------------------------------------------


def test_restart_rebuilds_term_vote_and_log_from_storage_and_forgets_the_rest():
    n, ctx = node()
    with_log(n, ctx, [1, 1, 2], term=2)
    n.on_message(ctx, "n2", RequestVote(3, "n2", 3, 2))
    n.commit_index = 3
    again = RaftNode("n1", C3)
    again.on_start(ctx)
    assert (again.current_term, again.voted_for, again.log_terms()) == (3, "n2", (1, 1, 2))
    assert again.commit_index == 0 and again.role == FOLLOWER
    assert durable_view(ctx.storage.snapshot())["log_terms"] == [1, 1, 2]


# --- the key-value service (section 8) -----------------------------------------------------------


def test_a_follower_redirects_to_the_leader_it_knows():
    n, ctx = node()
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 0, 0, (), 0))
    ctx.clear()
    req = ClientRequest("c1", 1, "read", "x")
    n.on_client_request(ctx, req)
    assert ctx.replies() == [(req, Redirect("n2"))]


def test_leader_answers_after_apply_and_a_retry_is_applied_once():
    n, ctx = node()
    make_leader(n, ctx)
    w = ClientRequest("c1", 1, "write", "x", 5)
    n.on_client_request(ctx, w)
    n.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 5, attempt=1))  # retry while pending
    assert n.last_log_index == 1 and ctx.replies() == []
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1))
    ((req, result),) = ctx.replies()
    assert req.attempt == 1 and result == Ok(None) and n.sm.data == {"x": 5}
    ctx.clear()
    n.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 5, attempt=2))  # retry after apply
    assert n.last_log_index == 1 and [r for _, r in ctx.replies()] == [Ok(None)]


def test_cas_mismatch_is_a_definite_failure_and_reads_go_through_the_log():
    n, ctx = node()
    make_leader(n, ctx)
    n.on_client_request(ctx, ClientRequest("c1", 1, "cas", "x", (3, 4)))
    n.on_client_request(ctx, ClientRequest("c2", 1, "read", "x"))
    assert n.last_log_index == 2
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 2))
    assert [r for _, r in ctx.replies()] == [Fail("cas mismatch"), Ok(None)]


def test_state_machine_applies_each_client_sequence_number_once():
    sm = KVStateMachine()
    assert sm.apply(Command("c", 1, "write", "x", 1)) == Ok()
    assert sm.apply(Command("c", 2, "cas", "x", (1, 2))) == Ok()
    assert sm.apply(Command("c", 2, "cas", "x", (1, 2))) == Ok()  # duplicate: same answer, no effect
    assert sm.apply(Command("c", 3, "read", "x")) == Ok(2)
    assert sm.apply(Command("c", 1, "write", "x", 1)) is None  # older than the session: ignored
    assert sm.data == {"x": 2}


def test_leader_losing_leadership_redirects_its_waiting_clients():
    n, ctx = node()
    make_leader(n, ctx)
    req = ClientRequest("c1", 1, "write", "x", 5)
    n.on_client_request(ctx, req)
    n.on_message(ctx, "n2", AppendEntries(2, "n2", 0, 0, (), 0))
    assert (req, Redirect(None)) in ctx.replies()


# --- snapshots (section 7) -----------------------------------------------------------------------


def test_log_compaction_keeps_indices_and_terms_at_the_boundary():
    log = RaftLog()
    for t in (1, 1, 2, 2, 3):
        log.append(Entry(t))
    log.compact(3, 2)
    assert log.snapshot_index == 3 and log.last_index == 5 and log.term_at(3) == 2
    assert log.term_at(2) is None and log.entry(4) == Entry(2) and log.terms() == (None, None, None, 2, 3)
    log.compact(7, 4)  # a snapshot past the log: discard it all
    assert log.last_index == 7 and log.entries == []


def test_snapshot_then_install_snapshot_on_a_follower_that_lags():
    n, ctx = node(snapshot_every=2)
    make_leader(n, ctx)
    for i in range(3):
        n.on_client_request(ctx, ClientRequest("c1", i + 1, "write", "x", i))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 3))
    assert ctx.timers().get("snapshot") == 0.0
    n.on_timer(ctx, "snapshot", None)
    assert n.snapshot_index == 3 and ctx.storage["snapshot"].index == 3
    assert all(f"log/{i}" not in ctx.storage for i in (1, 2, 3))
    ctx.clear()
    n.on_timer(ctx, "heartbeat", None)
    n.on_timer(ctx, "heartbeat", None)  # n3 has nothing: it needs the snapshot
    (m,) = [m for d, m in ctx.sent() if d == "n3"]
    assert isinstance(m, InstallSnapshot) and m.last_included_index == 3

    f, fctx = node("n3")
    f.on_message(fctx, "n1", m)
    assert f.commit_index == f.last_applied == 3 and f.sm.data == {"x": 2}
    assert fctx.sent() == [("n1", InstallSnapshotReply(1, 3))]
    assert fctx.storage["snapshot"] == m.data
    again = RaftNode("n3", C3)
    again.on_start(fctx)
    assert again.snapshot_index == 3 and again.sm.data == {"x": 2}
    ctx.clear()
    n.on_message(ctx, "n3", InstallSnapshotReply(1, 3))
    assert n.ls.match_index["n3"] == 3


def test_install_snapshot_keeps_a_matching_suffix():
    f, ctx = node("n3")
    with_log(f, ctx, [1, 1, 1, 1])
    snap = Snapshot(2, 1, (("x", 2),), (("c0", (2, Ok())),))
    f.on_message(ctx, "n1", InstallSnapshot(1, "n1", 2, 1, snap))
    assert f.snapshot_index == 2 and f.last_log_index == 4 and f.last_applied == 2


# --- invariants ----------------------------------------------------------------------------------


class _Stub:
    """A node seen only through the views the invariants use."""

    def __init__(self, nid, role, term, terms, commit=0, applied=0):
        self.id, self.role, self.current_term = nid, role, term
        self.entries = [Entry(t, Command("c", i, "write", "x", t * 100 + i)) for i, t in enumerate(terms, 1)]
        self.commit_index, self.last_applied, self.snapshot_index = commit, applied, 0

    @property
    def last_log_index(self):
        return len(self.entries)

    def entry_at(self, i):
        return self.entries[i - 1] if 1 <= i <= len(self.entries) else None

    def term_at(self, i):
        return 0 if i == 0 else (self.entries[i - 1].term if i <= len(self.entries) else None)


def _check(nodes):
    invs = raft_invariants()
    world = World({n.id: n for n in nodes}, {})
    return {i.name: i.check(world) for i in invs if i.kind == "always"}


def test_invariants_hold_for_consistent_nodes():
    a = _Stub("n1", LEADER, 2, [1, 2], commit=2, applied=2)
    b = _Stub("n2", FOLLOWER, 2, [1, 2], commit=1, applied=1)
    assert set(_check([a, b]).values()) == {None}


def test_each_invariant_catches_its_violation():
    two_leaders = _check([_Stub("n1", LEADER, 2, [1]), _Stub("n2", LEADER, 2, [1])])
    assert "both leaders of term 2" in two_leaders["election safety"]

    a, b = _Stub("n1", FOLLOWER, 2, [1, 2]), _Stub("n2", FOLLOWER, 2, [1, 2])
    b.entries[1] = Entry(2, Command("c", 9, "write", "x", 0))
    assert "different commands" in _check([a, b])["log matching"]

    a = _Stub("n1", FOLLOWER, 3, [1, 1], commit=2)
    b = _Stub("n2", LEADER, 4, [1, 2])
    assert "lacks the entry" in _check([a, b])["leader completeness"]

    a = _Stub("n1", FOLLOWER, 2, [1], applied=1)
    b = _Stub("n2", FOLLOWER, 2, [2], applied=1)
    assert "applied" in _check([a, b])["state machine safety"]

    invs = raft_invariants()
    lead = _Stub("n1", LEADER, 2, [1, 2, 2])
    world = World({"n1": lead}, {})
    [i.check(world) for i in invs]
    lead.entries = lead.entries[:2]
    assert "cut its log" in dict((i.name, i.check(world)) for i in invs)["leader append-only"]


# --- whole runs ---------------------------------------------------------------------------------


def test_a_run_is_safe_live_and_linearizable_under_the_random_nemesis():
    from consensus_lab.protocols.raft_scenarios import check_linearizable_run

    r = run("raft", nodes=5, seed=11, duration=6, nemesis="random")
    assert r.ok, r.violations
    assert r.goals["a leader is elected"] is not None and r.goals["an entry commits"] is not None
    assert sum(op.type == "ok" for op in r.history) > 50
    assert check_linearizable_run(r)["holds"]


def test_same_seed_same_trace():
    a = run("raft", nodes=3, seed=4, duration=3, nemesis="random")
    b = run("raft", nodes=3, seed=4, duration=3, nemesis="random")
    c = run("raft", nodes=3, seed=5, duration=3, nemesis="random")
    assert a.trace_hash == b.trace_hash != c.trace_hash


@pytest.mark.parametrize("seed", range(4))
def test_read_index_reads_are_linearizable(seed):
    from consensus_lab.protocols.raft_scenarios import check_linearizable_run

    r = run(
        "raft",
        nodes=3,
        seed=seed,
        duration=5,
        nemesis="random",
        options={"reads": "read-index"},
        workload=Workload(clients=3, keys=("x",), mix=(("read", 0.6), ("write", 0.3), ("cas", 0.1)), think=0.05,
                          timeout=0.4),
    )
    assert r.ok and check_linearizable_run(r)["holds"]
    reads = [op for op in r.history if op.f == "read" and op.type == "ok"]
    assert reads
    # read-index reads do not enter the log: the log holds writes, cas and no-ops only
    logs = [r.storage[n] for n in r.node_ids]
    for st in logs:
        for i in range(1, st.get("log_end", 0) + 1):
            e = st.get(f"log/{i}")
            assert e is None or e.command is None or e.command.f != "read"


def test_a_single_node_cluster_commits_alone():
    r = run("raft", nodes=1, seed=0, duration=1.5)
    assert r.ok and any(op.type == "ok" for op in r.history)


def test_snapshots_keep_storage_small_and_runs_safe():
    r = run(Scenario("raft", nodes=3, seed=2, duration=5, nemesis="random", options={"snapshot_every": 10}))
    assert r.ok
    for st in r.storage.values():
        assert sum(k.startswith("log/") for k in st) <= 40
        assert st["snapshot"].index > 0


# --- the command line ---------------------------------------------------------------------------


def test_cli_lists_variants_correct_first(capsys):
    from consensus_lab.cli import main

    assert main(["run", "raft", "--variants"]) == 0
    assert capsys.readouterr().out.split() == list(VARIANTS)


def test_cli_run_checks_linearizability_and_exits_1_on_a_broken_twin(capsys):
    from consensus_lab.cli import main

    # seed 3: a random-nemesis schedule in which the twin's election goes wrong (the catch rates over many
    # seeds are measured in test_twin_hunt.py and benchmarks/twin_catch_rates.py)
    args = ["run", "raft", "--nemesis", "random", "--clients", "3", "--check", "linearizable", "--seed", "3"]
    assert main(args) == 0
    assert "check linearizable: holds" in capsys.readouterr().out
    assert main([*args, "--variant", "no-up-to-date-check"]) == 1
    assert "leader completeness" in capsys.readouterr().out

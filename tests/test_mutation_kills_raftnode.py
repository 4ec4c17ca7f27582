"""Tests that kill mutants of Raft's node (raft.py) and of its log and state machine (raft_log.py)
(docs/mutation.md): one rule each, named by what it guards.  Milliseconds each."""

from __future__ import annotations

from test_raft import C3, cmd, make_leader, node, with_log

from consensus_lab.protocols.raft import (
    FOLLOWER,
    LEADER,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    RaftConfig,
    RaftNode,
    RequestVoteReply,
)
from consensus_lab.protocols.raft_log import Command, Entry, KVStateMachine, RaftLog, Snapshot
from consensus_lab.sim import ClientRequest, Fail, Ok
from consensus_lab.sim.node import CancelTimer

# --- the log (raft_log.RaftLog) ---------------------------------------------------------------------


def test_the_log_holds_entries_only_between_its_snapshot_and_its_end():
    """Past a snapshot the log holds entries from ``snapshot_index + 1`` on: below that and past
    the end there is no entry; the snapshot's last index has a term (the consistency check at
    the boundary) but no entry.  The node's views say the same."""
    log = RaftLog([Entry(2, cmd(5)), Entry(3, cmd(6))], snapshot_index=4, snapshot_term=1)
    assert [log.entry(i) for i in range(3, 8)] == [None, None, Entry(2, cmd(5)), Entry(3, cmd(6)), None]
    assert [log.term_at(i) for i in range(3, 8)] == [None, 1, 2, 3, None]
    assert RaftLog([Entry(1)]).entry(0) is None
    n, ctx = node()
    with_log(n, ctx, [1, 1, 2])
    assert [n.term_at(i) for i in range(5)] == [0, 1, 1, 2, None]
    assert [n.entry_at(i) for i in range(5)] == [None, Entry(1, cmd(1)), Entry(1, cmd(2)), Entry(2, cmd(3)), None]


def test_a_slice_and_a_truncation_count_indices_from_the_snapshot():
    """Indices are the paper's, whatever the snapshot: ``slice(first, limit)`` starts at entry
    ``first``, ``truncate_from(index)`` deletes entry ``index`` and every one after it (the
    first entry after the snapshot too)."""
    log = RaftLog([Entry(2), Entry(3), Entry(3)], snapshot_index=4, snapshot_term=1)
    assert log.slice(5, 2) == (Entry(2), Entry(3)) and log.slice(7, 64) == (Entry(3),)
    log.truncate_from(6)
    assert log.terms() == (None, None, None, None, 2)
    log.truncate_from(5)
    assert (log.entries, log.last_index) == ([], 4)
    log = RaftLog([Entry(1), Entry(1)])
    log.truncate_from(1)
    assert log.entries == []


def _append(term, prev, prev_term, terms, commit=0):
    """An AppendEntries from n1 whose entries have these terms (commands as ``with_log`` writes)."""
    return AppendEntries(term, "n1", prev, prev_term, tuple(Entry(t, cmd(prev + 1 + k)) for k, t in enumerate(terms)),
                         commit)


def test_a_follower_whose_first_entry_conflicts_replaces_its_whole_log():
    """Fig. 2, AppendEntries receiver, 3: a conflict at index 1 deletes index 1 and everything
    after it, in memory and on disk."""
    n, ctx = node("n2")
    with_log(n, ctx, [1, 1])
    n.on_message(ctx, "n1", _append(2, prev=0, prev_term=0, terms=[2]))
    assert n.log_terms() == (2,)
    assert ctx.storage["log_end"] == 1 and ctx.storage["log/1"].term == 2


def test_the_first_index_of_a_term_is_where_its_run_of_entries_starts_never_in_the_snapshot():
    """A refusal names the first index of the conflicting term's run (the end of 5.3): at index
    1, in the middle of a run, and after a snapshot whose last term is the same it is the
    first entry after the snapshot (the snapshot holds no entry to name)."""
    log = RaftLog([Entry(2), Entry(2), Entry(3), Entry(3), Entry(3)])
    assert [log.first_index_of_term(i) for i in range(1, 6)] == [1, 1, 3, 3, 3]
    log = RaftLog([Entry(2), Entry(2)], snapshot_index=3, snapshot_term=2)
    assert [log.first_index_of_term(i) for i in (4, 5)] == [4, 4]


# --- the state machine (raft_log.KVStateMachine) --------------------------------------------------


def test_the_state_machine_offers_put_append_to_a_new_key_and_names_an_unknown_operation():
    """``put`` writes like ``write``; ``append`` to a key that has no value sets it; an operation
    the service does not offer is a definite failure that names it; ``read`` returns the
    value of the key asked for."""
    sm = KVStateMachine()
    assert sm.apply(Command("c1", 1, "put", "x", 5)) == Ok() and sm.data == {"x": 5}
    assert sm.apply(Command("c1", 2, "append", "y", "ab")) == Ok() and sm.data["y"] == "ab"
    assert sm.apply(Command("c1", 3, "incr", "x", 1)) == Fail("unknown operation 'incr'")
    assert sm.data == {"x": 5, "y": "ab"}
    assert (sm.read("x"), sm.read("y"), sm.read("z")) == (5, "ab", None)


# --- the node: its state before boot, and its read-only views ---------------------------------------


def test_a_new_node_holds_figure_2s_initial_state_before_it_boots():
    """Fig. 2: currentTerm, commitIndex and lastApplied start at 0, votedFor and the leader are
    null, the log is empty, the node is a follower with no leader state, an empty state
    machine and the empty snapshot, even before ``on_start`` (a picture or a grader may
    look at a node built and not started)."""
    n = RaftNode("n1", C3, RaftConfig())
    assert n.state_view() == {"role": FOLLOWER, "term": 0, "vote": None, "leader": None, "log_terms": [],
                              "commit_index": 0, "last_applied": 0, "snapshot_index": 0}
    assert (n.votes, n.answered, n.ls, n.kv_items(), n.snapshot) == ([], [], None, (), Snapshot())
    assert n.log == RaftLog() and n.sm == KVStateMachine()


def test_the_key_value_view_is_sorted_by_the_keys_repr_whatever_the_order_of_writes():
    """``kv_items`` (what the replicas are compared by) sorts by ``repr`` of the key: keys of
    mixed types, written in any order, give one order."""
    n, ctx = node()
    for key, value in [("y", 1), (3, 0), ("x", 2)]:
        n.sm.data[key] = value
    assert n.kv_items() == (("x", 2), ("y", 1), (3, 0))


# --- the leader's replication: what it sends after each answer ----------------------------------------


def _sent_to(ctx, dst):
    return [m for d, m in ctx.sent() if d == dst]


def test_a_leader_sends_the_rest_of_the_log_as_soon_as_a_follower_acknowledges_a_partial_batch():
    """Fig. 2, Leaders: "if last log index >= nextIndex, send AppendEntries starting at
    nextIndex": with ``max_entries=2``, a follower that acknowledges entries 1..2 of three
    gets entry 3 at once (also when it is exactly the last one), not at the next beat."""
    n, ctx = node(max_entries=2)
    with_log(n, ctx, [1, 1, 1], term=1)
    make_leader(n, ctx, term=2)
    n.on_message(ctx, "n2", AppendEntriesReply(2, False, 0, 1, None))  # the follower has nothing
    (m,) = _sent_to(ctx, "n2")
    assert (m.prev_log_index, len(m.entries)) == (0, 2)
    ctx.clear()
    n.on_message(ctx, "n2", AppendEntriesReply(2, True, 2))
    (m,) = _sent_to(ctx, "n2")
    assert ctx.sent() == [("n2", AppendEntries(2, "n1", 2, 1, (Entry(1, cmd(3)),), 0, 1))]  # commit 0, round 1


def test_a_late_refusal_never_backs_the_leader_up_below_what_the_follower_acknowledged():
    """nextIndex stays above matchIndex: a refusal that arrives after a success (reordered)
    names an index the follower has already acknowledged; the leader retries from just
    after the acknowledged entries, not from the refusal's index nor further on."""
    n, ctx = node()
    with_log(n, ctx, [1, 1, 1], term=1)
    make_leader(n, ctx, term=2)
    n.on_message(ctx, "n2", AppendEntriesReply(2, True, 2))
    ctx.clear()
    n.on_message(ctx, "n2", AppendEntriesReply(2, False, 0, 1, None))
    assert n.ls.next_index["n2"] == 3 and n.ls.match_index["n2"] == 2
    (m,) = _sent_to(ctx, "n2")
    assert (m.prev_log_index, m.entries) == (2, (Entry(1, cmd(3)),))


def _leader_with_a_snapshot_of_three():
    """A leader of term 1 with entries 1..3, stored by n2 (so committed) and compacted into a
    snapshot; n3 has heard nothing."""
    n, ctx = node(snapshot_every=2)
    make_leader(n, ctx)
    for i in range(3):
        n.on_client_request(ctx, ClientRequest("c1", i + 1, "write", "x", i))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 3))
    n.on_timer(ctx, "snapshot", None)
    return n, ctx


def test_after_a_follower_installs_the_snapshot_the_leader_sends_it_the_entries_after_it():
    """Section 7: once the follower answers the InstallSnapshot, the leader goes on with
    AppendEntries from the snapshot's last index at once."""
    n, ctx = _leader_with_a_snapshot_of_three()
    assert n.snapshot_index == 3
    n.on_client_request(ctx, ClientRequest("c1", 4, "write", "x", 9))  # entry 4; n3 needs the snapshot
    ctx.clear()
    n.on_message(ctx, "n3", InstallSnapshotReply(1, 3))
    assert n.ls.match_index["n3"] == 3
    (m,) = _sent_to(ctx, "n3")
    assert isinstance(m, AppendEntries) and m.prev_log_index == 3 and [e.command.seq for e in m.entries] == [4]


# --- the candidate's beat ------------------------------------------------------------------------------


def test_a_candidate_rearms_its_beat_after_each_retry():
    """5.1: a candidate retries unanswered RequestVotes on its beat, again and again: every
    retry arms the heartbeat timer again, with the configured period."""
    n, ctx = node(heartbeat=0.04)
    n.on_timer(ctx, "election", None)
    assert ctx.timers()["heartbeat"] == 0.04
    ctx.clear()
    n.on_timer(ctx, "heartbeat", None)
    assert len(ctx.sent()) == 2 and ctx.timers() == {"heartbeat": 0.04}


def test_a_follower_that_lacks_only_the_last_entry_gets_just_that_one():
    """A refusal that names the index right after the follower's log (it has entries 1..2 of
    three) moves nextIndex there: the retry carries entry 3 alone, after entry 2."""
    n, ctx = node()
    with_log(n, ctx, [1, 1, 1], term=1)
    make_leader(n, ctx, term=2)
    n.on_message(ctx, "n2", AppendEntriesReply(2, False, 0, 3, None))
    assert n.ls.next_index["n2"] == 3
    (m,) = _sent_to(ctx, "n2")
    assert (m.prev_log_index, m.prev_log_term, m.entries) == (2, 1, (Entry(1, cmd(3)),))


def test_a_follower_that_needs_the_snapshots_last_entry_gets_the_snapshot():
    """Section 7: the leader no longer has the entry at its snapshot's last index (only its
    term), so a follower whose nextIndex is that index gets InstallSnapshot, not an
    AppendEntries with a compacted previous entry."""
    n, ctx = _leader_with_a_snapshot_of_three()
    ctx.clear()
    n.on_message(ctx, "n3", AppendEntriesReply(1, False, 0, 3, None))  # n3 has entries 1..2
    assert n.ls.next_index["n3"] == 3
    (m,) = _sent_to(ctx, "n3")
    assert m == InstallSnapshot(1, "n1", 3, 1, n.snapshot) and n.snapshot.index == 3


def test_a_new_leader_names_itself_and_stops_its_election_timer():
    """A leader's view names it as the leader of its term (the pictures show it), and it
    cancels its election timer (a leader starts no election; a timer left running would
    fire, to no effect, in every trace)."""
    n, ctx = node()
    n.on_timer(ctx, "election", None)
    ctx.clear()
    n.on_message(ctx, "n2", RequestVoteReply(1, True))
    assert (n.role, n.leader_id, n.state_view()["leader"]) == (LEADER, "n1", "n1")
    assert "election" not in ctx.timers() and CancelTimer("election") in ctx.outbox


def test_a_read_index_read_is_answered_when_a_majority_acknowledges_the_round_after_it():
    """Section 8: a leader answers a read once a majority has acknowledged a heartbeat round
    sent after the read arrived (here its own and n2's success reply for that round), and
    not before."""
    n, ctx = node(reads="read-index")
    make_leader(n, ctx)  # appends its no-op, index 1
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1, round=1))
    assert n.commit_index == 1
    n.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 7))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 2, round=1))
    ctx.clear()
    read = ClientRequest("c2", 1, "read", "x", None)
    n.on_client_request(ctx, read)
    assert ctx.replies() == []
    n.on_message(ctx, "n3", AppendEntriesReply(1, True, 0, round=1))  # an older round: not enough
    assert ctx.replies() == []
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 2, round=n.ls.round))
    assert ctx.replies() == [(read, Ok(7))]


def test_heartbeat_rounds_count_from_1_and_a_later_beat_confirms_a_pending_read():
    """``round`` numbers the leader's heartbeat rounds 1, 2, 3, ... from its election; a read
    that arrived in round r is confirmed by acknowledgements of any round >= r, so when the
    AppendEntries sent with the read are lost, the next beat's acknowledgement serves it."""
    n, ctx = node(reads="read-index")
    make_leader(n, ctx)
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1, round=1))  # the no-op commits
    ctx.clear()
    n.on_timer(ctx, "heartbeat", None)
    assert {m.round for _, m in ctx.sent()} == {2}
    ctx.clear()
    read = ClientRequest("c2", 1, "read", "x", None)
    n.on_client_request(ctx, read)  # round 3, its AppendEntries lost
    assert {m.round for _, m in ctx.sent()} == {3}
    ctx.clear()
    n.on_timer(ctx, "heartbeat", None)  # round 4: both peers were sent something since the last beat
    assert ctx.sent() == []
    n.on_timer(ctx, "heartbeat", None)
    assert {m.round for _, m in ctx.sent()} == {5}
    n.on_message(ctx, "n3", AppendEntriesReply(1, True, 1, round=5))
    assert ctx.replies() == [(read, Ok(None))]


def test_a_single_node_read_index_leader_commits_its_no_op_at_once_and_snapshots_on_schedule():
    """A cluster of one: the new leader's no-op is on a majority as soon as it is written, so
    it commits and applies at once, and with ``snapshot_every=1`` the snapshot is due."""
    n, ctx = node("n1", cluster=("n1",), reads="read-index", snapshot_every=1)
    n.on_timer(ctx, "election", None)
    assert n.role == LEADER and n.commit_index == n.last_applied == 1
    assert ctx.timers()["snapshot"] == 0.0


def test_a_stale_request_overtaken_by_a_later_one_of_its_client_is_not_answered():
    """Section 8: a client runs one operation at a time, so when its entry for seq 0 applies
    after one for seq 1 (an earlier leader's, already in the log), seq 0 is a stale duplicate:
    it changes nothing and the leader answers it nothing (no ``None`` answer)."""
    n, ctx = node()
    with_log(n, ctx, [1])  # index 1: c0#1 write x 1, not yet committed
    make_leader(n, ctx, term=2)
    stale = ClientRequest("c0", 0, "write", "x", 9)
    n.on_client_request(ctx, stale)  # index 2
    ctx.clear()
    n.on_message(ctx, "n2", AppendEntriesReply(2, True, 2))
    assert n.last_applied == 2 and n.sm.data == {"x": 1}
    assert ctx.replies() == []


def test_a_snapshot_is_due_every_n_applied_entries_and_never_without_the_option():
    """Section 7 with ``snapshot_every=2``: the snapshot timer is armed when 2 entries have
    been applied since the last snapshot (at 2, not at 3; after the snapshot at 2, again at
    4, not at 3); without the option no snapshot is ever scheduled."""
    n, ctx = node(snapshot_every=2)
    make_leader(n, ctx)
    for i in range(4):
        n.on_client_request(ctx, ClientRequest("c1", i + 1, "write", "x", i))
    due = []
    for match in (1, 2, 3, 4):
        ctx.clear()
        n.on_message(ctx, "n2", AppendEntriesReply(1, True, match))
        due.append("snapshot" in ctx.timers())
        if due[-1]:
            n.on_timer(ctx, "snapshot", None)
    assert due == [False, True, False, True] and n.snapshot_index == 4
    n, ctx = node()
    make_leader(n, ctx)
    n.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 1))
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1))
    assert n.last_applied == 1 and "snapshot" not in ctx.timers()


def test_a_read_that_arrives_before_the_new_leaders_no_op_commits_is_answered_when_it_commits():
    """Section 8: a new leader's commit index is its read index only once an entry of its term
    is committed; a read that came before that is answered as soon as the no-op commits,
    by the same acknowledgement."""
    n, ctx = node(reads="read-index")
    make_leader(n, ctx)  # the no-op, index 1, not committed yet
    read = ClientRequest("c2", 1, "read", "x", None)
    n.on_client_request(ctx, read)
    assert ctx.replies() == []
    n.on_message(ctx, "n2", AppendEntriesReply(1, True, 1, round=n.ls.round))
    assert n.commit_index == 1 and ctx.replies() == [(read, Ok(None))]

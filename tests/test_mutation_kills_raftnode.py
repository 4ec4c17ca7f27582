"""Tests that kill mutants of Raft's node (raft.py) and of its log and state machine (raft_log.py)
(docs/mutation.md): one rule each, named by what it guards.  Milliseconds each."""

from __future__ import annotations

from test_raft import C3, cmd, node, with_log

from consensus_lab.protocols.raft import FOLLOWER, AppendEntries, RaftConfig, RaftNode
from consensus_lab.protocols.raft_log import Command, Entry, KVStateMachine, RaftLog, Snapshot
from consensus_lab.sim import Fail, Ok

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


def test_a_follower_whose_first_entry_conflicts_replaces_its_whole_log():
    """Fig. 2, AppendEntries receiver, 3: a conflict at index 1 deletes index 1 and everything
    after it, in memory and on disk."""
    n, ctx = node("n2")
    with_log(n, ctx, [1, 1])
    n.on_message(ctx, "n1", _append(2, prev=0, prev_term=0, terms=[2]))
    assert n.log_terms() == (2,)
    assert ctx.storage["log_end"] == 1 and ctx.storage["log/1"].term == 2


def _append(term, prev, prev_term, terms, commit=0):
    """An AppendEntries from n1 whose entries have these terms (commands as ``with_log`` writes)."""
    return AppendEntries(term, "n1", prev, prev_term, tuple(Entry(t, cmd(prev + 1 + k)) for k, t in enumerate(terms)),
                         commit)


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

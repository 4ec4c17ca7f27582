"""Rules that `make mutate` found unguarded: each test kills a mutant that survived the
targeted suite (docs/mutation.md names the mutant each one kills).

Handler tests, one message at a time in a FakeContext; each runs in milliseconds.
"""

from __future__ import annotations

from test_raft import node

from consensus_lab.protocols.raft import FOLLOWER, AppendEntries, RequestVote, RequestVoteReply

# --- Raft: one vote per term --------------------------------------------------------------------


def test_a_candidate_that_steps_down_in_its_own_term_keeps_its_vote():
    """Stepping down to a leader of the same term is no new term: votedFor stays (on disk too),
    so a second candidate of that term gets no vote."""
    n, ctx = node()
    n.on_timer(ctx, "election", None)  # candidate of term 1, voted for itself
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 0, 0, (), 0))
    assert n.role == FOLLOWER and n.current_term == 1
    assert n.voted_for == "n1" and ctx.storage["vote"] == "n1"
    ctx.clear()
    n.on_message(ctx, "n3", RequestVote(1, "n3", 0, 0))
    assert ctx.sent() == [("n3", RequestVoteReply(1, False))]

"""Tests that kill mutants of the 2PC coordinator (docs/mutation.md), one rule each.

Handler tests, one message or timer at a time in a FakeContext; each runs in milliseconds.
"""

from __future__ import annotations

from test_twopc import WRITES, coordinator, txn_request

from consensus_lab.protocols.twopc import Abort, Ack, Commit, Prepare, Vote
from consensus_lab.sim import ClientRequest, Fail, Ok

TXID = "c0.1@1"  # the first transaction of client c0, first epoch


# --- client requests ------------------------------------------------------------------------------


def test_the_coordinator_refuses_anything_but_a_transaction_with_a_one_line_reason():
    node, ctx = coordinator()
    read = ClientRequest("c0", 1, "read", "a")
    node.on_client_request(ctx, read)
    assert ctx.replies() == [(read, Fail("two-phase commit runs transactions (f='txn'), not 'read'"))]
    assert ctx.sent() == [] and node.txns == {}


def test_a_client_retry_of_an_aborted_transaction_learns_that_it_aborted():
    node, ctx = coordinator()
    node.on_client_request(ctx, txn_request())
    node.on_message(ctx, "n3", Vote(TXID, False))
    ctx.clear()
    retry = ClientRequest("c0", 1, "txn", None, WRITES, attempt=1)
    node.on_client_request(ctx, retry)
    assert ctx.replies() == [(retry, Fail("aborted"))] and ctx.sent() == []


def test_a_client_retry_during_the_vote_is_the_request_answered_at_the_decision():
    node, ctx = coordinator(log_delay=0.0)
    node.on_client_request(ctx, txn_request())
    retry = ClientRequest("c0", 1, "txn", None, WRITES, attempt=1)
    ctx.clear()
    node.on_client_request(ctx, retry)
    assert ctx.replies() == [] and ctx.sent() == []  # no second transaction, no answer yet
    node.on_message(ctx, "n2", Vote(TXID, True))
    node.on_message(ctx, "n3", Vote(TXID, True))
    assert ctx.replies() == [(retry, Ok(WRITES))]  # the client waits on its latest attempt


# --- the decision log's timer ---------------------------------------------------------------------


def test_the_forced_log_write_commits_once_and_a_stale_log_timer_does_nothing():
    """The commit point happens once: a log timer for a transaction that is no longer being
    logged (already committed, or unknown) neither re-sends Commit nor answers the client twice.
    (The simulator fires each timer once and drops them at a crash; this guards the handler.)"""
    node, ctx = coordinator(log_delay=0.01)
    node.on_client_request(ctx, txn_request())
    node.on_message(ctx, "n2", Vote(TXID, True))
    node.on_message(ctx, "n3", Vote(TXID, True))
    node.on_timer(ctx, f"log:{TXID}", TXID)
    assert ctx.replies() == [(txn_request(), Ok(WRITES))]
    ctx.clear()
    node.on_timer(ctx, f"log:{TXID}", TXID)
    node.on_timer(ctx, "log:c9.9@1", "c9.9@1")
    assert ctx.sent() == [] and ctx.replies() == [] and ctx.timers() == {}


# --- the retry tick -------------------------------------------------------------------------------


def test_a_transaction_that_times_out_does_not_stop_the_retries_of_the_others():
    node, ctx = coordinator(vote_timeout=0.1, retry=0.05)
    node.on_client_request(ctx, txn_request(1))  # deadline 0.1
    ctx.advance(0.05)
    node.on_client_request(ctx, txn_request(2))  # deadline 0.15
    node.on_message(ctx, "n2", Vote("c0.2@1", True))
    ctx.advance(0.05)
    ctx.clear()
    node.on_timer(ctx, "retry", None)
    assert node.decision(TXID) == "abort"
    assert ("n3", Prepare("c0.2@1", WRITES)) in ctx.sent()  # the other one still asks n3
    assert ctx.timers() == {"retry": 0.05}


# --- votes and acknowledgements -------------------------------------------------------------------


def test_a_vote_the_coordinator_cannot_use_is_answered_abort():
    """Presumed abort: a vote for a transaction with no record, or for one already aborted,
    gets ``Abort`` for that transaction, so the voter can release its locks."""
    node, ctx = coordinator()
    node.on_message(ctx, "n2", Vote("c9.9@1", True))
    assert ctx.sent() == [("n2", Abort("c9.9@1"))]
    node.on_client_request(ctx, txn_request())
    node.on_message(ctx, "n3", Vote(TXID, False))
    ctx.clear()
    node.on_message(ctx, "n2", Vote(TXID, True))  # late
    assert ctx.sent() == [("n2", Abort(TXID))] and node.decision(TXID) == "abort"


def test_the_article_coordinator_tells_nobody_of_an_abort():
    """The article's sketch: a no vote aborts at the coordinator (the client hears of it), but
    no participant is told, neither at once nor when a late vote comes."""
    node, ctx = coordinator("article")
    node.on_client_request(ctx, txn_request())
    ctx.clear()
    node.on_message(ctx, "n3", Vote(TXID, False))
    node.on_message(ctx, "n2", Vote(TXID, True))
    assert ctx.sent() == [] and ctx.replies() == [(txn_request(), Fail("aborted"))]
    assert node.decision(TXID) == "abort"


def test_a_repeated_ack_does_not_stop_the_commit_resends_to_the_others():
    node, ctx = coordinator(log_delay=0.0)
    node.on_client_request(ctx, txn_request())
    node.on_message(ctx, "n2", Vote(TXID, True))
    node.on_message(ctx, "n3", Vote(TXID, True))
    node.on_message(ctx, "n2", Ack(TXID))
    node.on_message(ctx, "n2", Ack(TXID))  # duplicated by the network
    node.on_message(ctx, "n2", Ack("c9.9@1"))  # for a transaction it does not know: ignored
    ctx.clear()
    node.on_timer(ctx, "retry", None)
    assert ctx.sent() == [("n3", Commit(TXID))]

"""Two-phase commit: handlers one at a time, the failure stories, a battery, the broken twins."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus_lab import NetworkConfig, run
from consensus_lab.protocols import twopc
from consensus_lab.protocols.twopc import (
    Abort,
    Ack,
    Commit,
    Config,
    Coordinator,
    DecisionRequest,
    Participant,
    Prepare,
    Vote,
)
from consensus_lab.sim import ClientRequest, Fail, Ok, Redirect
from consensus_lab.testing import FakeContext, battery_seeds

CLUSTER = ("n1", "n2", "n3")
WRITES = (("a", 1), ("b", 2))


def coordinator(variant="correct", **cfg):
    node = Coordinator("n1", CLUSTER, Config(**cfg), variant)
    ctx = FakeContext("n1")
    node.on_start(ctx)
    ctx.clear()
    return node, ctx


def participant(nid="n2", variant="correct", storage=None, **cfg):
    node = Participant(nid, CLUSTER, Config(**cfg), variant)
    ctx = FakeContext(nid, storage=storage)
    node.on_start(ctx)
    return node, ctx


def txn_request(seq=1):
    return ClientRequest("c0", seq, "txn", None, WRITES)


# --- the participant -------------------------------------------------------------------


def test_participant_logs_its_vote_before_saying_yes():
    node, ctx = participant()
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    assert ctx.storage["vote:t1"] == WRITES  # durable before the vote leaves
    assert ctx.sent() == [("n1", Vote("t1", True))]
    assert "ask" in ctx.timers()  # uncertain now: it will ask if no decision comes
    assert node.uncertain() == ["t1"] and node.votes() == {"t1": True}


def test_participant_votes_no_on_a_locked_key_and_aborts_alone():
    node, ctx = participant()
    node.on_message(ctx, "n1", Prepare("t1", (("a", 1),)))
    ctx.clear()
    node.on_message(ctx, "n1", Prepare("t2", (("a", 5), ("c", 6))))
    assert ctx.sent() == [("n1", Vote("t2", False))]
    assert node.decision("t2") == "abort" and ctx.storage["outcome:t2"] == "abort"
    assert "vote:t2" not in ctx.storage


def test_participant_refuses_when_told_to():
    node, ctx = participant("n3", refuse=("n3",))
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    assert ctx.sent() == [("n1", Vote("t1", False))]


def test_commit_installs_the_writes_and_acks():
    node, ctx = participant()
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    ctx.clear()
    node.on_message(ctx, "n1", Commit("t1"))
    assert ctx.sent() == [("n1", Ack("t1"))]
    assert node.data == {"a": 1, "b": 2} and ctx.storage["data:a"] == 1
    assert node.decision("t1") == "commit" and node.uncertain() == [] and node.locks == {}
    ctx.clear()
    node.on_message(ctx, "n1", Commit("t1"))  # a re-sent decision: ack again, nothing else
    assert ctx.sent() == [("n1", Ack("t1"))]


def test_an_uncertain_participant_asks_everyone_and_cannot_help_others():
    node, ctx = participant()
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    ctx.clear()
    node.on_timer(ctx, "ask", None)
    assert ctx.sent() == [("n1", DecisionRequest("t1")), ("n3", DecisionRequest("t1"))]
    ctx.clear()
    node.on_message(ctx, "n3", DecisionRequest("t1"))
    assert ctx.sent() == []  # uncertain too: no answer
    assert node.decision("t1") is None


def test_a_participant_that_has_not_voted_aborts_when_asked_and_votes_no_later():
    node, ctx = participant("n3")
    node.on_message(ctx, "n2", DecisionRequest("t1"))
    assert ctx.sent() == [("n2", Abort("t1"))] and node.decision("t1") == "abort"
    ctx.clear()
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    assert ctx.sent() == [("n1", Vote("t1", False))]


def test_a_participant_that_knows_the_outcome_tells_it():
    node, ctx = participant()
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    node.on_message(ctx, "n1", Commit("t1"))
    ctx.clear()
    node.on_message(ctx, "n3", DecisionRequest("t1"))
    assert ctx.sent() == [("n3", Commit("t1"))]


def test_participant_recovers_uncertainty_and_locks_from_its_log():
    node, ctx = participant(storage={"vote:t1": WRITES, "vote:t0": (("z", 1),), "outcome:t0": "commit", "data:z": 1})
    assert node.uncertain() == ["t1"] and node.locks == {"a": "t1", "b": "t1"}
    assert node.decision("t0") == "commit" and node.data == {"z": 1}
    assert ctx.sent() == [("n1", DecisionRequest("t1")), ("n3", DecisionRequest("t1"))]


def test_non_coordinators_redirect_clients_to_n1():
    node, ctx = participant()
    node.on_client_request(ctx, txn_request())
    assert ctx.replies() == [(txn_request(), Redirect("n1"))]


# --- the coordinator -------------------------------------------------------------------


def test_coordinator_prepares_everyone_then_logs_commit_before_sending_it():
    node, ctx = coordinator(log_delay=0.01)
    node.on_client_request(ctx, txn_request())
    txid = "c0.1@1"
    assert ctx.sent() == [("n2", Prepare(txid, WRITES)), ("n3", Prepare(txid, WRITES))]
    ctx.clear()
    node.on_message(ctx, "n2", Vote(txid, True))
    node.on_message(ctx, "n3", Vote(txid, True))
    assert ctx.sent() == [] and node.decision(txid) is None  # the forced write takes log_delay
    assert ctx.timers() == {f"log:{txid}": 0.01}
    ctx.clear()
    node.on_timer(ctx, f"log:{txid}", txid)
    assert ctx.storage[f"decision:{txid}"] == ("commit", "c0", 1)
    assert ctx.sent() == [("n2", Commit(txid)), ("n3", Commit(txid))]
    assert ctx.replies() == [(txn_request(), Ok(WRITES))]
    assert node.decision(txid) == "commit"


@pytest.mark.parametrize("variant", ["no-decision-log", "article"])  # the article's sketch logs nothing
def test_coordinator_without_decision_log_is_the_one_line_twin(variant):
    node, ctx = coordinator(variant, log_delay=0.0)
    node.on_client_request(ctx, txn_request())
    node.on_message(ctx, "n2", Vote("c0.1@1", True))
    node.on_message(ctx, "n3", Vote("c0.1@1", True))
    assert node.decision("c0.1@1") == "commit" and not any(k.startswith("decision:") for k in ctx.storage)


def test_a_no_vote_aborts_without_logging_anything_presumed_abort():
    node, ctx = coordinator()
    node.on_client_request(ctx, txn_request())
    ctx.clear()
    node.on_message(ctx, "n3", Vote("c0.1@1", False))
    assert ctx.sent() == [("n2", Abort("c0.1@1")), ("n3", Abort("c0.1@1"))]
    assert ctx.replies() == [(txn_request(), Fail("aborted"))]
    assert list(ctx.storage) == ["epoch"]


def test_missing_votes_time_out_into_abort_and_timeout_commit_twin_commits():
    for variant, outcome in (("correct", "abort"), ("timeout-commit", "commit")):
        node, ctx = coordinator(variant, vote_timeout=0.1, retry=0.05, log_delay=0.0)
        node.on_client_request(ctx, txn_request())
        node.on_message(ctx, "n2", Vote("c0.1@1", True))
        ctx.advance(0.05)
        ctx.clear()
        node.on_timer(ctx, "retry", None)
        assert ctx.sent() == [("n3", Prepare("c0.1@1", WRITES))]  # re-sent to the silent one
        ctx.advance(0.05)
        node.on_timer(ctx, "retry", None)
        assert node.decision("c0.1@1") == outcome


def test_coordinator_answers_retries_and_decision_requests():
    node, ctx = coordinator(log_delay=0.0)
    node.on_client_request(ctx, txn_request())
    ctx.clear()
    node.on_message(ctx, "n2", DecisionRequest("c0.1@1"))
    assert ctx.sent() == []  # still collecting votes: ask again later
    node.on_message(ctx, "n2", Vote("c0.1@1", True))
    node.on_message(ctx, "n3", Vote("c0.1@1", True))
    ctx.clear()
    retry = ClientRequest("c0", 1, "txn", None, WRITES, attempt=1)
    node.on_client_request(ctx, retry)
    assert ctx.replies() == [(retry, Ok(WRITES))] and ctx.sent() == []
    node.on_message(ctx, "n2", DecisionRequest("c0.1@1"))
    node.on_message(ctx, "n2", DecisionRequest("c9.9@1"))  # never heard of it: presumed abort
    assert ctx.sent() == [("n2", Commit("c0.1@1")), ("n2", Abort("c9.9@1"))]


def test_coordinator_recovers_commits_from_its_log_and_resends_them():
    node = Coordinator("n1", CLUSTER, Config(), "correct")
    ctx = FakeContext("n1", storage={"epoch": 1, "decision:c0.1@1": ("commit", "c0", 1)})
    node.on_start(ctx)
    assert node.epoch == 2 and ctx.storage["epoch"] == 2
    assert node.decision("c0.1@1") == "commit"
    assert ctx.sent() == [("n2", Commit("c0.1@1")), ("n3", Commit("c0.1@1"))]
    node.on_message(ctx, "n2", Ack("c0.1@1"))
    ctx.clear()
    node.on_timer(ctx, "retry", None)
    assert ctx.sent() == [("n3", Commit("c0.1@1"))]  # only to whoever has not acknowledged
    ctx.clear()
    node.on_client_request(ctx, txn_request())  # the client retries after the crash
    assert ctx.replies() == [(txn_request(), Ok(WRITES))]


def test_new_transactions_after_a_restart_get_a_new_epoch():
    node = Coordinator("n1", CLUSTER, Config(), "correct")
    ctx = FakeContext("n1", storage={"epoch": 4})
    node.on_start(ctx)
    node.on_client_request(ctx, txn_request(7))
    assert ctx.sent()[0] == ("n2", Prepare("c0.7@5", WRITES))


def test_state_views_are_small_plain_summaries():
    node, ctx = participant()
    node.on_message(ctx, "n1", Prepare("t1", WRITES))
    assert node.state_view() == {"role": "participant", "state": {"t1": "prepared"}, "data": {}}
    c, cctx = coordinator()
    c.on_client_request(cctx, txn_request())
    assert c.state_view()["in_progress"] == {"c0.1@1": "voting"}


# --- the failure stories ---------------------------------------------------------------------


def story(name, **changes):
    r = run(twopc.STORIES[name], **changes)
    assert r.ok, r.violations
    return r


def outcomes(r):
    return {n: node.state_view().get("state", node.state_view().get("decisions")) for n, node in r.nodes.items() if node}


def test_story_all_yes_commits_everywhere():
    r = story("all-yes")
    assert [op.type for op in r.history] == ["invoke", "ok"]
    assert r.nodes["n2"].data == r.nodes["n3"].data == {"a": 10, "b": 11}


def test_story_one_no_aborts_everywhere():
    r = story("one-no")
    assert [op.type for op in r.history] == ["invoke", "fail"]
    assert outcomes(r) == {"n1": {"c0.1@1": "abort"}, "n2": {"c0.1@1": "aborted"}, "n3": {"c0.1@1": "aborted"}}


def test_story_participant_crash_before_voting_aborts_at_the_vote_timeout():
    r = story("participant-crash-before-voting")
    assert r.goals["a transaction aborted"] == pytest.approx(0.30, abs=0.01)
    assert r.nodes["n2"].decision("c0.1@1") == "abort"


def test_story_coordinator_crash_blocks_the_participants_until_it_returns():
    r = story("coordinator-crash-before-decision")
    blocked = twopc.blocking_times(r)
    assert {b.participant for b in blocked} == {"n2", "n3"}
    for b in blocked:
        assert b.resolved and b.seconds == pytest.approx(1.5, abs=0.05)  # until the restart at 1.5
    assert outcomes(r)["n2"] == {"c0.1@1": "aborted"}  # presumed abort after recovery
    # the participants asked each other meanwhile, in vain
    asks = [e for e in r.trace if e.kind == "send" and e.msg_type == "DecisionRequest" and e.peer != "n1"]
    assert len(asks) >= 10


def test_without_a_restart_the_participants_block_to_the_end():
    sc = twopc.STORIES["coordinator-crash-before-decision"]
    r = run(sc.replace(nemesis="0.05 crash n1"))
    assert r.ok
    assert all(not b.resolved and b.until == sc.duration for b in twopc.blocking_times(r))
    assert r.nodes["n2"].uncertain() == ["c0.1@1"] and r.nodes["n2"].locks == {"a": "c0.1@1", "b": "c0.1@1"}


def test_story_coordinator_recovery_resends_the_logged_commit():
    r = story("coordinator-recovery")
    assert r.history[-1].type == "ok"
    resent = [e for e in r.trace if e.kind == "send" and e.msg_type == "Commit" and e.time >= 0.5]
    assert {e.peer for e in resent} == {"n2", "n3"}
    acks = [e for e in r.trace if e.kind == "deliver" and e.msg_type == "Ack"]
    assert acks and min(e.time for e in acks) > 0.5  # the first acks were lost in the crash


def test_story_cooperative_termination_n3_learns_from_n2():
    r = story("cooperative-termination")
    learned = [e for e in r.trace if e.kind == "deliver" and e.node == "n3" and e.msg_type == "Commit"]
    assert [e.peer for e in learned][:1] == ["n2"]
    assert r.nodes["n3"].decision("c0.1@1") == "commit"


def test_story_message_loss_retries_until_everyone_decides():
    r = story("message-loss")
    assert r.stats["dropped"] > 5
    decided = r.nodes["n1"].decisions()
    assert len(decided) == 6
    for p in ("n2", "n3"):
        assert {t: o for t, o in r.nodes[p].decisions().items() if t in decided} == decided


def test_stories_replay_byte_for_byte():
    sc = twopc.STORIES["coordinator-crash-before-decision"]
    assert run(sc).trace_hash == run(sc).trace_hash


# --- the probability model ---------------------------------------------------------------------


def test_commit_probability_is_p_prepare_times_p_commit_given_prepare():
    assert twopc.prepare_probability(3, 0.9) == pytest.approx(0.729)
    assert twopc.prepare_probability([0.5, 1.0, 0.8]) == pytest.approx(0.4)
    assert twopc.commit_probability(2, 0.9, p_decide=0.5) == pytest.approx(0.405)
    with pytest.raises(ValueError):
        twopc.commit_probability(2, 1.5)


def test_simulated_commit_rate_matches_the_model():
    est = twopc.estimate_commit_probability(0.2, nodes=3, runs=300)
    assert est.covers(twopc.commit_probability(2, 0.8)), est
    assert est.lo < est.p < est.hi and est.trials == 300


@given(st.lists(st.floats(0, 1), min_size=1, max_size=6), st.floats(0, 1))
def test_probability_model_is_a_product_and_a_probability(ps, decide):
    p = twopc.commit_probability(ps, p_decide=decide)
    assert 0.0 <= p <= min(ps) + 1e-12
    assert p <= decide + 1e-12


# --- battery and broken twins ---------------------------------------------------------------------


def test_battery_of_random_fault_schedules_finds_no_violation():
    t0 = time.perf_counter()
    committed = aborted = 0
    for seed in battery_seeds(1000):
        r = run(twopc.random_scenario(seed))
        assert r.ok, f"{twopc.random_scenario(seed)!r}: {r.violations[0]}"
        committed += r.goals["a transaction committed"] is not None
        aborted += r.goals["a transaction aborted"] is not None
    assert committed > 0.9 * len(battery_seeds(1000)) and aborted > 0.5 * len(battery_seeds(1000))
    print(f"2PC battery: {len(battery_seeds(1000))} seeds in {time.perf_counter() - t0:.1f} s")


#: the first seed of random_scenario at which each broken twin is caught
KEPT_SEEDS = {"no-decision-log": 0, "no-vote-log": 1, "timeout-commit": 6, "uncertain-abort": 0, "article": 0}
EXPECTED = {
    "no-decision-log": "atomicity",
    "no-vote-log": "atomicity",
    "timeout-commit": "validity",
    "uncertain-abort": "atomicity",
    "article": "atomicity",
}


def test_every_broken_twin_has_a_kept_seed_and_a_scripted_story():
    assert set(KEPT_SEEDS) == set(twopc.TWINS) == set(twopc.SPEC.variants) - {"correct"}


@pytest.mark.parametrize("variant", sorted(KEPT_SEEDS))
def test_a_search_over_seeds_finds_each_twin_at_its_kept_seed(variant):
    first = next(s for s in range(2000) if not run(twopc.random_scenario(s, variant)).ok)
    assert first == KEPT_SEEDS[variant]


@pytest.mark.parametrize("variant", sorted(KEPT_SEEDS))
def test_kept_seed_replays_the_violation_and_the_correct_protocol_survives_it(variant):
    sc = twopc.random_scenario(KEPT_SEEDS[variant], variant)
    r1, r2 = run(sc), run(sc)
    assert r1.violations and r1.trace_hash == r2.trace_hash
    assert run(sc.replace(variant="correct")).ok


@pytest.mark.parametrize("variant", sorted(EXPECTED))
def test_scripted_twin_story_breaks_the_expected_invariant(variant):
    sc = twopc.TWINS[variant]
    r = run(sc)
    assert r.violations[0].invariant == EXPECTED[variant], r.violations
    assert run(sc.replace(variant="correct")).ok


# --- property: any crash script, one transaction, always atomic ------------------------------------

_FAULT = st.tuples(st.floats(0.0, 0.4), st.sampled_from(["n1", "n2", "n3"]), st.floats(0.01, 0.5))


@given(st.lists(_FAULT, max_size=3), st.floats(0.0, 0.3))
def test_any_crash_schedule_keeps_the_transaction_atomic(faults, loss):
    script = "; ".join(f"{t:.3f} crash {n}; {t + hold:.3f} restart {n}" for t, n, hold in faults)
    sc = twopc.STORIES["all-yes"].replace(nemesis=script or "none", duration=1.5)
    r = run(sc, network=NetworkConfig(latency=sc.network.latency, loss=loss))
    assert r.ok, (script, r.violations)
    outcomes = {o for node in r.nodes.values() if node for o in node.decisions().values()}
    assert len(outcomes) <= 1

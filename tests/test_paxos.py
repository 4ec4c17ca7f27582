"""Single-decree Paxos: phases one handler at a time, the stories, a battery, the broken twins."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus_lab import NetworkConfig, run
from consensus_lab.protocols import paxos
from consensus_lab.protocols._ballot import ZERO, Ballot, majority
from consensus_lab.protocols.paxos import (
    Accept,
    Accepted,
    Config,
    Nack,
    PaxosNode,
    Prepare,
    Promise,
)
from consensus_lab.sim import ClientRequest, Ok, Redirect
from consensus_lab.testing import FakeContext, battery_seeds

CLUSTER = ("n1", "n2", "n3")
B1, B2 = Ballot(1, "n1"), Ballot(1, "n2")


def node(nid="n3", variant="correct", storage=None, **cfg):
    cfg.setdefault("proposers", ("n1", "n2"))
    n = PaxosNode(nid, CLUSTER, Config(**cfg), variant)
    ctx = FakeContext(nid, storage=storage)
    n.on_start(ctx)
    ctx.clear()
    return n, ctx


# --- ballots ----------------------------------------------------------------------------------


@given(st.integers(0, 50), st.sampled_from(["n1", "n2", "n3"]), st.integers(0, 50), st.sampled_from(["n1", "n2", "n3"]))
def test_ballots_are_totally_ordered_round_first(r1, p1, r2, p2):
    a, b = Ballot(r1, p1), Ballot(r2, p2)
    assert (a < b) == ((r1, p1) < (r2, p2))
    assert a.next_for(p2) > a and ZERO <= a
    assert (a == b) == ((r1, p1) == (r2, p2))


def test_majorities_overlap():
    for n in range(1, 10):
        assert 2 * majority(n) > n and majority(n) <= n


# --- the acceptor --------------------------------------------------------------------------------


def test_acceptor_promises_durably_and_reports_what_it_accepted():
    n, ctx = node()
    n.on_message(ctx, "n1", Prepare(B1))
    assert ctx.storage["promised"] == B1 and ctx.sent() == [("n1", Promise(B1))]
    ctx.clear()
    n.on_message(ctx, "n1", Accept(B1, "x"))
    assert ctx.storage["accepted"] == (B1, "x")
    assert ctx.sent() == [("n1", Accepted(B1, "x")), ("n2", Accepted(B1, "x"))]  # to every learner
    ctx.clear()
    n.on_message(ctx, "n2", Prepare(Ballot(2, "n2")))
    assert ctx.sent() == [("n2", Promise(Ballot(2, "n2"), B1, "x"))]


def test_acceptor_rejects_lower_ballots_with_its_promise():
    n, ctx = node()
    n.on_message(ctx, "n2", Prepare(B2))
    ctx.clear()
    n.on_message(ctx, "n1", Prepare(B1))
    n.on_message(ctx, "n1", Accept(B1, "x"))
    assert ctx.sent() == [("n1", Nack(B1, B2)), ("n1", Nack(B1, B2))]
    assert n.accepted is None


def test_acceptor_recovers_its_promise_and_acceptance():
    n, _ = node(storage={"promised": B2, "accepted": (B1, "x")})
    assert n.promised == B2 and n.accepted == (B1, "x")
    n, _ = node(storage={"accepted": (B1, "x")})
    assert n.promised == B1  # accepting B1 implied promising it


def test_the_forgetful_twin_does_not_persist_promises():
    n, ctx = node(variant="forget-promise")
    n.on_message(ctx, "n1", Prepare(B1))
    assert "promised" not in ctx.storage and n.promised == B1


# --- the proposer ------------------------------------------------------------------------------------


def proposer(variant="correct"):
    n, ctx = node("n1", variant)
    n.on_client_request(ctx, ClientRequest("c0", 1, "propose", "v", 7))
    return n, ctx


def test_proposer_persists_its_round_then_prepares_everyone():
    n, ctx = proposer()
    assert ctx.storage["round"] == 1 and n.ballot == B1
    # n1's own acceptor answered in-process; the others get messages
    assert ctx.sent() == [("n2", Prepare(B1)), ("n3", Prepare(B1))]
    assert n.promises == {"n1": None} and n.promised == B1


def test_proposer_with_a_majority_proposes_the_highest_accepted_value():
    n, ctx = proposer()
    ctx.clear()
    n.on_message(ctx, "n3", Promise(B1, Ballot(0, "n2"), "old"))
    assert n.phase == "accepting" and n.accepted == (B1, "old")  # its own acceptor, in-process
    assert ctx.sent() == [
        ("n2", Accept(B1, "old")), ("n3", Accept(B1, "old")),
        ("n2", Accepted(B1, "old")), ("n3", Accepted(B1, "old")),
    ]


@pytest.mark.parametrize(
    ("variant", "expected"), [("correct", "high"), ("ignore-accepted", 7), ("first-promise", "low")]
)
def test_phase_2a_value_rule_and_its_broken_twins(variant, expected):
    n, ctx = node("n1", variant)
    n.value, n.ballot, n.phase = 7, Ballot(5, "n1"), "preparing"
    n.promises = {"n2": (Ballot(1, "n2"), "low"), "n3": (Ballot(3, "n2"), "high"), "n1": None}
    assert n.choose_value() == expected


def test_learner_needs_a_majority_of_the_same_ballot():
    n, ctx = node("n3")
    n.on_message(ctx, "n1", Accepted(B1, "x"))
    assert n.decided is None
    n.on_message(ctx, "n2", Accepted(B2, "y"))
    assert n.decided is None  # two ballots, one vote each
    n.on_message(ctx, "n2", Accepted(B1, "x"))
    assert n.decided == "x" and ctx.storage["learned"] == "x"
    hasty, hctx = node("n3", "minority-learner")
    hasty.on_message(hctx, "n1", Accepted(B1, "x"))
    assert hasty.decided == "x"


def test_proposer_answers_its_clients_once_it_learns():
    n, ctx = proposer()
    n.on_message(ctx, "n3", Promise(B1))  # majority: n1 and n3; n1 accepts itself at once
    ctx.clear()
    n.on_message(ctx, "n3", Accepted(B1, 7))
    assert n.decided == 7 and n.phase == "done"
    assert ctx.replies() == [(ClientRequest("c0", 1, "propose", "v", 7), Ok(7))]


def test_a_rejected_proposer_backs_off_then_retries_higher():
    n, ctx = proposer()
    ctx.clear()
    n.on_message(ctx, "n2", Nack(B1, Ballot(4, "n2")))
    assert n.phase == "backoff" and "retry" in ctx.timers() and ctx.sent() == []
    n.on_timer(ctx, "retry", None)
    assert n.ballot == Ballot(5, "n1") and ctx.storage["round"] == 5


def test_without_backoff_a_rejected_proposer_retries_at_once():
    n, ctx = node("n1", backoff=False)
    n.on_client_request(ctx, ClientRequest("c0", 1, "propose", "v", 7))
    ctx.clear()
    n.on_message(ctx, "n2", Prepare(Ballot(2, "n2")))  # its own acceptor sees a rival's higher ballot
    assert n.ballot == Ballot(3, "n1") and ("n2", Prepare(Ballot(3, "n1"))) in ctx.sent()


def test_non_proposers_redirect_and_learners_answer():
    n, ctx = node("n3")
    req = ClientRequest("c0", 1, "propose", "v", 9)
    n.on_client_request(ctx, req)
    (_, reply), = ctx.replies()
    assert isinstance(reply, Redirect) and reply.leader in ("n1", "n2")
    n.learned, n.has_learned = "x", True
    ctx.clear()
    n.on_client_request(ctx, req)
    assert ctx.replies() == [(req, Ok("x"))]


def test_state_view():
    n, _ = proposer()
    view = n.state_view()
    assert view["promised"] == "(1,n1)" and view["phase"] == "preparing" and view["value"] == 7


# --- stories -------------------------------------------------------------------------------------------


def test_story_one_proposer_chooses_in_two_round_trips():
    r = run(paxos.STORIES["one-proposer"])
    assert r.ok and r.goals["a value is chosen"] == pytest.approx(0.03)
    assert {n.decided for n in r.nodes.values()} == {"v-n1"}
    assert paxos.ballots_tried(r) == 1


def test_story_duelling_proposers_livelock_without_backoff():
    r = run(paxos.STORIES["duelling-livelock"])
    assert r.ok and r.goals["a value is chosen"] is None
    assert paxos.ballots_tried(r) > 40
    assert all(n.decided is None for n in r.nodes.values())


def test_story_randomized_backoff_ends_the_duel():
    r = run(paxos.STORIES["duelling-backoff"])
    assert r.ok and r.goals["a value is chosen"] is not None
    assert len({n.decided for n in r.nodes.values()}) == 1


def test_story_minority_crashed_progress_continues():
    r = run(paxos.STORIES["minority-crashed"])
    assert r.ok and r.goals["a value is chosen"] < 0.1


def test_story_majority_crashed_no_progress_no_harm():
    r = run(paxos.STORIES["majority-crashed"])
    assert r.ok
    assert r.goals["a value is chosen"] > 1.0  # only after n3 comes back at t=1
    r2 = run(paxos.STORIES["majority-crashed"].replace(nemesis="0 crash n3; 0 crash n4; 0 crash n5"))
    assert r2.ok and r2.goals["a value is chosen"] is None


def test_story_lost_and_duplicated_messages():
    r = run(paxos.STORIES["lost-and-duplicated"])
    assert r.ok and r.goals["a value is chosen"] is not None
    assert r.stats["dropped"] > 0


# --- battery and twins --------------------------------------------------------------------------------


def test_battery_of_random_fault_schedules_finds_no_violation():
    t0 = time.perf_counter()
    chosen = 0
    for seed in battery_seeds(1000):
        r = run(paxos.random_scenario(seed))
        assert r.ok, f"{paxos.random_scenario(seed)!r}: {r.violations[0]}"
        chosen += r.goals["a value is chosen"] is not None
    assert chosen > 0.9 * len(battery_seeds(1000))
    print(f"Paxos battery: {len(battery_seeds(1000))} seeds in {time.perf_counter() - t0:.1f} s")


#: a seed of random_scenario that catches each twin (kept in paxos.TWINS when not
#: scripted there), the scenario family the hunt searches (None: the battery's own
#: mix, the one the correct protocol runs), and its budget of seeds
KEPT_SEEDS = {
    "forget-promise": (73, None, 100),
    "ignore-accepted": (5, None, 20),
    "first-promise": (28, None, 40),
    "minority-learner": (0, None, 10),
    "article": (0, None, 10),
}


def test_every_broken_twin_is_kept():
    assert set(KEPT_SEEDS) == set(paxos.TWINS) == set(paxos.SPEC.variants) - {"correct"}


@pytest.mark.parametrize("variant", sorted(KEPT_SEEDS))
def test_a_search_over_seeds_finds_each_twin(variant):
    kept, family, budget = KEPT_SEEDS[variant]
    found = [s for s in range(budget) if not run(paxos.random_scenario(s, variant, family)).ok]
    assert kept in found
    for s in found[:3]:  # each find replays, and the correct protocol survives the same schedule
        assert run(paxos.random_scenario(s, "correct", family)).ok


@pytest.mark.parametrize("variant", sorted(KEPT_SEEDS))
def test_twin_replays_its_violation_and_the_correct_protocol_survives(variant):
    sc = paxos.TWINS[variant]
    r1, r2 = run(sc), run(sc)
    assert r1.violations and r1.trace_hash == r2.trace_hash
    assert r1.violations[0].invariant in paxos.INVARIANT_NAMES
    assert run(sc.replace(variant="correct")).ok


# --- property: random networks, any number of proposers ------------------------------------------------


@given(
    st.integers(0, 10_000),
    st.sampled_from([1, 3, 5]),
    st.integers(1, 3),
    st.floats(0, 0.4),
    st.floats(0, 0.3),
)
def test_any_network_and_proposer_count_agree_on_at_most_one_value(seed, nodes, proposers, loss, dup):
    sc = paxos.STORIES["duelling-backoff"].replace(
        seed=seed, nodes=nodes, nemesis="random", nemesis_interval=0.1, duration=0.6,
        network=NetworkConfig(loss=loss, duplicate=dup), options={"propose_at": 0.0, "proposers": proposers},
    )
    r = run(sc)
    assert r.ok, (sc, r.violations)
    assert len({n.decided for n in r.nodes.values() if n and n.decided is not None}) <= 1

"""Tests that kill mutants of Paxos and its ballot helpers (docs/mutation.md): one rule each, named by what it guards."""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from test_paxos import B1, B2, node

from consensus_lab import run
from consensus_lab.history import Op
from consensus_lab.protocols import paxos
from consensus_lab.protocols._ballot import Ballot, Loopback, Watch, observed_invariants
from consensus_lab.protocols.paxos import Accept, Accepted, Nack, Prepare, Promise, _Observer
from consensus_lab.sim import ClientRequest, Ok, Redirect, Run, World
from consensus_lab.sim.node import Storage
from consensus_lab.testing import FakeContext

# --- Loopback first: a drain that never pops would hang every Paxos handler test below ----------


@dataclass(frozen=True)
class _Say:
    word: str


PING, PONG = _Say("ping"), _Say("pong")


class _Echo(Loopback):
    """A node of two roles that answers its own ping with a pong and knows no other message."""

    def __init__(self) -> None:
        self.id, self.cluster, self._local, self.got = "n1", ("n1", "n2", "n3"), [], []

    def _dispatch(self, ctx, src, msg) -> None:
        if msg not in (PING, PONG):
            raise ValueError(f"unexpected message {msg!r}")
        self.got.append((src, msg.word))
        if msg == PING:
            self._send(ctx, self.id, PONG)


def test_messages_to_itself_skip_the_network_and_are_handled_in_order_before_the_handler_returns():
    node_, ctx = _Echo(), FakeContext("n1")
    node_._broadcast(ctx, PING)
    node_._send(ctx, "n1", PING)
    assert ctx.sent() == [("n2", PING), ("n3", PING)] and node_.got == []
    node_._drain(ctx)
    assert node_.got == [("n1", "ping"), ("n1", "ping"), ("n1", "pong"), ("n1", "pong")]
    assert node_._local == []


# --- the proposer ----------------------------------------------------------------------------------


def _asked(n, ctx, client="c0", value=7):
    req = ClientRequest(client, 1, "propose", "v", value)
    n.on_client_request(ctx, req)
    return req


def test_a_fresh_node_has_promised_accepted_learned_and_tried_nothing():
    """A node that has just booted with an empty disk shows nothing learned, no ballot, no
    attempt yet; it is idle and has no promises, requests or votes."""
    n, _ = node("n1")
    assert (n.promised, n.accepted, n.learned, n.has_learned, n.decided) == (
        Ballot(0, ""), None, None, False, None)
    assert (n.round, n.ballot, n.phase, n.value, n.attempts) == (0, None, "idle", None, 0)
    assert (n.promises, n.requests, n.accepts, n.highest_seen) == ({}, [], {}, Ballot(0, ""))
    assert n.is_proposer and not node("n3")[0].is_proposer and n.quorum == 2


def test_a_ballot_arms_the_retry_timer_for_the_configured_time():
    n, ctx = node("n1", retry=0.25)
    _asked(n, ctx)
    assert ctx.timers() == {"retry": 0.25} and n.phase == "preparing" and n.attempts == 1


def test_a_proposer_never_reuses_a_round_it_stored_or_one_its_acceptor_promised():
    """The next ballot is above the round on disk (after a restart) and above any ballot the
    node's own acceptor has promised, whoever proposed it."""
    n, ctx = node("n1", storage={"round": 5})
    assert n.round == 5
    _asked(n, ctx)
    assert n.ballot == Ballot(6, "n1") and ctx.storage["round"] == 6
    n, ctx = node("n1")
    n.on_message(ctx, "n2", Prepare(Ballot(7, "n2")))
    _asked(n, ctx)
    assert n.ballot == Ballot(8, "n1") and ctx.storage["round"] == 8


def test_the_first_client_value_is_the_proposal_and_each_client_is_answered_once():
    """A second client does not change the value being proposed; a client that asks again is
    answered once (its latest request), and every waiting client gets the learned value."""
    n, ctx = node("n1")
    first = _asked(n, ctx, "c0", 7)
    _asked(n, ctx, "c1", 9)
    again = ClientRequest("c0", 2, "propose", "v", 7)
    n.on_client_request(ctx, again)
    assert n.proposal == 7 and n.ballot == B1 and n.attempts == 1
    assert n.requests == [ClientRequest("c1", 1, "propose", "v", 9), again] and first not in n.requests
    ctx.clear()
    n.on_message(ctx, "n3", Promise(B1))
    n.on_message(ctx, "n3", Accepted(B1, 7))
    assert ctx.replies() == [(ClientRequest("c1", 1, "propose", "v", 9), Ok(7)), (again, Ok(7))]


def test_a_non_proposer_redirects_the_request_it_was_sent():
    n, ctx = node("n3")
    req = _asked(n, ctx)
    (answered, reply), = ctx.replies()
    assert answered == req and reply in (Redirect("n1"), Redirect("n2"))
    assert n.phase == "idle" and ctx.sent() == []


def test_the_propose_timer_starts_only_an_idle_proposer_and_retry_only_a_running_ballot():
    """``propose`` starts a ballot with the node's own value only if it has none yet; a stale
    ``propose`` or ``retry`` does nothing; ``retry`` restarts a ballot in every running phase."""
    n, ctx = node("n1")
    n.on_timer(ctx, "retry", None)  # stale: nothing running
    assert n.ballot is None and n.value is None and ctx.outbox == []
    n.on_timer(ctx, "propose", None)
    assert n.value == "v-n1" and n.ballot == B1
    ctx.clear()
    n.on_timer(ctx, "propose", None)  # already proposing
    assert n.ballot == B1 and ctx.outbox == []
    busy, bctx = node("n1")
    _asked(busy, bctx, value=7)
    busy.on_timer(bctx, "propose", None)  # a client's value came first: it stays
    assert (busy.value, busy.ballot) == (7, B1)
    for phase in ("preparing", "accepting", "backoff"):
        busy.phase = phase
        busy.on_timer(bctx, "retry", None)
        assert busy.phase == "preparing" and busy.value == 7, phase
    assert busy.ballot == Ballot(4, "n1")
    for phase in ("idle", "done"):
        busy.phase = phase
        busy.on_timer(bctx, "retry", None)
        assert busy.ballot == Ballot(4, "n1"), phase


def test_a_proposer_that_learned_ignores_its_propose_timer():
    n, ctx = node("n1")
    n.learned, n.has_learned = "x", True
    n.on_timer(ctx, "propose", None)
    assert n.value is None and n.ballot is None and ctx.outbox == []


def test_the_propose_timer_is_staggered_from_propose_at_and_counts_from_boot():
    """The i-th proposer proposes at propose_at + i * stagger; a node booting later waits only
    what is left (never a negative delay)."""
    delays = {}
    for nid, now in (("n1", 0.05), ("n2", 0.05), ("n2", 0.5)):
        config = paxos.Config(("n1", "n2"), propose_at=0.2, stagger=0.1)
        n = paxos.PaxosNode(nid, ("n1", "n2", "n3"), config, "correct")
        ctx = FakeContext(nid, now=now)
        n.on_start(ctx)
        delays[nid, now] = ctx.timers()["propose"]
    assert delays == pytest.approx({("n1", 0.05): 0.15, ("n2", 0.05): 0.25, ("n2", 0.5): 0.0})


def test_a_promise_counts_only_for_the_ballot_being_prepared_and_only_once():
    """A Promise for an older ballot, or one arriving after the Accept went out, changes nothing."""
    n, ctx = node("n1")
    _asked(n, ctx)
    n.on_timer(ctx, "retry", None)  # now preparing (2,n1)
    ctx.clear()
    n.on_message(ctx, "n2", Promise(B1))
    assert n.phase == "preparing" and n.promises == {"n1": None} and ctx.sent() == []
    n.on_message(ctx, "n2", Promise(Ballot(2, "n1")))
    assert n.phase == "accepting" and len(ctx.sent()) == 4  # Accept and Accepted to n2, n3
    ctx.clear()
    n.on_message(ctx, "n3", Promise(Ballot(2, "n1")))
    assert ctx.sent() == []


def test_the_article_proposer_reuses_its_bare_round_accepts_on_one_promise_and_keeps_nothing():
    """The article's sketch: ballot (1) with no proposer, the same number again after a failed
    round, Accept on its own acceptor's promise alone, its own value whatever was reported,
    learning from one Accepted, and nothing on disk."""
    n, ctx = node("n1", "article")
    _asked(n, ctx, value=7)
    assert n.ballot == Ballot(1, "") and ("n2", Accept(Ballot(1, ""), 7)) in ctx.sent()
    assert n.decided == 7 and dict(ctx.storage.items()) == {}
    n.phase = "backoff"  # as after a failed round
    n.on_timer(ctx, "retry", None)
    assert n.ballot == Ballot(1, "") and n.attempts == 2 and dict(ctx.storage.items()) == {}
    n.value, n.phase = 7, "preparing"
    n.promises = {"n2": (Ballot(1, "n2"), "reported")}
    assert n.choose_value() == 7


def test_a_learner_counts_each_acceptor_once_and_stops_its_retry_timer():
    n, ctx = node("n1")
    _asked(n, ctx)
    n.on_message(ctx, "n3", Accepted(Ballot(1, "n2"), "y"))
    n.on_message(ctx, "n3", Accepted(Ballot(1, "n2"), "y"))  # a duplicate
    assert n.decided is None and n.accepts[Ballot(1, "n2")] == ["n3"]
    assert "retry" in ctx.timers()
    n.on_message(ctx, "n2", Accepted(Ballot(1, "n2"), "y"))
    assert n.decided == "y" and n.phase == "done" and "retry" not in ctx.timers()


def test_a_nack_for_another_ballot_is_ignored_and_one_while_accepting_backs_off():
    n, ctx = node("n1")
    _asked(n, ctx)
    n.on_timer(ctx, "retry", None)  # preparing (2,n1)
    ctx.clear()
    n.on_message(ctx, "n2", Nack(B1, Ballot(9, "n2")))
    assert n.phase == "preparing" and n.highest_seen == Ballot(0, "") and ctx.outbox == []
    n.on_message(ctx, "n2", Promise(Ballot(2, "n1")))
    assert n.phase == "accepting"
    n.on_message(ctx, "n3", Nack(Ballot(2, "n1"), Ballot(9, "n2")))
    assert n.phase == "backoff" and n.highest_seen == Ballot(9, "n2")


@pytest.mark.parametrize(("attempts", "limit"), [(3, 8), (7, 64)])
def test_the_backoff_wait_is_uniform_up_to_base_times_two_to_the_attempts_capped_at_six(attempts, limit):
    n, ctx = node("n1", backoff_base=0.01)
    _asked(n, ctx)
    for _ in range(attempts - 1):
        n.on_timer(ctx, "retry", None)
    assert n.attempts == attempts
    ctx.clear()
    expected = random.Random()
    expected.setstate(ctx.rng.getstate())
    n.on_message(ctx, "n2", Nack(n.ballot, Ballot(40, "n2")))
    assert ctx.timers() == {"retry": pytest.approx(expected.uniform(0.0, 0.01 * limit))}


def test_a_node_that_learned_ignores_a_rivals_higher_prepare_as_a_proposer():
    """Its acceptor promises the higher ballot, but a proposer that is done does not back off
    and try again."""
    n, ctx = node("n1")
    _asked(n, ctx)
    n.on_message(ctx, "n3", Promise(B1))
    n.on_message(ctx, "n3", Accepted(B1, 7))
    ctx.clear()
    n.on_message(ctx, "n2", Prepare(Ballot(5, "n2")))
    assert n.phase == "done" and ctx.timers() == {} and n.highest_seen == Ballot(0, "")


# --- ballots_tried -----------------------------------------------------------------------------


def test_ballots_tried_counts_each_prepared_ballot_even_one_still_in_flight():
    """A ballot counts once its Prepare is sent, even if the run ends before it arrives."""
    early = run(paxos.STORIES["one-proposer"].replace(duration=0.005))
    assert paxos.ballots_tried(early) == 1


def test_ballots_tried_of_a_saved_run_read_back_is_the_same(tmp_path):
    """A saved run's messages are read back as dicts (a ballot as a list): they count the same."""
    live = run(paxos.STORIES["duelling-livelock"].replace(duration=0.2))
    back = Run.load(live.save(tmp_path / "run.json"))
    assert paxos.ballots_tried(back) == paxos.ballots_tried(live) > 10


# --- the invariants' observer ------------------------------------------------------------------


def _world(*history):
    nodes = {nid: SimpleNamespace(accepted=None, has_learned=False, learned=None, proposal=None)
             for nid in ("n1", "n2", "n3")}
    return World(nodes, {nid: Storage() for nid in nodes}, list(history))


def _propose(value, process=0):
    return Op(process, "invoke", "propose", "v", value)


def _accept(world, obs, now, ballot, value, *nids):
    world.now = now
    for nid in nids:
        world.nodes[nid].accepted = (ballot, value)
    obs.update(world)


def test_the_paxos_observer_counts_a_value_chosen_by_a_majority_of_one_ballot():
    """Votes count per ballot; the first ballot and time a value is chosen are kept; a value
    proposed by a client (the first event of the history) or by a node is a proposal; an
    acceptor that restarts with nothing accepted, or a crashed node, is no problem."""
    obs = _Observer()
    world = _world(_propose("x"))
    world.nodes["n1"].proposal = "y"
    _accept(world, obs, 0.5, B1, "x", "n1")
    _accept(world, obs, 0.6, B2, "x", "n2")
    assert obs.chosen == {} and obs.proposed == {"x", "y"}
    _accept(world, obs, 0.7, B1, "x", "n3")
    assert obs.chosen == {"x": (B1, 0.7)}
    _accept(world, obs, 0.9, B2, "x", "n1")  # chosen again, in another ballot
    assert obs.chosen == {"x": (B1, 0.7)} and obs.votes == {B1: ["n1", "n3"], B2: ["n2", "n1"]}
    world.nodes["n3"].learned, world.nodes["n3"].has_learned = "x", True
    world.nodes["n2"] = SimpleNamespace(accepted=None, has_learned=False, learned=None, proposal=None)
    world.nodes["n1"] = None
    obs.update(world)
    obs.update(world)
    assert obs.learned == {"n3": "x"} and obs.problems == {}


def test_the_paxos_observer_names_a_chosen_value_nobody_proposed():
    """Only invocations of propose are proposals: a completion is an answer."""
    obs = _Observer()
    world = _world(_propose("x"), Op(0, "ok", "propose", "v", "z"))
    _accept(world, obs, 0.5, B1, "z", "n1", "n2")
    assert obs.problems == {"a chosen value was proposed": "'z' is chosen in (1,n1) but nobody proposed it"}


def test_the_paxos_observer_names_a_ballot_with_two_values():
    obs = _Observer()
    world = _world(_propose("x"), _propose("w", 1))
    _accept(world, obs, 0.5, B1, "x", "n1")
    _accept(world, obs, 0.6, B1, "w", "n2")
    assert obs.problems == {"at most one value is chosen": "ballot (1,n1) carries two values"}


def test_the_paxos_observer_names_two_chosen_values_and_who_chose_the_second():
    obs = _Observer()
    world = _world(_propose("x"), _propose("y", 1))
    _accept(world, obs, 0.5, B1, "x", "n1", "n2")
    _accept(world, obs, 0.6, Ballot(2, "n2"), "y", "n3", "n2")
    assert obs.chosen == {"x": (B1, 0.5), "y": (Ballot(2, "n2"), 0.6)}
    assert obs.problems == {
        "at most one value is chosen": "'x' was chosen in ballot (1,n1), then 'y' in (2,n2) (by n2, n3)"}


def test_the_paxos_observer_names_a_value_learned_before_it_was_chosen_and_a_learner_that_changes():
    obs = _Observer()
    world = _world(_propose("x"))
    learner = world.nodes["n3"]
    learner.learned, learner.has_learned = "x", True
    obs.update(world)
    learner.learned = "y"
    obs.update(world)
    assert obs.problems == {"only a chosen value is learned": "n3 learned 'x', which is not chosen",
                            "a learner never learns two values": "n3 learned 'x', then 'y'"}


# --- _ballot: ballots, the change watcher, the observed invariants -------------------------------


def test_the_next_ballot_for_a_proposer_is_one_round_higher_and_its_own():
    assert Ballot(3, "n1").next_for("n2") == Ballot(4, "n2")
    assert Ballot(0, "").next_for("n1") == Ballot(1, "n1")


def test_a_watch_reports_each_live_node_that_is_new_wrote_or_changed_its_fingerprint():
    """Nodes in id order; a crashed node is skipped (not the end of the look); a restarted node is
    a new object; without a fingerprint only new objects and durable writes count."""
    nodes = {nid: SimpleNamespace(x=0) for nid in ("n1", "n2", "n3")}
    storage = {nid: Storage() for nid in nodes}
    world = SimpleNamespace(nodes=nodes, storage=storage)
    watch, plain = Watch(lambda n: n.x), Watch()
    assert [nid for nid, _ in watch.changed(world)] == [nid for nid, _ in plain.changed(world)] == ["n1", "n2", "n3"]
    assert watch.changed(world) == plain.changed(world) == []
    nodes["n3"].x = 1
    assert watch.changed(world) == [("n3", nodes["n3"])] and plain.changed(world) == []
    assert watch.changed(world) == []
    nodes["n1"] = None
    storage["n2"]["k"] = 1
    assert watch.changed(world) == plain.changed(world) == [("n2", nodes["n2"])]
    nodes["n1"] = SimpleNamespace(x=0)
    storage["n3"]["k"] = 1
    assert watch.changed(world) == plain.changed(world) == [("n1", nodes["n1"]), ("n3", nodes["n3"])]


class _Counting:
    """An observer that counts its updates and reports the problems it is given."""

    def __init__(self) -> None:
        self.updates = 0
        self.problems: dict[str, str] = {}

    def update(self, world) -> None:
        self.updates += 1
        assert world == "w"


def test_observed_invariants_update_their_observer_once_per_event_by_the_first_unreported_one():
    """The first invariant of the group that has not reported updates the observer; once it has
    reported (and is no longer called), the next one does."""
    obs = _Counting()
    first, second = observed_invariants(obs, ("first", "second"))
    assert (first.name, second.name, first.observer, first.group) == ("first", "second", obs, [first, second])
    assert first.reported is False and second.reported is False
    assert first.check("w") is None and second.check("w") is None and obs.updates == 1
    obs.problems["first"] = "broken"
    assert first.check("w") == "broken" and first.reported and obs.updates == 2
    assert second.check("w") is None and obs.updates == 3
    assert second.check("w") is None and obs.updates == 4
    obs.problems["second"] = "also"
    assert second.check("w") == "also" and second.reported and obs.updates == 5

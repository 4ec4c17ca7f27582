"""The explorer's network of partitions: coarse steps that are still real runs.

With ``network="partitions"`` a step is a stimulus (a client request, a timer,
a crash or a restart) or cutting or healing a link, and the network *settles*
in between: everything in flight is delivered, round after round, and what
crosses a cut link is lost.  Checked here: a toy's state count derived by hand;
the settling order; that every path is an ordinary schedule -- the same
deliveries and losses, replayed one at a time in the asynchronous network,
leave every node exactly as the coarse step did; that the fast state handling
agrees with deep copies; and Raft's figure 8, which breadth-first search finds
here and not over single deliveries.

(A file of its own: the Raft searches take half a minute, and ``make test``
gives each test file a worker.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace

import pytest
from explore_twins import PARTITION_TWINS, check_shortest_counterexample, spec_of
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab.explore import ExploreSetup, ExploreWorld, explore, make_world, replay
from consensus_lab.sim import Node, ProtocolSpec, goal, invariant
from consensus_lab.testing import examples

# --- toys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ping:
    n: int


class Sender(Node):
    """n1 sends K pings to n2, one per tick of its timer; n2 counts what arrives."""

    K = 3

    def on_start(self, ctx):
        self.sent = self.got = 0
        if self.id == "n1":
            ctx.set_timer("tick", 1.0)

    def on_timer(self, ctx, name, payload):
        self.sent += 1
        ctx.send("n2", Ping(self.sent))
        if self.sent < self.K:
            ctx.set_timer("tick", 1.0)

    def on_message(self, ctx, src, msg):
        self.got += 1


@dataclass(frozen=True)
class Note:
    text: str


class Relay(Node):
    """At start n1 tells n2 and n3 'A'; n2 passes 'B' on to n3; n3 keeps the order."""

    def on_start(self, ctx):
        self.seen = []
        if self.id == "n1":
            ctx.send("n2", Note("A"))
            ctx.send("n3", Note("A"))

    def on_message(self, ctx, src, msg):
        self.seen.append(msg.text)
        if self.id == "n2":
            ctx.send("n3", Note("B"))


class Echo(Node):
    """Two nodes that answer every message with another: the network never settles."""

    def on_start(self, ctx):
        if self.id == "n1":
            ctx.send("n2", Note("hi"))

    def on_message(self, ctx, src, msg):
        ctx.send(src, msg)


def toy(name, cls, invariants=lambda options, variant: []) -> ProtocolSpec:
    return ProtocolSpec(name=name, summary="toy", make_node=lambda nid, c, o, v: cls(nid, c), invariants=invariants)


def partitions(**kw) -> ExploreSetup:
    return ExploreSetup(**{"depth": 60, "faults": 0, "network": "partitions", **kw})


# --- the space --------------------------------------------------------------------------


def sender_states(K: int, F: int) -> int:
    """Reachable states of the sender toy with at most F link cuts (heals are free).

    A state is (k sent, g got, link cut or not, f cuts used).  With f = 0 the
    link was never cut, every ping arrived: g = k, K+1 states.  For each
    f >= 1, with the link cut now or healed since, every g <= k is reachable
    (cut after g pings, lose k - g): (K+1)(K+2)/2 pairs each.  Total
    (K+1)(1 + F(K+2)): for K=3, F=0: 4, F=1: 24, F=2: 44.
    """
    return (K + 1) * (1 + F * (K + 2))


@pytest.mark.parametrize("F,expected", [(0, 4), (1, 24), (2, 44)])
def test_sender_state_count_matches_the_hand_count(F, expected):
    assert sender_states(Sender.K, F) == expected
    r = explore(toy("sender", Sender), nodes=2, setup=partitions(faults=F, fault_kinds=("partition",)),
                progress=False)
    assert r.verdict == "no violation" and r.complete and r.frontier_left == 0
    assert r.states == expected


def test_messages_settle_in_rounds():
    """Round one delivers both A's; B, sent during round one, arrives in round two.
    (Over single deliveries n3 may see B first.)"""

    def invs(options, variant):
        @invariant("n3 hears A before B")
        def order(world):
            seen = world.nodes["n3"].seen
            return f"n3 saw {seen}" if seen and seen[0] != "A" else None

        @goal("n3 heard both")
        def both(world):
            return len(world.nodes["n3"].seen) == 2

        return [order, both]

    spec = toy("relay", Relay, invs)
    coarse = explore(spec, nodes=3, setup=partitions(), progress=False)
    assert coarse.verdict == "no violation" and coarse.states == 1 and coarse.goals["n3 heard both"] == 0
    fine = explore(spec, nodes=3, setup=partitions(network="async"), progress=False)
    assert fine.verdict == "violation" and fine.counterexample_length == 2  # A to n2, then B before A


def test_a_network_that_never_settles_is_a_clear_error():
    with pytest.raises(ValueError, match="did not settle after 10,000 deliveries.*network='async'"):
        explore(toy("echo", Echo), nodes=2, setup=partitions(), progress=False)


@pytest.mark.parametrize("kw, message", [
    ({"network": "ring"}, "unknown network 'ring'"),
    ({"network": "partitions", "fault_kinds": ("drop",)}, "fault kind 'drop' does not apply to network='partitions'"),
    ({"network": "async", "fault_kinds": ("partition",)}, "fault kind 'partition' does not apply"),
])
def test_bad_network_settings_are_named(kw, message):
    with pytest.raises(ValueError, match=message):
        explore("broadcast", progress=False, **kw)


@pytest.mark.parametrize("args, message", [
    (["--network", "ring"], "unknown network 'ring'"),
    (["--network", "partitions", "--fault-kinds", "drop"], "does not apply to network='partitions'"),
])
def test_cli_rejects_bad_network_settings(args, message):
    p = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "explore", "broadcast", *args],
                       capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


# --- every coarse path is a real schedule -----------------------------------------------


class LoggingWorld(ExploreWorld):
    """Notes every single action the coarse steps are made of (a loss as a drop)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.log: list[tuple] = []

    def _act(self, s, a, rec):
        if a[0] not in ("cut", "heal"):
            self.log.append(a)
        return super()._act(s, a, rec)

    def _lose(self, s, key, rec, why):
        if why == "partition":
            self.log.append(("drop", key))
        super()._lose(s, key, rec, why)


def node_parts(s):
    return [c[0] for c in s.comps]


def check_fine_replay(spec, variant, setup, path):
    """Replay the single actions behind ``path`` in the asynchronous network: at every
    coarse step's end the nodes (state, storage, timers) and the verdict agree."""
    coarse, _ = make_world(spec, variant=variant, setup=setup, world_class=LoggingWorld)
    s = coarse.initial()
    ends = [(len(coarse.log), s)]
    for a in path:
        s = coarse.step(s, a)
        ends.append((len(coarse.log), s))
    micro = coarse.log
    faults = sum(1 for a in micro if a[0] in ("drop", "crash"))
    fine, _ = make_world(spec, variant=variant, setup=setup, network="async", faults=faults,
                         fault_kinds=("drop", "crash", "restart"))
    t = fine.initial()
    done = 0
    for upto, cs in ends:
        for a in micro[done:upto]:
            assert a in fine.actions(t), (a, fine.actions(t))
            t = fine.step(t, a)
        done = upto
        assert node_parts(t) == node_parts(cs)
        assert fine.check(t) == coarse.check(cs)
    return micro


@pytest.mark.parametrize("module, variant, broken, length", PARTITION_TWINS,
                         ids=[f"{m}-{v}" for m, v, *_ in PARTITION_TWINS])
def test_bfs_over_partitions_finds_the_shortest_counterexample(module, variant, broken, length):
    """Raft's figure 8 and two Multi-Paxos twins (see PARTITION_TWINS for their stories):
    shortest in coarse steps, one cut link each, and an ordinary run that replays from
    its steps and, one delivery at a time, over single deliveries."""
    r = check_shortest_counterexample(module, variant, broken, length)
    assert r.network == "partitions" and [st.kind for st in r.path].count("cut") == 1
    spec = spec_of(module)
    run = r.counterexample
    kinds = [e.kind for e in run.trace]
    assert kinds.count("cut") == 1 and kinds.count("deliver") > 2 * length
    assert replay(spec, r.path, variant=variant).trace_hash == run.trace_hash
    world, setup = make_world(spec, variant=variant)
    s, actions = world.initial(), []
    for step in r.path:
        actions.append(world.action_of(step, s))
        s = world.step(s, actions[-1])
    micro = check_fine_replay(spec, variant, setup, actions)
    assert len(micro) > 2 * length  # each coarse step stands for several single ones


@pytest.mark.parametrize("module, variant, goal", [
    ("raft", "commit-previous-term", "an entry commits"),  # the correct Raft in figure 8's setup
    ("multipaxos", "correct", "the leader changed"),
])
def test_correct_protocols_survive_the_search_over_partitions(module, variant, goal):
    spec = spec_of(module)
    _, setup = make_world(spec, variant=variant)
    r = explore(spec, setup=setup, depth=6, progress=False)
    assert r.network == "partitions"
    assert r.verdict == "no violation" and r.complete, r.summary()
    assert r.states > 5000
    assert r.goals[goal] is not None, r.summary()


@pytest.mark.parametrize("module", ["twopc", "paxos", "raft"])
@settings(max_examples=examples(15), deadline=None)
@given(choices=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=7))
def test_coarse_steps_are_sequences_of_single_steps(module, choices):
    """Random paths over partitions (with cuts, heals, crashes and restarts)."""
    spec = spec_of(module)
    _, setup = make_world(spec)
    setup = replace(setup, network="partitions", faults=2, fault_kinds=None)
    world, _ = make_world(spec, setup=setup)
    s = world.initial()
    path = []
    for c in choices:
        acts = world.actions(s)
        if not acts or world.check(s) is not None:
            break
        a = acts[c % len(acts)]
        path.append(a)
        s = world.step(s, a)
    check_fine_replay(spec, "correct", setup, path)


@pytest.mark.parametrize("module, depth", [("twopc", 4), ("raft", 3)])
def test_fast_state_handling_agrees_with_deep_copies_over_partitions(module, depth):
    from consensus_lab.explore.naive import NaiveWorld

    spec = spec_of(module)
    kw = {"network": "partitions", "fault_kinds": ("partition", "crash", "restart"), "faults": 1, "depth": depth}
    fast = explore(spec, progress=False, **kw)
    naive = explore(spec, progress=False, world_class=NaiveWorld, **kw)
    assert fast.states > 50
    assert (fast.states, fast.transitions, fast.goals) == (naive.states, naive.transitions, naive.goals)


def test_cli_finds_figure_8_and_reports_the_network():
    spec_of("raft")
    p = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "explore", "raft", "--variant",
                        "commit-previous-term", "--json", "-"], capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert out["verdict"] == "violation" and out["network"] == "partitions"
    assert out["counterexample_length"] == 7 and out["violation"]["invariant"] == "leader completeness"


def test_changing_the_network_brings_that_networks_fault_kinds():
    """A setup's fault kinds belong to its network: twopc's (drop, crash, restart) do not
    carry over to the network of partitions, nor figure 8's link cuts to single deliveries."""
    spec_of("twopc")
    r = explore("twopc", network="partitions", progress=False)
    assert r.bounds.fault_kinds == ("partition", "crash", "restart") and r.network == "partitions"
    assert r.verdict == "no violation" and r.states > 100
    spec_of("raft")
    r = explore("raft", variant="commit-previous-term", network="async", depth=3, progress=False)
    assert r.bounds.fault_kinds == ("drop", "duplicate", "crash", "restart") and r.network == "async"

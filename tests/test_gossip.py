"""The eventual store: what it guarantees under the random nemesis, and what it does not
(kept seeds for each counterexample)."""

from __future__ import annotations

import pytest

from consensus_lab import ScenarioError, run
from consensus_lab.history import Op
from consensus_lab.properties import evaluate, evaluate_all
from consensus_lab.protocols.gossip import SESSION_GUARANTEES, GossipNode, GossipState
from consensus_lab.sim.clients import ClientRequest, SessionOk, SessionRequest
from consensus_lab.testing import FakeContext, battery_seeds


def gossip(seed, conflict="lww", nemesis="random", duration=3.0, variant="correct", **opts):
    return run("gossip", seed=seed, duration=duration, nemesis=nemesis, variant=variant,
               options={"conflict": conflict, **opts})


@pytest.mark.parametrize("conflict", ["lww", "vv", "crdt"])
def test_converges_and_keeps_invariants_under_the_random_nemesis(conflict):
    for seed in battery_seeds(8):
        r = gossip(seed, conflict)
        assert r.ok, f"seed {seed}: {r.violations[0]}"
        res = evaluate("convergent", r)
        assert res.holds, f"seed {seed}: {res.detail}"


@pytest.mark.parametrize("conflict", ["vv", "crdt"])
def test_siblings_and_crdts_lose_no_acknowledged_write(conflict):
    for seed in battery_seeds(6):
        for nemesis in ("random", "clock-skew"):
            res = evaluate("no-lost-writes", gossip(seed, conflict, nemesis))
            assert res.holds, f"seed {seed}, {nemesis}: {res.detail}"


@pytest.mark.parametrize("conflict", ["lww", "vv", "crdt"])
def test_sessions_on_give_all_four_guarantees(conflict):
    for seed in battery_seeds(6):
        for nemesis in ("random", "clock-skew"):
            r = gossip(seed, conflict, nemesis, sessions=True)
            for name, res in evaluate_all(r, names=SESSION_GUARANTEES).items():
                assert res.holds, f"seed {seed}, {nemesis}, {name}: {res.detail}"


def test_without_sessions_an_eventual_store_does_not_read_your_writes():
    # kept seed: clients behind a load balancer read at a replica that has not heard yet
    r = gossip(0, "lww", "none")
    res = evaluate("read-your-writes", r)
    assert res.violated and "did not see" in res.detail
    assert evaluate("convergent", r).holds  # ... and yet it converges


def test_each_guarantee_switches_on_alone():
    r = gossip(0, "lww", "none", **{"read-your-writes": True})
    assert evaluate("read-your-writes", r).holds
    assert evaluate("monotonic-reads", r).violated  # the others stay off
    r = gossip(0, "lww", "none", **{"monotonic-reads": True})
    assert evaluate("monotonic-reads", r).holds


def test_last_writer_wins_loses_an_acknowledged_write_under_clock_skew():
    r = gossip(1, "lww", "clock-skew")  # kept seed
    assert any(a.script().startswith("skew") for _, a in r.schedule)
    res = evaluate("no-lost-writes", r)
    assert res.violated and "lost" in res.detail
    # the same run without skew loses nothing: the clocks are to blame
    assert evaluate("no-lost-writes", gossip(1, "lww", "none")).holds


def test_version_vectors_keep_concurrent_writes_as_siblings():
    r = gossip(0, "vv", "random")
    sibling_reads = [op for op in r.history if op.type == "ok" and op.f == "read" and isinstance(op.value, tuple)]
    assert sibling_reads, "concurrent writes should show up as siblings"
    assert evaluate("linearizable", r).violated  # a register never returns two values


def test_overwrite_merge_twin_loses_writes():
    res = evaluate("no-lost-writes", gossip(1, "lww", "none", variant="overwrite-merge"))  # kept seed
    assert res.violated


def test_merge_keeps_the_newer_stamp_and_answers_what_the_peer_lacks():
    node = GossipNode("n1", ("n1", "n2"))
    ctx = FakeContext("n1")
    node.on_start(ctx)
    ctx.clear()
    node.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 5))
    assert node.read("x") == 5 and ctx.replies()[0][1].value is None
    ctx.clear()
    older = (("x", (-1.0, "n2", 1, 7)),)
    node.on_message(ctx, "n2", GossipState(older, (("n2", 1),), True))
    assert node.read("x") == 5  # the older stamp loses
    assert [type(m).__name__ for _, m in ctx.sent()] == ["GossipState"]  # n2 lacks n1's write: push-pull


def test_a_session_token_travels_and_a_behind_replica_waits():
    node = GossipNode("n2", ("n1", "n2"), guarantees=SESSION_GUARANTEES)
    ctx = FakeContext("n2")
    node.on_start(ctx)
    ctx.clear()
    token = ((("n1", 3),), ())  # the session wrote n1's third write
    node.on_client_request(ctx, SessionRequest("c0", 2, "read", "x", None, 0, token))
    assert ctx.replies() == [] and node.waiting  # held until n2 catches up
    assert ctx.sent()[0][0] == "n1"  # and it pulls from the replica that has it
    ctx.clear()
    node.on_message(ctx, "n1", GossipState((("x", (1.0, "n1", 3, 9)),), (("n1", 3),), False))
    (req, result), = ctx.replies()
    assert isinstance(result, SessionOk) and result.value == 9 and not node.waiting


def test_bad_options_are_refused_before_the_run():
    with pytest.raises((ScenarioError, ValueError), match="conflict"):
        run("gossip", options={"conflict": "newest"})


def test_session_tokens_reach_the_history_only_as_values():
    r = gossip(2, "vv", "none", duration=1.0, sessions=True)
    assert all(isinstance(op, Op) for op in r.history)
    tokens = [e for e in r.trace if e.kind == "request" and type(e.msg).__name__ == "SessionRequest"]
    assert tokens, "clients should carry session tokens once a replica hands one out"

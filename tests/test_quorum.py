"""Dynamo-style quorums: what R+W>N buys, what it does not, and what read repair adds."""

from __future__ import annotations

import pytest

from consensus_lab import ScenarioError, run
from consensus_lab.matrix import MATRIX_NETWORK, MATRIX_WORKLOAD
from consensus_lab.properties import evaluate
from consensus_lab.protocols.quorum import Get, GetReply, Put, PutAck, QuorumNode
from consensus_lab.sim.clients import ClientRequest
from consensus_lab.testing import FakeContext, battery_seeds


def quorum(seed, nemesis="random", nodes=None, variant="correct", busy=False, duration=3.0, **opts):
    kw = {"network": MATRIX_NETWORK, "workload": MATRIX_WORKLOAD} if busy else {}
    return run("quorum", seed=seed, nodes=nodes, duration=duration, nemesis=nemesis, variant=variant,
               options=opts, **kw)


def test_read_repair_with_intersecting_quorums_is_linearizable_under_the_random_nemesis():
    for seed in battery_seeds(12):
        for busy in (False, True):
            r = quorum(seed, busy=busy, **{"read-repair": True})
            assert r.ok, f"seed {seed}: {r.violations[0]}"
            for prop in ("linearizable", "no-lost-writes"):
                res = evaluate(prop, r)
                assert res.holds, f"seed {seed} (busy={busy}) {prop}: {res.detail}"


def test_intersecting_quorums_lose_no_acknowledged_write():
    for seed in battery_seeds(10):
        res = evaluate("no-lost-writes", quorum(seed, "random", busy=True))
        assert res.holds, f"seed {seed}: {res.detail}"


def test_r_plus_w_greater_than_n_alone_is_not_linearizable():
    # kept seed: a read overlapping a write sees the new value at one replica,
    # a later read still gets the old one from two others -- new, then old
    r = quorum(6, "none", busy=True)
    res = evaluate("linearizable", r)
    assert res.violated, res.detail
    assert evaluate("linearizable", quorum(6, "none", busy=True, **{"read-repair": True})).holds


def test_the_inversion_is_found_by_a_search_over_seeds():
    found = [s for s in range(20) if evaluate("linearizable", quorum(s, "none", busy=True)).violated]
    assert found, "20 busy seeds should show at least one new-then-old inversion"


def test_non_intersecting_quorums_lose_acknowledged_writes():
    res = evaluate("no-lost-writes", quorum(0, "none", r=1, w=1))  # kept seed
    assert res.violated
    assert evaluate("read-your-writes", quorum(0, "none", r=1, w=1)).violated


def test_sloppy_quorums_trade_intersection_for_availability():
    r = quorum(0, "partition", nodes=5, busy=True, duration=4.0, sloppy=True)  # kept seed
    assert r.ok
    assert evaluate("linearizable", r).violated
    assert evaluate("convergent", r).holds  # hinted handoff brings the owners up to date


def test_no_version_read_twin_loses_later_writes():
    res = evaluate("no-lost-writes", quorum(0, "none", variant="no-version-read"))  # kept seed
    assert res.violated


@pytest.mark.parametrize("opts", [{"r": 0}, {"w": 4}, {"n": 5}])
def test_impossible_quorums_are_refused(opts):
    with pytest.raises((ScenarioError, ValueError)):
        run("quorum", nodes=3, duration=0.5, options=opts)


def test_a_write_reads_versions_first_and_answers_after_w_acks():
    node = QuorumNode("n1", ("n1", "n2", "n3"), n=3, r=2, w=2)
    ctx = FakeContext("n1")
    node.on_start(ctx)
    ctx.clear()
    node.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 7))
    gets = [(d, m) for d, m in ctx.sent() if isinstance(m, Get)]
    assert sorted(d for d, _ in gets) == ["n2", "n3"]  # its own replica answered at once
    rid = gets[0][1].rid
    ctx.clear()
    node.on_message(ctx, "n2", GetReply(rid, "x", (4, "n3", 1, 1), 3))
    puts = [(d, m) for d, m in ctx.sent() if isinstance(m, Put)]
    assert puts and all(m.version[0] == 5 for _, m in puts)  # newest counter + 1
    assert ctx.replies() == []  # only its own ack so far
    node.on_message(ctx, "n2", PutAck(rid, "x", puts[0][1].version))
    assert [res.value for _, res in ctx.replies()] == [None]
    assert node.read("x") == 7


def test_retried_writes_are_not_replayed():
    node = QuorumNode("n1", ("n1", "n2", "n3"))
    ctx = FakeContext("n1")
    node.on_start(ctx)
    ctx.clear()
    node.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 7, attempt=1))
    assert ctx.sent() == [] and ctx.replies() == []

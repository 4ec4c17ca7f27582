"""Primary-backup: linearizable through crashes, partitions and failovers; its broken
twins show why each rule is there."""

from __future__ import annotations

from consensus_lab import Workload, run
from consensus_lab.properties import evaluate
from consensus_lab.protocols.primary_backup import (
    Heartbeat,
    PrimaryBackupNode,
    Replicate,
    ReplicateAck,
)
from consensus_lab.sim.clients import ClientRequest, Redirect
from consensus_lab.testing import FakeContext, battery_seeds

READ_HEAVY = Workload(clients=3, keys=("x",), mix=(("read", 0.9), ("write", 0.1)), think=0.05)


def pb(seed, nemesis="random", variant="correct", nodes=None, duration=5.0, **kw):
    return run("primary-backup", seed=seed, nodes=nodes, duration=duration, nemesis=nemesis, variant=variant, **kw)


def test_linearizable_and_safe_under_the_random_nemesis():
    for seed in battery_seeds(15):
        for nodes, nemesis in ((3, "random"), (5, "random"), (3, "partition,crash,clock-skew")):
            r = pb(seed, nemesis, nodes=nodes)
            assert r.ok, f"seed {seed}: {r.violations[0]}"
            res = evaluate("linearizable", r)
            assert res.holds, f"seed {seed}, {nodes} nodes, {nemesis}: {res.detail}"


def test_failover_happens_and_clients_keep_going():
    r = pb(1, "1 crash n1; 4 restart n1", duration=6.0)
    views = {n.view for n in r.nodes.values() if n is not None}
    assert max(views) > 0, "a backup should have taken over from the crashed primary"
    late = [op for op in r.history if op.type == "ok" and op.time > 2.0]
    assert late, "clients should be served by the new primary"
    assert evaluate("linearizable", r).holds and evaluate("convergent", r).holds


def test_async_replication_loses_acknowledged_writes_on_failover():
    r = pb(3, "partition", variant="async")  # kept seed
    assert evaluate("linearizable", r).violated
    assert evaluate("linearizable", pb(3, "partition")).holds


def test_local_reads_at_a_deposed_primary_are_stale():
    r = pb(5, "partition", variant="local-reads", workload=READ_HEAVY)  # kept seed
    assert evaluate("linearizable", r).violated
    assert evaluate("linearizable", pb(5, "partition", workload=READ_HEAVY)).holds


def test_backups_redirect_and_the_primary_waits_for_every_member():
    backup = PrimaryBackupNode("n2", ("n1", "n2", "n3"))
    ctx = FakeContext("n2")
    backup.on_start(ctx)
    ctx.clear()
    backup.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 5))
    assert ctx.replies()[0][1] == Redirect("n1")

    primary = PrimaryBackupNode("n1", ("n1", "n2", "n3"))
    ctx = FakeContext("n1")
    primary.on_start(ctx)
    assert primary.is_primary
    ctx.clear()
    primary.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 5))
    assert sorted(d for d, m in ctx.sent() if isinstance(m, Replicate)) == ["n2", "n3"]
    primary.on_message(ctx, "n2", ReplicateAck(0, 1))
    assert ctx.replies() == []  # n3 has not acknowledged: synchronous means every member
    primary.on_message(ctx, "n3", ReplicateAck(0, 1))
    assert len(ctx.replies()) == 1 and primary.data == {"x": 5}


def test_a_retried_write_is_applied_once():
    primary = PrimaryBackupNode("n1", ("n1",))
    ctx = FakeContext("n1")
    primary.on_start(ctx)
    primary.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 5))
    primary.on_client_request(ctx, ClientRequest("c1", 1, "write", "x", 6))
    ctx.clear()
    primary.on_client_request(ctx, ClientRequest("c0", 1, "write", "x", 5, attempt=1))
    assert len(ctx.replies()) == 1 and primary.data == {"x": 6}


def test_an_old_primary_steps_down_when_it_hears_a_newer_view():
    node = PrimaryBackupNode("n1", ("n1", "n2", "n3"))
    ctx = FakeContext("n1")
    node.on_start(ctx)
    node.on_message(ctx, "n2", Heartbeat(4, ("n2", "n3")))
    assert not node.is_primary and node.view == 4

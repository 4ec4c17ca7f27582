"""Partitioning: balance, movement, placement, the hybrid store and its availability."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus_lab import run
from consensus_lab.partitioning import (
    ConsistentHash,
    HashModN,
    RangePartitioner,
    Router,
    availability,
    availability_experiment,
    balance,
    independent_crashes,
    movement,
    placement,
    sample_keys,
    stable_hash,
)
from consensus_lab.properties import evaluate
from consensus_lab.protocols.partitioned import SPECS as PARTITIONED

KEYS = sample_keys(3000)
NODES = [f"n{i}" for i in range(1, 6)]


def test_hashes_are_stable_across_processes():
    code = "from consensus_lab.partitioning import stable_hash; print(stable_hash('user0042'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, check=True).stdout
    assert int(out) == stable_hash("user0042")


def test_hash_mod_n_moves_almost_everything_when_a_node_joins():
    moved = movement(HashModN(NODES), HashModN(NODES).add_node("n6"), KEYS)
    assert moved == pytest.approx(5 / 6, abs=0.05)


def test_consistent_hashing_moves_about_one_share():
    ring = ConsistentHash(tuple(NODES), 64)
    joined = ring.add_node("n6")
    moved = movement(ring, joined, KEYS)
    assert moved == pytest.approx(1 / 6, abs=0.05)
    # and only towards the new node
    assert all(joined.owner(k) == "n6" for k in KEYS if ring.owner(k) != joined.owner(k))
    left = ring.remove_node("n3")
    assert all(ring.owner(k) == "n3" for k in KEYS if ring.owner(k) != left.owner(k))


def test_virtual_nodes_even_out_the_load():
    one = balance(ConsistentHash(tuple(NODES), 1), KEYS)
    many = balance(ConsistentHash(tuple(NODES), 128), KEYS)
    assert many.max_over_mean < 1.2 < one.max_over_mean
    assert sum(c for _, c in many.loads) == len(KEYS)


def test_range_partitioning_splits_and_merges_neighbours():
    rp = RangePartitioner.from_keys(NODES, KEYS)
    assert balance(rp, KEYS).max_over_mean == pytest.approx(1.0, abs=0.01)
    grown = rp.add_node("n6")
    moved = movement(rp, grown, KEYS)
    assert 0 < moved <= 0.11  # half of one range
    assert all(grown.owner(k) == "n6" for k in KEYS if rp.owner(k) != grown.owner(k))
    shrunk = rp.remove_node("n3")
    assert movement(rp, shrunk, KEYS) == pytest.approx(0.2, abs=0.01)
    # range scans stay on one node: consecutive keys share owners
    owners = [rp.owner(k) for k in KEYS]
    assert sum(a != b for a, b in zip(owners, owners[1:], strict=False)) == len(NODES) - 1


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=40), st.integers(1, 5))
def test_preference_lists_are_distinct_nodes_starting_at_the_owner(keys, n):
    ring = ConsistentHash(tuple(NODES), 8)
    for k in keys:
        prefs = ring.preference_list(k, n)
        assert len(prefs) == n == len(set(prefs)) and prefs[0] == ring.owner(k)


def test_membership_errors_are_clear():
    with pytest.raises(ValueError, match="already a member"):
        HashModN(NODES).add_node("n1")
    with pytest.raises(ValueError, match="not a member"):
        ConsistentHash(tuple(NODES)).remove_node("n9")
    with pytest.raises(ValueError, match="replicas"):
        placement(4, NODES, 9)


def test_router_sends_a_key_to_a_live_replica_of_its_partition():
    router = Router.build(8, NODES, replicas=3)
    for k in KEYS[:50]:
        group = router.replicas(k)
        assert len(set(group)) == 3
        assert router.route(k) == group[0]
        assert router.route(k, up=lambda n, g=group: n != g[0]) == group[1]
        assert router.route(k, up=lambda n: False) is None


@pytest.mark.parametrize("store", ["gossip", "quorum", "primary-backup"])
def test_the_hybrid_runs_each_store_per_partition(store):
    r = run(PARTITIONED[0], nodes=5, seed=2, duration=3.0, nemesis="random",
            options={"partitions": 4, "replicas": 3, "store": store})
    assert r.ok and r.stats["ops"]["ok"] > 20
    res = evaluate("convergent", r, PARTITIONED[0])
    assert res.holds, res.detail


def test_the_hybrid_router_forwards_to_the_partition():
    r = run(PARTITIONED[0], nodes=6, seed=1, duration=1.0, options={"partitions": 6, "replicas": 1})
    forwards = [e for e in r.trace if e.kind == "send" and e.msg_type == "Forward"]
    assert forwards and r.stats["ops"]["ok"] > 0
    router = r.nodes["n1"].router
    for e in forwards:  # each forward goes to a replica of the key's partition
        assert e.peer in router.replicas(e.msg.request.key)


def test_a_forwarded_write_reaches_a_quorum_group_as_a_first_attempt():
    # with a redirect the client would come back with attempt 1, and the quorum store ignores retried writes
    r = run(PARTITIONED[0], nodes=5, seed=2, duration=3.0, options={"partitions": 4, "replicas": 3, "store": "quorum"})
    # only operations still open when the run stopped end as info (one per client at most)
    assert r.stats["ops"]["info"] <= 4 and r.stats["ops"]["ok"] > 100


def test_without_replication_every_crash_takes_its_keys_away():
    nodes = ("n1", "n2", "n3", "n4")
    script = independent_crashes(nodes, 8.0, random.Random(3), mttf=3.0, mttr=1.0)
    groups = placement(4, nodes, 1)
    r = run(PARTITIONED[0], nodes=4, seed=3, duration=8.0, nemesis=script,
            options={"partitions": 4, "replicas": 1})
    a = availability(r, groups)
    assert a.all_keys < a.keys < 1.0  # some partition was down much of the time
    r3 = run(PARTITIONED[0], nodes=4, seed=3, duration=8.0, nemesis=script,
             options={"partitions": 4, "replicas": 3})
    assert availability(r3, placement(4, nodes, 3)).all_keys > a.all_keys


def test_more_partitions_means_more_places_to_fail():
    rows = availability_experiment((1, 4, 8), (1, 3), seeds=range(2), duration=6.0)
    plain = {r["partitions"]: r["all_keys"] for r in rows if r["replicas"] == 1}
    replicated = {r["partitions"]: r["all_keys"] for r in rows if r["replicas"] == 3}
    assert plain[1] > plain[8]
    assert all(replicated[p] > plain[p] for p in plain)
    assert min(replicated.values()) > 0.9


def test_fixed_slots_move_whole_slots_and_exactly_the_fair_share():
    from consensus_lab.partitioning import REDIS_SLOTS, FixedSlots

    before = FixedSlots(("n1", "n2", "n3", "n4", "n5"))
    after = before.add_node("n6")
    moved = [s for s in range(REDIS_SLOTS) if before.table[s] != after.table[s]]
    assert len(moved) == REDIS_SLOTS // 6 and all(after.table[s] == "n6" for s in moved)
    keys = sample_keys(3000)
    assert abs(movement(before, after, keys) - 1 / 6) < 0.02
    loads = dict(balance(after, keys).loads)
    assert set(loads) == set(after.nodes)
    left = after.remove_node("n2")
    assert "n2" not in left.table and all(left.table[s] == after.table[s] for s in range(REDIS_SLOTS)
                                         if after.table[s] != "n2")


def test_hash_mod_n_moves_about_n_over_n_plus_one():
    keys = sample_keys(3000)
    for n in (3, 5, 8):
        nodes = [f"n{i}" for i in range(1, n + 1)]
        p = HashModN(nodes)
        assert abs(movement(p, p.add_node("new"), keys) - n / (n + 1)) < 0.03


def test_majority_quorums_make_partitions_less_available_than_an_eventual_store():
    rows = availability_experiment((8,), (3,), seeds=range(2), duration=6.0, stores=("gossip", "quorum"))
    by = {r["store"]: r for r in rows}
    assert by["quorum"]["all_keys"] < by["gossip"]["all_keys"]
    assert by["quorum"]["ops"] < by["gossip"]["ops"]
    with pytest.raises(ValueError, match="store must be"):
        availability_experiment((1,), (1,), seeds=range(1), duration=1.0, stores=("raft",))


def test_movement_plot_draws_the_fair_share_and_hash_mod_n_lines():
    import matplotlib

    matplotlib.use("Agg")
    from consensus_lab.viz.partition_plots import plot_movement

    fig = plot_movement({"hash mod N": HashModN}, sample_keys(300), sizes=range(2, 6))
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert list(lines["fair share: 1/(N+1)"].get_ydata()) == [1 / (n + 1) for n in range(2, 6)]
    assert list(lines["hash mod N: N/(N+1)"].get_ydata()) == [n / (n + 1) for n in range(2, 6)]
    assert not any("minimum" in label for label in lines)

"""Lesson 10's models: each claim about a real system, as a test of our model of it."""

from __future__ import annotations

import pytest
from shared_data import require_shared

from consensus_lab import protocols, run
from consensus_lab.checkers import check_linearizable
from consensus_lab.properties import check_property
from consensus_lab.protocols.realsystems import FOLLOWER_READS, TRUETIME
from consensus_lab.sim import Scenario
from consensus_lab.systems import (
    ZKTree,
    commit_wait_grid,
    jepsen_etcd,
    lock_story,
    preference_split,
    quorum_choices,
    read_modes,
    skew_script,
    stale_read_example,
)


def test_specs_are_registered_on_import():
    assert protocols.get("raft-follower-reads") is FOLLOWER_READS
    assert protocols.get("truetime") is TRUETIME
    assert FOLLOWER_READS.history_model == "kv" and TRUETIME.history_model == "kv"


# --- etcd / ZooKeeper reads ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_local_follower_reads_are_stale_and_sync_fixes_them(seed):
    nem = "1 partition n1,n2|n3,n4,n5; 2.5 heal"
    local = run("raft-follower-reads", seed=seed, duration=3.0, nemesis=nem, options={"read_mode": "local"})
    synced = run("raft-follower-reads", seed=seed, duration=3.0, nemesis=nem, options={"read_mode": "sync"})
    assert local.ok and synced.ok  # Raft's own invariants hold either way
    assert not check_property("linearizable", local)[0]
    assert check_property("linearizable", synced)[0]
    reads = [op for op in synced.history if op.f == "read" and op.type == "ok"]
    assert len(reads) > 10


def test_read_modes_table():
    rows = {t.setting: t for t in read_modes(range(3), duration=2.0)}
    assert rows["local reads (serializable)"].linearizable == 0
    for name in ("sync, then local read", "leader: read through the log", "leader: read index (linearizable)"):
        assert rows[name].linearizable == 3, name
    assert rows["local reads (serializable)"].read_p50_ms < rows["sync, then local read"].read_p50_ms


def test_stale_read_example_is_short_and_not_linearizable():
    r, result = stale_read_example("local")
    assert result.verdict == "not linearizable" and len(r.history) < 80
    r, result = stale_read_example("sync")
    assert result.ok


# --- ZooKeeper sessions, ephemeral znodes, watches -------------------------------------------------


def test_zk_tree_ephemeral_watch_and_expiry():
    zk = ZKTree()
    zk.connect(1, 1.0, 0.0)
    zk.connect(2, 1.0, 0.0)
    token = zk.create(1, "/lock", "A", ephemeral=True)
    assert zk.create(2, "/lock", "B") is None
    assert zk.get(2, "/lock", watch=True).czxid == token
    zk.ping(2, 0.9)
    assert zk.expire(1.0) == [(1, ["/lock"])]
    assert zk.notifications == [(2, "/lock", "deleted")]
    zk.create(2, "/lock", "B", ephemeral=True)
    assert zk.notifications == [(2, "/lock", "deleted")]  # a watch fires once
    assert not zk.ping(1, 1.1)


def test_lock_without_fencing_lets_two_clients_write():
    story = lock_story()
    assert story.holds["A"][0][1] < story.believes["A"][0][1]  # A believes longer than it holds
    assert story.overlap > 1.0 and story.unsafe_writes == [(4.5, "A", 3)]
    fenced = lock_story(fencing=True)
    assert not fenced.unsafe_writes
    assert any("REFUSED" in e.what for e in fenced.events)


# --- Spanner commit wait -------------------------------------------------------------------------


def test_commit_wait_is_needed_and_only_as_good_as_the_clock_bound():
    rows = {t.setting: t for t in commit_wait_grid(range(3), duration=2.0)}
    assert rows["clocks within epsilon, commit wait off"].linearizable == 0
    assert rows["clocks within epsilon, commit wait on"].linearizable == 3
    assert rows["clocks beyond epsilon, commit wait on"].linearizable == 0
    on = rows["clocks within epsilon, commit wait on"].write_p50_ms
    off = rows["clocks within epsilon, commit wait off"].write_p50_ms
    assert on - off > 2 * 0.05 * 1000 * 0.7  # commit wait costs about 2 epsilon


@pytest.mark.parametrize("protocol,options", [("truetime", {}), ("raft-follower-reads", {"read_mode": "sync"})])
def test_the_consistent_settings_survive_crashes_and_partitions(protocol, options):
    for seed in range(6):
        r = run(protocol, seed=seed, duration=4.0, nemesis="random", options=options)
        assert r.ok, (seed, r.violations)
        assert check_property("linearizable", r)[0], seed


def test_truetime_with_true_clocks_needs_no_wait():
    r = run(Scenario(protocol="truetime", seed=1, duration=2.0, options={"commit_wait": False}))
    assert check_linearizable(r.history, "kv").ok
    assert skew_script({"n1": 0.1}) == "0 skew n1 0.1"


# --- Dynamo / Cassandra ----------------------------------------------------------------------------


def test_quorum_choices_trade_availability_for_consistency():
    assert preference_split("x") == "n4,n5|n1,n2,n3"
    rows = {t.setting: t for t in quorum_choices(range(3), duration=2.5)}
    eventual, strict, sloppy = rows["R=1 W=1 (fast, eventual)"], rows["R=2 W=2 (R+W>N)"], rows["R=2 W=2 + sloppy quorum"]
    assert eventual.linearizable < 3
    assert strict.linearizable == 3 and rows["R=2 W=2 + read repair (ABD)"].linearizable == 3
    assert sloppy.ok_fraction > strict.ok_fraction + 0.05
    assert sloppy.linearizable < 3


# --- Jepsen's etcd histories -----------------------------------------------------------------------


def test_jepsen_etcd_histories_get_porcupines_verdicts():
    require_shared("porcupine", "etcd_000.log")
    results = jepsen_etcd(limit=20, timeout=30)
    assert len(results) == 20
    for r in results:
        assert (r.verdict == "linearizable") == r.expected, r


def test_read_repair_makes_the_difference_on_busy_clients():
    from consensus_lab.systems import read_repair_difference

    plain, repaired = read_repair_difference(seeds=(0, 6, 11))
    assert plain.linearizable < plain.runs  # seeds 6 and 11 read new, then old
    assert repaired.linearizable == repaired.runs
    assert plain.read_p50_ms <= plain.read_p99_ms


def test_the_safe_time_wait_covers_readers_ahead_but_not_readers_behind():
    from consensus_lab.systems import clock_direction_grid

    rows = {t.setting: t for t in clock_direction_grid(range(2), duration=2.0)}
    assert rows["leader ahead, replicas behind, commit wait off"].linearizable == 0
    assert rows["leader ahead, replicas behind, commit wait on"].linearizable == 2
    behind = rows["leader behind, replicas ahead, commit wait off"]
    assert behind.linearizable == 2  # the replicas' reads wait for the safe time instead
    assert behind.read_p50_ms > rows["clocks exact, commit wait off"].read_p50_ms


def test_the_lock_figure_draws_the_pause():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from consensus_lab.viz.systems_plots import plot_lock_story

    story = lock_story(pause=(1.0, 4.5))
    assert story.pauses == {"A": (1.0, 4.5)}
    ax = plot_lock_story(story)
    hatched = [p for p in ax.patches if p.get_hatch() == "///"]
    assert len(hatched) == 1 and hatched[0].get_x() == 1.0 and abs(hatched[0].get_width() - 3.5) < 1e-9
    assert any("paused" in t.get_text() for t in ax.texts)
    plt.close(ax.figure)

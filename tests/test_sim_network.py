"""The network: latency, loss, duplication, reordering, partitions."""

from __future__ import annotations

import pytest
from _toys import chatter_spec
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab import Latency, NetworkConfig, Scenario, run
from consensus_lab.sim import Cut, Heal, Partition, Simulation
from consensus_lab.testing import examples


def _run(nodes=3, count=3, **kw):
    return run(Scenario(protocol=chatter_spec(count), nodes=nodes, duration=5.0, **kw))


def _by_kind(r, kind):
    return [e for e in r.trace if e.kind == kind]


def test_no_faults_every_message_delivered_once():
    r = _run(nodes=4, count=5)
    sends = _by_kind(r, "send")
    delivers = _by_kind(r, "deliver")
    assert len(sends) == 4 * 3 * 5
    assert sorted(e.msg_id for e in delivers) == sorted(e.msg_id for e in sends)
    for n in r.nodes.values():
        assert len(n.received) == 3 * 5


def test_loss_one_drops_everything_and_zero_drops_nothing():
    r = _run(network=NetworkConfig(loss=1.0))
    assert not _by_kind(r, "deliver")
    assert {e.info for e in _by_kind(r, "drop")} == {"loss"}
    assert r.stats["dropped"] == r.stats["sent"]
    assert _run(network=NetworkConfig(loss=0.0)).stats["dropped"] == 0


def test_loss_rate_is_about_right():
    r = _run(nodes=5, count=50, network=NetworkConfig(loss=0.3))
    rate = r.stats["dropped"] / r.stats["sent"]
    assert 0.24 < rate < 0.36


def test_duplicate_one_delivers_every_message_twice():
    r = _run(network=NetworkConfig(duplicate=1.0))
    delivers = _by_kind(r, "deliver")
    assert len(delivers) == 2 * len(_by_kind(r, "send"))
    assert len(_by_kind(r, "duplicate")) == len(_by_kind(r, "send"))


@pytest.mark.parametrize(
    "lat,low,high",
    [
        (Latency.constant(0.02), 0.02, 0.02),
        (Latency.uniform(0.01, 0.05), 0.01, 0.05),
        (Latency.exponential(0.03, low=0.005), 0.005, float("inf")),
    ],
)
def test_latency_distributions(lat, low, high):
    r = _run(nodes=4, count=20, network=NetworkConfig(latency=lat))
    sent = {e.msg_id: e.time for e in _by_kind(r, "send")}
    delays = [e.time - sent[e.msg_id] for e in _by_kind(r, "deliver")]
    assert min(delays) >= low - 1e-12 and max(delays) <= high + 1e-12
    mean = sum(delays) / len(delays)
    assert abs(mean - lat.mean) < 0.25 * lat.mean + 1e-9


def test_random_delays_reorder_messages():
    r = _run(nodes=2, count=30, network=NetworkConfig(latency=Latency.uniform(0.001, 0.05)))
    got = [n for _, n in r.nodes["n2"].received]
    assert sorted(got) == list(range(30)) and got != list(range(30))


def test_constant_delay_keeps_fifo_order():
    r = _run(nodes=2, count=30, network=NetworkConfig(latency=Latency.constant(0.01)))
    assert [n for _, n in r.nodes["n2"].received] == list(range(30))


def test_bad_network_settings_are_refused():
    with pytest.raises(ValueError, match="loss"):
        NetworkConfig(loss=1.5)
    with pytest.raises(ValueError, match="duplicate"):
        NetworkConfig(duplicate=-0.1)
    with pytest.raises(ValueError, match="kind"):
        Latency("gaussian")
    with pytest.raises(ValueError, match="low <= high"):
        Latency.uniform(0.5, 0.1)


def test_one_way_cut_is_asymmetric():
    sim = Simulation(lambda nid, cl: chatter_spec(4).make_node(nid, cl, {}, "correct"), ("n1", "n2"))
    sim.apply_fault(Cut("n1", "n2"))
    sim.run_until(1.0)
    assert sim.nodes["n2"].received == []
    assert len(sim.nodes["n1"].received) == 4


def test_partition_unlisted_nodes_form_a_group():
    sim = Simulation(lambda nid, cl: chatter_spec(1).make_node(nid, cl, {}, "correct"), ("n1", "n2", "n3", "n4"))
    sim.partition([["n1"]])
    sim.run_until(1.0)
    assert sim.nodes["n1"].received == []
    assert sorted(s for s, _ in sim.nodes["n2"].received) == ["n3", "n4"]


def test_partition_names_unknown_node():
    sim = Simulation(lambda nid, cl: chatter_spec(1).make_node(nid, cl, {}, "correct"), ("n1", "n2"))
    with pytest.raises(Exception, match="unknown node 'n7'"):
        sim.partition([["n7"], ["n1"]])


# --- properties -------------------------------------------------------------------


@settings(max_examples=examples(60))
@given(
    nodes=st.integers(1, 6),
    count=st.integers(0, 6),
    seed=st.integers(0, 10_000),
    latency=st.sampled_from([Latency.constant(0.01), Latency.uniform(0.001, 0.1), Latency.exponential(0.02)]),
)
def test_without_faults_each_sent_message_is_delivered_exactly_once(nodes, count, seed, latency):
    r = _run(nodes=nodes, count=count, seed=seed, network=NetworkConfig(latency=latency))
    sends = [e.msg_id for e in _by_kind(r, "send")]
    delivers = [e.msg_id for e in _by_kind(r, "deliver")]
    assert len(sends) == nodes * (nodes - 1) * count
    assert sorted(delivers) == sorted(sends)  # each exactly once
    assert not _by_kind(r, "drop")


@st.composite
def partition_schedules(draw):
    n = draw(st.integers(2, 5))
    ids = [f"n{i}" for i in range(1, n + 1)]
    schedule = []
    for _ in range(draw(st.integers(1, 6))):
        t = draw(st.floats(0.0, 1.0))
        if draw(st.booleans()):
            labels = [draw(st.integers(0, 2)) for _ in ids]
            groups = [[x for x, lab in zip(ids, labels, strict=True) if lab == g] for g in range(3)]
            schedule.append((t, Partition(tuple(tuple(g) for g in groups if g))))
        elif draw(st.booleans()):
            a, b = draw(st.permutations(ids))[:2]
            schedule.append((t, Cut(a, b)))
        else:
            schedule.append((t, Heal()))
    return n, sorted(schedule, key=lambda x: x[0]), draw(st.integers(0, 1000))


@settings(max_examples=examples(80))
@given(partition_schedules())
def test_no_message_crosses_a_partition(case):
    n, schedule, seed = case
    ids = tuple(f"n{i}" for i in range(1, n + 1))
    from _toys import Ticker

    sim = Simulation(lambda nid, cl: Ticker(nid, cl), ids, seed=seed, schedule=schedule,
                     network=NetworkConfig(latency=Latency.uniform(0.001, 0.3)))
    blocked: set[tuple[str, str]] = set()
    # replay the link state alongside the trace and check every delivery
    sim.run_until(1.5)
    for e in sim.trace:
        if e.kind == "partition":
            groups = e.info
            where = {x: i for i, g in enumerate(groups) for x in g}
            blocked |= {(a, b) for a in ids for b in ids if where[a] != where[b]}
        elif e.kind == "cut":
            blocked.add((e.node, e.peer))
        elif e.kind == "heal":
            blocked.clear()
        elif e.kind == "deliver":
            assert (e.peer, e.node) not in blocked, f"{e} crossed a cut link"


def test_message_sent_before_a_partition_is_dropped_when_it_would_cross():
    sim = Simulation(lambda nid, cl: chatter_spec(1).make_node(nid, cl, {}, "correct"), ("n1", "n2"),
                     network=NetworkConfig(latency=Latency.constant(0.5)))
    sim.start()  # both nodes have sent; messages are in flight
    sim.partition([["n1"], ["n2"]])
    sim.run_until(2.0)
    drops = [e for e in sim.trace if e.kind == "drop"]
    assert len(drops) == 2 and all(d.info == "partition" for d in drops)

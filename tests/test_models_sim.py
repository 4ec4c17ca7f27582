"""The formulas of consensus_lab.models against the simulator (and where they break)."""

from __future__ import annotations

import itertools
import math

import pytest

from consensus_lab.models import (
    Estimate,
    estimate,
    estimate_mean,
    expected_kth_of_links,
    expected_kth_round_trip,
    p_all,
    p_back_within,
    p_commit_2pc,
    p_commit_2pc_retries,
    p_majority,
    p_majority_racks,
    round_trip_cdf,
)
from consensus_lab.models_sim import (
    commit_latencies,
    down_at_start,
    majority_acks,
    majority_trial,
    rack_layout,
    region_links,
    twopc_trial,
)
from consensus_lab.sim import Latency

# --- the new formulas on their own -----------------------------------------------------------


def test_estimate_and_mean():
    e = estimate(lambda s: s % 4 != 0, range(100))
    assert isinstance(e, Estimate) and e.p == 0.75 and e.successes == 75 and e.trials == 100
    assert e.lo < 0.75 < e.hi and e.covers(0.7) and not e.covers(0.5)
    m = estimate_mean([1.0, 2.0, 3.0, 4.0])
    assert m.mean == 2.5 and m.lo < 2.5 < m.hi and m.n == 4
    with pytest.raises(ValueError):
        estimate(lambda s: True, [])


def test_rack_formula_matches_enumeration_and_binomial_without_racks():
    assert p_majority_racks([1] * 5, 0.1) == pytest.approx(p_majority(5, 0.9))
    assert p_majority_racks([5], 0.0, 0.2) == pytest.approx(p_majority(5, 0.8))
    # brute force over rack and node states
    sizes, pr, pn = [2, 2, 1], 0.15, 0.05
    brute = 0.0
    for racks_up in itertools.product([True, False], repeat=3):
        p_r = math.prod(1 - pr if up else pr for up in racks_up)
        nodes = [up for up, k in zip(racks_up, sizes, strict=True) for _ in range(k)]
        for node_up in itertools.product([True, False], repeat=5):
            p_n = math.prod((1 - pn if u else pn) if r else (1.0 if not u else 0.0) for u, r in zip(node_up, nodes, strict=True))
            if sum(u and r for u, r in zip(node_up, nodes, strict=True)) >= 3:
                brute += p_r * p_n
    assert p_majority_racks(sizes, pr, pn) == pytest.approx(brute, abs=1e-12)
    # two racks of 3 and 2: the majority dies with the big rack
    assert p_majority_racks([3, 2], 0.2) == pytest.approx(0.8)


def test_retries_formula():
    assert p_back_within(0.3, 0.3) == pytest.approx(1 - math.exp(-1))
    assert p_commit_2pc_retries(3, 0.7, 0.0) == pytest.approx(p_commit_2pc(3, 0.7))
    assert p_commit_2pc_retries(3, 0.7, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("latency", [Latency.uniform(0.005, 0.015), Latency.exponential(0.01, 0.002)])
def test_round_trip_order_statistic_matches_sampling(latency):
    import random

    draw = latency.sampler(random.Random(7))
    cdf = round_trip_cdf(latency)
    samples = [draw() + draw() for _ in range(20000)]
    for t in (0.015, 0.02, 0.025):
        assert cdf(t) == pytest.approx(sum(x <= t for x in samples) / len(samples), abs=0.015)
    for n, k in [(2, 1), (4, 2), (6, 3)]:
        mean = sum(sorted(draw() + draw() for _ in range(n))[k - 1] for _ in range(8000)) / 8000
        assert expected_kth_round_trip(n, k, latency) == pytest.approx(mean, rel=0.03)
    assert expected_kth_round_trip(4, 2, Latency.constant(0.01)) == pytest.approx(0.02)


def test_order_statistic_over_unlike_links():
    near, far = Latency.uniform(0.001, 0.003), Latency.uniform(0.04, 0.06)
    u = Latency.uniform(0.005, 0.015)
    assert expected_kth_of_links([u] * 4, 2) == pytest.approx(expected_kth_round_trip(4, 2, u), rel=1e-6)
    # the 2nd fastest of {near, near, far, far} is the slower of the two near ones
    assert expected_kth_of_links([near, near, far, far], 2) == pytest.approx(expected_kth_round_trip(2, 2, near), rel=1e-3)
    assert expected_kth_of_links([Latency.constant(0.01)] * 2, 1) == pytest.approx(0.02)
    with pytest.raises(ValueError):
        expected_kth_of_links([u], 2)


# --- formula vs simulation -------------------------------------------------------------------------


def test_twopc_commit_probability_matches_the_product():
    e = estimate(lambda s: twopc_trial(s, participants=3, p_down=0.15), range(150))
    assert e.covers(p_commit_2pc(3, 0.85)), e


def test_twopc_with_retries_beats_the_product_and_matches_the_correction():
    mean_down, timeout = 0.3, 0.4
    e = estimate(lambda s: twopc_trial(s, participants=3, p_down=0.3, mean_downtime=mean_down, vote_timeout=timeout),
                 range(150))
    assert e.lo > p_commit_2pc(3, 0.7)  # the plain product is far too low
    corrected = p_commit_2pc_retries(3, 0.7, p_back_within(timeout - 0.05, mean_down))
    assert e.covers(corrected), (e, corrected)


def test_raft_majority_is_a_step_in_the_number_down():
    for k, expected in [(0, True), (2, True), (3, False)]:
        assert all(majority_trial(s, nodes=5, down=k) == expected for s in range(4)), k


@pytest.mark.parametrize("protocol", ["paxos", "multi-paxos"])
def test_paxos_decides_with_a_majority_up_not_with_every_acceptor(protocol):
    for k, expected in [(2, True), (3, False)]:
        assert all(majority_trial(s, nodes=5, down=k, protocol=protocol) == expected for s in range(3)), k
    e = estimate(lambda s: majority_trial(s, nodes=5, p_down=0.3, protocol=protocol), range(60))
    assert e.covers(p_majority(5, 0.7)) and e.lo > 0.7**10 + 0.5, e  # not the article's product
    with pytest.raises(ValueError, match="majority_trial runs"):
        majority_trial(0, protocol="gossip")


def test_raft_availability_is_binomial_not_the_product():
    e = estimate(lambda s: majority_trial(s, nodes=5, p_down=0.3), range(120))
    assert e.covers(p_majority(5, 0.7)), e
    assert e.lo > p_all(5, 0.7) + 0.3


def test_racks_break_the_binomial():
    e = estimate(lambda s: majority_trial(s, nodes=5, racks=[3, 2], p_rack_down=0.2), range(120))
    assert e.covers(p_majority_racks([3, 2], 0.2)), e
    assert not e.covers(p_majority(5, 0.8))
    assert rack_layout([2, 2, 1]) == [("n1", "n2"), ("n3", "n4"), ("n5",)]


def test_commit_latency_is_the_kth_round_trip():
    lat = Latency.uniform(0.005, 0.015)
    samples = [x for s in range(6) for _, x in commit_latencies(s, latency=lat, ops=20)]
    m = estimate_mean(samples)
    n, k = majority_acks(5)
    assert (n, k) == (4, 2)
    assert m.covers(expected_kth_round_trip(n, k, lat)), m


def test_leader_placement_breaks_the_iid_assumption():
    near, far = Latency.uniform(0.001, 0.003), Latency.uniform(0.04, 0.06)
    links = region_links([("n1", "n2", "n3"), ("n4",), ("n5",)], near, far)
    by_leader: dict[str, list[float]] = {}
    for s in range(8):
        for leader, x in commit_latencies(s, link_latency=links, ops=10):
            by_leader.setdefault(leader, []).append(x)
    means = {n: sum(v) / len(v) for n, v in by_leader.items()}
    in_a = [m for n, m in means.items() if n in ("n1", "n2", "n3")]
    out = [m for n, m in means.items() if n in ("n4", "n5")]
    assert in_a and max(in_a) < 0.01  # two near followers answer: a near round trip
    if out:
        assert min(out) > 0.07  # a far leader waits for far round trips


def test_trials_are_deterministic():
    assert down_at_start(3, ["n1", "n2", "n3"], 0.5) == down_at_start(3, ["n1", "n2", "n3"], 0.5)
    assert [twopc_trial(s, p_down=0.3) for s in range(5)] == [twopc_trial(s, p_down=0.3) for s in range(5)]

"""The closed-form models against brute force and sampling."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus_lab.models import (
    expected_kth_fastest,
    majority,
    p_all,
    p_at_least,
    p_commit_2pc,
    p_majority,
    wilson_interval,
)
from consensus_lab.sim import Latency


@given(n=st.integers(1, 9), p=st.floats(0, 1))
def test_majority_tail_matches_enumeration(n, p):
    brute = 0.0
    for ups in itertools.product([True, False], repeat=n):
        prob = 1.0
        for up in ups:
            prob *= p if up else 1 - p
        if sum(ups) >= n // 2 + 1:
            brute += prob
    assert p_majority(n, p) == pytest.approx(brute, abs=1e-12)


def test_majority_beats_the_product_over_every_node():
    assert majority(5) == 3 and majority(4) == 3
    assert p_majority(5, 0.9) == pytest.approx(0.99144, abs=1e-5)
    assert p_all(5, 0.9) == pytest.approx(0.59049, abs=1e-5)
    assert p_at_least(0, 3, 0.2) == pytest.approx(1.0)


def test_two_phase_commit_is_a_product():
    assert p_commit_2pc(3, 0.9) == pytest.approx(0.729)
    assert p_commit_2pc([0.9, 0.8], p_coordinator=0.5) == pytest.approx(0.36)
    assert p_commit_2pc(2, 1.0, p_yes=0.5) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="at least one participant"):
        p_commit_2pc(0)
    with pytest.raises(ValueError, match="probability"):
        p_commit_2pc(2, 1.5)


@pytest.mark.parametrize(
    "latency",
    [Latency.constant(0.01), Latency.uniform(0.005, 0.025), Latency.exponential(0.02, low=0.004)],
)
@pytest.mark.parametrize("n,k", [(3, 2), (5, 3), (7, 4), (5, 5), (1, 1)])
def test_order_statistic_matches_sampling(latency, n, k):
    rng = random.Random(f"{latency.kind}{n}{k}")
    draw = latency.sampler(rng)
    trials = 20000
    mean = sum(sorted(draw() for _ in range(n))[k - 1] for _ in range(trials)) / trials
    assert mean == pytest.approx(expected_kth_fastest(n, k, latency), rel=0.03, abs=1e-4)


def test_wilson_interval_covers_and_narrows():
    lo, hi = wilson_interval(50, 100)
    assert lo < 0.5 < hi
    lo2, hi2 = wilson_interval(500, 1000)
    assert hi2 - lo2 < hi - lo
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(500, 500)[1] == 1.0 and wilson_interval(0, 500)[0] == 0.0  # all or none: ends at 1 or 0
    with pytest.raises(ValueError):
        wilson_interval(11, 10)

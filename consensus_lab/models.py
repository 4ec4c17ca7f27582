"""Quantitative models: how likely a protocol is to work, and how fast.

Closed-form answers to three questions the course keeps asking, written so that
a lesson can put each formula next to a simulation of the same thing:

* Two-phase commit needs *every* participant: ``P(commit) = P(prepare) *
  P(commit | prepare)``, where preparing needs all ``n`` participants up and
  voting yes, and finishing needs the coordinator to survive until its decision
  is durable (:func:`p_commit_2pc`).
* A majority quorum needs only ``floor(n/2) + 1`` of ``n`` nodes; with
  independent failures the chance is a binomial tail (:func:`p_majority`), far
  higher than the product over every node (:func:`p_all`) that a hasty account
  gives.
* A leader that waits for a majority of ``n`` replicas waits for the ``k``-th
  fastest of ``n`` round trips: an order statistic (:func:`expected_kth_fastest`).

Each formula assumes independence.  Correlated failures (a rack, a partition)
break them; the lessons show where by simulation.  Two honest corrections
sit beside the simple formulas: :func:`p_majority_racks` (nodes fail with
their racks, computed exactly by enumerating the racks) and
:func:`p_commit_2pc_retries` (a participant that is down at first but back
before the coordinator gives up still votes).  :func:`expected_kth_round_trip`
is the order statistic of *round trips* (two one-way delays each), which is
what a leader actually waits for.

The Monte Carlo side: :func:`estimate` turns a yes/no trial run over many
seeds into a probability with a Wilson interval, :func:`estimate_mean` a
measured quantity into a mean with a confidence interval.  The simulations
themselves live in :mod:`consensus_lab.models_sim`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from .sim.network import Latency

__all__ = [
    "p_all",
    "p_majority",
    "p_at_least",
    "p_commit_2pc",
    "expected_kth_fastest",
    "wilson_interval",
    "majority",
    "p_majority_racks",
    "p_commit_2pc_retries",
    "p_back_within",
    "round_trip_cdf",
    "expected_kth_round_trip",
    "expected_kth_of_links",
    "Estimate",
    "MeanEstimate",
    "estimate",
    "estimate_mean",
]


def _check_p(p: float, name: str = "p") -> None:
    if not (isinstance(p, int | float) and 0.0 <= p <= 1.0):
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")


def majority(n: int) -> int:
    """The size of a majority of ``n`` nodes: ``n // 2 + 1``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return n // 2 + 1


def p_all(n: int, p: float) -> float:
    """Probability that all ``n`` independent nodes, each up with ``p``, are up."""
    _check_p(p)
    return p**n


def p_at_least(k: int, n: int, p: float) -> float:
    """Probability that at least ``k`` of ``n`` independent nodes are up (binomial tail)."""
    _check_p(p)
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def p_majority(n: int, p: float) -> float:
    """Probability that a majority of ``n`` nodes is up: what Paxos and Raft need."""
    return p_at_least(majority(n), n, p)


def p_commit_2pc(
    participants: int | Sequence[float],
    p_participant: float = 1.0,
    *,
    p_yes: float = 1.0,
    p_coordinator: float = 1.0,
) -> float:
    """``P(commit) = P(prepare) * P(commit | prepare)`` for two-phase commit.

    ``participants`` is a count (each up with ``p_participant`` and voting yes
    with ``p_yes``) or a list of per-participant probabilities of preparing.
    ``p_coordinator`` is the chance the coordinator survives until its decision
    is durable.  Message loss does not appear: 2PC resends until it gets
    through, so loss costs time, not the outcome.
    """
    _check_p(p_yes, "p_yes")
    _check_p(p_coordinator, "p_coordinator")
    if isinstance(participants, int):
        if participants < 1:
            raise ValueError(f"two-phase commit needs at least one participant, got {participants}")
        _check_p(p_participant, "p_participant")
        p_prepare = (p_participant * p_yes) ** participants
    else:
        p_prepare = 1.0
        for q in participants:
            _check_p(q, "participant probability")
            p_prepare *= q * p_yes
    return p_prepare * p_coordinator


def expected_kth_fastest(n: int, k: int, latency: Latency) -> float:
    """Expected ``k``-th smallest of ``n`` independent draws of ``latency``.

    A leader that needs ``k`` acknowledgements out of ``n`` sends waits exactly
    this long on average.  Exact for the three distributions the simulator
    offers: constant; uniform on ``[a, b]`` (``a + (b - a) k / (n + 1)``);
    shifted exponential (``low + sum_{i<k} mean'/(n - i)``).
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if latency.kind == "constant":
        return latency.mean
    if latency.kind == "uniform":
        return latency.low + (latency.high - latency.low) * k / (n + 1)
    scale = latency.mean - latency.low
    return latency.low + scale * sum(1.0 / (n - i) for i in range(k))


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """A confidence interval for a success probability (Wilson score; 95% by default)."""
    if trials <= 0:
        raise ValueError("need at least one trial")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials], got {successes} of {trials}")
    phat = successes / trials
    denom = 1 + z * z / trials
    centre = (phat + z * z / (2 * trials)) / denom
    half = z * math.sqrt(phat * (1 - phat) / trials + z * z / (4 * trials * trials)) / denom
    # at 0 or n successes the interval ends exactly at 0 or 1 (rounding must not exclude it)
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return lo, hi


# --- honest corrections ------------------------------------------------------------


def p_majority_racks(
    rack_sizes: Sequence[int], p_rack_down: float, p_node_down: float = 0.0, *, need: int | None = None
) -> float:
    """P(a majority of all nodes is up) when nodes fail *with their racks*.

    Each rack is down with ``p_rack_down`` (taking every node in it along), and
    every node of a rack that is up is down on its own with ``p_node_down``, all
    independently.  ``need`` overrides the number of nodes that must be up
    (default: a majority of ``sum(rack_sizes)``).  Exact: it sums over which
    racks are up and, within them, the binomial count of live nodes.

    With ``p_rack_down = 0`` it is :func:`p_majority`.  The binomial formula with
    the same per-node probability, ``p_majority(n, (1-p_rack)(1-p_node))``,
    treats the rack's nodes as independent and is too optimistic or pessimistic
    depending on how the nodes are spread over the racks.
    """
    _check_p(p_rack_down, "p_rack_down")
    _check_p(p_node_down, "p_node_down")
    sizes = list(rack_sizes)
    if not sizes or any(not isinstance(k, int) or k < 0 for k in sizes):
        raise ValueError(f"rack_sizes must be a non-empty list of node counts, got {rack_sizes!r}")
    n = sum(sizes)
    need = majority(n) if need is None else need
    q = 1.0 - p_node_down
    # distribution of the number of live nodes, rack by rack (a convolution)
    dist = [1.0]
    for size in sizes:
        rack = [0.0] * (size + 1)
        rack[0] += p_rack_down
        for i in range(size + 1):
            rack[i] += (1 - p_rack_down) * math.comb(size, i) * q**i * (1 - q) ** (size - i)
        new = [0.0] * (len(dist) + size)
        for a, pa in enumerate(dist):
            if pa:
                for b, pb in enumerate(rack):
                    new[a + b] += pa * pb
        dist = new
    return sum(dist[need:])


def p_back_within(timeout: float, mean_downtime: float) -> float:
    """P(an exponential downtime with mean ``mean_downtime`` ends within ``timeout``)."""
    if mean_downtime <= 0:
        return 1.0
    if timeout <= 0:
        return 0.0
    return 1.0 - math.exp(-timeout / mean_downtime)


def p_commit_2pc_retries(
    participants: int,
    p_up: float,
    p_back_in_time: float,
    *,
    p_yes: float = 1.0,
    p_coordinator: float = 1.0,
) -> float:
    """Two-phase commit when the coordinator keeps re-sending ``Prepare``.

    A participant that is down when the transaction starts still votes if it
    comes back before the coordinator's vote timeout (probability
    ``p_back_in_time``, e.g. :func:`p_back_within`).  Each participant then
    prepares with ``p_up + (1 - p_up) * p_back_in_time`` instead of ``p_up``:
    retries turn "down" into "late", and the simple product undercounts.
    """
    _check_p(p_up, "p_up")
    _check_p(p_back_in_time, "p_back_in_time")
    return p_commit_2pc(participants, p_up + (1 - p_up) * p_back_in_time, p_yes=p_yes, p_coordinator=p_coordinator)


# --- latency: round trips ---------------------------------------------------------------


def round_trip_cdf(latency: Latency) -> Callable[[float], float]:
    """The CDF of a round trip: the sum of two independent one-way delays.

    Uniform one-way delays give a triangular round trip on ``[2a, 2b]``;
    shifted exponential ones a shifted Gamma(2); constant ones a step at ``2c``.
    """
    if latency.kind == "constant":
        c = 2 * latency.mean
        return lambda t: 1.0 if t >= c else 0.0
    if latency.kind == "uniform":
        a, b = latency.low, latency.high
        w = b - a
        if w <= 0:
            return lambda t: 1.0 if t >= 2 * a else 0.0

        def tri(t: float) -> float:
            x = t - 2 * a
            if x <= 0:
                return 0.0
            if x >= 2 * w:
                return 1.0
            if x <= w:
                return x * x / (2 * w * w)
            return 1.0 - (2 * w - x) ** 2 / (2 * w * w)

        return tri
    low, scale = latency.low, latency.mean - latency.low
    if scale <= 0:
        return lambda t: 1.0 if t >= 2 * low else 0.0

    def gamma2(t: float) -> float:
        x = (t - 2 * low) / scale
        return 0.0 if x <= 0 else 1.0 - math.exp(-x) * (1.0 + x)

    return gamma2


def expected_kth_round_trip(n: int, k: int, latency: Latency, *, steps: int = 4000) -> float:
    """Expected ``k``-th fastest of ``n`` independent round trips.

    A Raft leader of a cluster of ``n + 1`` nodes sends an entry to its ``n``
    followers and commits after ``k = (n + 1) // 2`` of them answered: it waits
    for this order statistic.  Computed as ``E[X] = integral of P(X > t) dt``
    with ``P(X_(k) > t) = sum_{i<k} C(n,i) F(t)^i (1-F(t))^(n-i)`` (Simpson's
    rule; exact for constant delays).
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")
    if latency.kind == "constant":
        return 2 * latency.mean
    cdf = round_trip_cdf(latency)
    lo = 2 * latency.low
    if latency.kind == "uniform":
        hi = 2 * latency.high
    else:
        hi = 2 * latency.low + (latency.mean - latency.low) * 60.0
    if hi <= lo:
        return lo

    def survival(t: float) -> float:
        f = cdf(t)
        return sum(math.comb(n, i) * f**i * (1 - f) ** (n - i) for i in range(k))

    m = steps + steps % 2
    h = (hi - lo) / m
    total = survival(lo) + survival(hi)
    for j in range(1, m):
        total += (4 if j % 2 else 2) * survival(lo + j * h)
    return lo + total * h / 3


def expected_kth_of_links(latencies: Sequence[Latency], k: int, *, steps: int = 4000) -> float:
    """Expected ``k``-th fastest round trip when every link has its own delay distribution.

    What a leader really waits for when its followers sit at different
    distances: ``latencies[i]`` is the one-way delay to follower ``i``.
    ``P(X_(k) > t)`` is the chance that fewer than ``k`` round trips are done
    by ``t`` (a Poisson-binomial sum over the links).  With identical links it
    is :func:`expected_kth_round_trip`.
    """
    n = len(latencies)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= number of links, got k={k}, {n} links")
    cdfs = [round_trip_cdf(lat) for lat in latencies]
    lo = min(2 * lat.low for lat in latencies)
    hi = max(2 * lat.high if lat.kind != "exponential" else 2 * lat.low + (lat.mean - lat.low) * 60.0
             for lat in latencies)
    hi = max(hi, max(2 * lat.mean for lat in latencies))
    if hi <= lo:
        return lo

    def survival(t: float) -> float:
        done = [1.0]  # done[j]: P(exactly j round trips finished by t)
        for cdf in cdfs:
            f = cdf(t)
            new = [0.0] * (len(done) + 1)
            for j, pj in enumerate(done):
                new[j] += pj * (1 - f)
                new[j + 1] += pj * f
            done = new
        return sum(done[:k])

    m = steps + steps % 2
    h = (hi - lo) / m
    total = survival(lo) + survival(hi)
    for j in range(1, m):
        total += (4 if j % 2 else 2) * survival(lo + j * h)
    return lo + total * h / 3


# --- Monte Carlo ----------------------------------------------------------------------------


class Estimate(NamedTuple):
    """A probability measured over ``trials`` seeded runs, with a 95% Wilson interval."""

    p: float
    lo: float
    hi: float
    successes: int
    trials: int

    def covers(self, value: float) -> bool:
        """Does the interval contain ``value``?"""
        return self.lo <= value <= self.hi

    def __str__(self) -> str:
        return f"{self.p:.3f} [{self.lo:.3f}, {self.hi:.3f}] ({self.successes}/{self.trials})"


class MeanEstimate(NamedTuple):
    """A mean measured over ``n`` samples, with a normal 95% interval."""

    mean: float
    lo: float
    hi: float
    n: int

    def covers(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def __str__(self) -> str:
        return f"{self.mean:.5f} [{self.lo:.5f}, {self.hi:.5f}] (n={self.n})"


def estimate(trial: Callable[[int], Any], seeds: Iterable[int], *, z: float = 1.96) -> Estimate:
    """Run ``trial(seed)`` for every seed; the fraction of truthy results with its interval.

    >>> estimate(lambda seed: seed % 4 != 0, range(100)).p
    0.75
    """
    successes = trials = 0
    for seed in seeds:
        trials += 1
        successes += bool(trial(seed))
    if trials == 0:
        raise ValueError("estimate needs at least one seed")
    lo, hi = wilson_interval(successes, trials, z)
    return Estimate(successes / trials, lo, hi, successes, trials)


def estimate_mean(samples: Iterable[float], *, z: float = 1.96) -> MeanEstimate:
    """Mean of ``samples`` with a normal-approximation interval (``mean +- z s / sqrt(n)``)."""
    xs = [float(x) for x in samples]
    n = len(xs)
    if n == 0:
        raise ValueError("estimate_mean needs at least one sample")
    mean = sum(xs) / n
    if n == 1:
        return MeanEstimate(mean, mean, mean, 1)
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    half = z * math.sqrt(var / n)
    return MeanEstimate(mean, mean - half, mean + half, n)

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
break them; the lessons show where by simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .sim.network import Latency

__all__ = [
    "p_all",
    "p_majority",
    "p_at_least",
    "p_commit_2pc",
    "expected_kth_fastest",
    "wilson_interval",
    "majority",
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
    return max(0.0, centre - half), min(1.0, centre + half)

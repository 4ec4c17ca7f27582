"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: exact probabilities -- a binomial tail (terms built from the mode by their ratios) for a
majority, a convolution of the per-rack "nodes up" distributions for racks, and a per-participant
product with retries for 2PC.
"""

import math


def _binomial_pmf(n, p):
    """[P(X = k) for k in 0..n], X ~ Binomial(n, p).

    Stable for large n: the terms are built outwards from the mode by their ratios, then normalised to sum 1.
    """
    if n <= 0:
        return [1.0]
    if p <= 0.0:
        return [1.0] + [0.0] * n
    if p >= 1.0:
        return [0.0] * n + [1.0]
    q = 1.0 - p
    mode = min(n, int((n + 1) * p))
    w = [0.0] * (n + 1)
    w[mode] = 1.0
    for k in range(mode, n):  # upwards: P(k+1)/P(k) = (n-k)/(k+1) * p/q
        w[k + 1] = w[k] * (n - k) / (k + 1) * p / q
        if w[k + 1] == 0.0:
            break
    for k in range(mode, 0, -1):  # downwards: P(k-1)/P(k) = k/(n-k+1) * q/p
        w[k - 1] = w[k] * k / (n - k + 1) * q / p
        if w[k - 1] == 0.0:
            break
    total = math.fsum(w)
    return [x / total for x in w]


def p_majority(n, p_up):
    need = n // 2 + 1
    if need > n:
        return 0.0
    pmf = _binomial_pmf(n, p_up)
    return min(1.0, max(0.0, math.fsum(pmf[need:])))


def p_at_least(need, distributions):
    """P(the sum of independent counts >= need); distributions[i][k] = P(count i is k)."""
    total = [1.0]  # distribution of the sum so far
    for dist in distributions:
        new = [0.0] * (len(total) + len(dist) - 1)
        for a, pa in enumerate(total):
            if pa == 0.0:
                continue
            for b, pb in enumerate(dist):
                new[a + b] += pa * pb
        total = new
    if need <= 0:
        return 1.0
    return min(1.0, max(0.0, math.fsum(total[need:])))


def p_majority_racks(rack_sizes, p_rack_down, p_node_down=0.0):
    distributions = []
    for size in rack_sizes:
        # nodes up in this rack: 0 if the rack is down, else Binomial(size, 1 - p_node_down)
        dist = [(1.0 - p_rack_down) * x for x in _binomial_pmf(size, 1.0 - p_node_down)]
        dist[0] += p_rack_down
        distributions.append(dist)
    n = sum(rack_sizes)
    return p_at_least(n // 2 + 1, distributions)


def p_2pc_commit(participants, p_up, p_back):
    # every participant must vote yes in time: up at the start, or down but back before the timeout
    p_votes = p_up + (1.0 - p_up) * p_back
    return float(p_votes ** participants)

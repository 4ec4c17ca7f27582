# Realistic bug: "a majority is half the nodes" -- ceil(n / 2), which for an even n is only a tie.
from math import ceil, comb


def p_majority(n, p_up):
    need = ceil(n / 2)
    return sum(comb(n, k) * p_up ** k * (1 - p_up) ** (n - k) for k in range(need, n + 1))


def p_majority_racks(rack_sizes, p_rack_down, p_node_down):
    n = sum(rack_sizes)
    dist = [1.0]
    for size in rack_sizes:
        rack = [p_rack_down] + [0.0] * size
        for k in range(size + 1):
            rack[k] += (1 - p_rack_down) * comb(size, k) * (1 - p_node_down) ** k * p_node_down ** (size - k)
        dist = [sum(dist[i] * rack[j - i] for i in range(len(dist)) if 0 <= j - i <= size)
                for j in range(len(dist) + size)]
    return sum(dist[ceil(n / 2):])


def p_2pc_commit(participants, p_up, p_back):
    return (p_up + (1 - p_up) * p_back) ** participants

# Realistic bug: right binomial, but racks ignored -- each node "is down with p_rack + p_node" independently.
from math import comb


def p_majority(n, p_up):
    return sum(comb(n, k) * p_up ** k * (1 - p_up) ** (n - k) for k in range(n // 2 + 1, n + 1))


def p_majority_racks(rack_sizes, p_rack_down, p_node_down):
    return p_majority(sum(rack_sizes), (1 - p_rack_down) * (1 - p_node_down))


def p_2pc_commit(participants, p_up, p_back):
    return (p_up + (1 - p_up) * p_back) ** participants

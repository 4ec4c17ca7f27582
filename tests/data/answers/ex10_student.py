# A student's answer, written from the brief alone: enumerate who is up.
from itertools import product
from math import comb


def p_majority(n, p_up):
    need = n // 2 + 1
    return sum(comb(n, k) * p_up ** k * (1 - p_up) ** (n - k) for k in range(need, n + 1))


def p_majority_racks(rack_sizes, p_rack_down, p_node_down):
    total = sum(rack_sizes)
    need = total // 2 + 1
    answer = 0.0
    for racks_up in product([False, True], repeat=len(rack_sizes)):
        weight = 1.0
        live = []
        for size, up in zip(rack_sizes, racks_up):
            weight *= (1 - p_rack_down) if up else p_rack_down
            if up:
                live.append(size)
        if weight == 0:
            continue
        nodes = sum(live)  # nodes in working racks fail independently
        q = 1 - p_node_down
        answer += weight * sum(comb(nodes, k) * q ** k * (1 - q) ** (nodes - k) for k in range(need, nodes + 1))
    return answer


def p_2pc_commit(participants, p_up, p_back):
    each = 1 - (1 - p_up) * (1 - p_back)
    return each ** participants

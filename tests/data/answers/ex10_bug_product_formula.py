# Realistic bug: "each node is up with p, so the system is up with p ** n" -- for every question.
def p_majority(n, p_up):
    return p_up ** n


def p_majority_racks(rack_sizes, p_rack_down, p_node_down):
    p = 1.0
    for size in rack_sizes:
        p *= (1 - p_rack_down) * (1 - p_node_down) ** size
    return p


def p_2pc_commit(participants, p_up, p_back):
    return p_up ** participants

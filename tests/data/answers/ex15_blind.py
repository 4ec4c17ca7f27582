"""Written blind from the brief by a helper who never saw the reference (session of 2026-12-07).

Approach: level-by-level BFS with a parent map (state -> (previous state, action)); each new state is
checked for a violation when first discovered, and only states closer than `depth` are expanded.
"""

from collections import deque


def bfs(model, depth):
    if depth < 0:  # no schedule has a negative number of actions: nothing is within the bound
        return None, 0
    start = model.initial()
    parent = {start: None}
    if model.violation(start) is not None:
        return path_to(parent, start), 1
    queue = deque([(start, 0)])
    while queue:
        state, dist = queue.popleft()
        if dist >= depth:
            continue
        for action in model.actions(state):
            nxt = model.step(state, action)
            if nxt in parent:
                continue
            parent[nxt] = (state, action)
            if model.violation(nxt) is not None:
                return path_to(parent, nxt), len(parent)
            queue.append((nxt, dist + 1))
    return None, len(parent)


def path_to(parent, state):
    actions = []
    while parent[state] is not None:
        state, action = parent[state]
        actions.append(action)
    actions.reverse()
    return actions

# Expands the states at the bound too: it reports violations one step beyond depth and counts the
# states one level too far.
from collections import deque


def bfs(model, depth):
    start = model.initial()
    if model.violation(start):
        return [], 1
    seen = {start: None}
    queue = deque([(start, 0)])
    while queue:
        state, d = queue.popleft()
        if d > depth:
            continue
        for action in model.actions(state):
            nxt = model.step(state, action)
            if nxt not in seen:
                seen[nxt] = (state, action)
                if model.violation(nxt):
                    path = []
                    while seen[nxt] is not None:
                        nxt, a = seen[nxt]
                        path.append(a)
                    return path[::-1], len(seen)
                queue.append((nxt, d + 1))
    return None, len(seen)

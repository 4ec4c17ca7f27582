# Depth-first with a seen set: the first bad state found is not the closest, and a state first met by a
# long detour is not explored again when a shorter schedule reaches it.
def bfs(model, depth):
    start = model.initial()
    if model.violation(start):
        return [], 1
    seen = {start}
    stack = [(start, [])]
    while stack:
        state, path = stack.pop()
        if len(path) == depth:
            continue
        for action in model.actions(state):
            nxt = model.step(state, action)
            if nxt in seen:
                continue
            seen.add(nxt)
            if model.violation(nxt):
                return path + [action], len(seen)
            stack.append((nxt, path + [action]))
    return None, len(seen)

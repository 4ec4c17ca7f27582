# No seen set: every schedule is followed, and a state reached by two schedules is counted twice.
def bfs(model, depth):
    start = model.initial()
    if model.violation(start):
        return [], 1
    level = [(start, [])]
    count = 1
    for _ in range(depth):
        following = []
        for state, path in level:
            for action in model.actions(state):
                nxt = model.step(state, action)
                count += 1
                if model.violation(nxt):
                    return path + [action], count
                following.append((nxt, path + [action]))
        level = following
    return None, count

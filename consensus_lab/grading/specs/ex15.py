"""Exercise 15 judged: the answer's explorer against the grader's breadth-first search.

For every input (a model, its variant, a depth bound) the grader runs its own
breadth-first search here, in its process, on the same model.  The answer's
``(path, states)`` is right when

* a violation is within the bound and ``path`` is a schedule the model allows,
  ends in a state that breaks the invariant, and is as short as the shortest
  one (any shortest schedule will do);
* no violation is within the bound, ``path`` is ``None`` and ``states`` is the
  number of distinct states within the bound.

A wrong answer is shown at the step that matters: the action that is not
possible, the end state that breaks nothing, or the shortest schedule the
answer missed, numbered with its states.
"""

from __future__ import annotations

import random
from typing import Any

from ..checks import Case, Check, FunctionSpec
from ..exercises.ex15 import make_model

SHOWN = 12  # steps of a schedule shown in the feedback


def reference(model: Any, depth: int) -> tuple[list | None, int, list[int]]:
    """Breadth-first search: (a shortest bad schedule or None, distinct states within the bound,
    the number of distinct states at each distance 0..depth)."""
    start = model.initial()
    if model.violation(start):
        return [], 1, [1]
    parent: dict[Any, tuple[Any, Any] | None] = {start: None}
    frontier, levels = [start], [1]
    for _ in range(depth):
        nxt = []
        for s in frontier:
            for a in model.actions(s):
                t = model.step(s, a)
                if t in parent:
                    continue
                parent[t] = (s, a)
                if model.violation(t):
                    path = []
                    while parent[t] is not None:
                        t, a = parent[t]  # type: ignore[misc]
                        path.append(a)
                    return path[::-1], len(parent), levels
                nxt.append(t)
        frontier = nxt
        levels.append(len(nxt))
        if not nxt:
            break
    return None, len(parent), levels


def replay(model: Any, path: list) -> tuple[int | None, Any, str]:
    """Follow ``path``: (the first step that is not possible or None, the state reached, why)."""
    state = model.initial()
    for k, action in enumerate(path, 1):
        if action not in model.actions(state):
            return k, state, f"step {k}, {action!r}, is not possible in state {state!r}"
        state = model.step(state, action)
    return None, state, ""


def _label(name: str, params: dict, depth: int) -> str:
    inside = ", ".join(f"{k}={v!r}" for k, v in params.items())
    return f"{name}({inside}), depth {depth}"


def schedule(model: Any, path: list, limit: int = SHOWN) -> list[str]:
    """A schedule, one numbered step a line with the state it leads to."""
    state = model.initial()
    lines = [f"   start: {state!r}"]
    for k, action in enumerate(path, 1):
        state = model.step(state, action)
        if k <= limit:
            lines.append(f"{k:3d}. {action!r} -> {state!r}")
    if len(path) > limit:
        lines.append(f"     ... ({len(path) - limit} more steps)")
    bad = model.violation(state)
    if bad:
        lines.append(f"     broken: {bad}")
    return lines


class Spec(FunctionSpec):
    id = "ex15"
    title = "a breadth-first schedule explorer of your own"
    notebook = "ex15_bfs_explorer.ipynb"
    checks = (
        Check("the lost update: shortest counterexample, or none within the bound", 2,
              hint="Search level by level from the initial state; the first bad state you meet is at the "
              "smallest distance. Return the actions that lead to it (keep, for every state, the state and "
              "action it was first reached by).", params={"seed": 1, "mix": "lost-update", "count": 8}),
        Check("a mutex: shortest counterexample, or none within the bound", 3,
              hint="A state reached again by another schedule is not explored again: keep a set of the "
              "states seen. Without it a cycle (a process that leaves and re-enters) is explored forever.",
              params={"seed": 2, "mix": "mutex", "count": 10}),
        Check("the alternating-bit protocol over a lossy channel", 3,
              hint="Count the distinct states within the bound, the initial one included; a state is within "
              "the bound when it is at most depth actions away.",
              params={"seed": 3, "mix": "alternating-bit", "count": 10}),
        Check("random state graphs", 2, hint="Mind the edges: the initial state may be bad (the path is []), "
              "a graph may have self-loops and cycles, and depth 0 allows no action at all.",
              params={"seed": 4, "mix": "graphs", "count": 20}),
    )

    MIXES = ("lost-update", "mutex", "alternating-bit", "graphs", "deep")

    def validate_check(self, check: Check) -> None:
        p = check.params
        if p.get("mix", "graphs") not in self.MIXES:
            raise ValueError(f"check {check.name!r}: mix must be one of {', '.join(self.MIXES)}")
        if not 1 <= int(p.get("count", 10)) <= 200:
            raise ValueError(f"check {check.name!r}: count must be 1..200")
        if not 0 <= int(p.get("max_depth", 12)) <= 40:
            raise ValueError(f"check {check.name!r}: max_depth must be 0..40")
        check.seeds()

    def cases(self, check: Check) -> list[Case]:
        p = check.params
        seed = check.seeds()[0]
        rng = random.Random(f"ex15:{seed}")
        mix = p.get("mix", "graphs")
        top = int(p.get("max_depth", 12))
        out = []
        for i in range(int(p.get("count", 10))):
            name, params, depth = self._draw(mix, rng, i, seed, top)
            out.append(Case("bfs", [name, params, depth], f"case {i + 1}: {_label(name, params, depth)}"))
        return out

    def _draw(self, mix: str, rng: random.Random, i: int, seed: int, top: int) -> tuple[str, dict, int]:
        if mix == "lost-update":
            clients = 2 if i < 4 else rng.choice([2, 3])
            variant = ("read-write", "lock")[i % 2]
            depth = [2 * clients - 1, 2 * clients][i // 2 % 2] if i < 4 else rng.randint(1, min(top, 9))
            return "lost-update", {"variant": variant, "clients": clients}, depth
        if mix == "mutex":
            variant = ("naive", "peterson", "turn-first")[i % 3]
            return "mutex", {"variant": variant}, rng.randint(2, min(top, 12))
        if mix == "alternating-bit":
            variant = ("bit", "no-bit")[i % 2]
            channel = "fifo" if i < 6 else "reorder"
            params = {"variant": variant, "messages": rng.choice([1, 2]), "channel": channel,
                      "capacity": rng.choice([1, 2])}
            if i == 6:
                params = {"variant": "bit", "messages": 2, "channel": "reorder", "capacity": 2}
            return "alternating-bit", params, rng.randint(3, min(top, 9))
        if mix == "deep":  # bounds that cut bigger spaces; at most ~50,000 schedules each
            kind, turn = i % 5, i // 5 % 2
            if kind == 0:
                return "mutex", {"variant": ("peterson", "turn-first")[turn]}, rng.randint(5, max(5, min(top, 16)))
            if kind == 1:
                return ("alternating-bit", {"variant": "bit", "messages": 3, "channel": "fifo", "capacity": 2},
                        rng.randint(6, max(6, min(top, 10))))
            if kind == 2:
                return ("alternating-bit", {"variant": "bit", "messages": 2, "channel": "reorder", "capacity": 2},
                        rng.randint(6, max(6, min(top, 9))))
            if kind == 3:
                return "lost-update", {"variant": "lock", "clients": 4}, rng.randint(6, max(6, min(top, 16)))
            graph = {"seed": seed * 1000 + i, "size": rng.randint(30, 60), "degree": 3, "bad": turn}
            return "random-graph", graph, rng.randint(3, max(3, min(top, 10)))
        graph = {"seed": seed * 1000 + i, "size": rng.randint(2, 24), "degree": rng.randint(1, 3),
                 "bad": rng.randint(0, 3), "bad_start": i == 1}
        return "random-graph", graph, rng.randint(1, min(top, 8)) if i else 0

    def expected(self, case: Case) -> Any:
        name, params, depth = case.args
        path, states, _ = reference(make_model(name, params), depth)
        return (None, states) if path is None else (len(path), None)

    def _verdict(self, case: Case, expected: Any, got: Any) -> tuple[str, str]:
        """(kind, explanation); kind "" when the answer is right."""
        name, params, depth = case.args
        model = make_model(name, params)
        if not isinstance(got, list) or len(got) != 2:
            return "error", f"{case.label}: the answer returned {got!r:.200}"
        path, states = got
        shortest, count = expected
        if path is not None:
            k, state, why = replay(model, path)
            if k is not None:
                return "a schedule the model allows", f"{case.label}: your schedule breaks off: {why}"
            if not model.violation(state):
                return ("a schedule that ends in a bad state",
                        f"{case.label}: your schedule of {len(path)} steps ends in {state!r}, which breaks no "
                        f"invariant")
            if shortest is None:
                return ("within the bound", f"{case.label}: your schedule has {len(path)} steps, beyond the bound "
                        f"depth={depth}: within it nothing breaks (the answer is None and the number of states)")
            if len(path) != shortest:
                return ("the shortest counterexample",
                        f"{case.label}: your counterexample has {len(path)} steps; a shortest one has {shortest}")
            return "", ""
        if shortest is not None:
            return ("a violation within the bound",
                    f"{case.label}: your bfs found no violation, but a schedule of {shortest} steps (within "
                    f"depth={depth}) breaks an invariant")
        if states != count:
            return "distinct states", (f"{case.label}: no violation within the bound -- right; but there are {count} "
                                       f"distinct states within it, and your bfs says {states!r}{self._why(case, states)}")
        return "", ""

    def _why(self, case: Case, states: Any) -> str:
        name, params, depth = case.args
        if not isinstance(states, int) or isinstance(states, bool):
            return ""
        model = make_model(name, params)
        near = {d: reference(model, d)[1] for d in (depth - 1, depth + 1) if d >= 0}
        for d, n in near.items():
            if n == states and n != reference(model, depth)[1]:
                return f" (that is the count for depth {d}: off by one at the bound?)"
        count = reference(model, depth)[1]
        if states == count - 1:
            return " (the initial state counts too)"
        if states > count:
            return " (more than there are: a state reached twice counted twice?)"
        if states < count:
            return (" (fewer: a state first met by a long detour, at the bound, and not explored again when a "
                    "shorter schedule reached it? depth-first search does that)")
        return ""

    def agree(self, case: Case, expected: Any, got: Any) -> bool:
        return self._verdict(case, expected, got)[0] == ""

    def explain(self, case: Case, expected: Any, got: Any) -> str:
        return self._verdict(case, expected, got)[1]

    def failure_kind(self, case: Case, expected: Any, got: Any) -> str:
        return self._verdict(case, expected, got)[0] or super().failure_kind(case, expected, got)

    def evidence(self, case: Case, expected: Any, got: Any) -> list[str]:
        name, params, depth = case.args
        model = make_model(name, params)
        path, _, _ = reference(model, depth)
        mine = got[0] if isinstance(got, list) and len(got) == 2 and isinstance(got[0], list) else None
        lines = []
        if mine is not None and replay(model, mine)[0] is None:
            lines += ["your schedule:"] + schedule(model, mine)
        if path is not None:
            lines += ["a shortest schedule (breadth-first search):"] + schedule(model, path)
        return lines

    hints = {
        "the shortest counterexample": "Breadth-first search meets every state at distance d before any at "
        "distance d + 1, so the first bad state it meets is a closest one; depth-first search (a stack, or "
        "recursion) does not. Use a queue, and stop at the first bad state you generate.",
        "a violation within the bound": "Check the invariant on every state you reach -- the initial one too -- "
        "and explore every action of every state up to depth actions from the start (a state at distance "
        "depth is checked, not expanded). Did you skip a state because an equal one was seen?",
        "distinct states": "Count each distinct state once, the initial state included, up to and including "
        "distance depth: keep a set (or dict) of the states seen, and do not expand the states at distance "
        "depth.",
        "a schedule the model allows": "Return the actions, in order, from the initial state: remember for each "
        "state the state and the action it was first reached by, and walk back from the bad state.",
        "a schedule that ends in a bad state": "Return the path to the bad state itself, not to its parent or "
        "to the last state expanded.",
        "within the bound": "A state farther than depth actions is outside the bound: do not expand the states "
        "at distance depth.",
    }


SPEC = Spec()

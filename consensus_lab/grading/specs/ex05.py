"""Exercise 5 judged: vector clocks against a reference, the OR-Set against the library's."""

from __future__ import annotations

import random

from .. import _reference
from ..checks import Case, Check, FunctionSpec

NODES = ("a", "b", "c")


def _clock(rng: random.Random) -> dict[str, int]:
    return {n: rng.randrange(4) for n in NODES if rng.random() < 0.8}


def _related(rng: random.Random) -> tuple[dict, dict]:
    a = _clock(rng)
    kind = rng.randrange(4)
    if kind == 0:
        return a, dict(a)
    if kind == 1:
        b = dict(a)
        n = NODES[rng.randrange(3)]
        b[n] = b.get(n, 0) + 1 + rng.randrange(2)
        return (a, b) if rng.random() < 0.5 else (b, a)
    return a, _clock(rng)


class Spec(FunctionSpec):
    id = "ex05"
    title = "vector clocks and a CRDT merge"
    notebook = "ex05_vector_clocks_crdt.ipynb"
    checks = (
        Check("comparing vector clocks", 2, hint="A missing entry counts as 0; 'before' needs every entry "
              "<= and at least one <.", params={"seed": 1, "count": 3, "steps": 40, "part": "compare"}),
        Check("merging vector clocks", 2, hint="Entry-wise maximum over the union of the nodes; do not "
              "change the inputs.", params={"seed": 2, "count": 3, "steps": 40, "part": "merge"}),
        Check("OR-Set on one replica", 2, hint="remove takes away the adds this replica has seen; an add "
              "after the remove is a new add.", params={"seed": 3, "count": 4, "steps": 25, "replicas": 1}),
        Check("OR-Set replicas converge", 4, hint="Tag every add uniquely (replica, counter); merge is the "
              "union of adds and of removed tags, so it is commutative, associative and idempotent.",
              params={"seed": 4, "count": 6, "steps": 40, "replicas": 3}),
    )

    def cases(self, check: Check) -> list[Case]:
        p = check.params
        seed = check.seeds()[0]
        rng = random.Random(f"ex05:{seed}")
        out = []
        for i in range(int(p.get("count", 3))):
            if p.get("part") in ("compare", "merge"):
                steps = []
                for _ in range(int(p.get("steps", 40))):
                    a, b = _related(rng)
                    steps.append([p["part"], a, b])
                out.append(Case("vc", [steps], f"batch {i} of seed {seed}"))
                continue
            k = int(p.get("replicas", 3))
            names = [f"r{j}" for j in range(1, k + 1)]
            script = [["new", r] for r in names]
            for _ in range(int(p.get("steps", 30))):
                x = rng.random()
                r = names[rng.randrange(k)]
                elem = "abcde"[rng.randrange(5)]
                if x < 0.4:
                    script.append(["add", r, elem])
                elif x < 0.6:
                    script.append(["remove", r, elem])
                elif x < 0.8 and k > 1:
                    script.append(["merge", r, names[rng.randrange(k)]])
                else:
                    script.append(["value", r])
            script += [["value", r] for r in names]
            if k > 1:
                for r in names:  # everybody hears from everybody: all must agree
                    for q in names:
                        if q != r:
                            script.append(["merge", r, q])
                for r in names:
                    for q in names:
                        if q != r:
                            script.append(["merge", r, q])
                script += [["value", r] for r in names]
            out.append(Case("orset", [script], f"script {i} of seed {seed}"))
        return out

    def expected(self, case: Case) -> list:
        if case.fn == "vc":
            return [_reference.vc_compare(a, b) if kind == "compare" else _reference.vc_merge(a, b)
                    for kind, a, b in case.args[0]]
        from ...protocols.crdt import ORSet

        states: dict[str, ORSet] = {}
        out = []
        for step in case.args[0]:
            kind, r = step[0], step[1]
            if kind == "new":
                states[r] = ORSet()
            elif kind == "add":
                states[r] = states[r].add(r, step[2])
            elif kind == "remove":
                states[r] = states[r].remove(step[2])
            elif kind == "merge":
                states[r] = states[r].merge(states[step[2]])
            else:
                out.append(sorted(states[r].value()))
                continue
            out.append(None)
        return out

    def explain(self, case, expected, got) -> str:
        if not isinstance(got, list) or len(got) != len(expected):
            return f"{case.label}: expected {len(expected)} results, got {str(got)[:200]}"
        steps = case.args[0]
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            if e != g:
                if case.fn == "vc":
                    kind, a, b = steps[i]
                    fn = "vc_compare" if kind == "compare" else "vc_merge"
                    return f"{case.label}: {fn}({a}, {b}) should be {e!r}, the answer gave {g!r}"
                history = "; ".join(" ".join(map(str, s)) for s in steps[: i + 1] if s[0] != "value")
                return (f"{case.label}: after [{history}] replica {steps[i][1]} should hold {e}, "
                        f"the answer's value() is {g}")[:600]
        return f"{case.label}: results differ"


SPEC = Spec()

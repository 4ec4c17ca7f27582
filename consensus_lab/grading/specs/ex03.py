"""Exercise 3 judged: the library's consistent-hash ring is the reference."""

from __future__ import annotations

import random

from ..checks import Case, Check, FunctionSpec


class Spec(FunctionSpec):
    id = "ex03"
    title = "consistent hashing with virtual nodes"
    notebook = "ex03_consistent_hashing.ipynb"
    checks = (
        Check("owners with one point per node", 2, hint="A key belongs to the first point at or after "
              "stable_hash(key); past the last point, wrap around to the first.",
              params={"seed": 1, "nodes": 3, "vnodes": 1, "steps": 40, "mix": "owner"}),
        Check("owners with virtual nodes", 2, hint="Virtual node i of node n sits at stable_hash(f\"{n}#{i}\"); "
              "sort all points by (position, node).",
              params={"seed": 2, "nodes": 4, "vnodes": 8, "steps": 60, "mix": "owner"}),
        Check("nodes join and leave", 3, hint="After add_node/remove_node the ring must be exactly the "
              "ring of the new set of nodes.",
              params={"seed": 3, "nodes": 3, "vnodes": 8, "steps": 60, "mix": "churn"}),
        Check("preference lists", 3, hint="Walk clockwise from the key's point and skip nodes already "
              "in the list; stop after n distinct nodes or when the ring is exhausted.",
              params={"seed": 4, "nodes": 5, "vnodes": 4, "steps": 40, "mix": "pref"}),
    )

    def cases(self, check: Check) -> list[Case]:
        p = check.params
        seed = check.seeds()[0]
        rng = random.Random(f"ex03:{seed}")
        out = []
        for i in range(int(p.get("count", 4))):
            n = int(p.get("nodes", 3))
            nodes = [f"n{j}" for j in range(1, n + 1)]
            members = list(nodes)
            spare = n + 1
            script = []
            mix = p.get("mix", "owner")
            for _ in range(int(p.get("steps", 40))):
                x = rng.random()
                key = f"user{rng.randrange(10_000):05d}"
                if mix == "churn" and x < 0.12:
                    new = f"n{spare}"
                    spare += 1
                    members.append(new)
                    script.append(["add", new])
                elif mix == "churn" and x < 0.22 and len(members) > 1:
                    gone = members.pop(rng.randrange(len(members)))
                    script.append(["remove", gone])
                elif mix in ("pref", "churn") and x < 0.6:
                    script.append(["pref", key, 1 + rng.randrange(len(members) + 1)])
                else:
                    script.append(["owner", key])
            out.append(Case("script", [nodes, int(p.get("vnodes", 1)), script], f"script {i} of seed {seed}"))
        return out

    def expected(self, case: Case) -> list:
        from ...partitioning import ConsistentHash

        nodes, vnodes, script = case.args
        ring = ConsistentHash(tuple(nodes), vnodes)
        out = []
        for step in script:
            if step[0] == "owner":
                out.append(ring.owner(step[1]))
            elif step[0] == "pref":
                out.append(list(ring.preference_list(step[1], step[2])))
            elif step[0] == "add":
                ring = ring.add_node(step[1])
                out.append(None)
            else:
                ring = ring.remove_node(step[1])
                out.append(None)
        return out

    def explain(self, case, expected, got) -> str:
        nodes, vnodes, script = case.args
        if not isinstance(got, list) or len(got) != len(expected):
            return f"{case.label}: expected {len(expected)} results, got {got!r}"[:400]
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            if e != g:
                done = [s for s in script[:i] if s[0] in ("add", "remove")]
                changes = ", ".join(f"{s[0]} {s[1]}" for s in done) or "none"
                what = f"owner({script[i][1]!r})" if script[i][0] == "owner" else \
                    f"preference_list({script[i][1]!r}, {script[i][2]})"
                return (f"{case.label}: ring {nodes} with {vnodes} vnodes, changes so far: {changes}; "
                        f"{what} should be {e!r}, the answer gave {g!r}")
        return f"{case.label}: results differ"


SPEC = Spec()

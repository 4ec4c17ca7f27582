"""Exercise 10 judged: exact against the library's formulas, and against simulation.

The exact checks compare with :mod:`consensus_lab.models` (``p_majority``,
``p_majority_racks``, ``p_commit_2pc_retries``) to 1e-9.  The simulation
check draws the failure model itself -- racks and nodes up or down, seeded --
many times in the grader's process, and the answer must fall inside the
99.9% Wilson interval of the simulated frequency: a formula that assumes
independence where there is none (the product over all nodes, or the binomial
with racks ignored) falls outside it.
"""

from __future__ import annotations

import math
import random
from typing import Any

from ... import models
from ..checks import Case, Check, FunctionSpec

TOLERANCE = 1e-9
Z_999 = 3.29  # two-sided 99.9%


def simulate(fn: str, args: list, trials: int, seed: int) -> tuple[int, int]:
    """(successes, trials) of the failure model behind ``fn``, drawn from a seeded generator."""
    rng = random.Random(f"ex10:{seed}:{fn}:{args!r}")
    ok = 0
    for _ in range(trials):
        if fn == "p_majority":
            n, p = args
            ok += sum(rng.random() < p for _ in range(n)) >= n // 2 + 1
        elif fn == "p_majority_racks":
            sizes, p_rack, p_node = args
            up = 0
            for size in sizes:
                if rng.random() >= p_rack:
                    up += sum(rng.random() >= p_node for _ in range(size))
            ok += up >= sum(sizes) // 2 + 1
        else:
            k, p_up, p_back = args
            ok += all(rng.random() < p_up or rng.random() < p_back for _ in range(k))
    return ok, trials


def _describe(fn: str, args: list) -> str:
    return f"{fn}({', '.join(repr(a) for a in args)})"


class Spec(FunctionSpec):
    id = "ex10"
    title = "how likely is it to work: quorums and 2PC under failures"
    notebook = "ex10_quorum_probability.ipynb"
    checks = (
        Check("a majority, independent failures", 3, hint="A majority needs at least n // 2 + 1 nodes up: sum "
              "the binomial terms comb(n, i) p^i (1-p)^(n-i) for i from n // 2 + 1 to n -- not p ** n.",
              params={"seed": 1, "mix": "majority", "count": 12}),
        Check("two-phase commit with retries", 2, hint="Every participant must vote; one that is down still "
              "votes if it comes back in time, so each prepares with p_up + (1 - p_up) * p_back.",
              params={"seed": 2, "mix": "2pc", "count": 10}),
        Check("rack-correlated failures", 3, hint="Go through the racks: a rack is down (all its nodes) or up "
              "(then a binomial number of its nodes is up); combine the racks' distributions of live nodes.",
              params={"seed": 3, "mix": "racks", "count": 10}),
        Check("agrees with simulation", 2, hint="The grader simulates the failure model; a formula that "
              "treats the nodes of one rack as independent is off by more than the confidence interval.",
              params={"seed": 4, "mix": "simulate", "count": 4, "trials": 20000}),
    )

    def validate_check(self, check: Check) -> None:
        p = check.params
        if p.get("mix", "majority") not in ("majority", "2pc", "racks", "simulate"):
            raise ValueError(f"check {check.name!r}: mix must be majority, 2pc, racks or simulate")
        if not 1 <= int(p.get("count", 10)) <= 200 or not 100 <= int(p.get("trials", 20000)) <= 200_000:
            raise ValueError(f"check {check.name!r}: count must be 1..200 and trials 100..200000")
        check.seeds()

    def cases(self, check: Check) -> list[Case]:
        p = check.params
        seed = check.seeds()[0]
        rng = random.Random(f"ex10:{seed}")
        mix = p.get("mix", "majority")
        out = []
        for i in range(int(p.get("count", 10))):
            kind = mix if mix != "simulate" else ("p_majority_racks", "p_majority", "p_2pc_commit")[i % 3]
            prob = rng.choice([0.0, 1.0]) if i == 1 else round(rng.uniform(0.05, 0.99), 3)
            if kind in ("majority", "p_majority"):
                args: list[Any] = [rng.choice([1, 2, 3, 4, 5, 6, 7, 9]) if i else 4, prob]
                fn = "p_majority"
            elif kind in ("2pc", "p_2pc_commit"):
                args = [rng.randint(1, 6), prob, round(rng.uniform(0.0, 0.9), 3)]
                fn = "p_2pc_commit"
            else:
                sizes = [[3, 2], [2, 2, 1], [1, 1, 1, 1, 1], [3, 3, 1], [4, 1], [2, 2, 2]][rng.randrange(6)]
                if i == 0:
                    sizes = [3, 2]
                args = [sizes, round(rng.uniform(0.05, 0.4), 3), round(rng.uniform(0.0, 0.2), 3) if i % 2 else 0.0]
                fn = "p_majority_racks"
            label = f"case {i + 1}: {_describe(fn, args)}"
            if mix == "simulate":
                args_sim = list(args)
                out.append(Case(fn, args, label + f" [simulated {int(p.get('trials', 20000))} times, "
                                f"seed {seed * 100 + i}]"))
                out[-1].sim = (int(p.get("trials", 20000)), seed * 100 + i, args_sim)  # type: ignore[attr-defined]
            else:
                out.append(Case(fn, args, label))
        return out

    def expected(self, case: Case) -> Any:
        sim = getattr(case, "sim", None)
        if sim is not None:
            trials, seed, args = sim
            ok, n = simulate(case.fn, args, trials, seed)
            return ("interval", ok / n, *models.wilson_interval(ok, n, Z_999))
        if case.fn == "p_majority":
            return models.p_majority(*case.args)
        if case.fn == "p_majority_racks":
            return models.p_majority_racks(*case.args)
        return models.p_commit_2pc_retries(case.args[0], case.args[1], case.args[2])

    def agree(self, case: Case, expected: Any, got: Any) -> bool:
        if not isinstance(got, float) or math.isnan(got):
            return False
        if isinstance(expected, tuple):
            return expected[2] <= got <= expected[3]
        return abs(got - expected) <= TOLERANCE

    def explain(self, case: Case, expected: Any, got: Any) -> str:
        if isinstance(expected, tuple):
            side = "too optimistic" if isinstance(got, float) and got > expected[3] else "too pessimistic"
            return (f"{case.label}: the simulation says {expected[1]:.4f} (99.9% interval [{expected[2]:.4f}, "
                    f"{expected[3]:.4f}]); the answer {got!r} is outside it -- {side}")
        hint = ""
        if case.fn == "p_majority" and isinstance(got, float) and abs(got - case.args[1] ** case.args[0]) < 1e-12 \
                and case.args[0] > 1 and 0 < case.args[1] < 1:
            hint = " (that is p ** n: every node up, not a majority)"
        return f"{case.label}: expected {expected!r}, got {got!r}{hint}"


SPEC = Spec()

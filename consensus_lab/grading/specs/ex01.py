"""Exercise 1 judged: compare with the library's brute-force checker."""

from __future__ import annotations

import random

from ...history import Op
from ..checks import Case, Check, FunctionSpec, balanced_credit
from ._histories import first_bad_prefix, history_window, register_history

W, R = "write", "read"


def _h(*events: tuple) -> list[Op]:
    return [Op(p, t, f, "x", v, float(i)) for i, (p, t, f, v) in enumerate(events)]


EXAMPLES = [
    ("an empty history", _h()),
    ("write 1, then read 1", _h((0, "invoke", W, 1), (0, "ok", W, 1), (1, "invoke", R, None), (1, "ok", R, 1))),
    ("a read after a finished write returns the old value", _h(
        (0, "invoke", W, 1), (0, "ok", W, 1), (1, "invoke", R, None), (1, "ok", R, None))),
    ("a read concurrent with a write may return either value", _h(
        (0, "invoke", W, 1), (1, "invoke", R, None), (1, "ok", R, None), (0, "ok", W, 1))),
    ("new then old (two reads during one write)", _h(
        (0, "invoke", W, 1), (1, "invoke", R, None), (1, "ok", R, 1), (2, "invoke", R, None),
        (2, "ok", R, None), (0, "ok", W, 1))),
    ("a read returns a value nobody wrote", _h((0, "invoke", R, None), (0, "ok", R, 7))),
    ("a failed write is seen", _h((0, "invoke", W, 1), (0, "fail", W, 1), (1, "invoke", R, None), (1, "ok", R, 1))),
    ("an indeterminate write is seen later", _h(
        (0, "invoke", W, 1), (0, "info", W, 1), (1, "invoke", R, None), (1, "ok", R, 1))),
    ("an indeterminate write is never seen", _h(
        (0, "invoke", W, 1), (0, "info", W, 1), (1, "invoke", R, None), (1, "ok", R, None))),
    ("two writers, the reader sees the first one last", _h(
        (0, "invoke", W, 1), (0, "ok", W, 1), (1, "invoke", W, 2), (1, "ok", W, 2), (2, "invoke", R, None),
        (2, "ok", R, 1))),
    ("two concurrent writers, reads agree on an order", _h(
        (0, "invoke", W, 1), (1, "invoke", W, 2), (0, "ok", W, 1), (1, "ok", W, 2), (2, "invoke", R, None),
        (2, "ok", R, 1), (2, "invoke", R, None), (2, "ok", R, 1))),
]


class Spec(FunctionSpec):
    id = "ex01"
    title = "a brute-force linearizability checker for a single register"
    notebook = "ex01_linearizability_bruteforce.ipynb"
    checks = (
        Check("the textbook cases", 3, hint="Try every order of the operations; an order must put an "
              "operation that completed before another was invoked first, and every read must return "
              "the last value written before it in the order (None at first).",
              params={"cases": "examples"}),
        Check("random histories, two processes", 2, hint="Check both answers: a history can be "
              "linearizable even when the reads come back in an unexpected order, if the operations overlap.",
              params={"seed": 1, "count": 25, "processes": 2, "ops": 6}),
        Check("random histories, three processes", 3, hint="Only operations that do not overlap in "
              "real time are ordered; overlapping ones may go either way.",
              params={"seed": 2, "count": 25, "processes": 3, "ops": 7}),
        Check("failed and indeterminate operations", 2, hint="A fail never happened: leave it out. An "
              "info may have happened at any moment after its invocation, or never: try both.",
              params={"seed": 3, "count": 25, "processes": 3, "ops": 7, "p_fail": 0.15, "p_info": 0.2}),
    )

    def cases(self, check: Check) -> list[Case]:
        p = check.params
        if p.get("cases") == "examples":
            return [Case("is_linearizable", [h], f"the case {name!r}") for name, h in EXAMPLES]
        seed = check.seeds()[0]
        rng = random.Random(f"ex01:{seed}")
        out = []
        for i in range(int(p.get("count", 20))):
            h = register_history(rng, int(p.get("processes", 2)), min(9, int(p.get("ops", 6))),
                                 p_fail=float(p.get("p_fail", 0.0)), p_info=float(p.get("p_info", 0.0)))
            out.append(Case("is_linearizable", [h], f"history {i} of seed {seed}"))
        return out

    def expected(self, case: Case) -> bool:
        from ...checkers import brute_force_linearizable

        return brute_force_linearizable(case.args[0], "register") is not None

    credit = staticmethod(balanced_credit)
    hints = {
        "is_linearizable -> False": "Your answer accepted a history that is not linearizable: the marked event "
        "is where no order works any more. Check that a read must return the last value written before it "
        "in the order, and that an operation that finished before another started comes first.",
        "is_linearizable -> True": "Your answer rejected a linearizable history; the order below works. Check "
        "that overlapping operations may go either way, that failed operations are left out and that an "
        "indeterminate (info) operation may take effect at any point after its invocation, or never.",
    }

    def explain(self, case, expected, got) -> str:
        word = {True: "linearizable", False: "not linearizable"}
        return f"{case.label}: the history is {word[expected]}, the answer said {word.get(got, repr(got))}."

    def evidence(self, case, expected, got) -> list[str]:
        from ...checkers import brute_force_linearizable
        from ...history import pair_operations

        h = case.args[0]
        if expected:
            order = brute_force_linearizable(h, "register") or []
            ops = {op.index: op for op in pair_operations(h)}
            steps = "; ".join(f"p{ops[i].process} {ops[i].f} {ops[i].output if ops[i].f == 'read' else ops[i].value!r}"
                              for i in order if i in ops)
            return history_window(h, None, size=len(h)) + [f"an order that works: {steps}"]
        mark = first_bad_prefix(h, lambda prefix: brute_force_linearizable(prefix, "register") is not None)
        return history_window(h, mark) + (["(up to the marked event the history is still linearizable)"]
                                          if mark is not None else [])


SPEC = Spec()

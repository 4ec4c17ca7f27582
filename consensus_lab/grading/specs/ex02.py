"""Exercise 2 judged: session guarantees against a small reference."""

from __future__ import annotations

import random

from ...history import Op
from .. import _reference
from ..checks import Case, Check, FunctionSpec, balanced_credit
from ._histories import first_bad_prefix, history_window, session_history


def _h(*events: tuple) -> list[Op]:
    return [Op(p, t, f, k, v, float(i)) for i, (p, t, f, k, v) in enumerate(events)]


EXAMPLES = [
    ("a session reads its own write", _h(
        (0, "invoke", "write", "a", 1), (0, "ok", "write", "a", 1), (0, "invoke", "read", "a", None),
        (0, "ok", "read", "a", 1))),
    ("a session misses its own write", _h(
        (0, "invoke", "write", "a", 1), (0, "ok", "write", "a", 1), (0, "invoke", "read", "a", None),
        (0, "ok", "read", "a", None))),
    ("another session's write need not be seen", _h(
        (0, "invoke", "write", "a", 1), (0, "ok", "write", "a", 1), (1, "invoke", "read", "a", None),
        (1, "ok", "read", "a", None))),
    ("a later read goes back in time", _h(
        (1, "invoke", "read", "a", None), (1, "ok", "read", "a", 2), (1, "invoke", "read", "a", None),
        (1, "ok", "read", "a", 1))),
    ("reads of different keys are separate", _h(
        (1, "invoke", "read", "a", None), (1, "ok", "read", "a", 2), (1, "invoke", "read", "b", None),
        (1, "ok", "read", "b", None))),
    ("a failed write need not be seen", _h(
        (0, "invoke", "write", "a", 1), (0, "fail", "write", "a", 1), (0, "invoke", "read", "a", None),
        (0, "ok", "read", "a", None))),
    ("a newer value counts as seeing an older write", _h(
        (0, "invoke", "write", "a", 1), (0, "ok", "write", "a", 1), (1, "invoke", "write", "a", 2),
        (1, "ok", "write", "a", 2), (0, "invoke", "read", "a", None), (0, "ok", "read", "a", 2))),
]


class Spec(FunctionSpec):
    id = "ex02"
    title = "session guarantees: read-your-writes and monotonic reads"
    notebook = "ex02_session_guarantees.ipynb"
    checks = (
        Check("the textbook cases", 2, hint="Work per session (process) and per key; a read that returned "
              "v has seen every write with a value <= v, and None means it saw nothing.",
              params={"cases": "examples"}),
        Check("read-your-writes on random histories", 3, hint="Only the session's own ok writes to the "
              "same key count, and only those before the read.",
              params={"seed": 1, "count": 30, "fn": "read_your_writes", "processes": 3, "ops": 12}),
        Check("monotonic reads on random histories", 3, hint="Compare each read with the earlier reads "
              "of the same session on the same key; failed reads saw nothing.",
              params={"seed": 2, "count": 30, "fn": "monotonic_reads", "processes": 3, "ops": 20, "sticky": 0.2,
                      "p_write": 0.25}),
        Check("both guarantees, many keys", 2, hint="Keys are independent: a read of one key says nothing "
              "about another.",
              params={"seed": 3, "count": 20, "fn": "both", "processes": 4, "ops": 16, "keys": 3}),
    )

    def cases(self, check: Check) -> list[Case]:
        p = check.params
        if p.get("cases") == "examples":
            return [Case(fn, [h], f"{fn} on the case {name!r}")
                    for name, h in EXAMPLES for fn in ("read_your_writes", "monotonic_reads")]
        seed = check.seeds()[0]
        rng = random.Random(f"ex02:{seed}")
        fns = ("read_your_writes", "monotonic_reads") if p.get("fn", "both") == "both" else (p["fn"],)
        out = []
        for i in range(int(p.get("count", 20))):
            h = session_history(rng, int(p.get("processes", 3)), int(p.get("ops", 12)),
                                keys=int(p.get("keys", 2)), sticky=float(p.get("sticky", 0.5)),
                                p_write=float(p.get("p_write", 0.45)))
            for fn in fns:
                out.append(Case(fn, [h], f"{fn} on history {i} of seed {seed}"))
        return out

    def expected(self, case: Case) -> bool:
        return getattr(_reference, case.fn)(case.args[0])

    credit = staticmethod(balanced_credit)
    hints = {
        "read_your_writes -> False": "Your answer missed a read that does not see its own session's earlier "
        "ok write (the marked event): per session and key, a read must return a value >= the last write.",
        "read_your_writes -> True": "Your answer flagged a history that keeps read-your-writes: only the same "
        "session's ok writes to the same key count, a newer value counts as seeing them, failed writes never.",
        "monotonic_reads -> False": "Your answer missed a read that goes back in time (the marked event): "
        "compare with the session's earlier reads of the same key; None after a value goes back too.",
        "monotonic_reads -> True": "Your answer flagged a history with monotonic reads: compare reads of the "
        "same key in the same session only, and ignore reads that did not complete ok.",
    }

    def explain(self, case, expected, got) -> str:
        word = {True: "holds", False: "is violated"}
        return f"{case.label}: the guarantee {word[expected]}, the answer said it {word.get(got, repr(got))}."

    def evidence(self, case, expected, got) -> list[str]:
        h = case.args[0]
        if expected:
            return history_window(h, None, size=len(h))
        holds = getattr(_reference, case.fn)
        mark = first_bad_prefix(h, holds)
        return history_window(h, mark) + (["(the marked read is the first that breaks the guarantee)"]
                                          if mark is not None else [])


SPEC = Spec()

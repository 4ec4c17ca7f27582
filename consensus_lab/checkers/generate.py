"""Generated histories for tests and benchmarks of the checkers.

Deterministic (a seed each), small enough to read: a register workload whose
reads are answered as if linearized at their invocation (so it is
linearizable until you plant a fault), and a grow-only set workload shaped
like a Jepsen set test (many adds, some indeterminate, one final read).
"""

from __future__ import annotations

import random

from consensus_lab.history import Op

__all__ = ["register_history", "set_history"]


def register_history(n: int = 2000, processes: int = 20, info: float = 0.2, seed: int = 7) -> list[Op]:
    """``n`` events of ``processes`` clients writing unique values and reading,
    a fraction ``info`` of completions indeterminate (that client then stops)."""
    rng = random.Random(seed)
    h: list[Op] = []
    value: int | None = None
    live = list(range(processes))  # slot -> process id; a crashed client is replaced (Jepsen: id + n)
    busy: dict[int, tuple[str, int | None, int | None]] = {}
    next_value = 1
    while len(h) < n:
        slot = rng.randrange(processes)
        p = live[slot]
        if p in busy:
            f, v, out = busy.pop(p)
            kind = "info" if rng.random() < info else "ok"
            h.append(Op(p, kind, f, None, out if f == "read" else v))
            if kind == "info":
                live[slot] = p + processes
        elif rng.random() < 0.5:
            busy[p] = ("write", next_value, None)
            h.append(Op(p, "invoke", "write", None, next_value))
            value, next_value = next_value, next_value + 1
        else:
            busy[p] = ("read", None, value)
            h.append(Op(p, "invoke", "read"))
    return h


def set_history(n_ok: int = 900, n_info: int = 90, seed: int = 1) -> list[Op]:
    """``n_info`` indeterminate adds concurrent with ``n_ok`` completed ones, then
    one final read that saw every completed add and about half of the others:
    linearizable, and hopeless for a search over subsets of indeterminate adds."""
    rng = random.Random(seed)
    h: list[Op] = [Op(1000 + v, "invoke", "add", None, v) for v in range(n_info)]
    seen = set()
    for v in range(n_info, n_info + n_ok):
        p = v % 7
        h += [Op(p, "invoke", "add", None, v), Op(p, "ok", "add", None, v)]
        seen.add(v)
    seen |= {v for v in range(n_info) if rng.random() < 0.5}
    h += [Op(99, "invoke", "read"), Op(99, "ok", "read", None, frozenset(seen))]
    h += [Op(1000 + v, "info", "add", None, v) for v in range(n_info)]
    return h

"""Histories in the exercises: seeded generators for exercises 1 and 2, and the one
linearizability verdict every node exercise with clients is judged by."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

from ...history import Op

__all__ = ["register_history", "session_history", "history_window", "first_bad_prefix",
           "linearizability_problem", "judged_once"]

T = TypeVar("T")


def linearizability_problem(history: list[Op], model: str, *, says: str = "the client history is",
                            more: str = "") -> str | None:
    """Why ``history`` fails linearizability under ``model`` (None when it holds).

    An ``unknown`` verdict (the search ran out of time) is a failure too: a check
    never earns points on a history nobody could show linearizable.
    """
    from ...checkers import LINEARIZABLE, NOT_LINEARIZABLE, check_linearizable

    result = check_linearizable(history, model, timeout=20.0)
    if result.verdict == NOT_LINEARIZABLE:
        return f"{says} {result.detail}{more}"
    if result.verdict != LINEARIZABLE:
        return f"the client history could not be shown linearizable ({result.verdict}: {result.detail})"
    return None


def judged_once(judge: Callable[[list[Op]], T], history: Sequence[Op]) -> T:
    """``judge(history)``, once per distinct history a search check meets (a walk meets the same
    history in every state until a client hears back).  ``judge`` must be hashable and the same
    object each time (a module function, a class's classmethod); a history the cache cannot hold (an
    answer holding a list or a dict) is judged every time."""
    try:
        return _judged_once(judge, tuple(history))
    except TypeError:
        return judge(list(history))


@functools.lru_cache(maxsize=4096)
def _judged_once(judge: Callable[[list[Op]], T], history: tuple[Op, ...]) -> T:
    return judge(list(history))


def register_history(rng: random.Random, processes: int, ops: int, *, p_fail: float = 0.0,
                     p_info: float = 0.0, mutate: float = 0.5) -> list[Op]:
    """A history of one register: linearizable as made, then perhaps broken by one changed read."""
    clock = [0.0] * processes
    pid = list(range(processes))
    spans = []  # (process, f, value, call, ret, status, effective)
    counter = 0
    for _ in range(ops):
        p = rng.randrange(processes)
        call = clock[p] + rng.uniform(0.0, 1.0)
        ret = call + rng.uniform(0.1, 2.0)
        clock[p] = ret
        f = "write" if rng.random() < 0.5 else "read"
        value = None
        if f == "write":
            counter += 1
            value = counter
        x = rng.random()
        status = "fail" if x < p_fail else "info" if x < p_fail + p_info else "ok"
        effective = status == "ok" or (status == "info" and rng.random() < 0.5)
        spans.append([pid[p], f, value, call, ret, status, effective, None])
        if status == "info":  # Jepsen: the process is gone, a new one takes its place
            pid[p] += processes
    state = None
    for s in sorted((s for s in spans if s[6]), key=lambda s: rng.uniform(s[3], s[4])):
        if s[1] == "write":
            state = s[2]
        else:
            s[7] = state
    reads = [s for s in spans if s[1] == "read" and s[5] == "ok"]
    if reads and rng.random() < mutate:
        s = reads[rng.randrange(len(reads))]
        choices = [None] + [w[2] for w in spans if w[1] == "write" and w[2] != s[7]]
        s[7] = choices[rng.randrange(len(choices))]
    events = []
    for i, (proc, f, value, call, ret, status, _eff, out) in enumerate(spans):
        events.append((call, 0, i, Op(proc, "invoke", f, "x", value, round(call, 3))))
        done_value = value if f == "write" else (out if status == "ok" else None)
        events.append((ret, 1, i, Op(proc, status, f, "x", done_value, round(ret, 3))))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return [e[3] for e in events]


def session_history(rng: random.Random, processes: int, ops: int, *, keys: int = 2, replicas: int = 3,
                    sticky: float = 0.5, p_fail: float = 0.05, p_write: float = 0.45) -> list[Op]:
    """Sessions on a lagging replicated store: some keep to one replica, some wander."""
    t = 0.0
    counter = 0
    arrivals: list[tuple[float, int, str, int]] = []  # (time, replica, key, value)
    home = [rng.randrange(replicas) for _ in range(processes)]
    stick = [rng.random() < sticky for _ in range(processes)]
    favourite = [rng.randrange(keys) for _ in range(processes)]
    events = []
    for _ in range(ops):
        p = rng.randrange(processes)
        key = f"k{favourite[p] if rng.random() < 0.7 else rng.randrange(keys)}"
        r = home[p] if stick[p] else rng.randrange(replicas)
        t += rng.uniform(0.05, 0.5)
        done = t + rng.uniform(0.01, 0.05)
        status = "fail" if rng.random() < p_fail else "ok"
        if rng.random() < p_write:
            counter += 1
            events.append(Op(p, "invoke", "write", key, counter, round(t, 3)))
            events.append(Op(p, status, "write", key, counter, round(done, 3)))
            if status == "ok":
                for q in range(replicas):
                    lag = 0.0 if q == r else rng.uniform(0.0, 3.0)
                    arrivals.append((t + lag, q, key, counter))
        else:
            seen = [v for (at, q, k, v) in arrivals if q == r and k == key and at <= t]
            out = max(seen) if seen else None
            events.append(Op(p, "invoke", "read", key, None, round(t, 3)))
            events.append(Op(p, status, "read", key, out if status == "ok" else None, round(done, 3)))
        t = done
    return events


def _event_text(op: Op) -> str:
    v = "" if op.value is None and op.type == "invoke" and op.f == "read" else f" {op.value!r}"
    key = f" {op.key}" if op.key not in (None, "x") else ""
    return f"p{op.process} {op.type} {op.f}{key}{v}"


def history_window(history: list[Op], mark: int | None = None, size: int = 14) -> list[str]:
    """The history one event a line, numbered; around event ``mark`` (flagged ``<==``) when it is long."""
    n = len(history)
    if n <= size or mark is None:
        lo, hi = 0, min(n, size if mark is None else n)
    else:
        lo = max(0, min(mark - size + 3, n - size))
        hi = min(n, lo + size)
    lines = [f"     ... ({lo} earlier events)"] if lo else []
    for i in range(lo, hi):
        lines.append(f"{i:3d}  {_event_text(history[i])}" + ("   <== here" if i == mark else ""))
    if hi < n:
        lines.append(f"     ... ({n - hi} more events)")
    return lines


def first_bad_prefix(history: list[Op], holds) -> int | None:
    """The index of the event with which ``holds(prefix)`` first becomes False (None if it never does)."""
    for k in range(1, len(history) + 1):
        if history[k - 1].type != "invoke" and not holds(history[:k]):
            return k - 1
    return None

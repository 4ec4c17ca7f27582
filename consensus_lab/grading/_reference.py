"""Reference answers the grader compares with (never shipped into the sandbox).

Where the library already has the algorithm -- the brute-force
linearizability checker, consistent hashing, the OR-Set -- the specs use it;
this module holds the small references the library has no public form of.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..history import Op, pair_operations

__all__ = ["read_your_writes", "monotonic_reads", "vc_compare", "vc_merge"]


def _sessions(history: Sequence[Op]):
    ops = [op for op in pair_operations(history) if op.status == "ok"]
    by_process: dict[int, list] = {}
    for op in sorted(ops, key=lambda o: o.call):
        by_process.setdefault(op.process, []).append(op)
    return by_process


def _rank(v: Any) -> float:
    return float("-inf") if v is None else v


def read_your_writes(history: Sequence[Op]) -> bool:
    for ops in _sessions(history).values():
        written: dict[Any, Any] = {}
        for op in ops:
            if op.f == "write":
                written[op.key] = max(op.value, written.get(op.key, op.value))
            elif op.f == "read" and op.key in written and _rank(op.output) < written[op.key]:
                return False
    return True


def monotonic_reads(history: Sequence[Op]) -> bool:
    for ops in _sessions(history).values():
        seen: dict[Any, float] = {}
        for op in ops:
            if op.f == "read":
                r = _rank(op.output)
                if r < seen.get(op.key, float("-inf")):
                    return False
                seen[op.key] = max(r, seen.get(op.key, float("-inf")))
    return True


def vc_compare(a: dict[str, int], b: dict[str, int]) -> str:
    keys = set(a) | set(b)
    le = all(a.get(k, 0) <= b.get(k, 0) for k in keys)
    ge = all(a.get(k, 0) >= b.get(k, 0) for k in keys)
    if le and ge:
        return "equal"
    if le:
        return "before"
    if ge:
        return "after"
    return "concurrent"


def vc_merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = {k: max(a.get(k, 0), b.get(k, 0)) for k in set(a) | set(b)}
    return dict(sorted((k, v) for k, v in out.items() if v))

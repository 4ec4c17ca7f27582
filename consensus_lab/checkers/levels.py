"""One entry point for every consistency level a history can be checked against.

:func:`check_consistency` runs the checker of a named level on a history and
returns a :class:`Verdict`: ``status`` is ``"holds"``, ``"violated"`` or
``"unknown"`` (a budget ran out, or the exact search refuses a history that
large), with the checker's own verdict string and one line of detail.  The
command line (``consensus-lab check --consistency LEVEL``) is a thin layer over
it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from consensus_lab.history import Op

from .causal import NotDifferentiatedError, check_causal
from .elle import ISOLATION_LEVELS, check_isolation
from .linearizability import LINEARIZABLE, UNKNOWN, check_linearizable
from .models import Model
from .sequential import HistoryTooLargeError, check_sequential
from .sessions import SESSION_GUARANTEES

__all__ = ["CONSISTENCY_LEVELS", "HOLDS", "UNKNOWN_STATUS", "VIOLATED", "Verdict", "check_consistency"]

HOLDS, VIOLATED, UNKNOWN_STATUS = "holds", "violated", "unknown"


@dataclass
class Verdict:
    """The outcome of :func:`check_consistency`."""

    level: str
    status: str  # "holds" | "violated" | "unknown"
    verdict: str  # the checker's own words, e.g. "not linearizable"
    detail: str
    seconds: float = 0.0
    operations: int = 0
    result: Any = None  # the checker's full result object
    budget: str = ""  # for "unknown": which budget ran out

    @property
    def holds(self) -> bool:
        return self.status == HOLDS


def _linearizable(events: Sequence[Op], model: Model, opts: dict[str, Any]) -> Verdict:
    r = check_linearizable(events, model, **opts)
    status = HOLDS if r.verdict == LINEARIZABLE else UNKNOWN_STATUS if r.verdict == UNKNOWN else VIOLATED
    return Verdict("linearizable", status, r.verdict, r.detail, r.seconds, len(r.operations), r, r.budget)


def _sequential(events: Sequence[Op], model: Model, opts: dict[str, Any]) -> Verdict:
    timeout = opts.get("timeout") or 10.0
    try:
        r = check_sequential(events, model, timeout=timeout)
    except HistoryTooLargeError as exc:
        return Verdict("sequential", UNKNOWN_STATUS, "unknown", f"unknown: {exc}", budget="size")
    except TimeoutError:
        return Verdict("sequential", UNKNOWN_STATUS, "unknown",
                       f"unknown (time budget): no answer within {timeout} s", budget="time")
    return Verdict("sequential", HOLDS if r.holds else VIOLATED, r.verdict, r.detail, r.seconds,
                   len(r.operations), r)


def _session(name: str) -> Callable[[Sequence[Op], Model, dict[str, Any]], Verdict]:
    def run(events: Sequence[Op], model: Model, opts: dict[str, Any]) -> Verdict:
        r = SESSION_GUARANTEES[name](events)
        verdict = f"{name} holds" if r.holds else f"{name} violated"
        return Verdict(name, HOLDS if r.holds else VIOLATED, verdict, r.detail, result=r)

    return run


def _causal(level: str, mode: str) -> Callable[[Sequence[Op], Model, dict[str, Any]], Verdict]:
    def run(events: Sequence[Op], model: Model, opts: dict[str, Any]) -> Verdict:
        try:
            r = check_causal(events, mode=mode, initial=getattr(model, "initial", None))
        except NotDifferentiatedError as exc:
            return Verdict(level, UNKNOWN_STATUS, "unknown", f"unknown: {exc}", budget="shape")
        return Verdict(level, HOLDS if r.holds else VIOLATED, r.verdict, r.detail, operations=len(r.operations),
                       result=r)

    return run


def _isolation(level: str) -> Callable[[Sequence[Op], Model, dict[str, Any]], Verdict]:
    def run(events: Sequence[Op], model: Model, opts: dict[str, Any]) -> Verdict:
        r = check_isolation(events, level)
        return Verdict(level, HOLDS if r.holds else VIOLATED, r.verdict, r.detail,
                       operations=len(r.transactions), result=r)

    return run


_CHECKERS: dict[str, Callable[[Sequence[Op], Model, dict[str, Any]], Verdict]] = {
    "linearizable": _linearizable,
    "sequential": _sequential,
    "causal": _causal("causal", "memory"),
    "causal-convergence": _causal("causal-convergence", "convergence"),
    "weak-causal": _causal("weak-causal", "weak"),
    **{name: _session(name) for name in SESSION_GUARANTEES},
    **{name: _isolation(name) for name in ISOLATION_LEVELS},
}

#: every level :func:`check_consistency` knows, strongest first
CONSISTENCY_LEVELS: tuple[str, ...] = tuple(_CHECKERS)


def check_consistency(events: Sequence[Op], level: str, model: Model, **opts: Any) -> Verdict:
    """Check ``events`` against ``level`` (one of :data:`CONSISTENCY_LEVELS`).

    ``opts`` go to the checker: ``timeout`` (seconds) for the searching
    checkers, ``max_memory`` (bytes) for linearizability.
    """
    import time

    try:
        checker = _CHECKERS[level]
    except KeyError:
        raise ValueError(f"unknown consistency level {level!r}; choose one of {', '.join(_CHECKERS)}") from None
    t0 = time.perf_counter()
    v = checker(events, model, opts)
    if not v.seconds:
        v.seconds = time.perf_counter() - t0
    if not v.operations:
        v.operations = sum(1 for ev in events if ev.type == "invoke")
    return v

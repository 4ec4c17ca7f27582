"""Layer 6: exercises, self-checks, release of exercises, and the instructor's grader.

In a notebook::

    from consensus_lab.grading.selfcheck import selfcheck, replay
    selfcheck("ex08", RaftElectionNode)            # the visible checks, as a scored report
    run = replay("ex08", RaftElectionNode, check=3, seed=4)   # one failing run, to look at

For instructors: ``consensus-lab release SOLUTIONS EXERCISES`` and
``consensus-lab grade SUBMISSIONS --out gradebook.csv --hidden HIDDEN`` (see
:mod:`consensus_lab.grading.grader`).  Names are imported lazily so that the
student-facing modules stay small (``selfcheck`` and ``release`` are both
modules and their main functions: import those from the modules).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["replay", "as_protocol", "run_checks", "grade", "EXERCISE_IDS", "get_exercise"]

_LAZY = {
    "replay": ("selfcheck", "replay"),
    "as_protocol": ("selfcheck", "as_protocol"),
    "run_checks": ("selfcheck", "run_checks"),
    "grade": ("grader", "grade"),
    "EXERCISE_IDS": ("registry", "EXERCISE_IDS"),
    "get_exercise": ("registry", "get"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))

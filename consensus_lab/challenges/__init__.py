"""Challenges: labs that ask the student to do something, and say when they did.

::

    from consensus_lab import challenges
    challenges.for_lesson("05")               # the lesson's challenges
    challenges.lab("05-block-participant")    # a lab showing one (goal, prediction, hints, banner)

A :class:`Challenge` has a one-sentence goal, an optional :class:`Prediction`
asked first (its answer is shown only after the student acts), a predicate
over the lab that detects success, hints that unlock one per failed Check,
the "solved" banner saying what was demonstrated, and a script of lab
actions that solves it (``challenge.solve()`` plays it; the tests prove
every challenge solvable by its script and not solved by doing nothing).
"""

from __future__ import annotations

from typing import Any

from .core import Challenge, Prediction, Progress, Verdict, run_script

__all__ = ["Challenge", "Prediction", "Progress", "Verdict", "run_script", "all_challenges", "for_lesson", "get",
           "lab", "lessons"]

_REGISTRY: dict[str, Challenge] | None = None


def _load() -> dict[str, Challenge]:
    global _REGISTRY
    if _REGISTRY is None:
        from . import minilabs, scenario

        found: dict[str, Challenge] = {}
        for c in [*scenario.CHALLENGES, *minilabs.CHALLENGES]:
            if c.id in found:
                raise ValueError(f"two challenges are called {c.id!r}")
            found[c.id] = c
        _REGISTRY = dict(sorted(found.items()))
    return _REGISTRY


def all_challenges() -> list[Challenge]:
    """Every challenge of the course, in lesson order."""
    return list(_load().values())


def lessons() -> list[str]:
    """The lessons ("00", "01", ...) that have a challenge."""
    return sorted({c.lesson for c in _load().values()})


def for_lesson(lesson: str | int) -> list[Challenge]:
    """The challenges of one lesson (``"05"`` or ``5``)."""
    key = f"{int(lesson):02d}" if str(lesson).isdigit() else str(lesson)
    return [c for c in _load().values() if c.lesson == key]


def get(challenge_id: str) -> Challenge:
    """One challenge by id; a one-line error naming the known ids otherwise."""
    try:
        return _load()[challenge_id]
    except KeyError:
        raise KeyError(f"no challenge {challenge_id!r} (known: {', '.join(_load())})") from None


def lab(challenge_id: str) -> Any:
    """A fresh lab showing the challenge ``challenge_id``: display it in a notebook cell."""
    return get(challenge_id).lab()

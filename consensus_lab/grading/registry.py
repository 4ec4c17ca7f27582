"""The exercises, in course order, and the instructor's hidden checks.

``EXERCISE_IDS`` lists ``ex00``, ``ex01``, ... (one per spec module); :func:`get` accepts an id, a
number or a notebook file name.  Hidden checks live in a directory the
grader is pointed at, one JSON file per exercise (any file name ending in
``.json``)::

    {"exercise": "ex08",
     "checks": [{"name": "many seeds, lossy network", "points": 4,
                 "hint": "...", "seeds": {"start": 100, "count": 10},
                 "stresses": "lost messages while nodes crash and the network splits",
                 "nodes": 5, "network": {"loss": 0.2}, "nemesis": "crash,partition"}]}

``stresses`` says, in a few words, what the check's schedules are hard on (the
feedback shows it).  Everything else but ``name``, ``points`` and ``hint`` is a parameter of the check,
in the same form as the visible checks in :mod:`consensus_lab.grading.specs`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from .checks import Check, ExerciseSpec

__all__ = ["EXERCISE_IDS", "get", "all_specs", "load_hidden", "HiddenChecksError"]

#: every exercise that has a spec module (``specs/exNN.py``), in course order
EXERCISE_IDS = tuple(sorted(p.stem for p in (Path(__file__).parent / "specs").glob("ex[0-9][0-9].py")))

_cache: dict[str, ExerciseSpec] = {}


class HiddenChecksError(ValueError):
    """A hidden-checks directory or file that cannot be used."""


def get(name: str | int) -> ExerciseSpec:
    """The spec of an exercise: ``get("ex08")``, ``get(8)``, ``get("ex08_raft_election.ipynb")``."""
    key = _normalize(name)
    if key not in _cache:
        _cache[key] = importlib.import_module(f"consensus_lab.grading.specs.{key}").SPEC
    return _cache[key]


def _normalize(name: str | int) -> str:
    if isinstance(name, int) and not isinstance(name, bool):
        key = f"ex{name:02d}"
    else:
        text = str(name).strip().lower()
        text = Path(text).name
        if text.isdigit():
            key = f"ex{int(text):02d}"
        else:
            key = text[:4]
    if key not in EXERCISE_IDS:
        raise KeyError(f"unknown exercise {name!r} (exercises: {', '.join(EXERCISE_IDS)})")
    return key


def all_specs() -> list[ExerciseSpec]:
    return [get(x) for x in EXERCISE_IDS]


def load_hidden(directory: str | Path) -> dict[str, list[Check]]:
    """Read every ``*.json`` hidden-checks file in ``directory``; validate each check."""
    d = Path(directory)
    if not d.is_dir():
        raise HiddenChecksError(f"hidden checks directory {d} does not exist")
    out: dict[str, list[Check]] = {}
    for path in sorted(d.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HiddenChecksError(f"{path}: not readable JSON ({exc})") from None
        if not isinstance(data, dict) or "exercise" not in data or not isinstance(data.get("checks"), list):
            raise HiddenChecksError(f"{path}: expected {{\"exercise\": ..., \"checks\": [...]}}")
        try:
            spec = get(data["exercise"])
        except KeyError as exc:
            raise HiddenChecksError(f"{path}: {exc.args[0]}") from None
        checks = out.setdefault(spec.id, [])
        for i, raw in enumerate(data["checks"]):
            checks.append(_check(path, i, raw, spec))
    return out


def _check(path: Path, i: int, raw: Any, spec: ExerciseSpec) -> Check:
    where = f"{path}: check {i + 1}"
    if not isinstance(raw, dict):
        raise HiddenChecksError(f"{where}: not an object")
    name = raw.get("name")
    points = raw.get("points")
    if not isinstance(name, str) or not name:
        raise HiddenChecksError(f"{where}: needs a name")
    if not isinstance(points, int) or isinstance(points, bool) or points < 0:
        raise HiddenChecksError(f"{where}: points must be a whole number >= 0")
    params = {k: v for k, v in raw.items() if k not in ("name", "points", "hint", "stresses")}
    check = Check(name, points, str(raw.get("hint", "")), hidden=True, params=params,
                  stresses=str(raw.get("stresses", "")))
    try:
        spec.validate_check(check)
    except (ValueError, TypeError, KeyError) as exc:
        raise HiddenChecksError(f"{where} ({name!r}): {exc}") from None
    return check

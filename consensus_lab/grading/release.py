"""``consensus-lab release SOLUTIONS EXERCISES``: make the student notebooks.

For every ``*.ipynb`` in the solutions directory, write its student version:

* cells marked instructor-only (``metadata.consensus_lab.instructor_only`` or
  the tag ``instructor-only``) are refused: ``nbgrader generate_assignment``
  never drops a cell, so on an nbgrader course they would reach every student
  (instructor notes live in ``solutions/INSTRUCTOR_NOTES.md``);
* a graded cell (the self-check) must carry the points of the exercise's visible
  checks (from its spec), and a brief that states them ("the visible checks (10
  points)", "the self-check says 10/10") must state them right, so that the
  brief, nbgrader, the self-check and the grader count on one scale;
* solution regions become nbgrader's stub (``# YOUR CODE HERE`` /
  ``raise NotImplementedError()``, indented like the ``### BEGIN SOLUTION``
  line; ``YOUR ANSWER HERE`` in Markdown), a solution cell without regions
  becomes the stub entirely, and ``### BEGIN HIDDEN TESTS`` regions are
  removed, and locked, graded and answer cells are protected from editing
  or deletion -- what ``nbgrader generate_assignment`` does to sources;
* answer cells lose their outputs; a cell whose output depends on the answer
  (``metadata.consensus_lab.stub_output``: ``"selfcheck"`` or ``"replay"``)
  gets the output the stub produces -- the self-check's "not implemented yet"
  report is computed by running the visible checks on the stubbed code -- so
  the exercise notebooks run clean under nbval;
* volatile metadata (execution timings) is removed.

Notebooks in the exercises directory that no solution produces are deleted,
so the directory is exactly the release of the solutions.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from . import registry
from .extract import (
    NotebookError,
    answer_source,
    cell_source,
    clear_hidden_tests,
    clear_solutions,
    read_notebook,
)

__all__ = ["release", "student_notebook", "write_notebook", "with_answer", "ReleaseError", "visible_points"]


class ReleaseError(ValueError):
    """A solutions notebook that cannot be released (the message names the cell)."""


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _exercise_of(nb: dict[str, Any], name: str) -> str | None:
    meta = nb.get("metadata", {}).get("consensus_lab", {})
    ex = meta.get("exercise") if isinstance(meta, dict) else None
    if ex:
        return str(ex)
    try:
        return registry.get(name).id
    except KeyError:
        return None


def visible_points(exercise: str) -> int:
    """What the exercise's visible checks are worth (read from its spec)."""
    return sum(c.points for c in registry.get(exercise).visible_checks())


# how a brief states the visible points: "the visible checks (10 points)", "the self-check says 10/10"
_STATED_POINTS = (re.compile(r"visible checks \((\d+) points?\)"), re.compile(r"self-check says (\d+)/(\d+)"))


def _stated_points_problem(text: str, exercise: str) -> str | None:
    want = visible_points(exercise)
    for pattern in _STATED_POINTS:
        for m in pattern.finditer(text):
            if any(int(n) != want for n in m.groups()):
                return (f"it says {m.group(0)!r} but {exercise}'s visible checks are worth {want} points "
                        "(its spec)")
    return None


def student_notebook(nb: dict[str, Any], name: str = "notebook") -> dict[str, Any]:
    """The student version of one solutions notebook (a new dict)."""
    nb = copy.deepcopy(nb)
    exercise = _exercise_of(nb, name)
    cells = []
    for i, cell in enumerate(nb["cells"]):
        meta = cell.setdefault("metadata", {})
        ours = meta.get("consensus_lab", {}) if isinstance(meta.get("consensus_lab"), dict) else {}
        if ours.get("instructor_only") or "instructor-only" in meta.get("tags", []):
            raise ReleaseError(f"{name}, cell {i + 1}: an instructor-only cell -- nbgrader generate_assignment "
                               "would give it to every student (it drops no cells); move the note to "
                               "solutions/INSTRUCTOR_NOTES.md")
        meta.pop("execution", None)
        kind = cell.get("cell_type")
        grader = meta.get("nbgrader", {}) if isinstance(meta.get("nbgrader"), dict) else {}
        stated = _stated_points_problem(cell_source(cell), exercise) if exercise and kind == "markdown" else None
        if stated:
            raise ReleaseError(f"{name}, cell {i + 1}: {stated}")
        if grader.get("grade") and exercise is not None and grader.get("points") != visible_points(exercise):
            raise ReleaseError(f"{name}, cell {i + 1}: the graded cell carries {grader.get('points')} points but "
                               f"{exercise}'s visible checks are worth {visible_points(exercise)} (its spec); "
                               f"set metadata.nbgrader.points to {visible_points(exercise)}")
        try:
            source, found = clear_solutions(cell_source(cell), code=kind == "code")
            source, _ = clear_hidden_tests(source)
        except ValueError as exc:
            raise ReleaseError(f"{name}, cell {i + 1}: {exc}") from None
        if found and not grader.get("solution"):
            raise ReleaseError(f"{name}, cell {i + 1}: a solution region in a cell that is not a solution cell "
                               "(set metadata.nbgrader.solution = true)")
        if grader.get("solution") and not found:
            source = "# YOUR CODE HERE\nraise NotImplementedError()" if kind == "code" else "YOUR ANSWER HERE"
        cell["source"] = _lines(source)
        # nbgrader's LockCells: students cannot delete answer cells, nor edit locked and graded ones
        if grader.get("solution") or grader.get("grade") or grader.get("locked"):
            meta["deletable"] = False
        if (grader.get("grade") or grader.get("locked")) and not grader.get("solution"):
            meta["editable"] = False
        if kind == "code" and grader.get("solution"):
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    nb["cells"] = cells
    _stub_outputs(nb, name)
    return nb


def _stub_outputs(nb: dict[str, Any], name: str) -> None:
    wanted = [c for c in nb["cells"] if c.get("cell_type") == "code"
              and isinstance(c["metadata"].get("consensus_lab"), dict) and c["metadata"]["consensus_lab"].get("stub_output")]
    if not wanted:
        return
    exercise = _exercise_of(nb, name)
    if exercise is None:
        raise ReleaseError(f"{name}: cells ask for stub outputs but the notebook names no exercise "
                           "(metadata.consensus_lab.exercise)")
    from .selfcheck import REPLAY_STUB, format_report, run_checks

    spec = registry.get(exercise)
    text_of: dict[str, str] = {}
    for cell in wanted:
        kind = cell["metadata"]["consensus_lab"]["stub_output"]
        if kind not in text_of:
            if kind == "selfcheck":
                text_of[kind] = format_report(run_checks(spec.id, source=_stub_source(nb, spec))) + "\n"
            elif kind == "replay":
                text_of[kind] = REPLAY_STUB.format(id=spec.id) + "\n"
            else:
                raise ReleaseError(f"{name}: unknown stub_output {kind!r}")
        cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": _lines(text_of[kind])}]


def _stub_source(nb: dict[str, Any], spec) -> str:
    """The stubbed answer cells' code: what the self-check runs while the student has written nothing."""
    try:
        return answer_source(nb, spec.id)
    except NotebookError as exc:
        raise ReleaseError(str(exc)) from None


def with_answer(nb: dict[str, Any], exercise_id: str, source: str) -> dict[str, Any]:
    """A copy of a student notebook whose (first) answer cell holds ``source`` -- a filled-in submission.

    For tests, benchmarks and instructors trying the grader on made-up answers.
    """
    from .extract import answer_cells

    nb = copy.deepcopy(nb)
    cells = answer_cells(nb, exercise_id)
    if not cells:
        raise ReleaseError(f"the notebook has no answer cell for {exercise_id}")
    cells[0]["source"] = _lines(source)
    for extra in cells[1:]:
        extra["source"] = []
    return nb


def write_notebook(nb: dict[str, Any], path: Path) -> None:
    """Write a notebook the way nbformat does (sorted keys, one-space indent), atomically."""
    text = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".release-", suffix=".ipynb")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def release(solutions_dir: str | Path, exercises_dir: str | Path) -> list[Path]:
    """Write the student version of every solutions notebook; return the files written."""
    src = Path(solutions_dir)
    dst = Path(exercises_dir)
    if not src.is_dir():
        raise ReleaseError(f"solutions directory {src} does not exist")
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise ReleaseError(f"no notebooks in {src}")
    dst.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        try:
            nb = read_notebook(path)
        except NotebookError as exc:
            raise ReleaseError(str(exc)) from None
        out = dst / path.name
        write_notebook(student_notebook(nb, path.name), out)
        written.append(out)
    names = {p.name for p in notebooks}
    for stale in sorted(dst.glob("*.ipynb")):
        if stale.name not in names:
            stale.unlink()
    return written

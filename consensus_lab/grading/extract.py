"""Read notebooks as data: find the answer cells, strip solutions -- never execute.

Cells follow nbgrader's conventions (``metadata.nbgrader``, schema 3): an
answer cell has ``"solution": true`` and a ``grade_id`` such as
``"ex08-answer"``; solution regions inside it are delimited by
``### BEGIN SOLUTION`` / ``### END SOLUTION``; instructor-only test regions by
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "NotebookError",
    "read_notebook",
    "cell_source",
    "answer_cells",
    "answer_source",
    "clear_solutions",
    "clear_hidden_tests",
    "CODE_STUB",
    "TEXT_STUB",
]

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class NotebookError(ValueError):
    """A file that is not a usable notebook; the message says why, in one line."""


def read_notebook(path: str | Path) -> dict[str, Any]:
    """Parse a notebook file as JSON (nbformat 4), with size and shape checks."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"{p.name} is {size // (1024 * 1024)} MB; notebooks over "
                                f"{MAX_NOTEBOOK_BYTES // (1024 * 1024)} MB are not read")
        with open(p, "rb") as f:
            data = json.loads(f.read().decode("utf-8"))
    except NotebookError:
        raise
    except OSError as exc:
        raise NotebookError(f"{p.name} cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotebookError(f"{p.name} is not a notebook (not JSON: {str(exc)[:80]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"{p.name} is not a notebook (no list of cells)")
    if data.get("nbformat") != 4:
        raise NotebookError(f"{p.name} is not an nbformat 4 notebook")
    return data


def cell_source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _nbgrader(cell: dict[str, Any]) -> dict[str, Any]:
    md = cell.get("metadata")
    nb = md.get("nbgrader") if isinstance(md, dict) else None
    return nb if isinstance(nb, dict) else {}


def answer_cells(nb: dict[str, Any], exercise_id: str) -> list[dict[str, Any]]:
    """The code cells nbgrader would call this exercise's answer cells, in order."""
    out = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = _nbgrader(cell)
        gid = meta.get("grade_id")
        if meta.get("solution") is True and isinstance(gid, str) and gid.startswith(f"{exercise_id}-"):
            out.append(cell)
    return out


def _python_only(source: str) -> str:
    """Drop IPython-only lines (``%magic``, ``!shell``) that plain Python cannot compile."""
    lines = source.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        return ""
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            out.append(line[: len(line) - len(stripped)] + "pass  # (IPython command left out by the grader)")
        else:
            out.append(line)
    return "\n".join(out)


def answer_source(nb: dict[str, Any], exercise_id: str) -> str:
    """The answer's code, as the grader runs it: the answer cells, joined, nothing else."""
    cells = answer_cells(nb, exercise_id)
    if not cells:
        raise NotebookError(f"no answer cell for {exercise_id} (a code cell with nbgrader metadata "
                            f"solution=true and grade_id {exercise_id}-...)")
    return "\n\n".join(_python_only(cell_source(c)) for c in cells)


def clear_solutions(source: str, code: bool = True) -> tuple[str, bool]:
    """nbgrader's ClearSolutions on one cell: each solution region becomes the stub.

    Returns the new source and whether a region was found.  The stub takes the
    indentation of its ``### BEGIN SOLUTION`` line.
    """
    stub = (CODE_STUB if code else TEXT_STUB).split("\n")
    out: list[str] = []
    inside = False
    found = False
    for line in source.split("\n"):
        if line.strip() == BEGIN_SOLUTION:
            if inside:
                raise ValueError("nested BEGIN SOLUTION")
            inside = found = True
            indent = line[: line.find(BEGIN_SOLUTION)]
            out += [indent + s for s in stub]
        elif line.strip() == END_SOLUTION:
            if not inside:
                raise ValueError("END SOLUTION without BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out), found


def clear_hidden_tests(source: str) -> tuple[str, bool]:
    """nbgrader's ClearHiddenTests: drop each hidden-tests region, markers included."""
    out: list[str] = []
    inside = False
    found = False
    for line in source.split("\n"):
        if line.strip() == BEGIN_HIDDEN:
            inside = found = True
        elif line.strip() == END_HIDDEN:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("BEGIN HIDDEN TESTS without END HIDDEN TESTS")
    return "\n".join(out), found

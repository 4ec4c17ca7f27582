"""Read notebooks as data: find the answer cells, strip solutions -- never execute.

Cells follow nbgrader's conventions (``metadata.nbgrader``, schema 3): an
answer cell has ``"solution": true`` and a ``grade_id`` such as
``"ex08-answer"``; solution regions inside it are delimited by
``### BEGIN SOLUTION`` / ``### END SOLUTION``; instructor-only test regions by
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``.

It also holds the one rule for what an answer may import (:func:`import_problem`),
which the grader and the notebook's self-check both apply to the same code --
:func:`cells_code` of the answer cell(s) -- before anything runs: the Python
standard library, and the few ``consensus_lab`` modules the grader's sandbox
holds (``ANSWER_MODULES``).  Everything else -- numpy, the rest of
``consensus_lab`` -- is not there when the grader runs the answer, so it is
refused in both places with the same message, even when the import is unused.
"""

from __future__ import annotations

import ast
import json
import sys
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
    "cells_code",
    "import_problem",
    "IMPORT_RULE",
    "ANSWER_MODULES",
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


def cells_code(sources: list[str]) -> str:
    """The code the grader runs for these cell sources: IPython-only lines left out, joined."""
    return "\n\n".join(_python_only(s) for s in sources)


def answer_source(nb: dict[str, Any], exercise_id: str) -> str:
    """The answer's code, as the grader runs it: the answer cells, joined, nothing else."""
    cells = answer_cells(nb, exercise_id)
    if not cells:
        raise NotebookError(f"no answer cell for {exercise_id} (a code cell with nbgrader metadata "
                            f"solution=true and grade_id {exercise_id}-...)")
    return cells_code([cell_source(c) for c in cells])


# --- what an answer may import ---------------------------------------------------------------

#: The consensus_lab modules (and packages, with everything under them) that the grader's
#: sandbox holds besides the standard library; ``{ex}`` is the exercise's id.
ANSWER_MODULES = ("consensus_lab.sim", "consensus_lab.history", "consensus_lab.testing",
                  "consensus_lab.grading.exercises.{ex}")
#: Standard-library modules an answer may not use: they would only import other code at run
#: time, where this rule cannot see it (and the sandbox would refuse most of it anyway).
_REFUSED_STDLIB = frozenset({"importlib", "runpy", "pkgutil", "zipimport", "site", "ensurepip", "venv"})
IMPORT_RULE = ("an answer may import only the Python standard library and "
               "consensus_lab.sim, consensus_lab.history, consensus_lab.testing and this exercise's "
               "module (the set-up cell's names are already there); other packages -- numpy and the "
               "rest of consensus_lab included -- are not available to the grader, so the answer "
               "earns no points, even when the import is unused")


def _allowed(module: str, exercise_id: str) -> bool:
    top = module.split(".")[0]
    if top != "consensus_lab":
        return top in sys.stdlib_module_names and top not in _REFUSED_STDLIB
    return any(module == m.format(ex=exercise_id) or module.startswith(m.format(ex=exercise_id) + ".")
               for m in ANSWER_MODULES)


def import_problem(source: str, exercise_id: str) -> str | None:
    """Why ``source`` breaks the import rule (one line naming the import and the rule), or None.

    Every ``import`` and ``from ... import`` anywhere in the code counts, used or not, and
    so does a call of ``__import__``.  Code that does not compile is not judged here (it
    fails when it is loaded, in the self-check and the grader alike).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
            text = "import " + ", ".join(names)
        elif isinstance(node, ast.ImportFrom):
            text = f"from {'.' * node.level}{node.module or ''} import {', '.join(a.name for a in node.names)}"
            if node.level:
                names = [text]  # a relative import: there is no package around an answer
            elif node.module == "consensus_lab" or (node.module or "").startswith("consensus_lab."):
                names = [node.module if _allowed(node.module, exercise_id) else f"{node.module}.{a.name}"
                         for a in node.names]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Name) and node.id == "__import__":
            return (f"{exercise_id}: line {node.lineno} uses __import__ -- {IMPORT_RULE}; "
                    "use plain import statements")
        else:
            continue
        bad = [n for n in names if not n or n.startswith("from .") or not _allowed(n, exercise_id)]
        if bad:
            return f"{exercise_id}: line {node.lineno} `{text}` is refused -- {IMPORT_RULE}"
    return None


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

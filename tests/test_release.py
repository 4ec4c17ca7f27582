"""`consensus-lab release`: exercises/ is exactly the release of solutions/, stubs as nbgrader makes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensus_lab.cli import main
from consensus_lab.grading import registry
from consensus_lab.grading.extract import (
    answer_source,
    clear_hidden_tests,
    clear_solutions,
    read_notebook,
)
from consensus_lab.grading.release import ReleaseError, release, student_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


def test_exercises_are_exactly_the_release_of_solutions(tmp_path):
    out = tmp_path / "exercises"
    written = release(SOLUTIONS, out)
    assert sorted(p.name for p in written) == sorted(p.name for p in EXERCISES.glob("*.ipynb"))
    for path in written:
        assert path.read_bytes() == (EXERCISES / path.name).read_bytes(), (
            f"{path.name} is out of date: run `consensus-lab release solutions exercises`")
    assert {p.name for p in EXERCISES.iterdir()} == {p.name for p in written}


def test_every_exercise_has_a_solution_notebook_with_nbgrader_cells():
    names = {p.name for p in SOLUTIONS.glob("*.ipynb")}
    assert len(names) >= 9
    for spec in registry.all_specs():
        assert spec.notebook in names
        nb = read_notebook(SOLUTIONS / spec.notebook)
        assert nb["metadata"]["consensus_lab"]["exercise"] == spec.id
        graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert len(graded) == 1
        assert graded[0]["metadata"]["nbgrader"]["points"] == sum(c.points for c in spec.visible_checks())
        assert graded[0]["metadata"]["nbgrader"]["locked"] is True
        assert "### BEGIN SOLUTION" in answer_source(nb, spec.id)


def test_exercise_notebooks_hold_stubs_and_no_solutions_or_instructor_notes():
    for spec in registry.all_specs():
        text = (EXERCISES / spec.notebook).read_text()
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        assert "Instructor notes" not in text and "instructor_only" not in text
        nb = read_notebook(EXERCISES / spec.notebook)
        src = answer_source(nb, spec.id)
        assert "# YOUR CODE HERE\n" in src and "raise NotImplementedError()" in src
        selfcheck = [c for c in nb["cells"] if c["metadata"].get("consensus_lab", {}).get("stub_output") == "selfcheck"]
        assert "not implemented yet" in "".join(selfcheck[0]["outputs"][0]["text"])
        for cell in nb["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                assert cell["outputs"] == [] and cell["metadata"]["deletable"] is False
            if cell["metadata"].get("nbgrader", {}).get("locked"):
                assert cell["metadata"]["editable"] is False


def test_clear_solutions_follows_nbgrader():
    src = "def f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ny = 1\n"
    out, found = clear_solutions(src)
    assert found
    assert out == "def f(x):\n    \"\"\"doc\"\"\"\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\ny = 1\n"
    assert clear_solutions("no markers")[1] is False
    assert clear_solutions("### BEGIN SOLUTION\nsecret\n### END SOLUTION", code=False)[0] == "YOUR ANSWER HERE"
    with pytest.raises(ValueError):
        clear_solutions("### BEGIN SOLUTION\nx = 1\n")
    with pytest.raises(ValueError):
        clear_solutions("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION")
    out, found = clear_hidden_tests("assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 2\n### END HIDDEN TESTS\n")
    assert found and out == "assert f(1) == 1\n"


def _nb(*cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def _code(src, **nbgrader):
    meta = {"nbgrader": {"schema_version": 3, **nbgrader}} if nbgrader else {}
    return {"cell_type": "code", "metadata": meta, "source": src, "outputs": [{"output_type": "stream",
            "name": "stdout", "text": "secret output\n"}], "execution_count": 3}


def test_release_drops_hidden_material_and_refuses_stray_solutions():
    nb = _nb(
        _code("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION", solution=True, grade_id="ex01-answer"),
        _code("assert x\n### BEGIN HIDDEN TESTS\nassert x == 2\n### END HIDDEN TESTS", grade=True, points=1,
              grade_id="ex01-t", locked=True),
        _code("whole = 'solution'", solution=True, grade_id="ex01-other"),
    )
    out = student_notebook(nb)
    assert len(out["cells"]) == 3
    assert "".join(out["cells"][0]["source"]) == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None
    assert "".join(out["cells"][1]["source"]) == "assert x"
    assert "".join(out["cells"][2]["source"]) == "# YOUR CODE HERE\nraise NotImplementedError()"
    with pytest.raises(ReleaseError, match="not a solution cell"):
        student_notebook(_nb(_code("### BEGIN SOLUTION\nx\n### END SOLUTION")))
    # nbgrader generate_assignment drops no cells: an instructor-only cell would reach students
    for meta in ({"tags": ["instructor-only"]}, {"consensus_lab": {"instructor_only": True}}):
        with pytest.raises(ReleaseError, match="INSTRUCTOR_NOTES.md"):
            student_notebook(_nb({"cell_type": "markdown", "metadata": meta, "source": "the answer is 2"}))


def test_release_removes_stale_notebooks_and_cli_contract(tmp_path, capsys):
    out = tmp_path / "ex"
    out.mkdir()
    (out / "old_exercise.ipynb").write_text("{}")
    (out / "notes.txt").write_text("kept")
    assert main(["release", str(SOLUTIONS), str(out)]) == 0
    assert not (out / "old_exercise.ipynb").exists() and (out / "notes.txt").exists()
    assert len(list(out.glob("*.ipynb"))) == len(list(SOLUTIONS.glob("*.ipynb")))
    capsys.readouterr()
    assert main(["release", str(tmp_path / "missing"), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("consensus-lab: error:") and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.ipynb").write_text("not json")
    assert main(["release", str(bad), str(tmp_path / "o")]) == 2
    assert "not a notebook" in capsys.readouterr().err


def test_notebooks_are_valid_nbformat():
    import nbformat
    for path in list(SOLUTIONS.glob("*.ipynb")) + list(EXERCISES.glob("*.ipynb")):
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))
        json.loads(path.read_text())

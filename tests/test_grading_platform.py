"""One rule, one scale, real nbgrader, a rehearsed Gradescope bundle and a Binder environment.

* the notebook's self-check and the grader give the same visible verdict on the same answer
  cell -- a correct one, one with an unused ``import numpy`` (refused in both places, with the
  same message naming the rule) and one whose nodes cheat through a shared global;
* the self-check shows the grader's visible points and announces the hidden ones; nbgrader's
  graded cells carry the visible points; Gradescope's ``results.json`` hides hidden checks
  (and so the total) until the due date and follows Gradescope's documented format;
* real ``nbgrader generate_assignment`` on two exercises gives what ``exercises/`` holds;
* Gradescope's directories in a scratch root: ``setup.sh`` builds a fresh venv from the
  bundle, ``run_autograder`` grades a submission there;
* ``binder/requirements.txt`` installs into a fresh venv and a lesson runs in it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from test_grader_hostile import SHARED_GLOBAL

from consensus_lab.grading import registry
from consensus_lab.grading.checks import Check
from consensus_lab.grading.extract import IMPORT_RULE, answer_source, import_problem, read_notebook
from consensus_lab.grading.grader import Submission, grade_submission
from consensus_lab.grading.release import visible_points, with_answer, write_notebook
from consensus_lab.grading.sandbox import Limits, detect_isolation
from consensus_lab.grading.selfcheck import (
    HIDDEN_POINTS,
    format_report,
    replay,
    run_checks,
    scale_problems,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS, EXERCISES, HIDDEN = ROOT / "solutions", ROOT / "exercises", ROOT / "tests" / "data" / "hidden"
BIN = Path(sys.executable).parent


def solution(ex: str) -> str:
    return answer_source(read_notebook(SOLUTIONS / registry.get(ex).notebook), ex)


def submitted(tmp_path: Path, ex: str, source: str) -> Path:
    spec = registry.get(ex)
    path = tmp_path / f"{ex}-{abs(hash(source))}" / spec.notebook
    path.parent.mkdir(parents=True, exist_ok=True)
    write_notebook(with_answer(read_notebook(EXERCISES / spec.notebook), ex, source), path)
    return path


def grader_visible(tmp_path: Path, ex: str, source: str):
    """The grader's verdict on the visible checks (no hidden checks given)."""
    sub = Submission("student", ex, submitted(tmp_path, ex, source))
    return grade_submission(sub, {}, timeout=120, limits=Limits(), isolation=detect_isolation())


# --- item 4: one rule for imports and isolation -------------------------------------------------


ANSWERS = {
    "correct": ("ex01", lambda: solution("ex01")),
    "unused numpy": ("ex01", lambda: "import numpy\n" + solution("ex01")),
    "numpy inside a function": ("ex08", lambda: solution("ex08").replace(
        "    def on_start(self, ctx):", "    def on_start(self, ctx):\n        import numpy as np", 1)),
    "the rest of consensus_lab": ("ex03", lambda: "from consensus_lab.partitioning import ConsistentHash\n"
                                  + solution("ex03")),
    "nodes share a global": ("ex08", lambda: SHARED_GLOBAL),
}


@pytest.mark.parametrize("case", sorted(ANSWERS))
def test_selfcheck_and_grader_agree_on_the_same_answer_cell(case, tmp_path):
    ex, make = ANSWERS[case]
    source = make()
    mine = run_checks(ex, source=source)
    theirs = grader_visible(tmp_path, ex, source)
    assert mine.points == theirs.points and mine.max_points == theirs.max_points == visible_points(ex)
    assert [r.passed for r in mine.results] == [c["passed"] for c in theirs.checks]
    problem = import_problem(source, ex)
    if case == "correct":
        assert mine.passed and problem is None
    elif case == "nodes share a global":
        # in one process the trick works; the self-check, like the grader, gives every node its own
        assert problem is None and mine.points == 0
    else:
        assert problem is not None and IMPORT_RULE in problem
        assert mine.points == 0 and all(r.message == problem for r in mine.results)
        assert {c["message"] for c in theirs.checks} == {problem} and theirs.status == "error"
        assert IMPORT_RULE in " ".join(format_report(mine).split())  # the report wraps long lines


def test_every_brief_states_the_import_rule():
    for spec in registry.all_specs():
        text = "".join("".join(c["source"]) for c in read_notebook(EXERCISES / spec.notebook)["cells"]
                       if c["cell_type"] == "markdown")
        assert "What your answer may import" in text and "numpy" in text, spec.id
        assert f"consensus_lab.grading.exercises.{spec.id}" in text


def test_the_sandbox_holds_exactly_what_the_rule_allows():
    from consensus_lab.grading.sandbox import package_copy

    for ex in ("ex01", "ex08"):
        base = package_copy(ex)
        mods = {".".join(p.relative_to(base).with_suffix("").parts) for p in base.rglob("*.py")}
        allowed = {m for m in mods if import_problem(f"import {m}", ex) is None}
        assert {"consensus_lab.sim", "consensus_lab.history", "consensus_lab.testing",
                f"consensus_lab.grading.exercises.{ex}"} <= {m.removesuffix(".__init__") for m in allowed}
        # whatever the rule refuses of the copy is the grader's own plumbing, not for answers
        assert {m for m in mods - allowed} <= {"consensus_lab.__init__", "consensus_lab.grading.__init__",
                                               "consensus_lab.grading.codec", "consensus_lab.grading.worker",
                                               "consensus_lab.grading.exercises.__init__"}


@pytest.mark.parametrize("tail", ["", "\n\n"], ids=["as-released", "trailing-blank-lines"])
def test_the_notebook_selfcheck_finds_the_answer_cell_in_a_kernel(tmp_path, tail):
    """A real kernel: the self-check judges the code of the cell that defined the answer.

    The kernel's history keeps a cell without its trailing newlines while the cell's code is named after
    the cell as run, so an answer cell that ends in blank lines (Enter pressed at the end) must be found too.
    """
    import nbclient
    import nbformat

    ex = "ex01"
    source = "import numpy\n" + solution(ex).rstrip("\n") + tail
    path = submitted(tmp_path, ex, source)
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    selfcheck_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{ex}-selfcheck")
    printed = "".join(o.get("text", "") for o in selfcheck_cell.outputs)
    assert printed == format_report(run_checks(ex, source=source)) + "\n"
    assert "`import numpy` is refused" in " ".join(printed.split()) and f"0/{visible_points(ex)} points" in printed
    assert grader_visible(tmp_path, ex, source).points == 0


# --- item 5: one scale ----------------------------------------------------------------------------


def test_the_selfcheck_shows_the_graders_visible_points_and_announces_the_hidden_ones():
    hidden = registry.load_hidden(HIDDEN)
    # the worked example of hidden checks is worth what the notebooks announce, for every exercise
    assert set(hidden) == set(registry.EXERCISE_IDS) and scale_problems(hidden) == []
    heavier = {**hidden, "ex08": [*hidden["ex08"], Check("one more", 1, hidden=True)]}
    assert scale_problems(heavier) == [
        f"the hidden checks of ex08 are worth {HIDDEN_POINTS['ex08'] + 1} points but the notebooks announce "
        f"{HIDDEN_POINTS['ex08']} (HIDDEN_POINTS in consensus_lab/grading/selfcheck.py)"]
    report = run_checks("ex01", source=solution("ex01"))
    text = format_report(report)
    assert f"{visible_points('ex01')}/{visible_points('ex01')} points" in text.splitlines()[0]
    assert f"+ {HIDDEN_POINTS['ex01']} hidden points graded by your instructor" in text
    for r, c in zip(report.results, registry.get("ex01").visible_checks(), strict=True):
        assert f"({r.points}/{c.points})" in text


def test_release_refuses_a_brief_that_states_other_points():
    from consensus_lab.grading.release import ReleaseError, student_notebook

    ok = visible_points("ex08")
    for text in (f"the visible checks ({ok + 2} points)", f"when the self-check says {ok + 1}/{ok + 1}, you are done"):
        nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"consensus_lab": {"exercise": "ex08"}},
              "cells": [{"cell_type": "markdown", "metadata": {}, "source": text}]}
        with pytest.raises(ReleaseError, match=f"worth {ok} points"):
            student_notebook(nb, "ex08.ipynb")
        nb["cells"][0]["source"] = text.replace(str(ok + 2), str(ok)).replace(str(ok + 1), str(ok))
        assert student_notebook(nb, "ex08.ipynb")["cells"][0]["source"]


def test_gradescope_results_split_an_unrun_submission_into_visible_and_hidden_points():
    from consensus_lab.grading.grader import GradeResult, gradescope_results

    total = visible_points("ex06") + HIDDEN_POINTS["ex06"]
    data = gradescope_results([GradeResult("s", "ex06", 0, total, "missing", 0.0, "no notebook for ex06")])
    check_gradescope_results(data, HIDDEN_POINTS["ex06"])
    assert [(t["max_score"], t["visibility"]) for t in data["tests"]] == [
        (visible_points("ex06"), "visible"), (HIDDEN_POINTS["ex06"], "after_due_date")]


def test_replay_applies_the_import_rule_too(capsys):
    assert replay("ex08", source="import numpy\n" + solution("ex08"), check=1) is None
    assert "`import numpy` is refused" in " ".join(capsys.readouterr().out.split())


def test_nbgrader_graded_cells_carry_the_visible_points():
    for folder in (SOLUTIONS, EXERCISES):
        for spec in registry.all_specs():
            graded = [c["metadata"]["nbgrader"] for c in read_notebook(folder / spec.notebook)["cells"]
                      if c["metadata"].get("nbgrader", {}).get("grade")]
            assert sum(g["points"] for g in graded) == visible_points(spec.id), (folder.name, spec.id)


# Gradescope's results.json, as its autograder specification documents it
# (gradescope-autograders.readthedocs.io/en/latest/specs/, "Output format").
_VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "score": {"type": "number"}, "max_score": {"type": "number"},
                "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                "number": {"type": "string"}, "output": {"type": "string"},
                "output_format": _FORMAT, "name_format": _FORMAT,
                "tags": {"type": "array", "items": {"type": "string"}},
                "visibility": _VISIBILITY, "extra_data": {"type": "object"},
            },
            "additionalProperties": False,
        }},
        "leaderboard": {"type": "array"},
    },
    "additionalProperties": False,
    # "score: optional, but required if not on each test case"
    "anyOf": [{"required": ["score"]},
              {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}}],
}


def check_gradescope_results(data: dict, hidden_points: int) -> None:
    import jsonschema

    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    # no top-level score: it would override the tests' total; Gradescope keeps the total from
    # students while any test is not yet visible, so hidden points stay hidden until the due date
    assert "score" not in data
    later = [t for t in data["tests"] if t["visibility"] == "after_due_date"]
    assert sum(t["max_score"] for t in later) == hidden_points
    assert f"Hidden checks worth {hidden_points} points" in data["output"]
    assert all(t["visibility"] in ("visible", "after_due_date") for t in data["tests"])


# --- item 9: the Gradescope bundle, rehearsed in Gradescope's own directory layout ---------------


def test_a_bundle_whose_hidden_checks_break_the_announced_scale_is_refused(tmp_path, capsys):
    from consensus_lab.grading.gradescope import make_bundle

    hidden = tmp_path / "hidden"
    shutil.copytree(HIDDEN, hidden)
    data = json.loads((hidden / "ex08.json").read_text())
    data["checks"][0]["points"] += 1
    (hidden / "ex08.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="hidden checks of ex08 are worth"):
        make_bundle(tmp_path / "a.zip", hidden)
    assert not (tmp_path / "a.zip").exists()
    # consensus-lab grade still grades with them, and warns
    from consensus_lab.cli import main

    (tmp_path / "subs").mkdir()
    assert main(["grade", str(tmp_path / "subs"), "--hidden", str(hidden), "--out", str(tmp_path / "g.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning: the hidden checks of ex08 are worth" in err and "ex01" not in err


def test_gradescope_bundle_in_a_scratch_autograder_root(tmp_path):
    from consensus_lab.grading.gradescope import make_bundle

    start = time.monotonic()
    bundle = make_bundle(tmp_path / "autograder.zip", HIDDEN)
    ag = tmp_path / "autograder"  # Gradescope: /autograder/{source,submission,results}
    for d in ("source", "submission", "results"):
        (ag / d).mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(ag / "source")
    for name in ("setup.sh", "run_autograder"):
        (ag / "source" / name).chmod(0o755)
    shutil.copy2(ag / "source" / "run_autograder", ag / "run_autograder")  # where Gradescope puts it
    spec = registry.get("ex05")
    ok, bad = registry.get("ex01"), spec
    write_notebook(with_answer(read_notebook(EXERCISES / ok.notebook), "ex01", solution("ex01")),
                   ag / "submission" / ok.notebook)
    write_notebook(with_answer(read_notebook(EXERCISES / bad.notebook), "ex05", "import numpy\n" + solution("ex05")),
                   ag / "submission" / bad.notebook)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != BIN)
    env.update(CONSENSUS_LAB_AUTOGRADER_ROOT=str(ag), CONSENSUS_LAB_AUTOGRADER_VENV=str(tmp_path / "venv"))
    setup = subprocess.run(["bash", str(ag / "source" / "setup.sh")], cwd=ag, env=env, capture_output=True,
                           text=True, timeout=900)
    assert setup.returncode == 0, setup.stderr[-2000:]
    assert (tmp_path / "venv" / "bin" / "consensus-lab").exists()
    run = subprocess.run([str(ag / "run_autograder")], cwd=ag, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads((ag / "results" / "results.json").read_text())
    check_gradescope_results(data, HIDDEN_POINTS["ex01"] + HIDDEN_POINTS["ex05"])
    by_name = {t["name"]: t for t in data["tests"]}
    assert all(t["score"] == t["max_score"] for n, t in by_name.items() if n.startswith("ex01:"))
    ex05 = [t for n, t in by_name.items() if n.startswith("ex05:")]
    assert ex05 and all(t["score"] == 0 and "`import numpy` is refused" in t["output"] for t in ex05)
    print(f"gradescope rehearsal: {time.monotonic() - start:.0f} s")


# --- item 8: nbgrader, for real ---------------------------------------------------------------------


def _comparable(cell: dict) -> dict:
    meta = json.loads(json.dumps(cell["metadata"]))
    for key in ("checksum", "cell_type"):  # nbgrader's own bookkeeping
        meta.get("nbgrader", {}).pop(key, None)
    meta.pop("execution", None)
    return {"cell_type": cell["cell_type"], "source": "".join(cell["source"]), "metadata": meta}


def test_nbgrader_generate_assignment_gives_what_exercises_holds(tmp_path):
    nbgrader = BIN / "nbgrader"
    assert nbgrader.exists(), "nbgrader is part of the dev extra: pip install -e '.[dev]'"
    course = tmp_path / "course"
    exercises = ("ex03", "ex08")
    for ex in exercises:
        (course / "source" / ex).mkdir(parents=True)
        shutil.copy2(SOLUTIONS / registry.get(ex).notebook, course / "source" / ex)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # nbgrader runs alembic
    for ex in exercises:
        done = subprocess.run([str(nbgrader), "generate_assignment", ex, f"--CourseDirectory.root={course}",
                               "--force"], cwd=course, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        name = registry.get(ex).notebook
        theirs = read_notebook(course / "release" / ex / name)
        ours = read_notebook(EXERCISES / name)
        assert [_comparable(c) for c in theirs["cells"]] == [_comparable(c) for c in ours["cells"]], ex
        text = json.dumps(theirs)
        assert "Instructor notes" not in text and "### BEGIN SOLUTION" not in text
        assert sorted(p.name for p in (course / "release" / ex).iterdir()) == [name]


# --- item 9: a Binder / JupyterHub environment, built from scratch ----------------------------------


@pytest.mark.slow
def test_binder_environment_builds_from_scratch_and_runs_a_lesson(tmp_path):
    """What repo2docker does with binder/: pip install -r binder/requirements.txt at the repository
    root, in a fresh Python; then a lesson runs top to bottom in that environment."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for rel in ("pyproject.toml", "README.md", "binder", "consensus_lab"):
        src = ROOT / rel
        (shutil.copytree if src.is_dir() else shutil.copy2)(
            src, repo / rel, **({"ignore": shutil.ignore_patterns("__pycache__")} if src.is_dir() else {}))
    (repo / "notebooks").mkdir()
    lesson = "00_how_we_watch.ipynb"
    shutil.copy2(ROOT / "notebooks" / lesson, repo / "notebooks" / lesson)
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable if hasattr(sys, "_base_executable") else sys.executable, "-m", "venv",
                    str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
                          "binder/requirements.txt"], cwd=repo, capture_output=True, text=True, timeout=1200)
    assert pip.returncode == 0, pip.stderr[-2000:]
    run = subprocess.run([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                          "--output", str(tmp_path / "out.ipynb"), f"notebooks/{lesson}"],
                         cwd=repo, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    out = read_notebook(tmp_path / "out.ipynb")
    assert not [o for c in out["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


@pytest.mark.parametrize("why", ["the sandbox does not start", "not Linux"])
def test_without_the_sandbox_the_selfcheck_still_runs_fresh_code_per_node(why, monkeypatch):
    """Where the grader's sandbox cannot start (not Linux, no unshare...), nodes still share
    nothing, and the report says where the answer ran."""
    import consensus_lab.grading.sandbox as sandbox

    class NoSandbox(sandbox.SandboxHost):
        def spawn(self):
            raise sandbox.SandboxError("no sandbox on this machine")

    if why == "not Linux":
        monkeypatch.setattr(sys, "platform", "darwin")
    else:
        monkeypatch.setattr(sandbox, "SandboxHost", NoSandbox)
    cheat = run_checks("ex08", source=SHARED_GLOBAL)
    assert cheat.points == 0 and "grader's sandbox cannot start" in " ".join(format_report(cheat).split())
    assert run_checks("ex08", source=solution("ex08")).passed

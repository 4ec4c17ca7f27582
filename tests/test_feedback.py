"""Feedback that points: the events around a failure, a hint by the kind of failure, full text,
partial credit per seed, and the instructor's replay of any check (hidden ones too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mutants import HIDDEN, MUTANTS, grade, source

from consensus_lab.grading import registry
from consensus_lab.grading.checks import WINDOW
from consensus_lab.grading.extract import read_notebook
from consensus_lab.grading.feedback import PARTIAL_CREDIT, feedback_text
from consensus_lab.grading.grader import GradeResult, gradescope_results
from consensus_lab.grading.release import with_answer, write_notebook

ROOT = Path(__file__).resolve().parents[1]


def mutant(mid: str):
    return next(m for m in MUTANTS if m.id == mid)


def test_a_node_failure_shows_a_window_of_events_ending_where_it_broke_and_the_hint_for_that_kind():
    m = mutant("ex06-revote-on-duplicate")
    _, _, results = grade(m.exercise, m.edits)
    failed = [r for r in results if not r.passed]
    assert failed and all(r.kind == "outcomes are final" for r in failed)
    spec = registry.get("ex06")
    assert {r.hint for r in failed} == {spec.hints["outcomes are final"]}  # by kind, not by check
    r = failed[0]
    events = [e for e in r.evidence if e.startswith("#")]
    assert 1 <= len(events) <= WINDOW
    assert "Prepare(txid=" in "\n".join(events[-3:])  # the duplicate Prepare that did it
    assert "where it broke" in r.evidence[-1]


def test_a_history_failure_marks_the_offending_event_instead_of_dumping_the_history():
    m = mutant("ex02-mr-none-allowed")
    _, _, results = grade(m.exercise, m.edits, stop_at_loss=True)
    r = results[-1]
    marked = [e for e in r.evidence if e.endswith("<== here")]
    assert len(marked) == 1 and "read" in marked[0]
    assert len(r.evidence) <= 17 and r.kind.startswith("monotonic_reads")


def test_partial_credit_is_proportional_to_the_seeds_that_pass():
    seen_partial = False
    for mid in ("ex06-revote-on-duplicate", "ex08-vote-twice", "ex04-no-read-repair"):
        m = mutant(mid)
        _, _, results = grade(m.exercise, m.edits)
        for r in results:
            assert r.points == r.max_points * r.runs_passed // max(1, r.runs) or r.passed
            seen_partial |= 0 < r.points < r.max_points
    assert seen_partial


def test_feedback_and_gradescope_keep_the_whole_story():
    m = mutant("ex01-reads-unchecked")
    points, most, results = grade(m.exercise, m.edits)
    gr = GradeResult("alice", "ex01", points, most, "graded", 0.1, "", [r.to_dict() for r in results])
    text = feedback_text("alice", [gr])
    assert "what led to it:" in text and "<== here" in text and PARTIAL_CREDIT in text
    assert "hidden check: your instructor can replay it" in text and "replay('ex01', is_linearizable, check=1)" in text
    out = gradescope_results([gr])["tests"]
    failing = [t for t in out if t["score"] < t["max_score"]]
    assert failing and all("<== here" in t["output"] or "what led to it" in t["output"] for t in failing)
    longest = max(len(r.message) + sum(map(len, r.evidence)) for r in results)
    assert max(len(t["output"]) for t in failing) >= longest  # nothing cut


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("subs")
    (root / "alice").mkdir()
    spec = registry.get("ex06")
    nb = read_notebook(ROOT / "exercises" / spec.notebook)
    write_notebook(with_answer(nb, "ex06", source("ex06", mutant("ex06-no-resend-after-restart").edits)),
                   root / "alice" / spec.notebook)
    return root


def cli(*args):
    return subprocess.run([sys.executable, "-m", "consensus_lab.cli", "grade", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_the_instructor_replays_a_hidden_check_for_one_student_with_a_picture(submissions, tmp_path):
    png = tmp_path / "r.png"
    r = cli(submissions, "--replay", "alice", "ex06", "crash-heavy, short client deadlines", "--hidden", HIDDEN,
            "--seed", 104, "--plot", png)
    assert r.returncode == 1, r.stderr
    assert "hidden" in r.stdout and "seed 104: fail" in r.stdout
    assert "a restarted coordinator re-sends its decisions" in r.stdout and "what led to it:" in r.stdout
    assert png.stat().st_size > 10_000


def test_replay_refuses_bad_input_in_one_line(submissions):
    r = cli(submissions, "--replay", "alice", "ex06", "99")
    assert r.returncode == 2 and "no check '99'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli(submissions, "--replay", "bob", "ex06", "1")
    assert r.returncode == 2 and "no ex06 notebook of student 'bob'" in r.stderr
    r = cli(submissions)
    assert r.returncode == 2 and "--out" in r.stderr


def test_every_hidden_check_names_what_it_stresses():
    hidden = registry.load_hidden(HIDDEN)
    assert all(c.stresses for checks in hidden.values() for c in checks)

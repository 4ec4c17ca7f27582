"""The exercises added for lessons 00, 08, 10 and 11 (issue 18): each one's answers, bugs and mutants.

For every new exercise, ``tests/data/answers/`` holds

* ``exNN_student.py`` -- an answer written from the brief alone, without the reference: it must
  earn every visible and hidden point (the worked example of hidden checks);
* ``exNN_blind.py`` (some exercises) -- the same, written by someone who never saw the reference;
* ``exNN_bug_*.py`` -- realistic wrong answers: each loses points, and the feedback names the rule
  and the moment (or the input) that shows the mistake.

``MUTANTS`` are single edits of the reference solution that are real bugs; the mutation score (how
many the visible and hidden checks kill) is what the grading issue measures.  Graded through the
instructor's sandbox in ``test_new_exercises_in_the_grader``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from mutants import MUTANTS as TABLE
from test_exercises_checks import answer
from test_grader import HIDDEN, solution_source, submit

from consensus_lab.grading import registry
from consensus_lab.grading.registry import load_hidden
from consensus_lab.grading.selfcheck import format_report, run_checks
from consensus_lab.testing import stress_mode

ROOT = Path(__file__).resolve().parents[1]
ANSWERS = ROOT / "tests" / "data" / "answers"
NEW = ("ex00", "ex10", "ex11", "ex12", "ex13", "ex14", "ex15", "ex16", "ex17")

#: buggy answer file -> the words its feedback must contain (the rule broken, and where)
BUGS = {
    "ex00_bug_volatile_retries.py": ("agreement", "crash", "restarts: n1 at t="),
    "ex00_bug_append_duplicates.py": ("no duplicates", "twice", "t="),
    "ex00_bug_ack_before_store.py": ("durability", "before delivering", "t="),
    "ex10_bug_product_formula.py": ("expected", "that is p ** n", "outside it"),
    "ex10_bug_racks_as_independent.py": ("p_majority_racks", "outside it -- too optimistic"),
    "ex10_bug_half_is_enough.py": ("p_majority(4,", "expected"),
    "ex11_bug_trust_the_lease.py": ("fencing", "token", "t="),
    "ex11_bug_volatile_highest.py": ("fencing", "after it had accepted token", "t="),
    "ex11_bug_no_verdict_memory.py": ("verdicts are final", "t="),
    "ex12_bug_no_dedup.py": ("exactly once", "ran twice", "t="),
    "ex12_bug_leader_only_dedup.py": ("answers agree with the log", "ran twice", "t="),
    "ex13_bug_leader_reads_locally.py": ("linearizability", "not linearizable"),
    "ex13_bug_no_noop_wait.py": ("linearizability", "not linearizable"),
    "ex14_bug_gateway_in_rid.py": ("one request id per operation", "same operation went out as request", "t="),
    "ex14_bug_timeout_is_failure.py": ("Fail only once cancelled", "answered Fail", "t="),
    "ex15_bug_dfs.py": ("a shortest one has", "distinct states within it", "fewer"),
    "ex15_bug_one_level_too_far.py": ("beyond the bound depth=", "off by one at the bound"),
    "ex15_bug_schedules_not_states.py": ("counted twice",),
    "ex14_bug_verdicts_in_memory.py": ("exactly once", "a second time", "verdicts are final", "t="),
    "ex16_bug_data_only_snapshot.py": ("replicas agree on every snapshot", "installed a snapshot at index", "t="),
    "ex16_bug_installs_stale_snapshot.py": ("snapshots never go back", "older than what it had", "t="),
    "ex16_bug_snapshot_before_apply.py": ("replicas agree on every snapshot", "is the state not the one after entry",
                                          "t="),
    "ex17_bug_commit_on_votes.py": ("act only on a logged decision", "answered the client", "t="),
    "ex17_bug_vote_on_receipt.py": ("a vote is a logged promise", "voted yes on", "t="),
    "ex17_bug_read_uncommitted.py": ("per-key linearizability", "not linearizable", "uncommitted"),
}

#: single edits of the reference that are real bugs: the new exercises' rows of tests/mutants.py
MUTANTS = {ex: [list(m.edits) for m in TABLE if m.exercise == ex] for ex in NEW}


def _present(exercise: str) -> bool:
    return exercise in registry.EXERCISE_IDS


#: a buggy answer that replaces or extends one class of a whole answer is graded behind that answer
BEHIND = {"ex11_bug_": "ex11_student.py", "ex12_bug_leader_only_dedup.py": "ex12_bug_no_dedup.py",
          "ex13_bug_": "ex13_student.py", "ex14_bug_": "ex14_student.py", "ex16_bug_": "ex16_student.py",
          "ex17_bug_": "ex17_student.py"}


def source_of(path: Path) -> str:
    """The answer cell a buggy answer stands for (the whole answer it patches, then its own classes)."""
    base = next((b for prefix, b in BEHIND.items() if path.name.startswith(prefix)), None)
    return (source_of(ANSWERS / base) + "\n\n" if base else "") + path.read_text()


def load(path: Path, exercise: str) -> list:
    spec = registry.get(exercise)
    scope: dict = {}
    exec(spec.module.PREAMBLE + "\n" + source_of(path), scope)
    return [scope[n] for n in spec.interface]


#: exercises whose search check the bug and mutant tests leave out: their seeded checks kill every one,
#: and test_search_checks.py holds the search to the mutants it finds (seconds of search per answer)
SEARCH_TESTED_ELSEWHERE = ("ex16",)


def every_check(exercise: str, search: bool = True) -> list:
    checks = registry.get(exercise).visible_checks() + load_hidden(HIDDEN)[exercise]
    if search or exercise not in SEARCH_TESTED_ELSEWHERE:
        return checks
    return [c for c in checks if "search" not in c.params]


def _from_scratch() -> list[str]:
    """``exNN_student.py`` for every new exercise, and ``exNN_blind.py`` where one was written blind (by
    someone who never saw the reference, from the exercise notebook alone)."""
    names = [f"{e}_student.py" for e in NEW if _present(e)]
    return names + sorted(p.name for p in ANSWERS.glob("ex*_blind.py") if _present(p.name[:4]))


@pytest.mark.parametrize("name", _from_scratch())
def test_a_from_scratch_answer_earns_every_point(name):
    exercise = name[:4]
    report = run_checks(exercise, *load(ANSWERS / name, exercise), checks=every_check(exercise))
    assert report.passed, format_report(report)


@pytest.mark.parametrize("exercise", [e for e in NEW if _present(e)])
def test_the_reference_earns_every_hidden_point(exercise):
    report = run_checks(exercise, *answer(exercise), checks=load_hidden(HIDDEN)[exercise])
    assert report.passed, format_report(report)


@pytest.mark.parametrize("name", [b for b in BUGS if _present(b[:4])])
def test_buggy_answers_lose_points_with_feedback_at_the_event(name):
    exercise = name[:4]
    report = run_checks(exercise, *load(ANSWERS / name, exercise), checks=every_check(exercise, search=False))
    assert report.points < report.max_points, format_report(report)
    messages = " | ".join(r.message for r in report.results if not r.passed)
    for word in BUGS[name]:
        assert word in messages, (word, messages)


@pytest.mark.parametrize("exercise, i", [(e, i) for e in NEW if _present(e) for i in range(len(MUTANTS.get(e, ())))])
def test_mutants_of_the_reference_are_killed(exercise, i):
    report = run_checks(exercise, *answer(exercise, *MUTANTS[exercise][i]), checks=every_check(exercise, search=False))
    assert not report.passed, f"mutant {i} of {exercise} survives every check"


def _graded_in_the_sandbox(subs: Path, out: Path) -> dict:
    """Grade ``subs`` through the instructor's sandbox; the gradebook's rows by (student, exercise)."""
    from consensus_lab.grading.grader import DEFAULT_TIMEOUT, grade
    from consensus_lab.grading.sandbox import Limits

    # the grader's own default time (ex12, ex13 and ex17 take 35-45 s each with their search checks on a
    # loaded machine: 60 s ran out once), so a slow CI machine cannot turn a full mark into a timeout
    grade(subs, out=out, hidden=HIDDEN, jobs=2, timeout=DEFAULT_TIMEOUT,
          limits=Limits(call_timeout=4.0, cpu_seconds=int(DEFAULT_TIMEOUT)))
    with open(out, newline="") as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}


def test_new_exercises_in_the_grader(tmp_path):
    """The instructor's grader (sandbox, hidden checks): full marks, fewer for bugs, zero for a colluder.

    The from-scratch answers earn every point in process (test_a_from_scratch_answer_earns_every_point);
    through the sandbox they are graded under ``make stress`` (the next test), to keep ``make test`` short.
    """
    subs = tmp_path / "subs"
    expect_full = []
    for exercise in (e for e in NEW if _present(e)):
        submit(subs, "ref", exercise, solution_source(exercise))
        expect_full.append(("ref", exercise))
    bugs = [b for b in BUGS if _present(b[:4]) and b.startswith(("ex00_bug_volatile", "ex11_bug_trust",
                                                                 "ex10_bug_product", "ex14_bug_timeout",
                                                                 "ex16_bug_installs", "ex17_bug_commit"))]
    for name in bugs:
        submit(subs, name[:-3].replace("_", "-"), name[:4], source_of(ANSWERS / name))
    submit(subs, "colluder", "ex00", COLLUDER)
    submit(subs, "patcher", "ex12", PATCH_THE_JUDGE)
    submit(subs, "faker", "ex10", FAKE_PASS_EX10)
    out = tmp_path / "gradebook.csv"
    table = _graded_in_the_sandbox(subs, out)
    for key in expect_full:
        row = table[key]
        assert row["points"] == row["max_points"], row
    for name in bugs:
        row = table[(name[:-3].replace("_", "-"), name[:4])]
        assert int(row["points"]) < int(row["max_points"]), row
    assert table[("colluder", "ex00")]["points"] == "0", table[("colluder", "ex00")]
    assert table[("patcher", "ex12")]["points"] == "0" and "refused" in table[("patcher", "ex12")]["reason"]
    faker = table[("faker", "ex10")]  # prints a perfect score, answers p ** n: earns what p ** n earns
    assert int(faker["points"]) == int(table[("ex10-bug-product-formula", "ex10")]["points"]) < int(faker["max_points"])



def test_stress_from_scratch_answers_in_the_grader(tmp_path):
    """``make stress``: every from-scratch answer (``_student`` and ``_blind``) earns full marks through the
    sandbox, hidden checks included."""
    if not stress_mode():
        pytest.skip("make stress grades the from-scratch answers in the sandbox (in process: every run)")
    subs = tmp_path / "subs"
    answers = _from_scratch()
    for name in answers:
        submit(subs, name[5:-3], name[:4], (ANSWERS / name).read_text())
    out = tmp_path / "gradebook.csv"
    table = _graded_in_the_sandbox(subs, out)
    for name in answers:
        row = table[(name[5:-3], name[:4])]
        assert row["points"] == row["max_points"], row

# Nodes that "deliver" through a module-level dict instead of messages: in one process they would agree;
# in the grader every node runs in its own process, so the others never learn anything.
COLLUDER = '''
BOARD = []
class BroadcastNode(Node):
    def on_start(self, ctx):
        ctx.set_timer("sync", 0.05)
    def on_client_request(self, ctx, request):
        if request.f == "add" and request.value not in BOARD:
            BOARD.append(request.value)
            ctx.storage["delivered"] = tuple(BOARD)
        if request.f == "add":
            ctx.reply(request, Ok())
        else:
            ctx.reply(request, Ok(tuple(sorted(ctx.storage.get("delivered", ())))))
    def on_message(self, ctx, src, msg):
        pass
    def on_timer(self, ctx, name, payload):
        mine = ctx.storage.get("delivered", ())
        if len(BOARD) > len(mine):
            ctx.storage["delivered"] = mine + tuple(v for v in BOARD if v not in mine)
        ctx.set_timer("sync", 0.05)
'''


def test_the_start_page_links_every_lesson_and_exercise_and_make_lab_opens_it():
    import json
    import re

    nb = json.loads((ROOT / "START.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in nb["cells"])
    links = re.findall(r"\]\(([^)]+\.ipynb)\)", text)
    assert links and all((ROOT / link).is_file() for link in links), [x for x in links if not (ROOT / x).is_file()]
    for lesson in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"notebooks/{lesson.name}" in links, lesson.name
    for spec in registry.all_specs():
        assert f"exercises/{spec.notebook}" in links, spec.notebook
    make = (ROOT / "Makefile").read_text()
    lab = make[make.index("\nlab:"):make.index("\ntest:")]
    assert "root_dir=." in lab and "default_url=/lab/tree/START.ipynb" in lab, lab

# Reaches for the grader's judge to switch it off: refused by the import rule before it runs.
PATCH_THE_JUDGE = '''
import consensus_lab.grading.specs.ex12 as judged
judged.KVJudge.final = lambda self: None
judged.KVJudge.after_call = lambda *a, **k: None

class KVServer(RaftNode):
    def on_client_request(self, ctx, request):
        ctx.reply(request, Ok(None))
'''

# Prints the score it would like, then answers with the product formula.
FAKE_PASS_EX10 = '''
print("ex10 how likely is it to work: 7 of 7 checks passed, 16/16 points")
print(\'{"ok": true, "r": 0.5, "id": 1}\')
''' + (ANSWERS / "ex10_bug_product_formula.py").read_text()

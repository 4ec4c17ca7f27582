"""The instructor's grader, end to end: a small class, the gradebook, feedback, Gradescope, the CLI."""

from __future__ import annotations

import csv
import errno
import json
import os
import sys
from pathlib import Path

import pytest

from consensus_lab.cli import main
from consensus_lab.grading import codec, registry, sandbox
from consensus_lab.grading.extract import answer_source, read_notebook
from consensus_lab.grading.grader import COLUMNS, GradingError, discover, grade
from consensus_lab.grading.release import with_answer, write_notebook
from consensus_lab.grading.sandbox import (
    ISOLATION_MODES,
    Limits,
    SandboxError,
    available_isolation,
    choose_isolation,
    detect_isolation,
)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
HIDDEN = ROOT / "tests" / "data" / "hidden"
LIMITS = Limits(call_timeout=4.0, cpu_seconds=40)


def solution_source(exercise: str) -> str:
    spec = registry.get(exercise)
    return answer_source(read_notebook(SOLUTIONS / spec.notebook), spec.id)


def submit(root: Path, student: str, exercise: str, source: str | None = None, raw: bytes | None = None) -> Path:
    """Write a student's notebook for one exercise: the released notebook with ``source`` as the answer."""
    spec = registry.get(exercise)
    folder = root / student
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / spec.notebook
    if raw is not None:
        path.write_bytes(raw)
        return path
    nb = read_notebook(EXERCISES / spec.notebook)
    if source is not None:
        nb = with_answer(nb, spec.id, source)
    write_notebook(nb, path)
    return path


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        return list(reader)


def without_seconds(table: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in table]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """alice: every solution; bob: every stub; carol: broken in every way; dave: partly right."""
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    for spec in registry.all_specs():
        submit(subs, "alice", spec.id, solution_source(spec.id))
        submit(subs, "bob", spec.id)
    submit(subs, "carol", "ex01", raw=b"\x00\x01 this is not a notebook")
    submit(subs, "carol", "ex02", "def read_your_writes(history):\n    return (\n")
    submit(subs, "carol", "ex03", "class Rings:\n    pass\n")
    nb = json.loads(json.dumps(read_notebook(EXERCISES / registry.get("ex05").notebook)))
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    write_notebook(nb, subs / "carol" / registry.get("ex05").notebook)
    submit(subs, "carol", "ex06", "import no_such_module\n")
    ex09 = solution_source("ex09").replace("if self.term_at(n) != self.current_term:", "if False:")
    submit(subs, "dave", "ex09", ex09)
    ex02 = solution_source("ex02").replace("op.output is None or op.output < seen", "op.output is None")
    submit(subs, "dave", "ex02", ex02)
    out = root / "gradebook.csv"
    results = grade(subs, out=out, hidden=HIDDEN, feedback=root / "feedback", jobs=2, timeout=90, limits=LIMITS)
    return root, results, rows(out)


def _row(table, student, exercise):
    return next(r for r in table if r["student"] == student and r["exercise"] == exercise)


def test_solutions_get_full_marks_with_hidden_checks(graded_class):
    _, results, table = graded_class
    for spec in registry.all_specs():
        r = _row(table, "alice", spec.id)
        assert r["status"] == "graded", r
        assert int(r["points"]) == int(r["max_points"]) > sum(c.points for c in spec.visible_checks()), r


def test_stubs_are_not_implemented(graded_class):
    _, _, table = graded_class
    for spec in registry.all_specs():
        r = _row(table, "bob", spec.id)
        assert (r["status"], r["points"]) == ("not-implemented", "0"), r


def test_broken_submissions_get_zero_with_a_reason(graded_class):
    _, _, table = graded_class
    expect = {
        "ex01": "not a notebook",
        "ex02": "SyntaxError",
        "ex03": "does not define Ring",
        "ex04": "no notebook for ex04",
        "ex05": "no answer cell",
        "ex06": "`import no_such_module` is refused",
    }
    for ex, words in expect.items():
        r = _row(table, "carol", ex)
        assert r["points"] == "0" and words in r["reason"], r
        assert r["status"] == ("missing" if ex == "ex04" else "error"), r


def test_partly_right_answers_get_partial_points(graded_class):
    _, _, table = graded_class
    for ex in ("ex02", "ex09"):
        r = _row(table, "dave", ex)
        assert r["status"] == "graded" and 0 < int(r["points"]) < int(r["max_points"]), r
    assert "the commit rule" in _row(table, "dave", "ex09")["reason"]


def test_gradebook_covers_every_student_and_exercise_sorted(graded_class):
    _, results, table = graded_class
    keys = [(r["student"], r["exercise"]) for r in table]
    assert keys == sorted(keys)
    assert {s for s, _ in keys} == {"alice", "bob", "carol", "dave"}
    assert len(keys) == 4 * len(registry.EXERCISE_IDS)
    assert all(float(r["seconds"]) >= 0 for r in table)


def test_feedback_names_failed_checks_hints_and_seeds(graded_class):
    root, _, _ = graded_class
    text = (root / "feedback" / "dave.txt").read_text()
    assert "FAIL  the commit rule" in text and "hint:" in text and "seed" in text
    assert "replay('ex09', RaftNode, check=" in text
    assert "(hidden check)" in text
    alice = (root / "feedback" / "alice.txt").read_text()
    assert "FAIL" not in alice and alice.startswith("Feedback for alice:")


def test_regrading_gives_the_same_gradebook(tmp_path):
    subs = tmp_path / "subs"
    submit(subs, "erin", "ex01", solution_source("ex01").replace("op.output != value", "False"))
    submit(subs, "erin", "ex08", solution_source("ex08").replace("self.voted_for in (None, msg.candidate)", "True"))
    submit(subs, "frank", "ex01", raw=b"{}")
    tables = []
    for i in range(2):
        out = tmp_path / f"g{i}.csv"
        grade(subs, out=out, hidden=HIDDEN, jobs=2, timeout=60, limits=LIMITS)
        tables.append(without_seconds(rows(out)))
    assert tables[0] == tables[1]
    assert [r["points"] for r in tables[0] if r["student"] == "erin"] != ["0", "0"]


def test_gradescope_results_for_one_student(tmp_path):
    subs = tmp_path / "subs"
    submit(subs, "gina", "ex05", solution_source("ex05").replace("return \"concurrent\"", "return \"equal\""))
    results_json = tmp_path / "results" / "results.json"
    grade(subs, out=tmp_path / "g.csv", hidden=HIDDEN, gradescope=results_json, jobs=1, timeout=60, limits=LIMITS)
    data = json.loads(results_json.read_text())
    assert set(data) == {"tests", "output", "output_format", "test_output_format"}  # no top-level score:
    assert data["output_format"] == data["test_output_format"] == "text"  # Gradescope totals the tests
    names = [t["name"] for t in data["tests"]]
    assert "ex05: comparing vector clocks" in names
    for t in data["tests"]:
        assert set(t) == {"name", "score", "max_score", "output", "output_format", "visibility"}
        assert t["output_format"] == "text"
        assert t["visibility"] in ("visible", "after_due_date")
    hidden = [t for t in data["tests"] if t["visibility"] == "after_due_date"]
    assert len(hidden) == 2
    assert 0 < sum(t["score"] for t in data["tests"]) < sum(t["max_score"] for t in data["tests"])


def test_discover_folder_and_flat_layouts(tmp_path):
    submit(tmp_path / "a", "s1", "ex01", solution_source("ex01"))
    (tmp_path / "a" / "s1" / "README.txt").write_text("ignored")
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "s2_ex03_consistent_hashing.ipynb").write_text("{}")
    (flat / "s3-ex03.ipynb").write_text("{}")
    (flat / "s3-ex01_whatever.ipynb").write_text("{}")
    nbgrader = tmp_path / "a" / "s4" / "week3"
    nbgrader.mkdir(parents=True)
    (nbgrader / "ex01_linearizability_bruteforce.ipynb").write_text("{}")
    (tmp_path / "a" / "s4" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "a" / "s4" / ".ipynb_checkpoints" / "ex02-checkpoint.ipynb").write_text("{}")
    got = [(s.student, s.exercise, s.path is not None) for s in discover(tmp_path / "a")]
    assert got == [("s1", "ex01", True), ("s4", "ex01", True)]
    got = [(s.student, s.exercise, s.path is not None) for s in discover(flat)]
    assert got == [("s2", "ex01", False), ("s2", "ex03", True), ("s3", "ex01", True), ("s3", "ex03", True)]


def test_cli_grade_contract(tmp_path, capsys):
    subs = tmp_path / "subs"
    submit(subs, "hal", "ex03", solution_source("ex03"))
    out = tmp_path / "gradebook.csv"
    assert main(["grade", str(subs), "--out", str(out), "--hidden", str(HIDDEN), "--jobs", "1", "--timeout", "60"]) == 0
    table = rows(out)
    assert [(r["student"], r["exercise"], r["status"]) for r in table] == [("hal", "ex03", "graded")]
    assert table[0]["points"] == table[0]["max_points"]
    capsys.readouterr()
    for argv, words in [
        (["grade", str(tmp_path / "nope"), "--out", str(out)], "does not exist"),
        (["grade", str(subs), "--out", str(tmp_path / "no" / "dir" / "g.csv")], "cannot write"),
        (["grade", str(subs), "--out", str(out), "--hidden", str(tmp_path / "nohidden")], "does not exist"),
        (["grade", str(subs), "--out", str(out), "--jobs", "0"], "--jobs"),
        (["grade", str(subs)], "--out"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("consensus-lab: error:") and words in err[0], err
    bad_hidden = tmp_path / "hidden"
    bad_hidden.mkdir()
    (bad_hidden / "ex03.json").write_text(json.dumps({"exercise": "ex03", "checks": [{"name": "x", "points": -1}]}))
    assert main(["grade", str(subs), "--out", str(out), "--hidden", str(bad_hidden)]) == 2
    assert "points" in capsys.readouterr().err
    submit(subs, "ian", "ex03", solution_source("ex03"))
    assert main(["grade", str(subs), "--out", str(out), "--gradescope", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "one student" in err[0]


def test_codec_rejects_what_may_not_cross_the_wall():
    from consensus_lab.grading.exercises.ex08 import Vote

    types = {"Vote": Vote}
    value = {"a": (1, 2.5, None, "x"), 3: [True, frozenset({1, 2})], "v": Vote(1, True)}
    assert codec.decode(codec.encode(value, types), types) == value

    class Sneaky(int):
        def __eq__(self, other):
            return True

    for bad in (Sneaky(3), object(), float("nan"), {1: {2}}.get, b"bytes"):
        with pytest.raises(codec.CodecError):
            codec.encode(bad, types)
    for wire in ({"M": "Evil", "F": []}, {"M": "Vote", "F": [1]}, {"X": []}, {"S": [[1]]}, {"D": [[[1], 2]]},
                 {"T": [1], "S": []}):
        with pytest.raises(codec.CodecError):
            codec.decode(wire, types)
    deep = 1
    for _ in range(100):
        deep = [deep]
    with pytest.raises(codec.CodecError):
        codec.decode(deep, types)
    with pytest.raises(codec.CodecError):
        codec.decode(list(range(10)), types, max_items=5)


@pytest.mark.parametrize("mode", ["userns", "rlimits"])
def test_weaker_isolation_modes_still_grade(tmp_path, mode):
    try:
        detect_isolation(mode)
    except Exception:
        pytest.skip(f"isolation {mode} is not available here")
    subs = tmp_path / "subs"
    submit(subs, "kim", "ex08", solution_source("ex08"))
    submit(subs, "kim", "ex01", "def is_linearizable(h):\n    import os\n    os._exit(0)\n")
    with pytest.raises(GradingError, match="allow-weaker-isolation"):
        grade(subs, out=tmp_path / "g.csv", jobs=1, timeout=60, limits=LIMITS, isolation=mode)
    results = grade(subs, out=tmp_path / "g.csv", jobs=1, timeout=60, limits=LIMITS, isolation=mode,
                    allow_weaker=True)
    table = rows_of(results)
    assert table["ex08"] == (10, 10, "graded")
    assert table["ex01"][0] == 0
    assert {r["isolation"] for r in rows(tmp_path / "g.csv")} == {mode}


def rows_of(results):
    return {r.exercise: (r.points, r.max_points, r.status) for r in results}


def expected_isolation() -> str | None:
    """The mode this machine must reach: ``full`` as root on Linux (CI and the dev machines), or what
    ``$CONSENSUS_LAB_EXPECT_ISOLATION`` states for a machine known to allow less."""
    stated = os.environ.get("CONSENSUS_LAB_EXPECT_ISOLATION")
    if stated:
        return stated
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        return "full"
    return None


PROBE = """
import ctypes, os, socket
def is_linearizable(history):
    libc = ctypes.CDLL(None, use_errno=True)
    facts = ["uid=%d" % os.getuid(), "seccomp=%d" % libc.prctl(21, 0, 0, 0, 0),
             "unshare=%d" % libc.unshare(0x10000000), "cwd=" + os.getcwd(),
             "solutions=%s" % os.path.exists(SOLUTIONS), "tmp=%s" % os.path.exists("/tmp")]
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        facts.append("socket=open")
    except OSError as exc:
        facts.append("socket=%d" % exc.errno)
    raise ValueError(" ".join(facts))
"""


def probe(mode: str) -> dict[str, str]:
    """What an answer finds around it in a sandbox of ``mode``."""
    from consensus_lab.grading.hosting import StudentError, call_worker
    from consensus_lab.grading.sandbox import SandboxHost

    with SandboxHost("ex01", PROBE.replace("SOLUTIONS", repr(str(SOLUTIONS))), limits=LIMITS,
                     isolation=mode) as host:
        with pytest.raises(StudentError) as info:
            call_worker(host.spawn(), {"op": "fn", "name": "is_linearizable", "args": [[]]})
        applied = " ".join(host.applied)
    text = str(info.value).removeprefix("ValueError: ")
    return dict(fact.split("=", 1) for fact in text.split()) | {"applied": applied}


def test_isolation_is_the_strongest_this_machine_must_reach():
    expected = expected_isolation()
    mode = detect_isolation()
    if expected is not None:
        assert mode == expected, f"isolation {mode}, but this machine must reach {expected}"
    assert choose_isolation(students=30) == mode
    facts = probe(mode)
    assert facts["seccomp"] == "2" and facts["unshare"] == "-1" and facts["socket"] == str(errno.EPERM), facts
    if mode in ("full", "userns"):
        assert facts["cwd"] == "/work" and facts["solutions"] == "False" and facts["tmp"] == "False", facts
        assert "pivot_root" in facts["applied"] and "private scratch tmpfs" in facts["applied"], facts
    if mode == "full":
        assert int(facts["uid"]) >= 100_000, facts
        assert "unprivileged uid" in facts["applied"], facts


def test_weaker_isolation_needs_the_instructors_word(monkeypatch):
    best = detect_isolation()
    for weaker in ISOLATION_MODES[ISOLATION_MODES.index(best) + 1:]:
        with pytest.raises(SandboxError, match="--allow-weaker-isolation"):
            choose_isolation(weaker)
        assert choose_isolation(weaker, allow_weaker=True) == weaker
    # a machine that allows only rlimits: one student (Gradescope) may be graded, a class may not
    monkeypatch.setattr(sandbox, "available_isolation", lambda: ["rlimits"])
    assert choose_isolation(students=1) == "rlimits"
    with pytest.raises(SandboxError, match="other students"):
        choose_isolation(students=2)
    assert choose_isolation(students=2, allow_weaker=True) == "rlimits"


def test_cli_grade_refuses_weaker_isolation_unless_forced(tmp_path, capsys):
    if detect_isolation() == "rlimits":
        pytest.skip("no weaker mode than this machine's")
    weaker = ISOLATION_MODES[ISOLATION_MODES.index(detect_isolation()) + 1]
    if weaker not in available_isolation():
        weaker = "rlimits"
    subs = tmp_path / "subs"
    submit(subs, "kim", "ex05", solution_source("ex05"))
    out = tmp_path / "g.csv"
    assert main(["grade", str(subs), "--out", str(out), "--jobs", "1", "--isolation", weaker]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--allow-weaker-isolation" in err[0], err
    assert not out.exists()
    assert main(["grade", str(subs), "--out", str(out), "--jobs", "1", "--isolation", weaker,
                 "--allow-weaker-isolation"]) == 0
    assert [(r["student"], r["isolation"]) for r in rows(out)] == [("kim", weaker)]


def test_gradescope_bundle_and_its_run_script(tmp_path):
    import shutil
    import stat
    import subprocess
    import sys
    import zipfile

    from consensus_lab.grading.gradescope import RUN_AUTOGRADER, SETUP_SH, make_bundle

    bundle = make_bundle(tmp_path / "autograder.zip", HIDDEN)
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        assert {"setup.sh", "run_autograder", "hidden/ex08.json", "package/pyproject.toml",
                "package/consensus_lab/grading/grader.py"} <= names
        assert z.getinfo("run_autograder").external_attr >> 16 & stat.S_IXUSR
    for script in (SETUP_SH, RUN_AUTOGRADER):
        assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    # run the autograder script for real, with Gradescope's paths moved under tmp_path
    ag = tmp_path / "autograder"
    (ag / "submission").mkdir(parents=True)
    (ag / "source").mkdir()
    shutil.copytree(HIDDEN, ag / "source" / "hidden")
    spec = registry.get("ex03")
    nb = with_answer(read_notebook(EXERCISES / spec.notebook), "ex03", solution_source("ex03"))
    write_notebook(nb, ag / "submission" / spec.notebook)
    exe = str(Path(sys.executable).with_name("consensus-lab"))
    env = {**os.environ, "CONSENSUS_LAB_AUTOGRADER_ROOT": str(ag),
           "CONSENSUS_LAB_AUTOGRADER_VENV": str(Path(exe).parents[1])}
    done = subprocess.run(["bash", "-c", RUN_AUTOGRADER], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads((ag / "results" / "results.json").read_text())
    assert sum(t["score"] for t in data["tests"]) == sum(t["max_score"] for t in data["tests"]) > 0
    assert "Feedback for student" in done.stdout


def colliding_pairs(n: int) -> list[tuple[int, int]]:
    """``n`` pairs of 64-bit integers whose tuples all have one hash (CPython's xxHash-style tuple hash,
    inverted for the second item): building a set of them is quadratic -- hash flooding."""
    m = 2**64
    p1, p2, p5 = 11400714785074694791, 14029467366897019727, 2870177450012600261

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (64 - r))) % m

    target = hash((0, 0)) % m
    before_len = (target - (2 ^ (p5 ^ 3527539))) % m
    lane2 = ((before_len * pow(p1, -1, m)) % m)
    lane2 = rotl(lane2, 64 - 31)  # undo the rotation
    pairs = []
    a = 1
    while len(pairs) < n:
        acc = rotl((p5 + a * p2) % m, 31) * p1 % m
        hb = (lane2 - acc) * pow(p2, -1, m) % m
        b = hb if hb < 2**61 - 1 else hb - m if hb > m - 2**61 + 1 else None
        if b is not None and b != -1 and hash((a, b)) == hash((0, 0)):
            pairs.append((a, b))
        a += 1
    return pairs


def test_codec_bounds_what_a_reply_may_cost():
    flood = colliding_pairs(200)
    assert len({hash(p) for p in flood}) == 1  # the attack is real
    for wire in ({"S": [{"T": list(p)} for p in flood]}, {"D": [[{"T": list(p)}, 0] for p in flood]}):
        with pytest.raises(codec.CodecError, match="same hash"):
            codec.decode(wire, {})
    with pytest.raises(codec.CodecError, match="64 bits"):
        codec.decode({"S": [k * (2**61 - 1) for k in range(1, 100)]}, {})
    with pytest.raises(codec.CodecError, match="entries"):
        codec.decode({"S": list(range(codec.MAX_ENTRIES + 1))}, {})
    with pytest.raises(codec.CodecError, match="values in one reply"):
        codec.loads(json.dumps([[1, 2]] * (codec.MAX_REPLY_ITEMS // 3 + 1)).encode())
    with pytest.raises(codec.CodecError, match="64 bits"):
        codec.loads(b"[1, 2, 36893488147419103232]")
    ok = {"S": list(range(1000)) + [-1, -2]}
    assert codec.decode(codec.loads(json.dumps(ok).encode()), {}) == frozenset(range(-2, 1000))


def test_the_watchdog_stops_a_submission_that_overruns(tmp_path, monkeypatch):
    """Whatever keeps a grading process busy (here it never returns), the row is written in time,
    with the checks finished before it."""
    import threading

    from consensus_lab.grading import grader
    from consensus_lab.grading.checks import CheckResult

    def stuck(task, on_result=None):
        sub = task[0]
        if sub.student == "stuck":
            on_result(CheckResult("first", 3, 3, True, status="pass"))
            threading.Event().wait()
        return grader.GradeResult(sub.student, sub.exercise, 1, 18, "graded", 0.0, "fine", isolation="x")

    monkeypatch.setattr(grader, "_grade_task", stuck)
    monkeypatch.setattr(grader, "GRACE", 0.5)
    subs = tmp_path / "subs"
    for student in ("ann", "stuck", "zed"):
        submit(subs, student, "ex01", solution_source("ex01"))
    results = {r.student: r for r in grade(subs, out=tmp_path / "g.csv", jobs=2, timeout=0.5)}
    row = results["stuck"]
    most = sum(c.points for c in registry.get("ex01").visible_checks())
    assert (row.status, row.points, row.max_points) == ("timeout", 3, most), row
    assert row.seconds < 5 and "stopped it after 1 s" in row.reason, row
    assert [c["status"] for c in row.checks][:2] == ["pass", "timeout"], row.checks
    assert results["ann"].points == results["zed"].points == 1


@pytest.mark.parametrize("ex", ["ex04", "ex11", "ex12", "ex17"])
def test_an_unknown_linearizability_verdict_earns_nothing(monkeypatch, ex):
    """The judges with clients: a history the checker gives up on is not a pass."""
    from types import SimpleNamespace

    import consensus_lab.checkers as checkers
    from consensus_lab.grading.selfcheck import run_checks

    scope: dict = {}
    exec(registry.get(ex).module.PREAMBLE + solution_source(ex), scope)
    answers = [scope[name] for name in registry.get(ex).interface]
    honest = run_checks(ex, *answers)
    assert honest.points > 0
    monkeypatch.setattr(checkers, "check_linearizable",
                        lambda *a, **k: SimpleNamespace(verdict="unknown", detail="search budget exhausted"))
    unknown = run_checks(ex, *answers)
    assert unknown.points == 0, unknown

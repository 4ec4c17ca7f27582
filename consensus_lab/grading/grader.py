"""The instructor's grader: every submission in a sandbox, every verdict computed here.

``grade(submissions_dir, out=..., hidden=..., feedback=..., jobs=..., timeout=...)``
finds the submissions, grades each one (student x exercise) and writes

* the gradebook CSV -- ``student,exercise,points,max_points,status,seconds,reason,isolation``,
  one row per student and exercise, sorted, written atomically at the end
  (a cell a spreadsheet would run as a formula gets a leading ``'``);
* optionally a feedback file per student (every check: passed or not, what
  went wrong, the hint, the seed and the call that replays it);
* optionally a Gradescope ``results.json`` (one student).

Layouts: a folder per student holding that student's notebooks under the
file names of ``exercises/`` (or any name starting with the exercise id,
``ex08...``), directly or one folder down (nbgrader's
``submitted/<student>/<assignment>/``); or a flat directory of
``<student>_<exercise notebook>`` files.

Statuses: ``graded`` (the checks ran), ``not-implemented`` (the answer is still
the stub), ``error`` (not a notebook, no answer cell, does not load),
``timeout`` (the submission's time ran out; checks not reached score 0),
``missing`` (no notebook for an exercise others submitted), ``grader-error``
(the sandbox could not start -- a problem of the grading machine).

For each submission: the answer cells are read from the notebook's JSON
(nothing in it is executed here); the code runs in :class:`SandboxHost`
processes; each check's verdict is computed in a grading process from plain
data.  Grading processes form a pool with a watchdog: one still busy with a
submission ``timeout + GRACE`` seconds after it started is killed (whatever
it is doing) and replaced; the checks it finished still count.  Isolation
follows :func:`.sandbox.choose_isolation` and is recorded in every row.
A broken or hostile submission gets zero for what it broke and nothing else
changes: every other row is still written, and grading it again gives the
same row (up to ``seconds``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import registry
from .checks import Check, CheckResult
from .extract import NotebookError, answer_source, import_problem, read_notebook
from .feedback import failure_lines, feedback_text
from .hosting import Budget, StudentError, WorkerFailure
from .sandbox import (
    Limits,
    SandboxError,
    SandboxHost,
    choose_isolation,
    isolation_summary,
    remove_tree,
)

__all__ = ["grade", "GradeResult", "Submission", "discover", "grade_submission", "COLUMNS", "GradingError",
           "DEFAULT_TIMEOUT", "limits_for"]

COLUMNS = ("student", "exercise", "points", "max_points", "status", "seconds", "reason", "isolation")
GRACE = 5.0  # seconds past a submission's time allowed before the watchdog ends its grading process
DEFAULT_TIMEOUT = 120.0  # seconds for one submission (``consensus-lab grade --timeout``)


def limits_for(timeout: float) -> Limits:
    """The sandbox limits that go with a submission's time (the command line's, and the self-check's)."""
    return Limits(call_timeout=min(5.0, timeout), cpu_seconds=int(timeout) + 5)


_FLAT = re.compile(r"^(?P<student>.+?)[-_.](?P<ex>ex\d\d)(?:[-_.].*)?\.ipynb$", re.IGNORECASE)
_EX = re.compile(r"^(ex\d\d)", re.IGNORECASE)


class GradingError(ValueError):
    """Bad input to the grader (missing directory, unusable hidden checks...)."""


@dataclass
class Submission:
    student: str
    exercise: str
    path: Path | None = None


@dataclass
class GradeResult:
    student: str
    exercise: str
    points: int
    max_points: int
    status: str
    seconds: float
    reason: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    isolation: str = ""

    def row(self) -> list[Any]:
        return [self.student, self.exercise, self.points, self.max_points, self.status,
                f"{self.seconds:.2f}", self.reason, self.isolation]


# --- finding submissions ---------------------------------------------------------------


def _exercise_of_file(name: str) -> str | None:
    m = _EX.match(name)
    if not m or not name.lower().endswith(".ipynb"):
        return None
    key = m.group(1).lower()
    return key if key in registry.EXERCISE_IDS else None


def _notebooks_in(folder: Path, depth: int = 0) -> list[Path]:
    """A student's notebooks: in the folder, or one level down (nbgrader's
    ``submitted/<student>/<assignment>/``); hidden folders such as
    ``.ipynb_checkpoints`` are skipped."""
    files, dirs = [], []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if p.name.startswith(".") or p.is_symlink():
            continue
        if p.is_file():
            files.append(p)
        elif p.is_dir() and depth < 1:
            dirs.append(p)
    for d in dirs:
        files += _notebooks_in(d, depth + 1)
    return files


def discover(submissions_dir: str | Path) -> list[Submission]:
    """Every (student, exercise) pair, with the notebook if there is one."""
    root = Path(submissions_dir)
    found: dict[tuple[str, str], Path] = {}
    students: set[str] = set()
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            students.add(entry.name)
            for f in _notebooks_in(entry):
                ex = _exercise_of_file(f.name)
                if ex and (entry.name, ex) not in found:
                    found[(entry.name, ex)] = f
        elif entry.is_file():
            m = _FLAT.match(entry.name)
            if m and m.group("ex").lower() in registry.EXERCISE_IDS:
                student = m.group("student")
                students.add(student)
                found.setdefault((student, m.group("ex").lower()), entry)
    exercises = sorted({ex for _, ex in found})
    return [Submission(s, ex, found.get((s, ex))) for s in sorted(students) for ex in exercises]


# --- grading one submission ---------------------------------------------------------------


def _checks_for(exercise: str, hidden: dict[str, list[Check]]) -> list[Check]:
    return list(registry.get(exercise).visible_checks()) + list(hidden.get(exercise, []))


def grade_submission(sub: Submission, hidden: dict[str, list[Check]], *, timeout: float,
                     limits: Limits, isolation: str | None,
                     on_result: Callable[[CheckResult], None] | None = None) -> GradeResult:
    """Grade one notebook.  Never raises for anything the submission does.

    ``on_result`` hears each check's result as soon as it is known (the
    watchdog keeps them when it has to stop a submission that overruns).
    """
    start = time.monotonic()
    spec = registry.get(sub.exercise)
    checks = _checks_for(sub.exercise, hidden)
    max_points = sum(c.points for c in checks)

    def done(points: int, status: str, reason: str, results: Sequence[CheckResult] = ()) -> GradeResult:
        return GradeResult(sub.student, sub.exercise, points, max_points, status, time.monotonic() - start,
                           reason, [r.to_dict() for r in results], isolation or "")

    if sub.path is None:
        return done(0, "missing", f"no notebook for {sub.exercise} ({spec.notebook})")
    try:
        source = answer_source(read_notebook(sub.path), spec.id)
    except NotebookError as exc:
        return done(0, "error", str(exc))
    problem = import_problem(source, spec.id)  # the rule the notebook's self-check applies too
    if problem is not None:
        from .selfcheck import refused_results

        return done(0, "error", _one_line(problem, 240), refused_results(checks, problem))
    budget = Budget(timeout, limits.call_timeout)
    host = None
    try:
        host = SandboxHost(spec.id, source, budget=budget, limits=limits, isolation=isolation)
        try:
            host.spawn().close()  # does the answer load at all?
        except StudentError as exc:
            status = "not-implemented" if exc.not_implemented else "error"
            return done(0, status, f"the answer does not load: {exc}")
        except WorkerFailure as exc:
            return done(0, "timeout" if exc.timeout else "error", f"the answer does not load: {exc}")
        results = []
        for c in checks:
            results.append(spec.run_check(c, host, budget))
            if on_result is not None:
                on_result(results[-1])
    except SandboxError as exc:
        return done(0, "grader-error", str(exc))
    finally:
        if host is not None:
            host.close()
    points = sum(r.points for r in results)
    passed = sum(r.passed for r in results)
    if results and all(r.not_implemented for r in results):
        return done(0, "not-implemented", "the answer is still the stub", results)
    failed = [r for r in results if not r.passed]
    status = "timeout" if any(r.status == "timeout" for r in results) else "graded"
    reason = f"{passed} of {len(results)} checks passed"
    if failed:
        first = failed[0]
        seed = f", seed {first.seed}" if first.seed is not None else ""
        reason += f"; first failure: {first.name}{seed}: {first.message}"
    return done(points, status, _one_line(reason, 240), results)


def _one_line(text: str, limit: int) -> str:
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _grade_task(args: tuple, on_result: Callable[[CheckResult], None] | None = None) -> GradeResult:
    sub, hidden_dir, timeout, limits, isolation = args
    hidden = registry.load_hidden(hidden_dir) if hidden_dir else {}
    try:
        return grade_submission(sub, hidden, timeout=timeout, limits=limits, isolation=isolation,
                                on_result=on_result)
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not cost the other students
        return GradeResult(sub.student, sub.exercise, 0, 0, "grader-error", 0.0,
                           _one_line(f"internal error: {type(exc).__name__}: {exc}", 240), isolation=isolation or "")


# --- the grading pool and its watchdog ---------------------------------------------------------


def _pool_main(conn: Any, scratch: str, cpu: int | None) -> None:  # pragma: no cover - a pool process
    """A grading process: takes tasks, streams each check's result, then the submission's."""
    tempfile.tempdir = scratch  # its sandboxes' files, removed by the pool if it has to kill it
    if cpu is not None:
        try:
            # one CPU for a grading process and its sandboxes: the handler calls between them then
            # switch processes on the spot instead of waking another CPU
            os.sched_setaffinity(0, {cpu})
        except OSError:
            pass
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        result = _grade_task(task, lambda r: conn.send(("check", r.to_dict())))
        conn.send(("done", result))


class _Slot:
    """One grading process of the pool, with the task it is on and that task's hard deadline."""

    def __init__(self, ctx: Any, cpu: int | None) -> None:
        self.ctx, self.cpu = ctx, cpu
        self.scratch: str | None = tempfile.mkdtemp(prefix="cl-grade-")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_pool_main, args=(child, self.scratch, cpu))
        self.proc.start()
        child.close()
        self.index: int | None = None
        self.started = self.deadline = 0.0
        self.partial: list[dict[str, Any]] = []

    def give(self, index: int, task: tuple, limit: float) -> None:
        self.index, self.partial = index, []
        self.started = time.monotonic()
        self.deadline = self.started + limit
        self.conn.send(task)

    def stop(self) -> None:
        """End the process (and with it its sandboxes) and remove its files."""
        if self.scratch is None:
            return
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)
        self.conn.close()
        remove_tree(self.scratch)
        self.scratch = None

    def close(self) -> None:
        if self.scratch is None:
            return
        try:
            self.conn.send(None)
            self.proc.join(30)
        except (OSError, ValueError):
            pass
        self.stop()


def _stopped(task: tuple, partial: list[dict[str, Any]], seconds: float, why: str) -> GradeResult:
    """The row of a submission whose grading process had to be ended: finished checks count, the rest 0."""
    sub, hidden_dir, _timeout, _limits, isolation = task
    checks = _checks_for(sub.exercise, registry.load_hidden(hidden_dir) if hidden_dir else {})
    done = list(partial)
    for c in checks[len(done):]:
        r = CheckResult(c.name, 0, c.points, False, hint=c.hint, hidden=c.hidden, status="timeout",
                        message=f"not reached: {why}")
        done.append(r.to_dict())
    points = sum(c["points"] for c in done)
    passed = sum(c["passed"] for c in done)
    status = "timeout" if "time" in why else "grader-error"
    return GradeResult(sub.student, sub.exercise, points, sum(c.points for c in checks), status, seconds,
                       _one_line(f"{passed} of {len(checks)} checks passed; {why}", 240), done, isolation or "")


def _run_pool(tasks: list[tuple], jobs: int, limit: float, progress: Callable[[int, int], None] | None,
              results: list[GradeResult]) -> None:
    """Grade ``tasks`` in ``jobs`` processes; a task still running ``limit`` seconds after it started
    is stopped by killing its process (whatever it is doing: a stuck decode, a judge, a sandbox)."""
    import multiprocessing
    from multiprocessing.connection import wait

    # forked: a pool process starts at once and needs no importable __main__ (nothing else runs yet)
    ctx = multiprocessing.get_context("fork")
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin = 1 < jobs <= len(allowed)
    slots = [_Slot(ctx, allowed[i] if pin else None) for i in range(min(jobs, len(tasks)))]
    todo = list(range(len(tasks)))[::-1]
    finished = 0
    try:
        while finished < len(tasks):
            for slot in slots:
                if slot.index is None and todo:
                    k = todo.pop()
                    slot.give(k, tasks[k], limit)
            busy = [s for s in slots if s.index is not None]
            left = min(s.deadline for s in busy) - time.monotonic()
            ready = wait([s.conn for s in busy], timeout=max(0.0, left))
            now = time.monotonic()
            for slot in busy:
                result, ended = None, False
                if slot.conn in ready:
                    try:
                        kind, data = slot.conn.recv()
                    except (EOFError, OSError):
                        kind, data = "died", None
                    if kind == "check":
                        slot.partial.append(data)
                    elif kind == "done":
                        result = data
                    else:
                        result, ended = _stopped(tasks[slot.index], slot.partial, now - slot.started,
                                                 "the grading process died (a problem of the grading "
                                                 "machine)"), True
                elif now >= slot.deadline:
                    result, ended = _stopped(tasks[slot.index], slot.partial, now - slot.started,
                                             f"the grader stopped it after {limit:.0f} s: the time allowed "
                                             "for this submission ran out"), True
                if result is None:
                    continue
                results.append(result)
                finished += 1
                if progress:
                    progress(len(results), len(tasks))
                slot.index = None
                if ended:  # a fresh process for the next task: nothing of this one survives
                    slot.stop()
                    if todo:
                        slots[slots.index(slot)] = _Slot(ctx, slot.cpu)
    finally:
        for slot in slots:
            slot.close()


# --- output ------------------------------------------------------------------------------


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def csv_cell(value: Any) -> Any:
    """A spreadsheet-safe cell: text that a spreadsheet would run as a formula gets a leading ``'``."""
    if type(value) is str and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def gradebook_text(results: Sequence[GradeResult]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in results:
        w.writerow([csv_cell(v) for v in r.row()])
    return buf.getvalue()


_SAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def gradescope_results(results: Sequence[GradeResult], note: str = "") -> dict[str, Any]:
    """Gradescope's ``results.json``: visible checks at once, hidden ones ``after_due_date``.

    There is no top-level ``score``: Gradescope then totals the tests, and while any test
    is not yet visible it does not show students their total -- so the hidden points stay
    hidden until the due date (Gradescope's autograder specification, "Controlling test
    case visibility").  A submission whose checks did not run gets one visible entry for
    the visible points and one ``after_due_date`` entry for the hidden ones.
    """
    tests = []
    for r in results:
        if not r.checks:
            visible = min(r.max_points, sum(c.points for c in registry.get(r.exercise).visible_checks()))
            for max_score, vis in ((visible, "visible"), (r.max_points - visible, "after_due_date")):
                if max_score or vis == "visible":
                    tests.append({"name": f"{r.exercise}: {r.status}", "score": 0, "max_score": max_score,
                                  "output": _one_line(r.reason, 600), "output_format": "text",
                                  "visibility": vis})
        for i, c in enumerate(r.checks, 1):
            out = "passed" if c["passed"] else "\n".join(failure_lines(c, r.exercise, i, indent=""))
            tests.append({
                "name": f"{r.exercise}: {c['name']}",
                "score": c["points"],
                "max_score": c["max_points"],
                "output": out,
                "output_format": "text",  # shown as plain text, never as HTML or Markdown
                "visibility": "after_due_date" if c["hidden"] else "visible",
            })
    later = sum(t["max_score"] for t in tests if t["visibility"] == "after_due_date")
    if later:
        note = (note + "\n" if note else "") + (f"Hidden checks worth {later} points have run too; they and your "
                                                 "total are shown after the due date.")
    return {
        "output": note,
        "output_format": "text",
        "test_output_format": "text",
        "tests": tests,
    }


# --- the whole run ---------------------------------------------------------------------------


def grade(
    submissions_dir: str | Path,
    *,
    out: str | Path,
    hidden: str | Path | None = None,
    feedback: str | Path | None = None,
    gradescope: str | Path | None = None,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
    limits: Limits | None = None,
    isolation: str | None = None,
    allow_weaker: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[GradeResult]:
    """Grade every submission; write the gradebook (and feedback, results.json).

    Isolation is the strongest this machine allows; a weaker ``isolation``, or
    ``rlimits`` for more than one student, is refused with :class:`GradingError`
    unless ``allow_weaker`` (see :func:`.sandbox.choose_isolation`).  Every
    submission's grading ends by ``timeout + GRACE`` seconds, whatever it sends.
    """
    src = Path(submissions_dir)
    if not src.is_dir():
        raise GradingError(f"submissions directory {src} does not exist")
    out = Path(out)
    if not out.parent.is_dir() or not os.access(out.parent, os.W_OK) or out.is_dir():
        raise GradingError(f"cannot write the gradebook {out} (its directory is missing or not writable)")
    if hidden:
        registry.load_hidden(hidden)  # refuse unusable hidden checks before grading anything
    if feedback is not None:
        Path(feedback).mkdir(parents=True, exist_ok=True)
    subs = discover(src)
    if gradescope is not None and len({s.student for s in subs}) > 1:
        raise GradingError("--gradescope writes one student's results.json; the submissions hold "
                           f"{len({s.student for s in subs})} students")
    limits = limits or Limits()
    try:
        mode = choose_isolation(isolation, students=len({s.student for s in subs}), allow_weaker=allow_weaker)
    except SandboxError as exc:
        raise GradingError(str(exc)) from None
    tasks = [(s, str(hidden) if hidden else None, timeout, limits, mode) for s in subs]
    results: list[GradeResult] = []
    if progress:
        progress(0, len(tasks))
    if tasks:
        _run_pool(tasks, max(1, jobs), timeout + GRACE, progress, results)
    results.sort(key=lambda r: (r.student, r.exercise))
    _atomic_write(out, gradebook_text(results))
    if feedback is not None:
        by_student: dict[str, list[GradeResult]] = {}
        for r in results:
            by_student.setdefault(r.student, []).append(r)
        for student, rs in sorted(by_student.items()):
            name = _SAFE.sub("_", student) or "student"
            _atomic_write(Path(feedback) / f"{name}.txt", feedback_text(student, rs))
    if gradescope is not None:
        path = Path(gradescope)
        path.parent.mkdir(parents=True, exist_ok=True)
        note = f"Graded by consensus-lab in a sandbox ({isolation_summary(mode)})."
        _atomic_write(path, json.dumps(gradescope_results(results, note), indent=1) + "\n")
    return results


def terminal_progress(stream=sys.stderr) -> Callable[[int, int], None] | None:
    """A one-line ``graded k/n`` counter when ``stream`` is a terminal, else None."""
    if not getattr(stream, "isatty", lambda: False)():
        return None

    def show(done: int, total: int) -> None:
        stream.write(f"\rgraded {done}/{total}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show

"""What a student runs in the exercise notebook: the self-check and replays.

``selfcheck("ex08", RaftElectionNode)`` runs the visible checks on the answer
the way the instructor's grader does, and prints a scored report on the
grader's scale: one line per check with its points, for each failed one what
went wrong, a hint and the call that replays it, and the hidden points still to
come::

    ex08 Raft leader election: 3 of 4 visible checks passed, 8/10 points
      PASS  a leader is elected (3/3)
      FAIL  heartbeats keep the leader (0/2)
            seed 3: 3 terms had a leader (terms [1, 2, 3]); ...
            hint: A leader sends AppendEntries every HEARTBEAT seconds ...
            replay("ex08", RaftElectionNode, check=2, seed=3)
      + 6 hidden points graded by your instructor (more seeds, harsher faults)

One rule, two places.  The self-check does not judge the objects in the
notebook: it finds the code of the cell that defined them (IPython keeps every
cell's source; the functions' code objects say which cell), applies the import
rule (:func:`~consensus_lab.grading.extract.import_problem`), and runs that code
as the grader does -- in the grader's sandbox
(:class:`~consensus_lab.grading.sandbox.SandboxHost`: a fresh process per node
incarnation, the same limits and time budget), so a notebook that passes its
self-check passes the same visible checks in the grader.  Where the sandbox
cannot start (not Linux), the code still runs fresh for every node incarnation,
in this process.  Given objects whose code cannot be found (outside IPython),
it checks the objects as they are and says so.

While the answer is still the stub, it says "not implemented yet" instead of
raising.  ``replay(...)`` runs one check (one seed) again the same way and
returns the run, so that ``plot_spacetime(run)`` can draw it;
``as_protocol(...)`` wraps a node answer as a
:class:`~consensus_lab.sim.ProtocolSpec` for the scenario lab.

Under nbgrader's autograder (``NBGRADER_EXECUTION`` set) the self-check also
raises ``AssertionError`` unless every visible check passed, so nbgrader's
own scoring of the cell is not a free pass.  Real grading is
``consensus-lab grade``, which does not trust the notebook at all.
"""

from __future__ import annotations

import linecache
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from . import registry
from .checks import Check, CheckResult, ExerciseSpec, FunctionSpec, NodeSpec
from .extract import cells_code, import_problem
from .hosting import Budget, LocalHost, StudentError, WorkerFailure, call_worker

__all__ = ["selfcheck", "run_checks", "replay", "as_protocol", "format_report", "Report", "REPLAY_STUB",
           "HIDDEN_POINTS", "refused_results", "scale_problems"]

WIDTH = 100
REPLAY_STUB = "{id}: not implemented yet -- nothing to replay until the answer cell is filled in."
#: What the hidden checks of each exercise are worth: announced to students by the
#: self-check ("+N hidden points"); ``tests/data/hidden`` (the worked example of hidden
#: checks) adds up to these, and an instructor whose hidden checks weigh otherwise
#: changes them here.
HIDDEN_POINTS = {"ex00": 7, "ex01": 8, "ex02": 6, "ex03": 6, "ex04": 12, "ex05": 5, "ex06": 7, "ex07": 9,
                 "ex08": 8, "ex09": 9, "ex10": 6, "ex11": 6, "ex12": 7, "ex13": 7,
                 "ex14": 7, "ex15": 6, "ex16": 7, "ex17": 8}


def scale_problems(hidden: dict[str, Sequence[Check]]) -> list[str]:
    """Where hidden checks (as :func:`~consensus_lab.grading.registry.load_hidden` reads them) are not
    worth what the notebooks announce (:data:`HIDDEN_POINTS`), one line each."""
    out = []
    for ex, checks in sorted(hidden.items()):
        worth = sum(c.points for c in checks)
        if worth != HIDDEN_POINTS.get(ex):
            out.append(f"the hidden checks of {ex} are worth {worth} points but the notebooks announce "
                       f"{HIDDEN_POINTS.get(ex)} (HIDDEN_POINTS in consensus_lab/grading/selfcheck.py)")
    return out


def refused_results(checks: Sequence[Check], message: str, status: str = "error") -> list[CheckResult]:
    """Every check failed for one reason that stops the answer before it runs (the import rule)."""
    return [CheckResult(c.name, 0, c.points, False, message=message, hint="", hidden=c.hidden, status=status)
            for c in checks]


class Report:
    """The results of one exercise's checks (visible, or visible and hidden)."""

    def __init__(self, spec: ExerciseSpec, results: list[CheckResult], call: str, *,
                 how: str = "", hidden_points: int | None = None) -> None:
        self.spec = spec
        self.results = results
        self.call = call
        self.how = how  # where the answer ran, when not as in the grader
        self.hidden_points = hidden_points

    @property
    def points(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def max_points(self) -> int:
        return sum(r.max_points for r in self.results)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def not_implemented(self) -> bool:
        return bool(self.results) and all(r.not_implemented for r in self.results)

    def __str__(self) -> str:
        return format_report(self)

    def __repr__(self) -> str:
        return f"<Report {self.spec.id}: {self.points}/{self.max_points} points>"


def _answers(spec: ExerciseSpec, given: Sequence[Any]) -> dict[str, Any]:
    names = spec.interface
    if len(given) == 1 and isinstance(given[0], dict):
        missing = [n for n in names if n not in given[0]]
        if missing:
            raise TypeError(f"{spec.id}: the answer does not define {', '.join(missing)}")
        return {n: given[0][n] for n in names}
    if len(given) != len(names):
        raise TypeError(f"{spec.id} checks {', '.join(names)}: pass them in that order, "
                        f"e.g. selfcheck({spec.id!r}, {', '.join(names)})")
    return dict(zip(names, given, strict=True))


def _call_text(spec: ExerciseSpec) -> str:
    return ", ".join(spec.interface)


def _code_files(obj: Any) -> list[str]:
    """The file names of the code objects behind a function or a class's methods."""
    out = []
    code = getattr(obj, "__code__", None)
    if code is not None:
        out.append(code.co_filename)
    if isinstance(obj, type):
        for value in vars(obj).values():
            fn = getattr(value, "__func__", value)
            fn = getattr(fn, "fget", fn)
            code = getattr(fn, "__code__", None)
            if code is not None:
                out.append(code.co_filename)
    return out


def _kernel_source(objects: Sequence[Any]) -> str | None:
    """The source of the IPython cell that defined ``objects`` (as the user typed it), or None."""
    shell = sys.modules.get("IPython")
    shell = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    if shell is None:
        return None
    files = [f for obj in objects for f in _code_files(obj)]
    if not files:
        return None
    raw = list(getattr(shell.history_manager, "input_hist_raw", []))
    for number in range(len(raw) - 1, 0, -1):
        try:
            # the history keeps a cell without its trailing newlines, while the cell's code name is a
            # hash of the transformed cell as run: try the forms the kernel may have compiled
            names = {shell.compile.get_code_name(raw[number], form, number)
                     for form in (raw[number], raw[number] + "\n", shell.transform_cell(raw[number]))}
        except Exception:  # noqa: BLE001 - an unusual shell: fall back to the objects
            return None
        if files[0] in names:
            return raw[number]
    # the kernel registers every cell it compiles with linecache, as it ran it (blank lines and all)
    text = "".join(linecache.getlines(files[0]))
    return text or None


def _answer_host(exercise_id: str, source: str, budget: Budget):
    """The grader's sandbox with the answer's code; else fresh code per incarnation, in this process."""
    from .grader import DEFAULT_TIMEOUT, limits_for
    from .sandbox import SandboxError, SandboxHost

    if sys.platform.startswith("linux"):  # the sandbox's workers need Linux (prctl, rlimits, fork)
        host = SandboxHost(exercise_id, source, budget=budget, limits=limits_for(DEFAULT_TIMEOUT), isolation=None)
        try:
            host.spawn().close()
            return host, ""
        except SandboxError:
            host.close()
        except (StudentError, WorkerFailure):
            return host, ""  # the checks meet the same error, and report it as the grader does
    return _FreshHost(exercise_id, source), "in this process (the grader's sandbox cannot start here)"


class _FreshHost(LocalHost):
    """Runs the answer's code anew for every worker, in this process: no state survives a restart."""

    def __init__(self, exercise_id: str, source: str) -> None:
        super().__init__(exercise_id, {})
        self.source = source

    def spawn(self):
        worker = super().spawn()
        call_worker(worker, {"op": "load", "source": self.source})
        return worker


def _checked(spec: ExerciseSpec, answers: Sequence[Any], source: str | None, chosen: list[Check],
             run) -> Report:
    """Find the answer's code, apply the import rule, host it as the grader does, then ``run(host, budget)``."""
    if source is None and answers:
        source = _kernel_source([v for v in _answers(spec, answers).values()])
    hidden = HIDDEN_POINTS.get(spec.id)
    if source is None:
        host = LocalHost(spec.id, _answers(spec, answers))
        how = ("on the objects in this process: the code of the cell that defined them was not found, "
               "so neither the import rule nor the grader's sandbox applied")
        return Report(spec, run(host, Budget()), _call_text(spec), how=how, hidden_points=hidden)
    code = cells_code([source])
    problem = import_problem(code, spec.id)
    if problem is not None:
        return Report(spec, refused_results(chosen, problem), _call_text(spec), hidden_points=hidden)
    from .grader import DEFAULT_TIMEOUT, limits_for

    budget = Budget(DEFAULT_TIMEOUT, limits_for(DEFAULT_TIMEOUT).call_timeout)
    host, how = _answer_host(spec.id, code, budget)
    try:
        return Report(spec, run(host, budget), _call_text(spec), how=how, hidden_points=hidden)
    finally:
        host.close()


def run_checks(exercise: str | int, *answers: Any, checks: Sequence[Check] | None = None,
               source: str | None = None) -> Report:
    """Run checks (by default the visible ones) on an answer, the way the grader does.

    ``source`` is the answer cell's code; by default it is found from the objects
    (see the module's docstring).
    """
    spec = registry.get(exercise)
    chosen = list(checks) if checks is not None else spec.visible_checks()
    return _checked(spec, answers, source, chosen,
                    lambda host, budget: [spec.run_check(c, host, budget) for c in chosen])


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False) or [indent]


def _hidden_line(report: Report) -> list[str]:
    if report.hidden_points is None or any(r.hidden for r in report.results):
        return []
    return [f"  + {report.hidden_points} hidden points graded by your instructor "
            "(the same rules, more seeds and harsher faults)"]


def format_report(report: Report) -> str:
    spec = report.spec
    head = f"{spec.id} {spec.title}"
    visible = "visible " if not any(r.hidden for r in report.results) else ""
    how = _wrap(f"(checked {report.how})", "  ") if report.how else []
    if report.not_implemented:
        return "\n".join([
            f"{head}: not implemented yet (0/{report.max_points} points)",
            *_wrap("Fill in the answer cell above -- replace each `raise NotImplementedError()` with your "
                   "code -- and run this cell again.", "  "),
            *_hidden_line(report), *how,
        ])
    n_pass = sum(r.passed for r in report.results)
    lines = [f"{head}: {n_pass} of {len(report.results)} {visible}checks passed, "
             f"{report.points}/{report.max_points} points"]
    messages = {r.message for r in report.results if not r.passed}
    if len(report.results) > 1 and n_pass == 0 and len(messages) == 1 and report.results[0].status == "error":
        # one reason stopped every check (the import rule, an answer that does not load)
        lines += _wrap(report.results[0].message, "  ")
        return "\n".join(lines + [f"  FAIL  {r.name} (0/{r.max_points})" for r in report.results]
                          + _hidden_line(report) + how)
    for i, r in enumerate(report.results, 1):
        lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.name} ({r.points}/{r.max_points})")
        if r.passed:
            continue
        where = f"seed {r.seed}: " if r.seed is not None else ""
        lines += _wrap(where + r.message, "        ")
        lines += ["          " + e for e in r.evidence]
        if r.hint:
            lines += _wrap("hint: " + r.hint, "        ")
        seed = f", seed={r.seed}" if r.seed is not None and isinstance(spec, NodeSpec) else ""
        lines.append(f"        replay({spec.id!r}, {report.call}, check={i}{seed})")
    return "\n".join(lines + _hidden_line(report) + how)


def _nbgrader_running() -> bool:
    return os.environ.get("NBGRADER_EXECUTION", "").lower() in ("autograde", "validate")


def selfcheck(exercise: str | int, *answers: Any, source: str | None = None) -> None:
    """Run the visible checks and print the scored report (never raises for a stub)."""
    report = run_checks(exercise, *answers, source=source)
    print(format_report(report))
    if _nbgrader_running() and not report.passed:
        raise AssertionError(f"{report.spec.id}: {report.points}/{report.max_points} points in the visible checks")


def replay(exercise: str | int, *answers: Any, check: int = 1, seed: int | None = None, plot: bool = False,
           source: str | None = None):
    """Run one visible check again and show what happened.

    For a node exercise: one run of check number ``check`` (1-based, as the
    report numbers them) with ``seed`` (default: its first seed).  Prints what
    went wrong, or that every rule held, and returns the run -- pass it to
    :func:`consensus_lab.viz.plot_spacetime`, or say ``plot=True``.  For a
    function exercise: prints the first input where the answer disagrees with
    the reference.  Returns ``None`` while the answer is still the stub.
    """
    spec = registry.get(exercise)
    checks = spec.visible_checks()
    if not 1 <= check <= len(checks):
        raise ValueError(f"{spec.id} has checks 1..{len(checks)}, not {check}")
    c = checks[check - 1]
    if isinstance(spec, FunctionSpec):
        r = run_checks(spec.id, *answers, checks=[c], source=source).results[0]
        if r.not_implemented:
            print(REPLAY_STUB.format(id=spec.id))
            return None
        if r.passed:
            n = len(spec.cases(c))
            print(f"{spec.id} check {check} ({c.name}): all {n} inputs agree with the reference")
        else:
            print(f"{spec.id} check {check} ({c.name}):")
            print("\n".join(_wrap(r.message, "  ")))
        return None
    assert isinstance(spec, NodeSpec)
    seed = c.seeds()[0] if seed is None else int(seed)
    outcomes: list = []

    def once(host, budget):
        outcomes.append(spec.run_once(host, c.params, seed, keep_run=True))
        return []

    report = _checked(spec, answers, source, [c], once)
    if report.results:  # refused by the import rule
        print(f"{spec.id} check {check} ({c.name}): FAIL")
        print("\n".join(_wrap(report.results[0].message, "  ")))
        return None
    outcome = outcomes[0]
    if outcome.problem is not None and outcome.problem.not_implemented:
        print(REPLAY_STUB.format(id=spec.id))
        return None
    head = f"{spec.id} check {check} ({c.name}), seed {seed}"
    if outcome.problem is None:
        print(f"{head}: every rule held. {outcome.run.summary()}")
    else:
        print(f"{head}: FAIL")
        print("\n".join(_wrap(outcome.problem.message, "  ") + ["  " + e for e in outcome.problem.evidence]))
    if plot:
        from ..viz import plot_spacetime

        plot_spacetime(outcome.run, title=head)
    return outcome.run


def as_protocol(exercise: str | int, *answers: Any, name: str | None = None, direct: bool = False):
    """The answer as a :class:`~consensus_lab.sim.ProtocolSpec`, judged by the exercise's rules.

    Use it like any protocol: ``consensus_lab.run(spec, nodes=5, seed=3,
    nemesis="partition")``, or in the scenario lab.  A broken rule shows up
    in ``run.violations`` with the events that led to it.

    ``direct=True`` puts the answer's own node objects in the simulator (no
    stand-ins) with the exercise's state invariants only -- what the schedule
    explorer needs, since it copies and fingerprints node state::

        from consensus_lab.explore import explore
        explore(as_protocol("ex08", RaftElectionNode, direct=True), depth=8)
    """
    from ..sim import Invariant, ProtocolSpec, Workload
    from .checks import Violation
    from .hosting import HostedRun

    spec = registry.get(exercise)
    if not isinstance(spec, NodeSpec):
        raise TypeError(f"{spec.id} is not a node exercise")
    given = _answers(spec, answers)
    defaults = spec.scenario({})
    wl = dict(defaults.get("workload", {}))
    for k in ("keys", "mix"):
        if k in wl:
            wl[k] = tuple(tuple(x) if isinstance(x, list) else x for x in wl[k])
    if direct:
        module = spec.module
        return ProtocolSpec(
            name=name or f"{spec.id}-answer",
            summary=f"your answer to {spec.id}: {spec.title}",
            make_node=lambda nid, cluster, options, variant: module.make_node(
                given, nid, cluster, {**dict(spec.default_options), **dict(options)}),
            invariants=lambda options, variant: spec.lab_invariants(),
            workload=Workload(**wl),
            options=dict(spec.default_options),
            default_nodes=int(defaults.get("nodes", 3)),
            history_model=None,
        )
    host = LocalHost(spec.id, given)
    current: dict[str, Any] = {}

    class _Rules(Invariant):
        name = f"{spec.id} rules"

        def __init__(self, judge) -> None:
            self.judge = judge
            self.found: list[str] = []
            self.reported = False

        def check(self, world) -> str | None:
            if self.judge.sim is None:
                self.judge.sim = world
            if self.found and not self.reported:
                self.reported = True
                return self.found[0]
            return None

    def invariants(options, variant):
        nodes = tuple(f"n{i}" for i in range(1, 10))
        opts = {**dict(spec.default_options), **dict(options)}
        judge = spec.judge_class(spec, defaults, nodes, opts)
        rules = _Rules(judge)

        def after_call(*args):
            if judge.sim is None:
                return
            judge.nodes = tuple(judge.sim.nodes)
            try:
                judge.after_call(*args)
            except Violation as v:
                rules.found.append(str(v))

        current["run"] = HostedRun(host, seed=0, options=opts, types=spec.types,
                                   message_names={t.__name__ for t in spec.module.MESSAGES} | {"Ok", "Fail", "Redirect"},
                                   validate_view=spec.validate_view, after_call=after_call)
        return [rules]

    def make_node(nid, cluster, options, variant):
        return current["run"].make_node(nid, cluster)

    return ProtocolSpec(
        name=name or f"{spec.id}-answer",
        summary=f"your answer to {spec.id}: {spec.title}",
        make_node=make_node,
        invariants=invariants,
        workload=Workload(**wl),
        options=dict(spec.default_options),
        default_nodes=int(defaults.get("nodes", 3)),
        history_model=None,
    )

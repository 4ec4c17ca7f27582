"""What a student runs in the exercise notebook: the self-check and replays.

``selfcheck("ex08", RaftElectionNode)`` runs the visible checks on the answer
-- in the notebook's own process, with exactly the code that judges it in the
grader -- and prints a scored report: one line per check, and for each failed
one what went wrong, a hint, and the call that replays it::

    ex08 Raft leader election: 3 of 4 checks passed, 8/10 points
      PASS  a leader is elected (3/3)
      FAIL  heartbeats keep the leader (0/2)
            seed 3: 3 terms had a leader (terms [1, 2, 3]); ...
            hint: A leader sends AppendEntries every HEARTBEAT seconds ...
            replay("ex08", RaftElectionNode, check=2, seed=3)

While the answer is still the stub, it says "not implemented yet" instead of
raising.  ``replay(...)`` runs one check (one seed) again and returns the run,
so that ``plot_spacetime(run)`` can draw it; ``as_protocol(...)`` wraps a node
answer as a :class:`~consensus_lab.sim.ProtocolSpec` for the scenario lab.

Under nbgrader's autograder (``NBGRADER_EXECUTION`` set) the self-check also
raises ``AssertionError`` unless every visible check passed, so nbgrader's
own scoring of the cell is not a free pass.  Real grading is
``consensus-lab grade``, which does not trust the notebook at all.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from typing import Any

from . import registry
from .checks import Check, CheckResult, ExerciseSpec, FunctionSpec, NodeSpec
from .hosting import LocalHost

__all__ = ["selfcheck", "run_checks", "replay", "as_protocol", "format_report", "Report", "REPLAY_STUB"]

WIDTH = 100
REPLAY_STUB = "{id}: not implemented yet -- nothing to replay until the answer cell is filled in."


class Report:
    """The results of one exercise's checks (visible, or visible and hidden)."""

    def __init__(self, spec: ExerciseSpec, results: list[CheckResult], call: str) -> None:
        self.spec = spec
        self.results = results
        self.call = call

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


def run_checks(exercise: str | int, *answers: Any, checks: Sequence[Check] | None = None) -> Report:
    """Run checks (by default the visible ones) on an answer in this process."""
    spec = registry.get(exercise)
    host = LocalHost(spec.id, _answers(spec, answers))
    chosen = list(checks) if checks is not None else spec.visible_checks()
    return Report(spec, [spec.run_check(c, host) for c in chosen], _call_text(spec))


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False) or [indent]


def format_report(report: Report) -> str:
    spec = report.spec
    head = f"{spec.id} {spec.title}"
    if report.not_implemented:
        return "\n".join([
            f"{head}: not implemented yet (0/{report.max_points} points)",
            *_wrap("Fill in the answer cell above -- replace each `raise NotImplementedError()` with your "
                   "code -- and run this cell again.", "  "),
        ])
    n_pass = sum(r.passed for r in report.results)
    lines = [f"{head}: {n_pass} of {len(report.results)} checks passed, {report.points}/{report.max_points} points"]
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
    return "\n".join(lines)


def _nbgrader_running() -> bool:
    return os.environ.get("NBGRADER_EXECUTION", "").lower() in ("autograde", "validate")


def selfcheck(exercise: str | int, *answers: Any) -> None:
    """Run the visible checks and print the scored report (never raises for a stub)."""
    report = run_checks(exercise, *answers)
    print(format_report(report))
    if _nbgrader_running() and not report.passed:
        raise AssertionError(f"{report.spec.id}: {report.points}/{report.max_points} points in the visible checks")


def replay(exercise: str | int, *answers: Any, check: int = 1, seed: int | None = None, plot: bool = False):
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
    host = LocalHost(spec.id, _answers(spec, answers))
    if isinstance(spec, FunctionSpec):
        r = spec.run_check(c, host)
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
    outcome = spec.run_once(host, c.params, seed, keep_run=True)
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

"""What a student (and the instructor) reads about a graded check.

One failed check reads, in full (never cut):

    FAIL  the coordinator crashes (0/2)
          seed 5: a restarted coordinator re-sends its decisions at t=1.701: ... [0 of 1 seeds passed]
          what led to it:
            #212 t=1.2960 restart n1
            #213 t=1.3011 deliver n1 <- n2 Inquire(txid=5)
            ...
          hint: (chosen by the kind of failure, not by the check)
          replay: replay('ex06', TwoPCNode, check=4, seed=5)

Hidden checks show the same (after the due date on Gradescope); their replay is
the instructor's ``consensus-lab grade SUBMISSIONS --replay STUDENT ex06 CHECK``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import registry

__all__ = ["failure_lines", "feedback_text", "replay_submission", "PARTIAL_CREDIT"]

PARTIAL_CREDIT = ("Partial credit: a check with several seeds (or inputs) gives its points in proportion to "
                  "the seeds (inputs) that pass, rounded down, and a failing check always loses at least a point. "
                  "For yes/no answers the share is counted separately for the inputs whose right answer is yes "
                  "and for those whose right answer is no, and the smaller share counts. An input on which the "
                  "code raises, crashes or hangs ends its check; the inputs before it keep their credit.")


def _clean(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch == "\n" else " " for ch in text)


def failure_lines(c: Mapping[str, Any], exercise: str, number: int, indent: str = "        ",
                  replay: bool = True) -> list[str]:
    """The full story of one failed check (a ``CheckResult.to_dict()``): message, evidence, hint, replay."""
    spec = registry.get(exercise)
    seed = f"seed {c['seed']}: " if c.get("seed") is not None else ""
    lines = [indent + seed + _clean(c["message"])]
    if c.get("stresses"):
        lines.append(f"{indent}this check stresses: {_clean(c['stresses'])}")
    evidence: Sequence[str] = c.get("evidence") or ()
    if evidence:
        lines.append(f"{indent}what led to it:")
        lines += [f"{indent}  {_clean(e)}" for e in evidence]
    if c.get("hint"):
        lines.append(f"{indent}hint: {_clean(c['hint'])}")
    if not replay:
        pass
    elif c.get("hidden"):
        lines.append(f"{indent}(a hidden check: your instructor can replay it)")
    else:
        names = ", ".join(spec.interface)
        again = f", seed={c['seed']}" if c.get("seed") is not None and spec.kind == "node" else ""
        lines.append(f"{indent}replay: replay({exercise!r}, {names}, check={number}{again})")
    return lines


def _student(name: str) -> str:
    """A student's name on one line of at most 100 characters (it comes from a file name)."""
    flat = " ".join(str(name).split())
    return flat if len(flat) <= 100 else flat[:99] + "…"


def feedback_text(student: str, results: Sequence[Any]) -> str:
    """A student's feedback file: every exercise, every check, failures in full."""
    total = sum(r.points for r in results)
    most = sum(r.max_points for r in results)
    lines = [f"Feedback for {_student(student)}: {total}/{most} points", ""]
    for r in results:
        spec = registry.get(r.exercise)
        lines.append(f"{r.exercise} {spec.title} ({spec.notebook}): {r.points}/{r.max_points} points [{r.status}]")
        if r.status in ("missing", "error", "grader-error", "not-implemented") and not r.checks:
            lines.append(f"  {r.reason}")
        for i, c in enumerate(r.checks, 1):
            tag = "PASS" if c["passed"] else "FAIL"
            kind = " (hidden check)" if c["hidden"] else ""
            lines.append(f"  {tag}  {c['name']}{kind} ({c['points']}/{c['max_points']})")
            if not c["passed"]:
                lines += failure_lines(c, r.exercise, i)
        lines.append("")
    lines.append(PARTIAL_CREDIT)
    return "\n".join(lines) + "\n"


def _pick_check(checks: Sequence[Any], which: str) -> tuple[int, Any]:
    if which.isdigit() and 1 <= int(which) <= len(checks):
        return int(which), checks[int(which) - 1]
    for i, c in enumerate(checks, 1):
        if c.name.lower() == which.strip().lower():
            return i, c
    names = "; ".join(f"{i} {c.name}{' (hidden)' if c.hidden else ''}" for i, c in enumerate(checks, 1))
    raise ValueError(f"no check {which!r}; the checks are: {names}")


def replay_submission(submissions: str, student: str, exercise: str, which: str, *, hidden: str | None = None,
                      seed: int | None = None, plot: str | None = None, timeout: float = 120.0, out=None) -> bool:
    """Re-run one check (visible or hidden) for one student's submission, in the sandbox, and show it.

    Prints the check, what it stresses, each seed's verdict and, for the first failing seed (or
    ``seed``), the message, the events that led to it and the hint; ``plot`` saves a space-time
    diagram of that run.  Returns whether the check passed.  Raises ValueError for bad input."""
    import sys

    from .checks import NodeSpec
    from .extract import NotebookError, answer_source, read_notebook
    from .grader import discover
    from .hosting import Budget
    from .sandbox import Limits, SandboxHost, detect_isolation

    out = out or sys.stdout
    spec = registry.get(exercise)
    subs = [s for s in discover(submissions) if s.student == student and s.exercise == spec.id and s.path]
    if not subs:
        raise ValueError(f"no {spec.id} notebook of student {student!r} in {submissions}")
    checks = list(spec.visible_checks()) + (registry.load_hidden(hidden).get(spec.id, []) if hidden else [])
    number, check = _pick_check(checks, which)
    try:
        source = answer_source(read_notebook(subs[0].path), spec.id)
    except NotebookError as exc:
        raise ValueError(str(exc)) from None
    limits = Limits(call_timeout=min(5.0, timeout), cpu_seconds=int(timeout) + 5)
    host = SandboxHost(spec.id, source, budget=Budget(timeout, limits.call_timeout), limits=limits,
                       isolation=detect_isolation())
    head = f"{student} {spec.id} check {number} ({check.name}{', hidden' if check.hidden else ''})"
    try:
        if not isinstance(spec, NodeSpec):
            r = spec.run_check(check, host, host.budget)
            print(f"{head}: {r.points}/{r.max_points} points", file=out)
            if not r.passed:
                print("\n".join(failure_lines(r.to_dict(), spec.id, number, indent="  ", replay=False)), file=out)
            return r.passed
        if check.stresses:
            print(f"{head} stresses: {check.stresses}", file=out)
        if "search" in check.params:
            return _replay_search(spec, check, number, host, head, plot, out)
        seeds = [int(seed)] if seed is not None else check.seeds()
        failed = None
        for s in seeds:
            o = spec.run_once(host, check.params, s)
            print(f"{head}, seed {s}: {'pass' if o.problem is None else o.problem.status}", file=out)
            if o.problem is not None and failed is None:
                failed = o
        shown = failed.seed if failed is not None else seeds[0]
        if failed is not None:
            p = failed.problem
            story = {"message": p.message, "evidence": p.evidence, "seed": shown, "hint": spec.hint_for(check, p),
                     "hidden": True, "stresses": ""}
            print("\n".join(failure_lines(story, spec.id, number, indent="  ", replay=False)), file=out)
        if plot:
            from ..viz import plot_spacetime

            run = spec.run_once(host, check.params, shown, keep_run=True).run
            t = failed.problem.time if failed is not None and failed.problem.time is not None else None
            window = {} if t is None else {"start": max(0.0, t - 0.6), "end": t + 0.05}
            verdict = "passes" if failed is None else f"fails: {failed.problem.kind}"
            fig = plot_spacetime(run, title=f"{head}, seed {shown} {verdict}", **window)
            fig = getattr(fig, "figure", fig)
            fig.savefig(plot, dpi=110, bbox_inches="tight")
            print(f"picture: {plot}", file=out)
        return failed is None
    finally:
        host.close()


def _replay_search(spec: Any, check: Any, number: int, host: Any, head: str, plot: str | None, out: Any) -> bool:
    """A search check again: the verdict, the numbered shortest schedule, and its picture."""
    from .search import run_search

    o = run_search(spec, host, check.params, host.budget)
    r = o.result
    covered = f"{r.states} states, {o.calls} steps of the answer, {o.seconds:.1f} s" if r is not None else ""
    print(f"{head}: {'pass' if o.problem is None else o.problem.status} ({covered})", file=out)
    if o.problem is not None:
        p = o.problem
        story = {"message": p.message, "evidence": p.evidence, "seed": None, "hint": spec.hint_for(check, p),
                 "hidden": True, "stresses": ""}
        print("\n".join(failure_lines(story, spec.id, number, indent="  ", replay=False)), file=out)
    if plot and r is not None and r.counterexample is not None:
        from .search import counterexample_figure

        counterexample_figure(r, f"{head}: {r.violation.invariant}").savefig(plot, dpi=110, bbox_inches="tight")
        print(f"picture: {plot}", file=out)
    return o.problem is None

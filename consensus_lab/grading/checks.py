"""Checks and how they run: the judging half of every exercise.

An exercise spec (one per exercise, in :mod:`consensus_lab.grading.specs`)
lists *visible* checks; an instructor adds *hidden* ones from a directory (see
:func:`consensus_lab.grading.registry.load_hidden`).  A :class:`Check` has a
name, points, a hint and parameters; running it against a host gives a
:class:`CheckResult`.

* :class:`FunctionSpec` -- generate inputs from a seed, send each to the
  answer, compare what comes back with the library's reference *here*;
* :class:`NodeSpec` -- run seeded scenarios of the answer's nodes in the
  grader's simulator and judge them with invariants, per-call rules ("persist
  before you answer") and end-of-run expectations, all computed here.

Everything the answer returns is plain data (see :mod:`.codec`); a check
fails on anything it cannot accept, never crashes on it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..sim import NetworkConfig, NodeError, Workload, parse_script, random_schedule
from ..sim.nemesis import FAULT_KINDS
from . import codec
from .hosting import Budget, GradingSimulation, HostedRun, StudentError, WorkerFailure, call_worker
from .worker import exercise_module, type_table

__all__ = [
    "Check",
    "CheckResult",
    "Case",
    "ExerciseSpec",
    "FunctionSpec",
    "NodeSpec",
    "Judge",
    "Violation",
    "RunOutcome",
    "Failure",
    "GENERIC_HINTS",
    "balanced_credit",
]

WINDOW = 12  # trace events shown before a failure
LINE = 200  # characters of one event line


@dataclass(frozen=True)
class Check:
    """One check, worth ``points``; ``stresses`` says what its schedules are hard on.

    Partial credit: a check with several runs (seeds) or inputs gives
    ``points * passed // total`` -- every failing run costs at least a point,
    one failing run of many does not cost the whole check.
    """

    name: str
    points: int
    hint: str = ""
    hidden: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    stresses: str = ""

    def seeds(self) -> list[int]:
        p = self.params
        if "seeds" in p:
            s = p["seeds"]
            if isinstance(s, Mapping):
                return list(range(int(s["start"]), int(s["start"]) + int(s["count"])))
            return [int(x) for x in s]
        if "seed" in p:
            return [int(p["seed"])]
        return [0]


@dataclass
class CheckResult:
    name: str
    points: int
    max_points: int
    passed: bool
    message: str = ""
    hint: str = ""
    seed: int | None = None
    hidden: bool = False
    not_implemented: bool = False
    status: str = "pass"  # pass | fail | error | timeout | not-implemented
    seconds: float = 0.0
    kind: str = ""  # what failed: the rule that broke, or the kind of wrong answer
    evidence: list[str] = field(default_factory=list)  # the events (or input lines) that show it
    runs: int = 0  # seeds or inputs tried
    runs_passed: int = 0
    stresses: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "points": self.points,
            "max_points": self.max_points,
            "passed": self.passed,
            "status": self.status,
            "message": self.message,
            "hint": self.hint,
            "seed": self.seed,
            "hidden": self.hidden,
            "seconds": round(self.seconds, 3),
            "kind": self.kind,
            "evidence": list(self.evidence),
            "runs": self.runs,
            "runs_passed": self.runs_passed,
            "stresses": self.stresses,
        }


@dataclass
class Case:
    """One input of a function check: call ``fn`` with ``args``."""

    fn: str
    args: list[Any]
    label: str = ""


class Violation(Exception):
    """Raised by a judge the moment a rule breaks; stops the run.

    ``rule`` is the failure's kind (it picks the hint); ``nodes`` are the nodes
    the evidence should show (default: the node whose handler just ran)."""

    def __init__(self, rule: str, message: str, time: float | None = None, nodes: Sequence[str] = ()) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.time = time
        self.nodes = tuple(nodes)


@dataclass
class Failure:
    """Why one run (seed) or input failed."""

    status: str  # fail | error | timeout | not-implemented
    message: str
    not_implemented: bool = False
    kind: str = ""
    evidence: list[str] = field(default_factory=list)
    nodes: tuple[str, ...] = ()
    time: float | None = None  # simulated time of a broken rule

    def __iter__(self):  # (status, message, not_implemented), as before
        return iter((self.status, self.message, self.not_implemented))

    def __getitem__(self, i: int):
        return (self.status, self.message, self.not_implemented)[i]


# The hint for a failure that is not a broken rule of the exercise: chosen by what went wrong.
GENERIC_HINTS = {
    "not-implemented": "Fill in every `raise NotImplementedError()` of the answer cell.",
    "error": "Your code raised an exception or sent something that is not a message of this exercise: "
             "read the error, then replay the check to see the call that raised.",
    "timeout": "The answer took too long: look for a loop that never ends or a timer that fires with delay 0 "
               "again and again.",
}


def _failure_from(exc: BaseException) -> Failure:
    """The :class:`Failure` for an exception raised while checking."""
    inner: BaseException | None = exc
    while isinstance(inner, NodeError) and inner.__cause__ is not None:
        inner = inner.__cause__
    if isinstance(inner, Violation):
        at = f" at t={inner.time:.3f}" if inner.time is not None else ""
        return Failure("fail", f"{inner.rule}{at}: {inner.message}", kind=inner.rule, nodes=inner.nodes,
                       time=inner.time)
    if isinstance(inner, StudentError):
        if inner.not_implemented:
            return Failure("not-implemented", f"not implemented yet ({inner})", True, kind="not-implemented")
        return Failure("error", str(inner), kind="error")
    if isinstance(inner, WorkerFailure):
        status = "timeout" if inner.timeout else "error"
        return Failure(status, str(inner), kind=status)
    if isinstance(exc, NodeError):
        return Failure("error", str(exc)[:1000], kind="error")
    raise exc


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= LINE else text[: LINE - 3] + "..."


def event_line(i: int, row: tuple) -> str:
    """One trace row, with the message's fields: ``#41 t=0.8123 deliver n2 <- n1 Prepare(txid=3)``."""
    t, kind, node, peer, _mid, msg, info = row
    parts = [f"#{i}", f"t={t:.4f}", kind]
    if node is not None:
        parts.append(str(node))
    if peer is not None:
        parts.append(("<- " if kind == "deliver" else "-> ") + str(peer))
    if msg is not None:
        parts.append(_short(msg))
    if info is not None:
        parts.append(f"({_short(info)})" if kind in ("drop",) else _short(info))
    return " ".join(parts)[: LINE + 40]


def trace_window(rows: Sequence[tuple], nodes: Sequence[str] = (), size: int = WINDOW) -> list[str]:
    """The last ``size`` events of ``rows`` that involve one of ``nodes`` (any event if none given)."""
    want = set(nodes)
    picked: list[int] = []
    for i in range(len(rows) - 1, -1, -1):
        r = rows[i]
        if not want or r[2] in want or r[3] in want or r[1] in ("crash", "restart", "partition", "heal"):
            picked.append(i)
            if len(picked) == size:
                break
    picked.reverse()
    lines = [event_line(i, rows[i]) for i in picked]
    if picked:
        lines.append(f"(events {picked[0]}..{picked[-1]} of {len(rows)}"
                     + (f", those of {', '.join(sorted(want))}" if want else "") + "; the last one is where it broke)")
    return lines


class ExerciseSpec:
    """What every exercise spec has: identity, notebook, interface, checks."""

    id: str = ""
    title: str = ""
    notebook: str = ""
    kind: str = ""  # "function" | "node"
    checks: Sequence[Check] = ()

    @property
    def module(self):
        return exercise_module(self.id)

    @property
    def interface(self) -> tuple[str, ...]:
        return tuple(self.module.INTERFACE)

    @property
    def types(self) -> dict[str, type]:
        return type_table(self.module)

    def visible_checks(self) -> list[Check]:
        return list(self.checks)

    def validate_check(self, check: Check) -> None:
        """Raise ValueError when a (hidden) check's parameters make no sense."""

    hints: Mapping[str, str] = {}  # failure kind (a rule's name, ...) -> the hint for it

    def hint_for(self, check: Check, failure: Failure) -> str:
        """A hint chosen by what went wrong; the check's own hint when the kind has none."""
        return self.hints.get(failure.kind) or GENERIC_HINTS.get(failure.kind) or check.hint

    def run_check(self, check: Check, host: Any, budget: Budget | None = None) -> CheckResult:
        budget = budget or Budget()
        start = time.monotonic()
        result = CheckResult(check.name, 0, check.points, False, hint=check.hint, hidden=check.hidden,
                             stresses=check.stresses)
        if budget.expired():
            result.status, result.message, result.kind = "timeout", "the time allowed for this submission ran out", "timeout"
            return result
        try:
            credit, passed, total, first, seed = self._run(check, host, budget)
        except Exception as exc:  # noqa: BLE001 - classified below; unknown ones re-raised
            credit, passed, total, first, seed = 0.0, 0, 1, _failure_from(exc), getattr(exc, "seed", None)
        result.seconds = time.monotonic() - start
        result.seed = seed
        result.runs, result.runs_passed = total, passed
        if first is None:
            result.passed, result.points, result.status, result.message, result.hint = True, check.points, "pass", "passed", ""
            return result
        result.status, result.message, result.not_implemented = first.status, first.message, first.not_implemented
        result.kind, result.evidence = first.kind, list(first.evidence)
        result.hint = self.hint_for(check, first)
        if first.not_implemented:
            return result
        result.points = max(0, min(check.points - 1, int(check.points * credit + 1e-9)))
        if total > 1:
            result.message += f" [{passed} of {total} {self.unit}s passed]"
        return result

    unit = "run"

    def _run(self, check: Check, host: Any, budget: Budget) -> tuple[float, int, int, Failure | None, int | None]:
        """(credit in [0, 1], units passed, units tried, the first failure, its seed)."""
        raise NotImplementedError


_OUT_OF_TIME = Failure("timeout", "the time allowed for this submission ran out", kind="timeout")


# --- function exercises ----------------------------------------------------------------


class FunctionSpec(ExerciseSpec):
    """Inputs go in, plain results come out, the grader compares with its reference."""

    kind = "function"
    unit = "input"

    def cases(self, check: Check) -> list[Case]:
        raise NotImplementedError

    def expected(self, case: Case) -> Any:
        raise NotImplementedError

    def agree(self, case: Case, expected: Any, got: Any) -> bool:
        return expected == got

    def explain(self, case: Case, expected: Any, got: Any) -> str:
        return f"{case.label}: expected {expected!r}, got {got!r}"

    def failure_kind(self, case: Case, expected: Any, got: Any) -> str:
        """The kind of wrong answer (it picks the hint): by default the function and the right answer."""
        return f"{case.fn} -> {expected!r}"

    def evidence(self, case: Case, expected: Any, got: Any) -> list[str]:
        """The input, shown so the line that matters stands out (one line each)."""
        return []

    def credit(self, outcomes: Sequence[tuple[Any, bool]]) -> float:
        """The share of a check's points earned: ``outcomes`` is (expected answer, right?) for every input.

        By default the share of inputs answered right.  A yes/no exercise overrides this with
        :func:`balanced_credit`, so that answering always yes (or always no) earns nothing."""
        return sum(ok for _, ok in outcomes) / max(1, len(outcomes))

    def _run(self, check, host, budget):
        seed = check.seeds()[0] if ("seed" in check.params or "seeds" in check.params) else None
        cases = self.cases(check)
        worker = host.spawn()
        outcomes: list[tuple[Any, bool]] = []
        first: Failure | None = None
        try:
            for case in cases:
                if budget.expired():
                    first = first or _OUT_OF_TIME
                    break
                req = {"op": "fn", "name": case.fn, "args": [codec.encode(a, self.types) for a in case.args]}
                expected = self.expected(case)
                try:
                    reply = call_worker(worker, req)
                    got = codec.decode(reply.get("r"), self.types)
                except codec.CodecError as exc:
                    first = first or Failure("error", f"{case.label}: the answer returned something unusable ({exc})",
                                             kind="error")
                    break
                except (StudentError, WorkerFailure) as exc:
                    # an input that raises, crashes or hangs ends the check; the inputs before it keep their credit
                    f = _failure_from(exc)
                    if f.not_implemented:
                        return 0.0, 0, len(cases), f, seed
                    if not f.message.startswith(case.label):
                        f.message = f"{case.label}: {f.message}"
                    first = first or f
                    break
                right = self.agree(case, expected, got)
                outcomes.append((expected, right))
                if not right and first is None:
                    first = Failure("fail", self.explain(case, expected, got),
                                    kind=self.failure_kind(case, expected, got),
                                    evidence=self.evidence(case, expected, got))
            outcomes += [(self.expected(c), False) for c in cases[len(outcomes):]]
            return self.credit(outcomes), sum(ok for _, ok in outcomes), len(cases), first, seed
        finally:
            worker.close()


def balanced_credit(outcomes: Sequence[tuple[Any, bool]]) -> float:
    """For yes/no answers: the worst share of right answers among the inputs of one right answer
    (the linearizable histories, the non-linearizable ones): a constant answer earns nothing."""
    groups: dict[Any, list[bool]] = {}
    for expected, ok in outcomes:
        groups.setdefault(expected, []).append(ok)
    return min((sum(v) / len(v) for v in groups.values()), default=0.0)


# --- node exercises --------------------------------------------------------------------


class Judge:
    """Per-run rules for a node exercise; subclasses override the hooks.

    ``after_call`` sees every handler call: which storage keys it wrote (and
    their old values, in ``before``), the effects it produced, and whether the
    node's view changed.  Raise :class:`Violation` to fail the run at once.
    """

    def __init__(self, spec: NodeSpec, params: Mapping[str, Any], nodes: tuple[str, ...], options: dict) -> None:
        self.spec = spec
        self.params = params
        self.nodes = nodes
        self.options = options
        self.sim: GradingSimulation | None = None

    @property
    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    def store(self, node_id: str) -> dict[str, Any]:
        """A node's durable storage as the grader holds it (read it, never change it)."""
        assert self.sim is not None
        return self.sim.storage[node_id]._data

    def live_views(self) -> dict[str, dict]:
        assert self.sim is not None
        return {nid: n.hosted_view for nid, n in self.sim.nodes.items() if n is not None}

    def after_call(self, node, handler: str, before: dict, effects: list, view_changed: bool, now: float) -> None:
        pass

    def final(self) -> str | None:
        """Checked once at the end of a run that broke no rule; a string is a failure."""
        return None


@dataclass
class RunOutcome:
    seed: int
    problem: Failure | None
    run: Any = None  # a consensus_lab.sim.Run, for pictures (self-check replays only)


class NodeSpec(ExerciseSpec):
    """Scenarios of the answer's nodes, judged in the grader's process."""

    kind = "node"
    judge_class: type[Judge] = Judge
    defaults: Mapping[str, Any] = {}
    default_options: Mapping[str, Any] = {}

    def validate_view(self, view: Any) -> str | None:
        return None if type(view) is dict else "its view is not a dict"

    def lab_invariants(self, view: Any = None) -> list:
        """Stateless invariants over answer nodes, for the explorer: ``view(node)`` is what a node
        reports about itself (default: the exercise's ``view`` of a plain answer node, as
        ``as_protocol(direct=True)`` builds them)."""
        return []

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """What the grader saw a stepped node do (search checks), from the effects of one handler:
        the node's new facts (return ``facts`` itself when nothing changed)."""
        return facts

    def search_invariants(self) -> list:
        """The invariants of a search check, over :class:`~.search.SteppedNode` stand-ins."""
        return self.lab_invariants(view=lambda node: node.view)

    def scenario(self, check_params: Mapping[str, Any]) -> dict[str, Any]:
        p = dict(self.defaults)
        for k, v in check_params.items():
            if k in ("workload", "options", "network", "expect") and isinstance(v, Mapping):
                p[k] = {**dict(p.get(k, {})), **dict(v)}
            else:
                p[k] = v
        return p

    def validate_check(self, check: Check) -> None:
        if "search" in check.params:
            from .search import validate_search

            validate_search(check.params["search"])
            return
        p = self.scenario(check.params)
        n = p.get("nodes", 3)
        if not isinstance(n, int) or not 1 <= n <= 9:
            raise ValueError(f"check {check.name!r}: nodes must be 1..9")
        if not (isinstance(p.get("duration", 1.0), int | float) and 0 < p.get("duration", 1.0) <= 120):
            raise ValueError(f"check {check.name!r}: duration must be in (0, 120]")
        check.seeds()
        NetworkConfig.from_dict(dict(p.get("network", {})))
        Workload(**dict(p.get("workload", {})))

    unit = "seed"

    def run_once(self, host: Any, params: Mapping[str, Any], seed: int, *, keep_run: bool = False) -> RunOutcome:
        from ..runner import collect, node_names
        from ..sim import Scenario

        p = self.scenario(params)
        nodes = node_names(int(p.get("nodes", 3)))
        duration = float(p.get("duration", 3.0))
        options = {**dict(self.default_options), **dict(p.get("options", {}))}
        network = NetworkConfig.from_dict(dict(p.get("network", {})))
        wl = dict(p.get("workload", {}))
        for k in ("keys", "mix"):
            if k in wl:
                wl[k] = tuple(tuple(x) if isinstance(x, list) else x for x in wl[k])
        workload = Workload(**wl)
        schedule = _schedule(p, nodes, duration, seed, network.loss)
        judge = self.judge_class(self, p, nodes, options)
        run = HostedRun(
            host,
            seed=seed,
            options=options,
            types=self.types,
            message_names={t.__name__ for t in self.module.MESSAGES} | {"Ok", "Fail", "Redirect"},
            validate_view=self.validate_view,
            after_call=judge.after_call,
        )
        sim = GradingSimulation(run.make_node, nodes, seed=seed, network=network, workload=workload, schedule=schedule)
        judge.sim = sim
        problem: Failure | None = None
        try:
            sim.run_until(duration)
            sim.finish_clients()
            text = judge.final()
            if text:
                problem = Failure("fail", text, kind="at the end of the run")
        except Exception as exc:  # noqa: BLE001 - classified by _failure_from
            problem = _failure_from(exc)
        finally:
            run.close()
        if problem is not None and problem.status == "fail" and not problem.evidence:
            rows = sim._rows
            focus = problem.nodes or ((rows[-1][2],) if rows and rows[-1][2] in nodes else ())
            problem.evidence = trace_window(rows, focus)
        out = RunOutcome(seed, problem)
        if keep_run:
            scenario = Scenario(protocol=self.id, nodes=len(nodes), seed=seed, duration=duration, network=network,
                                workload=workload, nemesis=str(p.get("nemesis", "none")), variant="answer")
            out.run = collect(sim, scenario, schedule)
        return out

    def _run(self, check, host, budget):
        if "search" in check.params:  # one search, all or nothing: a counterexample is a real bug
            from .search import run_search

            problem = run_search(self, host, check.params, budget).problem
            return float(problem is None), int(problem is None), 1, problem, None
        seeds = check.seeds()
        passed, first, first_seed = 0, None, None
        for seed in seeds:
            if budget.expired():
                first, first_seed = (first, first_seed) if first else (_OUT_OF_TIME, seed)
                break
            outcome = self.run_once(host, check.params, seed)
            if outcome.problem is None:
                passed += 1
                continue
            if outcome.problem.not_implemented:
                return 0.0, 0, len(seeds), outcome.problem, seed
            if first is None:
                first, first_seed = outcome.problem, seed
            if outcome.problem.status == "timeout":
                break
        return passed / len(seeds), passed, len(seeds), first, first_seed


def _schedule(p: Mapping[str, Any], nodes: tuple[str, ...], duration: float, seed: int, loss: float) -> list:
    spec = str(p.get("nemesis", "none")).strip()
    if spec in ("", "none"):
        return []
    kinds = [k.strip() for k in spec.split(",")]
    if spec == "random":
        kinds = ["partition", "crash"]
    if all(k in FAULT_KINDS for k in kinds):
        rng = random.Random(f"consensus_lab:{seed}:nemesis")
        return random_schedule(nodes, duration, rng, tuple(kinds), interval=float(p.get("nemesis_interval", 1.0)),
                               base_loss=loss, quiet=float(p.get("quiet", 0.3)))
    return parse_script(spec, nodes)

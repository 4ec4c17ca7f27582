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
]


@dataclass(frozen=True)
class Check:
    """One check: ``points`` if it passes, nothing otherwise."""

    name: str
    points: int
    hint: str = ""
    hidden: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)

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
        }


@dataclass
class Case:
    """One input of a function check: call ``fn`` with ``args``."""

    fn: str
    args: list[Any]
    label: str = ""


class Violation(Exception):
    """Raised by a judge the moment a rule breaks; stops the run."""

    def __init__(self, rule: str, message: str, time: float | None = None) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.message = message
        self.time = time


def _failure_from(exc: BaseException) -> tuple[str, str, bool]:
    """(status, message, not_implemented) for an exception raised while checking."""
    inner: BaseException | None = exc
    while isinstance(inner, NodeError) and inner.__cause__ is not None:
        inner = inner.__cause__
    if isinstance(inner, Violation):
        at = f" at t={inner.time:.3f}" if inner.time is not None else ""
        return "fail", f"{inner.rule}{at}: {inner.message}", False
    if isinstance(inner, StudentError):
        if inner.not_implemented:
            return "not-implemented", f"not implemented yet ({inner})", True
        return "error", str(inner), False
    if isinstance(inner, WorkerFailure):
        return ("timeout" if inner.timeout else "error"), str(inner), False
    if isinstance(exc, NodeError):
        return "error", str(exc)[:300], False
    raise exc


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

    def run_check(self, check: Check, host: Any, budget: Budget | None = None) -> CheckResult:
        budget = budget or Budget()
        start = time.monotonic()
        result = CheckResult(check.name, 0, check.points, False, hint=check.hint, hidden=check.hidden)
        if budget.expired():
            result.status, result.message = "timeout", "the time allowed for this submission ran out"
            return result
        try:
            problem, seed = self._run(check, host, budget)
        except Exception as exc:  # noqa: BLE001 - classified below; unknown ones re-raised
            status, message, ni = _failure_from(exc)
            problem, seed = (status, message, ni), getattr(exc, "seed", None)
        result.seconds = time.monotonic() - start
        result.seed = seed
        if problem is None:
            result.passed, result.points, result.status, result.message, result.hint = True, check.points, "pass", "passed", ""
        else:
            result.status, result.message, result.not_implemented = problem
        return result

    def _run(self, check: Check, host: Any, budget: Budget) -> tuple[tuple[str, str, bool] | None, int | None]:
        raise NotImplementedError


# --- function exercises ----------------------------------------------------------------


class FunctionSpec(ExerciseSpec):
    """Inputs go in, plain results come out, the grader compares with its reference."""

    kind = "function"

    def cases(self, check: Check) -> list[Case]:
        raise NotImplementedError

    def expected(self, case: Case) -> Any:
        raise NotImplementedError

    def agree(self, case: Case, expected: Any, got: Any) -> bool:
        return expected == got

    def explain(self, case: Case, expected: Any, got: Any) -> str:
        return f"{case.label}: expected {expected!r}, got {got!r}"

    def _run(self, check, host, budget):
        seed = check.seeds()[0] if ("seed" in check.params or "seeds" in check.params) else None
        cases = self.cases(check)
        worker = host.spawn()
        try:
            for case in cases:
                if budget.expired():
                    return ("timeout", "the time allowed for this submission ran out", False), seed
                req = {"op": "fn", "name": case.fn, "args": [codec.encode(a, self.types) for a in case.args]}
                try:
                    reply = call_worker(worker, req)
                    got = codec.decode(reply.get("r"), self.types)
                except codec.CodecError as exc:
                    return ("error", f"{case.label}: the answer returned something unusable ({exc})", False), seed
                except (StudentError, WorkerFailure) as exc:
                    status, message, ni = _failure_from(exc)
                    return (status, f"{case.label}: {message}" if not ni else message, ni), seed
                expected = self.expected(case)
                if not self.agree(case, expected, got):
                    return ("fail", self.explain(case, expected, got), False), seed
            return None, seed
        finally:
            worker.close()


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
    problem: tuple[str, str, bool] | None
    run: Any = None  # a consensus_lab.sim.Run, for pictures (self-check replays only)


class NodeSpec(ExerciseSpec):
    """Scenarios of the answer's nodes, judged in the grader's process."""

    kind = "node"
    judge_class: type[Judge] = Judge
    defaults: Mapping[str, Any] = {}
    default_options: Mapping[str, Any] = {}

    def validate_view(self, view: Any) -> str | None:
        return None if type(view) is dict else "its view is not a dict"

    def lab_invariants(self) -> list:
        """Stateless invariants over plain answer nodes, for the explorer (``as_protocol(direct=True)``)."""
        return []

    def scenario(self, check_params: Mapping[str, Any]) -> dict[str, Any]:
        p = dict(self.defaults)
        for k, v in check_params.items():
            if k in ("workload", "options", "network", "expect") and isinstance(v, Mapping):
                p[k] = {**dict(p.get(k, {})), **dict(v)}
            else:
                p[k] = v
        return p

    def validate_check(self, check: Check) -> None:
        p = self.scenario(check.params)
        n = p.get("nodes", 3)
        if not isinstance(n, int) or not 1 <= n <= 9:
            raise ValueError(f"check {check.name!r}: nodes must be 1..9")
        if not (isinstance(p.get("duration", 1.0), int | float) and 0 < p.get("duration", 1.0) <= 120):
            raise ValueError(f"check {check.name!r}: duration must be in (0, 120]")
        check.seeds()
        NetworkConfig.from_dict(dict(p.get("network", {})))
        Workload(**dict(p.get("workload", {})))

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
        problem = None
        try:
            sim.run_until(duration)
            sim.finish_clients()
            text = judge.final()
            if text:
                problem = ("fail", text, False)
        except Exception as exc:  # noqa: BLE001 - classified by _failure_from
            problem = _failure_from(exc)
        finally:
            run.close()
        out = RunOutcome(seed, problem)
        if keep_run:
            scenario = Scenario(protocol=self.id, nodes=len(nodes), seed=seed, duration=duration, network=network,
                                workload=workload, nemesis=str(p.get("nemesis", "none")), variant="answer")
            out.run = collect(sim, scenario, schedule)
        return out

    def _run(self, check, host, budget):
        for seed in check.seeds():
            if budget.expired():
                return ("timeout", "the time allowed for this submission ran out", False), seed
            outcome = self.run_once(host, check.params, seed)
            if outcome.problem is not None:
                return outcome.problem, seed
        return None, None


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

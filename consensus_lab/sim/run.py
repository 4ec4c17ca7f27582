"""The result of a run: trace, history, violations and statistics."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..history import Op
from .invariants import Violation
from .nemesis import Action, schedule_to_script
from .scenario import Scenario
from .trace import Trace, to_jsonable

__all__ = ["Run", "RunFileError"]

RUN_FORMAT = "consensus_lab.run/1"


class RunFileError(ValueError):
    """A saved run that cannot be read back."""


@dataclass
class Run:
    """Everything a run produced.

    ``violations`` is empty when every invariant held at every event.
    ``nodes`` holds the final node objects (``None`` for a node that was down at
    the end); ``storage`` their durable contents.
    """

    scenario: Scenario
    trace: Trace
    history: list[Op]
    violations: list[Violation]
    stats: dict[str, Any]
    goals: dict[str, float | None] = field(default_factory=dict)
    schedule: list[tuple[float, Action]] = field(default_factory=list)
    nodes: dict[str, Any] = field(default_factory=dict)
    storage: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def trace_hash(self) -> str:
        return self.trace.hash()

    @property
    def node_ids(self) -> list[str]:
        return list(self.storage) or list(self.nodes)

    def summary(self) -> str:
        s = self.stats
        ops = s.get("ops", {})
        verdict = "no violation" if self.ok else f"{len(self.violations)} violation(s): {self.violations[0]}"
        return (
            f"{self.scenario.protocol_name} ({self.scenario.variant}), {len(self.node_ids)} nodes, seed {self.scenario.seed}: "
            f"{s.get('events', 0)} events, {s.get('sent', 0)} messages sent, {s.get('delivered', 0)} delivered, "
            f"{s.get('dropped', 0)} dropped; ops ok={ops.get('ok', 0)} fail={ops.get('fail', 0)} "
            f"info={ops.get('info', 0)}; {verdict}"
        )

    def __repr__(self) -> str:
        return f"<Run {self.summary()}>"

    def to_dict(self, *, include_trace: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": RUN_FORMAT,
            "scenario": self.scenario.to_dict(),
            "schedule": schedule_to_script(self.schedule),
            "trace_hash": self.trace_hash,
            "violations": [v.to_dict() for v in self.violations],
            "stats": to_jsonable(self.stats),
            "goals": self.goals,
            "history": [op.to_dict() for op in self.history],
            "storage": to_jsonable(self.storage),
        }
        if include_trace:
            d["trace"] = self.trace.to_list()
        return d

    def save(self, path: str | Path) -> Path:
        """Write the run as JSON; :meth:`load` reads it back."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Run:
        """Read a saved run; raises :class:`RunFileError` naming what is wrong."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise RunFileError(f"cannot read run file {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunFileError(f"{path} is not a saved run (not JSON: {exc})") from None
        if not isinstance(data, dict) or data.get("format") != RUN_FORMAT or "trace" not in data:
            raise RunFileError(f"{path} is not a saved run (expected format {RUN_FORMAT!r} with a trace)")
        try:
            from .nemesis import parse_script

            scenario = Scenario.from_dict(data["scenario"])
            trace = Trace.from_list(data["trace"])
            history = [Op.from_dict(o) for o in data.get("history", [])]
            violations = [Violation(**v) for v in data.get("violations", [])]
            schedule = parse_script(data.get("schedule", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise RunFileError(f"{path} is a damaged run file: {exc}") from None
        if trace.hash() != data.get("trace_hash"):
            raise RunFileError(f"{path}: the trace does not match its trace_hash (the file was altered)")
        return cls(
            scenario=scenario,
            trace=trace,
            history=history,
            violations=violations,
            stats=data.get("stats", {}),
            goals=data.get("goals", {}),
            schedule=schedule,
            storage=data.get("storage", {}),
        )

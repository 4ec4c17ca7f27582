"""Invariants: named predicates over the whole system, checked after every event.

An :class:`Invariant` is an ``always`` property (a safety rule: it must hold in
every state) or a ``sometimes`` goal (a state the run should reach, to show that
progress is possible).  ``check`` returns ``None`` when all is well and a short
explanation otherwise.  Invariants may keep memory between calls (for example,
"a value once chosen never changes"), so a protocol hands the simulator a
*factory* that makes fresh ones for every run.

They read the system through a :class:`World`: the live nodes (``None`` for a
crashed node), every node's durable storage, and the time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Invariant", "World", "Violation", "invariant", "goal"]


class World:
    """A read-only window on the system for invariants and graders."""

    __slots__ = ("nodes", "storage", "now", "history", "event")

    def __init__(self, nodes: dict[str, Any], storage: dict[str, Any], history: list | None = None) -> None:
        self.nodes = nodes
        self.storage = storage
        self.now = 0.0
        self.history = history if history is not None else []
        #: how many events have happened; invariants that share bookkeeping can
        #: use it to update once per event whatever order they are called in
        self.event = 0

    def up(self, node_id: str) -> bool:
        return self.nodes.get(node_id) is not None

    def live(self) -> list[Any]:
        """The running node objects, in node-id order."""
        return [n for n in self.nodes.values() if n is not None]


class Invariant:
    """Override :meth:`check`; give it a ``name``; ``kind`` is always/sometimes."""

    name: str = "invariant"
    kind: str = "always"

    def check(self, world: World) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"


class _FnInvariant(Invariant):
    def __init__(self, name: str, fn: Callable[[World], str | None], kind: str) -> None:
        self.name = name
        self.kind = kind
        self._fn = fn

    def check(self, world: World) -> str | None:
        return self._fn(world)


def invariant(name: str) -> Callable[[Callable[[World], str | None]], Invariant]:
    """Decorator: turn ``fn(world) -> str | None`` into an ``always`` invariant."""
    return lambda fn: _FnInvariant(name, fn, "always")


def goal(name: str) -> Callable[[Callable[[World], bool]], Invariant]:
    """Decorator: ``fn(world) -> bool`` becomes a ``sometimes`` goal."""

    def wrap(fn: Callable[[World], bool]) -> Invariant:
        return _FnInvariant(name, lambda w: "reached" if fn(w) else None, "sometimes")

    return wrap


@dataclass
class Violation:
    """The first moment an invariant failed, with the events that led there."""

    invariant: str
    time: float
    message: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "time": self.time, "message": self.message, "events": self.events}

    def __str__(self) -> str:
        return f"{self.invariant} violated at t={self.time:.4f}: {self.message}"

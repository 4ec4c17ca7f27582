"""Traces: every event of a run, in order, with its simulated time.

Internally a trace is a list of plain tuples (cheap to record); outside it is
read as :class:`TraceEvent` records or as canonical JSON, whose SHA-256 is the
run's ``trace_hash``.  Two runs of the same scenario and seed have the same
hash in any process and under any ``PYTHONHASHSEED``.

Event kinds: ``send``, ``deliver``, ``drop`` (``info`` says why: loss,
partition, crashed), ``duplicate``, ``timer``, ``crash``, ``restart``,
``partition``, ``cut``, ``heal``, ``loss``, ``skew``, ``request`` (a client
request reaches a node), ``reply`` (a node answers), ``invoke`` and
``complete`` (client operations start and end; ``info`` holds the type).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["TraceEvent", "Trace", "to_jsonable"]


def to_jsonable(v: Any) -> Any:
    """A canonical JSON-able form of a message or value.

    Dataclasses become ``{"type": ClassName, field: ...}``; tuples and lists
    become lists; sets are sorted; dict keys become strings.
    """
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else repr(v)
    if isinstance(v, tuple | list):
        return [to_jsonable(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        d = {"type": type(v).__name__}
        for f in dataclasses.fields(v):
            d[f.name] = to_jsonable(getattr(v, f.name))
        return d
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, frozenset | set):
        return sorted((to_jsonable(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
    if isinstance(v, enum.Enum):
        return to_jsonable(v.value)
    if isinstance(v, bytes):
        return v.hex()
    return repr(v)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One event: ``node`` is where it happens, ``peer`` the other end."""

    index: int
    time: float
    kind: str
    node: str | None = None
    peer: str | None = None
    msg_id: int | None = None
    msg: Any = None
    info: Any = None

    @property
    def msg_type(self) -> str | None:
        if self.msg is None:
            return None
        if isinstance(self.msg, dict):
            return self.msg.get("type")
        return type(self.msg).__name__

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"i": self.index, "t": self.time, "kind": self.kind}
        if self.node is not None:
            d["node"] = self.node
        if self.peer is not None:
            d["peer"] = self.peer
        if self.msg_id is not None:
            d["id"] = self.msg_id
        if self.msg is not None:
            d["msg"] = self.msg if isinstance(self.msg, dict) else to_jsonable(self.msg)
        if self.info is not None:
            d["info"] = to_jsonable(self.info)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceEvent:
        return cls(d["i"], d["t"], d["kind"], d.get("node"), d.get("peer"), d.get("id"), d.get("msg"), d.get("info"))

    def __str__(self) -> str:
        parts = [f"t={self.time:.4f}", self.kind]
        if self.node is not None:
            parts.append(self.node)
        if self.peer is not None:
            parts.append(("<-" if self.kind == "deliver" else "->") + str(self.peer))
        if self.msg is not None:
            parts.append(str(self.msg_type))
        if self.info is not None:
            parts.append(str(self.info))
        return " ".join(parts)


class Trace:
    """The ordered events of a run (a sequence of :class:`TraceEvent`)."""

    __slots__ = ("_rows", "_cache")

    def __init__(self, rows: list[tuple] | None = None) -> None:
        # row: (time, kind, node, peer, msg_id, msg, info)
        self._rows: list[tuple] = rows if rows is not None else []
        self._cache: list[TraceEvent] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def _event(self, i: int) -> TraceEvent:
        r = self._rows[i]
        return TraceEvent(i, r[0], r[1], r[2], r[3], r[4], r[5], r[6])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._event(j) for j in range(*i.indices(len(self._rows)))]
        if i < 0:
            i += len(self._rows)
        return self._event(i)

    def __iter__(self) -> Iterator[TraceEvent]:
        for i in range(len(self._rows)):
            yield self._event(i)

    def events(self) -> list[TraceEvent]:
        return list(self)

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self]

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces; the input of ``hash``."""
        return json.dumps(self.to_list(), sort_keys=True, separators=(",", ":"))

    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> Trace:
        rows = []
        for d in items:
            e = TraceEvent.from_dict(d)
            rows.append((e.time, e.kind, e.node, e.peer, e.msg_id, e.msg, e.info))
        return cls(rows)

    def kinds(self) -> dict[str, int]:
        """How many events of each kind (a quick summary)."""
        out: dict[str, int] = {}
        for r in self._rows:
            out[r[1]] = out.get(r[1], 0) + 1
        return dict(sorted(out.items()))

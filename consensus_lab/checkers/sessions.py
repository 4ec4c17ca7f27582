"""Session guarantees (Terry et al., "Session Guarantees for Weakly Consistent
Replicated Data", 1994): what one client may expect of a weakly consistent
store, checked one session at a time.

* **read-your-writes**: a read sees every earlier write of its own session;
* **monotonic reads**: a read sees everything an earlier read of the same
  session saw;
* **monotonic writes**: if a session wrote ``w1`` and then ``w2``, whoever
  sees ``w2`` also sees ``w1``;
* **writes-follow-reads**: if a session read something and then wrote ``w``,
  whoever sees ``w`` also sees what that read saw.

What a read "sees" is a set of writes; a write is known by its value, so
values must be unique per write.  When a read returns a collection (a set or a
list: the grow-only set and append workloads) it names the writes it saw.
When it returns a single value (a register), it saw that write and every
write *older* than it in the store's version order.  Pass ``version`` to give
that order (a function ``(key, value) -> sortable``, e.g. the store's
timestamps); by default writes are ordered by when they were invoked, which
fits last-writer-wins stores whose timestamps come from the clients, and makes
monotonic-writes checks on registers trivially true.

Guarantees are checked per key (a read only reveals writes to its own key), a
session is a client process unless ``session`` says otherwise, failed
operations never happened and indeterminate writes may have.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from consensus_lab.history import Op, Operation

from ._common import as_operations
from .models import _describe

__all__ = [
    "SESSION_GUARANTEES",
    "SessionResult",
    "SessionViolation",
    "check_monotonic_reads",
    "check_monotonic_writes",
    "check_read_your_writes",
    "check_session_guarantees",
    "check_writes_follow_reads",
]

READS = ("read", "get")
WRITES = ("write", "put", "add", "append", "cas")

History = Sequence[Op] | Sequence[Operation]
Version = Callable[[Hashable, Any], Any]
Session = Callable[[Operation], Hashable]


@dataclass(frozen=True)
class SessionViolation:
    """One broken promise: in ``session``, ``first`` and then ``second``
    (and, for the write guarantees, the read ``observer`` that shows it)."""

    guarantee: str
    session: Hashable
    first: Operation
    second: Operation
    observer: Operation | None
    missing: Any

    def explain(self) -> str:
        a, b = _label(self.first), _label(self.second)
        miss = _value(self.missing)
        if self.guarantee == "read-your-writes":
            return f"session {self.session}: {a}, then its own {b} did not see {miss}"
        if self.guarantee == "monotonic-reads":
            return f"session {self.session}: {a} saw {miss}, then the later {b} did not"
        who = _label(self.observer) if self.observer else "a read"
        if self.guarantee == "monotonic-writes":
            return (f"session {self.session}: {a} then {b}, but {who} of process "
                    f"{self.observer.process if self.observer else '?'} saw {_value(self.second_value)} "
                    f"without {miss}")
        return (f"session {self.session}: {a} saw {miss}, then {b}; but {who} of process "
                f"{self.observer.process if self.observer else '?'} saw {_value(self.second_value)} "
                f"without {miss}")

    @property
    def second_value(self) -> Any:
        return _written(self.second)


@dataclass
class SessionResult:
    """``holds`` and a one-line ``detail``; all ``violations`` found, in order."""

    guarantee: str
    holds: bool
    detail: str
    violations: list[SessionViolation] = field(default_factory=list)


def _label(op: Operation) -> str:
    return f"op #{op.index} {_describe(op)}"


def _value(v: Any) -> str:
    return "nothing" if v is None else repr(v)


def _written(op: Operation) -> Any:
    if op.f == "cas" and isinstance(op.value, tuple) and len(op.value) == 2:
        return op.value[1]
    return op.value


class _Observations:
    """Which writes each read saw, computed once per history."""

    def __init__(self, ops: Sequence[Operation], version: Version | None) -> None:
        self.ops = ops
        writes = [op for op in ops if op.f in WRITES and op.status != "fail"]
        if version is None:
            rank = {(op.key, _written(op)): op.call for op in writes}

            def version(key: Hashable, value: Any) -> Any:
                return rank.get((key, value), float("-inf"))

        self.version = version
        self.writes_by_key: dict[Hashable, list[tuple[Any, Any]]] = {}
        for op in writes:
            value = _written(op)
            self.writes_by_key.setdefault(op.key, []).append((version(op.key, value), value))
        self.seen: dict[int, frozenset[Any]] = {}
        for op in ops:
            if op.f in READS and op.status == "ok":
                self.seen[op.index] = self._saw(op)

    def _saw(self, read: Operation) -> frozenset[Any]:
        out = read.output
        if isinstance(out, set | frozenset | list | tuple):
            return frozenset(out)
        if out is None or out == "":
            return frozenset()
        v = self.version(read.key, out)
        return frozenset({out} | {w for ver, w in self.writes_by_key.get(read.key, []) if ver <= v})

    def reads_seeing(self, key: Hashable, value: Any) -> Iterable[Operation]:
        for op in self.ops:
            if op.index in self.seen and op.key == key and value in self.seen[op.index]:
                yield op


def _sessions(ops: Sequence[Operation], session: Session | None) -> dict[Hashable, list[Operation]]:
    out: dict[Hashable, list[Operation]] = {}
    for op in sorted(ops, key=lambda o: o.call):
        if op.status == "fail":
            continue
        out.setdefault(session(op) if session else op.process, []).append(op)
    return out


def _first_missing(needed: Iterable[tuple[Any, Operation]], seen: frozenset[Any]) -> tuple[Any, Operation] | None:
    for value, op in needed:
        if value not in seen:
            return value, op
    return None


def _result(name: str, violations: list[SessionViolation]) -> SessionResult:
    if not violations:
        return SessionResult(name, True, f"{name} holds in every session")
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return SessionResult(name, False, f"{name} violated: {violations[0].explain()}{more}", violations)


def check_read_your_writes(history: History, *, version: Version | None = None,
                           session: Session | None = None) -> SessionResult:
    """Every read sees the writes its own session made before it."""
    ops = as_operations(history)
    obs = _Observations(ops, version)
    found: list[SessionViolation] = []
    for sid, seq in _sessions(ops, session).items():
        mine: dict[Hashable, list[tuple[Any, Operation]]] = {}
        for op in seq:
            if op.f in WRITES and op.status == "ok":
                mine.setdefault(op.key, []).append((_written(op), op))
            elif op.index in obs.seen:
                miss = _first_missing(mine.get(op.key, []), obs.seen[op.index])
                if miss:
                    found.append(SessionViolation("read-your-writes", sid, miss[1], op, None, miss[0]))
    return _result("read-your-writes", found)


def check_monotonic_reads(history: History, *, version: Version | None = None,
                          session: Session | None = None) -> SessionResult:
    """A read sees at least what earlier reads of the same session saw."""
    ops = as_operations(history)
    obs = _Observations(ops, version)
    found: list[SessionViolation] = []
    for sid, seq in _sessions(ops, session).items():
        earlier: dict[Hashable, dict[Any, Operation]] = {}
        for op in seq:
            if op.index not in obs.seen:
                continue
            seen = obs.seen[op.index]
            known = earlier.setdefault(op.key, {})
            miss = _first_missing(((v, r) for v, r in known.items()), seen)
            if miss:
                found.append(SessionViolation("monotonic-reads", sid, miss[1], op, None, miss[0]))
            for v in sorted(seen - known.keys(), key=repr):
                known[v] = op
    return _result("monotonic-reads", found)


def check_monotonic_writes(history: History, *, version: Version | None = None,
                           session: Session | None = None) -> SessionResult:
    """If a session wrote w1 then w2, any read that sees w2 also sees w1."""
    ops = as_operations(history)
    obs = _Observations(ops, version)
    found: list[SessionViolation] = []
    for sid, seq in _sessions(ops, session).items():
        before: dict[Hashable, list[tuple[Any, Operation]]] = {}
        for op in seq:
            if op.f not in WRITES:
                continue
            earlier = before.setdefault(op.key, [])
            for reader in obs.reads_seeing(op.key, _written(op)):
                miss = _first_missing(earlier, obs.seen[reader.index])
                if miss:
                    found.append(SessionViolation("monotonic-writes", sid, miss[1], op, reader, miss[0]))
                    break
            if op.status == "ok":
                earlier.append((_written(op), op))
    return _result("monotonic-writes", found)


def check_writes_follow_reads(history: History, *, version: Version | None = None,
                              session: Session | None = None) -> SessionResult:
    """If a session read r and then wrote w, any read that sees w sees what r saw."""
    ops = as_operations(history)
    obs = _Observations(ops, version)
    found: list[SessionViolation] = []
    for sid, seq in _sessions(ops, session).items():
        reads: dict[Hashable, list[Operation]] = {}
        for op in seq:
            if op.index in obs.seen:
                reads.setdefault(op.key, []).append(op)
                continue
            if op.f not in WRITES:
                continue
            value = _written(op)
            for r in reads.get(op.key, []):
                needed = [(v, r) for v in sorted(obs.seen[r.index] - {value}, key=repr)]
                for reader in obs.reads_seeing(op.key, value):
                    miss = _first_missing(needed, obs.seen[reader.index])
                    if miss:
                        found.append(SessionViolation("writes-follow-reads", sid, r, op, reader, miss[0]))
                        break
    return _result("writes-follow-reads", found)


SESSION_GUARANTEES: dict[str, Callable[..., SessionResult]] = {
    "read-your-writes": check_read_your_writes,
    "monotonic-reads": check_monotonic_reads,
    "monotonic-writes": check_monotonic_writes,
    "writes-follow-reads": check_writes_follow_reads,
}


def check_session_guarantees(history: History, *, version: Version | None = None,
                             session: Session | None = None) -> dict[str, SessionResult]:
    """All four guarantees, by name."""
    return {name: check(history, version=version, session=session)
            for name, check in SESSION_GUARANTEES.items()}

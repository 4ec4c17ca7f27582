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
that order (a function ``(key, value) -> version``, versions compared with
``<=``: a total order such as the store's timestamps, or a partial one such as
version vectors); by default writes are ordered by when they were invoked, which
fits last-writer-wins stores whose timestamps come from the clients, and makes
monotonic-writes checks on registers trivially true.

Guarantees are checked per key (a read only reveals writes to its own key), a
session is a client process unless ``session`` says otherwise, failed
operations never happened and indeterminate writes may have.

A result lists one violation per read that breaks read-your-writes or
monotonic reads, and one per write that breaks monotonic writes or
writes-follow-reads, each naming the session's first operation that the read
missed (and, for the write guarantees, the first read of the history that saw
the write without it).  The checks keep what each session did so far as bit
sets of values, so they cost about (reads x sessions) set operations rather
than (operations x reads) comparisons: long histories are fine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
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
    """Which writes each read saw, worked out once per history.

    Each key's values are numbered (:meth:`bit`), and what a read saw is an
    integer with those bits set (``mask``, by the read's position in ``ops``),
    so "did this read see all of these values" is one integer operation.

    A read of one value saw the writes whose version is at most that value's
    version.  When one key's write versions form a chain (a total order: the
    default invocation times, timestamps, counters), those writes are a prefix
    of the chain, found by binary search; otherwise (version vectors) each
    write is compared.  ``version`` must be a preorder (``<=`` transitive).
    """

    def __init__(self, ops: Sequence[Operation], version: Version | None) -> None:
        self.ops = ops
        writes = [op for op in ops if op.f in WRITES and op.status != "fail"]
        if version is None:
            rank = {(op.key, _written(op)): op.call for op in writes}

            def version(key: Hashable, value: Any) -> Any:
                return rank.get((key, value), float("-inf"))

        self.version = version
        self.bits: dict[Hashable, dict[Any, int]] = {}
        self.values: dict[Hashable, list[Any]] = {}
        by_key: dict[Hashable, list[tuple[Any, int]]] = {}
        for op in writes:
            value = _written(op)
            by_key.setdefault(op.key, []).append((version(op.key, value), self.bit(op.key, value)))
        self.writes_by_key = by_key
        self.chains = {key: chain for key, kw in by_key.items() if (chain := _chain(kw)) is not None}
        self.mask: dict[int, int] = {}
        for pos, op in enumerate(ops):
            if op.f in READS and op.status == "ok":
                self.mask[pos] = self._saw(op)

    def bit(self, key: Hashable, value: Any) -> int:
        """The number of ``value`` among ``key``'s values (given on first sight)."""
        bits = self.bits.setdefault(key, {})
        b = bits.get(value)
        if b is None:
            b = bits[value] = len(bits)
            self.values.setdefault(key, []).append(value)
        return b

    def decode(self, key: Hashable, mask: int) -> list[Any]:
        """The values of ``key`` whose bits are set in ``mask``, by number."""
        values = self.values[key]
        return [values[b] for b in _set_bits(mask)]

    def first_missing(self, key: Hashable, wanted: int, have: int) -> Any:
        """Of the values in ``wanted`` but not in ``have``, the first by ``repr``."""
        return min(self.decode(key, wanted & ~have), key=repr)

    def _saw(self, read: Operation) -> int:
        out, key = read.output, read.key
        if isinstance(out, set | frozenset | list | tuple):
            mask = 0
            for v in set(out):
                mask |= 1 << self.bit(key, v)
            return mask
        if out is None or out == "":
            return 0
        v = self.version(key, out)
        own = 1 << self.bit(key, out)
        chain = self.chains.get(key)
        if chain is not None:
            versions, prefix = chain
            lo, hi = 0, len(versions)  # versions[:lo] are <= v, versions[hi:] are not
            while lo < hi:
                mid = (lo + hi) // 2
                if versions[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            return prefix[lo] | own
        return _mask_of([b for ver, b in self.writes_by_key.get(key, ()) if ver <= v]) | own


def _chain(writes: list[tuple[Any, int]]) -> tuple[list[Any], list[int]] | None:
    """``(versions in order, masks of the first i writes)`` if the versions form a chain, else None."""
    try:
        ordered = sorted(writes, key=lambda w: w[0])
    except TypeError:  # no `<`: a partial order
        return None
    versions = [ver for ver, _ in ordered]
    try:
        # a chain when each version is <= the next (then, <= being transitive, the
        # writes below any version are a prefix of it)
        if not all(a <= b for a, b in zip(versions, versions[1:], strict=False)):
            return None
    except TypeError:
        return None
    prefix, acc = [0], 0
    for _, b in ordered:
        acc |= 1 << b
        prefix.append(acc)
    return versions, prefix


def _mask_of(bits: list[int]) -> int:
    """One integer with the given bits set (in linear time, unlike repeated ``|=``)."""
    if not bits:
        return 0
    flags = bytearray(max(bits) + 1)
    for b in bits:
        flags[b] = 1
    return int(flags[::-1].translate(_BINARY), 2)


_BINARY = bytes.maketrans(b"\x00\x01", b"01")


def _set_bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


def _first_gap(steps: list[tuple[int, Any]], have: int) -> int:
    """The first step whose mask is not inside ``have`` (the last one must not be).
    Masks only grow along ``steps``, so a binary search finds it."""
    lo, hi = 0, len(steps) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if steps[mid][0] & ~have:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _sessions(ops: Sequence[Operation], session: Session | None) -> dict[Hashable, list[int]]:
    """Each session's operations (positions in ``ops``) in invocation order; failed ones dropped."""
    out: dict[Hashable, list[int]] = {}
    for pos in sorted(range(len(ops)), key=lambda i: ops[i].call):
        op = ops[pos]
        if op.status == "fail":
            continue
        out.setdefault(session(op) if session else op.process, []).append(pos)
    return out


def _result(name: str, violations: list[SessionViolation]) -> SessionResult:
    if not violations:
        return SessionResult(name, True, f"{name} holds in every session")
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return SessionResult(name, False, f"{name} violated: {violations[0].explain()}{more}", violations)


# How the checks stay fast.  Each walks every session once, keeping for each key
# the *growing* union of what the session wrote (or read) so far as a list of
# masks, one per step.  Whether a read saw all of it is one mask operation; which
# step it missed first is a binary search over the steps.  For the two write
# guarantees the loop is turned around: each read of the history, in order,
# looks at each session's steps once and finds, with a few mask operations,
# every write of that session it saw although it missed something the session
# did before that write.  So a check costs about (reads x sessions x log steps)
# mask operations, where comparing each earlier operation with each reader
# cost (operations x reads x values).
#
# The verdicts and violations are those of the definitions in the module
# docstring: one violation per read (read-your-writes, monotonic reads) or per
# write (monotonic writes, writes-follow-reads), naming the session's first
# operation that was missed (and, when that was a read, the first by ``repr``
# of the values it saw that were missed), and for the write guarantees the
# first read of the history that shows it.  tests/test_sessions.py checks all
# of that against a brute-force reading of the definitions.


def _read_your_writes(obs: _Observations, sessions: dict[Hashable, list[int]]) -> list[SessionViolation]:
    ops, found = obs.ops, []
    for sid, seq in sessions.items():
        mine: dict[Hashable, list[tuple[int, Operation]]] = {}  # own ok writes so far
        for pos in seq:
            op = ops[pos]
            if op.f in WRITES and op.status == "ok":
                steps = mine.setdefault(op.key, [])
                steps.append(((steps[-1][0] if steps else 0) | 1 << obs.bit(op.key, _written(op)), op))
            elif pos in obs.mask:
                steps = mine.get(op.key)
                have = obs.mask[pos]
                if steps and steps[-1][0] & ~have:
                    w = steps[_first_gap(steps, have)][1]
                    found.append(SessionViolation("read-your-writes", sid, w, op, None, _written(w)))
    return found


def _monotonic_reads(obs: _Observations, sessions: dict[Hashable, list[int]]) -> list[SessionViolation]:
    ops, found = obs.ops, []
    for sid, seq in sessions.items():
        reads: dict[Hashable, list[tuple[int, int]]] = {}  # what the session's reads saw so far
        for pos in seq:
            if pos not in obs.mask:
                continue
            op, have = ops[pos], obs.mask[pos]
            steps = reads.setdefault(op.key, [])
            if steps and steps[-1][0] & ~have:
                r = steps[_first_gap(steps, have)][1]
                miss = obs.first_missing(op.key, obs.mask[r], have)
                found.append(SessionViolation("monotonic-reads", sid, ops[r], op, None, miss))
            steps.append(((steps[-1][0] if steps else 0) | have, pos))
    return found


@dataclass
class _Plan:
    """One session's operations on one key, for a write guarantee.

    ``steps``: the growing masks of what the session had written (or read) so
    far, each with the position of the operation that added to it; ``writes``:
    for each value's bit, the writes of that value as ``(steps before it,
    position)``; ``after[i]``: the bits of the writes with at least ``i`` steps
    before them; ``open``: the bits of the writes with a step before them and
    no violation found yet."""

    sid: Hashable
    key: Hashable
    steps: list[tuple[int, int]] = field(default_factory=list)
    writes: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # bit -> [(steps before, pos)]
    after: list[int] = field(default_factory=list)
    open: int = 0

    def add_write(self, bit: int, pos: int) -> None:
        self.writes.setdefault(bit, []).append((len(self.steps), pos))
        if self.steps:
            self.open |= 1 << bit

    def add_step(self, mask: int, pos: int) -> None:
        self.steps.append(((self.steps[-1][0] if self.steps else 0) | mask, pos))

    def finish(self) -> None:
        n = len(self.steps)
        by_count = [0] * (n + 2)
        for bit, ws in self.writes.items():
            for count, _ in ws:
                by_count[count] |= 1 << bit
        self.after = by_count
        for i in range(n, -1, -1):
            self.after[i] |= self.after[i + 1]


def _write_guarantee(obs: _Observations, sessions: dict[Hashable, list[int]], plans: list[_Plan], name: str,
                     missed: Callable[[int, int], tuple[Operation, Any]]) -> list[SessionViolation]:
    """For each write of each plan, the first read of the history that saw it but
    missed one of the session's steps before it; ``missed(step position, what the
    reader saw)`` names the step's operation and the value missed."""
    ops = obs.ops
    by_key: dict[Hashable, list[_Plan]] = {}
    for plan in plans:
        if plan.open:
            plan.finish()
            by_key.setdefault(plan.key, []).append(plan)
    hit: dict[int, SessionViolation] = {}
    for reader, have in obs.mask.items():
        for plan in by_key.get(ops[reader].key, ()):
            if not plan.open & have or not plan.steps[-1][0] & ~have:
                continue
            g = _first_gap(plan.steps, have)
            seen = have & plan.after[g + 1] & plan.open
            if not seen:
                continue
            first, miss = missed(plan.steps[g][1], have)
            for bit in _set_bits(seen):
                left = False
                for count, pos in plan.writes[bit]:
                    if pos in hit:
                        continue
                    if count > g:
                        hit[pos] = SessionViolation(name, plan.sid, first, ops[pos], ops[reader], miss)
                    else:
                        left = left or count > 0
                if not left:
                    plan.open &= ~(1 << bit)
    return [hit[pos] for seq in sessions.values() for pos in seq if pos in hit]


def _monotonic_writes(obs: _Observations, sessions: dict[Hashable, list[int]]) -> list[SessionViolation]:
    ops, plans = obs.ops, []
    for sid, seq in sessions.items():
        mine: dict[Hashable, _Plan] = {}
        for pos in seq:
            op = ops[pos]
            if op.f not in WRITES:
                continue
            plan = mine.get(op.key)
            if plan is None:
                plan = mine[op.key] = _Plan(sid, op.key)
                plans.append(plan)
            bit = obs.bit(op.key, _written(op))
            plan.add_write(bit, pos)
            if op.status == "ok":
                plan.add_step(1 << bit, pos)

    def missed(pos: int, have: int) -> tuple[Operation, Any]:
        return ops[pos], _written(ops[pos])

    return _write_guarantee(obs, sessions, plans, "monotonic-writes", missed)


def _writes_follow_reads(obs: _Observations, sessions: dict[Hashable, list[int]]) -> list[SessionViolation]:
    ops, plans = obs.ops, []
    for sid, seq in sessions.items():
        mine: dict[Hashable, _Plan] = {}
        for pos in seq:
            op = ops[pos]
            if pos not in obs.mask and op.f not in WRITES:
                continue
            plan = mine.get(op.key)
            if plan is None:
                plan = mine[op.key] = _Plan(sid, op.key)
                plans.append(plan)
            if pos in obs.mask:
                plan.add_step(obs.mask[pos], pos)
            else:
                plan.add_write(obs.bit(op.key, _written(op)), pos)

    # A reader of a write saw the write's own value, so "what an earlier read saw,
    # apart from this write" is inside what the reader saw exactly when all of it is.
    def missed(pos: int, have: int) -> tuple[Operation, Any]:
        return ops[pos], obs.first_missing(ops[pos].key, obs.mask[pos], have)

    return _write_guarantee(obs, sessions, plans, "writes-follow-reads", missed)


_CHECKS: dict[str, Callable[[_Observations, dict[Hashable, list[int]]], list[SessionViolation]]] = {
    "read-your-writes": _read_your_writes,
    "monotonic-reads": _monotonic_reads,
    "monotonic-writes": _monotonic_writes,
    "writes-follow-reads": _writes_follow_reads,
}


def _check(name: str, history: History, version: Version | None, session: Session | None) -> SessionResult:
    ops = as_operations(history)
    return _result(name, _CHECKS[name](_Observations(ops, version), _sessions(ops, session)))


def check_read_your_writes(history: History, *, version: Version | None = None,
                           session: Session | None = None) -> SessionResult:
    """Every read sees the writes its own session made before it."""
    return _check("read-your-writes", history, version, session)


def check_monotonic_reads(history: History, *, version: Version | None = None,
                          session: Session | None = None) -> SessionResult:
    """A read sees at least what earlier reads of the same session saw."""
    return _check("monotonic-reads", history, version, session)


def check_monotonic_writes(history: History, *, version: Version | None = None,
                           session: Session | None = None) -> SessionResult:
    """If a session wrote w1 then w2, any read that sees w2 also sees w1."""
    return _check("monotonic-writes", history, version, session)


def check_writes_follow_reads(history: History, *, version: Version | None = None,
                              session: Session | None = None) -> SessionResult:
    """If a session read r and then wrote w, any read that sees w sees what r saw."""
    return _check("writes-follow-reads", history, version, session)


SESSION_GUARANTEES: dict[str, Callable[..., SessionResult]] = {
    "read-your-writes": check_read_your_writes,
    "monotonic-reads": check_monotonic_reads,
    "monotonic-writes": check_monotonic_writes,
    "writes-follow-reads": check_writes_follow_reads,
}


def check_session_guarantees(history: History, *, version: Version | None = None,
                             session: Session | None = None) -> dict[str, SessionResult]:
    """All four guarantees, by name (what the reads saw is worked out once for all four)."""
    ops = as_operations(history)
    obs, sessions = _Observations(ops, version), _sessions(ops, session)
    return {name: _result(name, _CHECKS[name](obs, sessions)) for name in SESSION_GUARANTEES}

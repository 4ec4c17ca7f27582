"""Linearizability: could every operation have taken effect at one instant
between its invocation and its completion?

Herlihy and Wing (1990) call a history *linearizable* when its operations can be
put in one sequential order that (1) a correct sequential object (a
:class:`~consensus_lab.checkers.models.Model`) would accept and (2) respects
real time: if ``a`` completed before ``b`` was invoked, ``a`` comes first.

How the checker searches (Wing and Gong 1993, with Lowe's 2017 memoization):

* Repeatedly pick an operation to linearize *next*.  Only "minimal" operations
  may go next: those invoked before the earliest completion still pending
  (anything invoked later must wait for that operation).
* Apply it to the model.  If the model refuses, try another; if none works,
  undo the last choice (depth-first search with backtracking).
* Remember every visited configuration as ``(set of linearized operations,
  model state)``.  The set is a bitset stored in a Python ``int``.  Reaching
  the same configuration twice cannot lead anywhere new, so the search never
  explores it again.  This turns an exponential search over orders into a
  search over configurations, which is usually small.
* Split the history by key when the model allows it (*P-compositionality*,
  Horn and Kroening 2015) and check each part on its own; stop as soon as
  one part fails.

Three prunings keep it fast in Python:

* a read that may go next and agrees with the current state is placed at
  once, with no branching (placing a read early never hurts);
* indeterminate operations with the same effect are interchangeable, so only
  the earliest unplaced one of each kind is ever tried;
* indeterminate reads and failed operations are dropped before the search.

Jepsen's meaning of outcomes is followed: ``ok`` happened, ``fail`` did not
happen, ``info`` (a crashed or timed-out client) may take effect at any moment
after its invocation, or never.

Before any search, two pre-checks (:mod:`consensus_lab.checkers.prechecks`)
refute a read of a value no write could have stored and a read that would
have to precede the write it saw; the verdict names the pre-check that fired.
A grow-only set (the ``set`` model) needs no search at all: it is decided in
``O(n log n)`` (:mod:`consensus_lab.checkers.sets`).  A history with no client
operations is trivially linearizable (the result carries a note).

The search is bounded by a time budget, a cap on the number of remembered
configurations and a memory budget (growth of the process's resident memory,
2 GiB by default); when one runs out the verdict is ``unknown`` and
``budget`` says which (``"time"``, ``"states"``, ``"memory"``).  A
``MemoryError`` also ends in ``unknown`` (memory), never in a traceback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from consensus_lab.history import Op, Operation

from ._common import as_operations, partition, relevant, validate_operations
from .models import Model, SetModel, get_model
from .prechecks import refute
from .sets import decide_set

__all__ = [
    "LINEARIZABLE",
    "NOT_LINEARIZABLE",
    "UNKNOWN",
    "LinearizabilityResult",
    "check_linearizable",
    "linearization_points",
]

LINEARIZABLE = "linearizable"
NOT_LINEARIZABLE = "not linearizable"
UNKNOWN = "unknown"

#: default cap on remembered configurations (a million costs roughly 100-300 MB)
DEFAULT_MAX_STATES = 1_000_000

#: default memory budget in bytes: growth of resident memory during one check,
#: safe on a 2-core, 8 GB laptop
DEFAULT_MAX_MEMORY = 2 * 1024**3

_SLICE = 2048  # search steps between two looks at the clock
_TRANS_CACHE = 512  # remembered model steps per operation


@dataclass
class LinearizabilityResult:
    """The verdict of :func:`check_linearizable`, with its evidence.

    Operation numbers are the operations' own ``Operation.index`` (the
    positions in the history they were paired from; a sub-history keeps the
    numbers of the full one).

    * ``witness``: when linearizable, for each partition key the operations in a
      valid linearization order.  Indeterminate operations that are absent
      "never took effect".
    * ``longest_prefix``: when not linearizable, the longest sequence of
      operations of the failing partition that *can* be linearized;
    * ``unplaceable``: the completed operations that could come right after
      that prefix in real time, none of which the model accepts there.
    * ``partition``: the key of the failing (or undecided) partition.
    """

    verdict: str
    operations: list[Operation]
    model: Model
    witness: dict[Hashable, list[int]] | None = None
    longest_prefix: list[int] = field(default_factory=list)
    unplaceable: list[int] = field(default_factory=list)
    partition: Hashable = None
    seconds: float = 0.0
    reason: str = ""
    states: int = 0
    precheck: str = ""  #: the pre-check that refuted the history, if one did
    budget: str = ""  #: for ``unknown``: which budget ran out ("time", "states", "memory")
    note: str = ""  #: anything else worth saying (e.g. "no client operations")

    @property
    def ok(self) -> bool:
        """``True`` only for a definite ``linearizable`` verdict."""
        return self.verdict == LINEARIZABLE

    @property
    def holds(self) -> bool:
        return self.ok

    @property
    def linearization(self) -> list[int]:
        """The witness of all partitions, concatenated (empty when there is none)."""
        return [i for order in (self.witness or {}).values() for i in order]

    @property
    def detail(self) -> str:
        """One line that explains the verdict."""
        n = len(self.operations)
        if self.verdict == LINEARIZABLE:
            if self.note:
                return f"linearizable: {self.note}"
            return f"linearizable: a valid order of {len(self.linearization)} of {n} operations exists"
        if self.verdict == UNKNOWN:
            return f"unknown ({self.budget} budget): {self.reason}" if self.budget else f"unknown: {self.reason}"
        if self.precheck:
            return f"not linearizable (pre-check '{self.precheck}'): {self.reason}"
        where = "" if self.partition is None else f" on key {self.partition!r}"
        if self.reason:
            return f"not linearizable{where}: {self.reason}"
        by_index = {op.index: op for op in self.operations}
        bad = ", ".join(f"#{i} {self.model.describe(by_index[i])}" for i in self.unplaceable)
        k = len(self.longest_prefix)
        return (
            f"not linearizable{where}: after {k} operation{'' if k == 1 else 's'} no order "
            f"can place {bad}"
        )

    def __repr__(self) -> str:
        return f"LinearizabilityResult({self.detail!r}, seconds={self.seconds:.3f})"


class _Sentinel:
    def __repr__(self) -> str:
        return "ILLEGAL"


_ILLEGAL: Any = _Sentinel()


@dataclass
class _Outcome:
    verdict: str
    order: list[int] = field(default_factory=list)
    unplaceable: list[int] = field(default_factory=list)


class _PartitionSearch:
    """The search over one partition.  ``run()`` is a generator that yields
    every few thousand steps so that a driver can interleave partitions and
    watch the clock; its return value is an :class:`_Outcome`."""

    def __init__(self, ops: Sequence[Operation], model: Model) -> None:
        self.model = model
        # Index operations by completion order: then the earliest pending
        # completion is simply the lowest bit that is not yet set.
        self.ops = sorted(ops, key=lambda op: (op.ret, op.call, op.index))
        n = len(self.ops)
        self.n = n
        by_call = sorted(range(n), key=lambda i: self.ops[i].call)
        # before[j]: operations invoked no later than operation j completes,
        # i.e. those that may be linearized while j is still pending.
        before: list[int] = []
        mask, k = 0, 0
        for j in range(n):
            ret = self.ops[j].ret
            while k < n and self.ops[by_call[k]].call <= ret:
                mask |= 1 << by_call[k]
                k += 1
            before.append(mask)
        before.append((1 << n) - 1)  # sentinel: everything is placed
        self.before = before
        self.pure = sum(1 << i for i, op in enumerate(self.ops) if model.is_pure(op))
        # a pure op legal in known states is checked by membership, not by step
        self.legal: list[frozenset[Any] | None] = [
            model.legal_states(op) if self.pure >> i & 1 else None for i, op in enumerate(self.ops)
        ]
        self.must = sum(1 << i for i, op in enumerate(self.ops) if op.status == "ok")
        # Interchangeable indeterminate operations: try only the earliest unplaced.
        self.shadow = [0] * n
        last: dict[tuple[Any, ...], int] = {}
        for i in by_call:
            op = self.ops[i]
            if op.status != "info":
                continue
            try:
                sig = (op.f, op.key, op.value)
                hash(sig)
            except TypeError:
                continue
            if sig in last:
                self.shadow[i] = 1 << last[sig]
            last[sig] = i
        self.memo: set[tuple[int, Any]] = set()
        self.best_prefix: list[int] = []
        self.best_config: tuple[int, Any] = (0, model.init())

    def _step(self, trans: dict[Any, Any], i: int, state: Any) -> Any:
        legal, new = self.model.step(state, self.ops[i])
        result = new if legal else _ILLEGAL
        if len(trans) >= _TRANS_CACHE:
            trans.clear()  # states that are long strings would fill memory
        trans[state] = result
        return result

    def run(self) -> Generator[None, None, _Outcome]:
        n, before, pure, must, shadow = self.n, self.before, self.pure, self.must, self.shadow
        legal = self.legal
        trans: list[dict[Any, Any]] = [{} for _ in range(n)]
        step = self._step
        memo = self.memo
        path: list[int] = []
        illegal = _ILLEGAL

        def close(done: int, state: Any) -> int:
            """Place every read that may go next and agrees with ``state``."""
            while True:
                free = before[(~done & (done + 1)).bit_length() - 1] & pure & ~done
                progressed = False
                while free:
                    b = free & -free
                    free ^= b
                    i = b.bit_length() - 1
                    a = legal[i]
                    if a is not None:
                        if state not in a:
                            continue
                    else:
                        t = trans[i]
                        if (t[state] if state in t else step(t, i, state)) is illegal:
                            continue
                    done |= b
                    path.append(i)
                    progressed = True
                if not progressed:
                    return done

        def branches(done: int, state: Any) -> list[Any]:
            """The frame for a new node: the operations to try from it, split
            into (preferred, others).  When the earliest pending completion is
            a read that disagrees with ``state``, prefer the operations after
            which that read would succeed (a one-step look-ahead)."""
            r0 = (~done & (done + 1)).bit_length() - 1
            cand = before[r0] & ~done & ~pure
            m, result = cand, cand
            while m:  # drop indeterminate ops whose twin is still unplaced
                b = m & -m
                m ^= b
                sh = shadow[b.bit_length() - 1]
                if sh and not (sh & done):
                    result ^= b
            preferred = result & (1 << r0)
            if pure >> r0 & 1:
                t0, a0 = trans[r0], legal[r0]
                m = result
                while m:
                    b = m & -m
                    m ^= b
                    i = b.bit_length() - 1
                    t = trans[i]
                    new = t[state] if state in t else step(t, i, state)
                    if new is illegal:
                        continue
                    if (new in a0) if a0 is not None else (
                        (t0[new] if new in t0 else step(t0, r0, new)) is not illegal
                    ):
                        preferred |= b
            return [done, state, len(path), preferred, result ^ preferred]

        state = self.model.init()
        done = close(0, state)
        best = done.bit_count()
        self.best_prefix, self.best_config = list(path), (done, state)
        if done & must == must:
            return _Outcome(LINEARIZABLE, list(path))
        memo.add((done, state))
        stack: list[list[Any]] = [branches(done, state)]
        steps = 0
        while stack:
            frame = stack[-1]
            rem = frame[3]
            if not rem:
                rem = frame[4]
                if not rem:
                    stack.pop()
                    continue
                frame[4] = 0
            i = rem.bit_length() - 1
            b = 1 << i
            frame[3] = rem ^ b
            s = frame[1]
            t = trans[i]
            new = t[s] if s in t else step(t, i, s)
            if new is illegal:
                continue
            steps += 1
            if steps >= _SLICE:
                steps = 0
                yield
            del path[frame[2] :]
            path.append(i)
            done = close(frame[0] | b, new)
            if done & must == must:
                return _Outcome(LINEARIZABLE, list(path))
            key = (done, new)
            if key in memo:
                continue
            memo.add(key)
            count = done.bit_count()
            if count > best:
                best = count
                self.best_prefix, self.best_config = list(path), key
            stack.append(branches(done, new))
        # Exhausted: explain where it breaks.
        done, state = self.best_config
        cand = before[(~done & (done + 1)).bit_length() - 1] & ~done & must
        stuck = [i for i in range(n) if cand >> i & 1]
        return _Outcome(NOT_LINEARIZABLE, list(self.best_prefix), stuck)

    def original(self, order: Sequence[int]) -> list[int]:
        return [self.ops[i].index for i in order]


def check_linearizable(
    history: Sequence[Op] | Sequence[Operation],
    model: Model | str,
    *,
    timeout: float | None = None,
    max_states: int = DEFAULT_MAX_STATES,
    max_memory: int | None = DEFAULT_MAX_MEMORY,
    prechecks: bool = True,
) -> LinearizabilityResult:
    """Decide whether ``history`` is linearizable with respect to ``model``.

    ``history`` is a list of Jepsen events (:class:`~consensus_lab.history.Op`,
    paired here with positions as the time axis) or of already paired
    :class:`~consensus_lab.history.Operation` objects.  ``model`` is a
    :class:`~consensus_lab.checkers.models.Model` or a name such as
    ``"cas-register"``.

    The search stops with verdict ``unknown`` after ``timeout`` seconds, when
    it remembers more than ``max_states`` configurations in total, or when the
    process's resident memory has grown by more than ``max_memory`` bytes
    (``None``: no memory budget).  Partitions are searched in turns, so a
    failing key is found even when another key would take very long.
    ``prechecks=False`` skips the cheap refutations (for tests of the search).

    >>> from consensus_lab.history import Op
    >>> h = [Op(0, "invoke", "write", value=1), Op(0, "ok", "write", value=1),
    ...      Op(1, "invoke", "read"), Op(1, "ok", "read", value=None)]
    >>> check_linearizable(h, "register").verdict
    'not linearizable'
    """
    t0 = time.perf_counter()
    model = get_model(model)
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise ValueError("timeout must be a positive, finite number of seconds, or None for no limit")
    if max_states < 1:
        raise ValueError("max_states must be at least 1")
    if max_memory is not None and max_memory <= 0:
        raise ValueError("max_memory must be a positive number of bytes, or None for no limit")
    ops = as_operations(history)
    validate_operations(ops, model)
    deadline = None if timeout is None else t0 + timeout
    rel = relevant(ops, model)
    searches: dict[Hashable, _PartitionSearch] = {}

    def result(verdict: str, **kw: Any) -> LinearizabilityResult:
        return LinearizabilityResult(
            verdict, ops, model, seconds=time.perf_counter() - t0,
            states=sum(len(s.memo) for s in searches.values()), **kw,
        )

    if not ops:
        return result(LINEARIZABLE, witness={}, note="no client operations: trivially linearizable")
    if prechecks:
        refuted = refute(rel, model)
        if refuted is not None:
            return result(NOT_LINEARIZABLE, precheck=refuted.check, reason=refuted.detail,
                          unplaceable=[refuted.read.index], partition=refuted.partition)
    parts = partition(rel, model)
    witness: dict[Hashable, list[int]] = {}
    if isinstance(model, SetModel):
        for key, part in parts.items():
            verdict = decide_set(part, model)
            if not verdict.ok:
                return result(NOT_LINEARIZABLE, partition=key, unplaceable=verdict.culprits,
                              reason=verdict.reason)
            witness[key] = verdict.order
        return result(LINEARIZABLE, witness=witness)
    try:
        return _search(parts, model, searches, result, deadline, timeout, max_states, max_memory)
    except MemoryError:
        for s in searches.values():
            s.memo.clear()
        return result(UNKNOWN, budget="memory", reason="the machine ran out of memory (MemoryError)")


def _resident_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


try:
    import os as _os

    _PAGE = _os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
    _PAGE = 4096


def _search(
    parts: dict[Hashable, list[Operation]],
    model: Model,
    searches: dict[Hashable, _PartitionSearch],
    result: Any,
    deadline: float | None,
    timeout: float | None,
    max_states: int,
    max_memory: int | None,
) -> LinearizabilityResult:
    """The memoized search over every partition, interleaved, within the budgets."""
    base = _resident_bytes() if max_memory is not None else None
    searches.update({key: _PartitionSearch(part, model) for key, part in parts.items()})
    running = {key: s.run() for key, s in searches.items()}
    witness: dict[Hashable, list[int]] = {}
    undecided: list[tuple[Hashable, str]] = []
    while running:
        for key in list(running):
            try:
                next(running[key])
            except StopIteration as stop:
                outcome: _Outcome = stop.value
                del running[key]
                search = searches[key]
                if outcome.verdict == NOT_LINEARIZABLE:
                    return result(
                        NOT_LINEARIZABLE,
                        longest_prefix=search.original(outcome.order),
                        unplaceable=sorted(search.original(outcome.unplaceable)),
                        partition=key,
                    )
                witness[key] = search.original(outcome.order)
                search.memo.clear()
        if deadline is not None and time.perf_counter() > deadline and running:
            key = next(iter(running))
            return result(UNKNOWN, partition=key, budget="time", reason=f"time budget of {timeout} s ran out",
                          longest_prefix=searches[key].original(searches[key].best_prefix))
        if base is not None and running:
            now = _resident_bytes()
            if now is not None and now - base > max_memory:  # type: ignore[operator]
                key = max(running, key=lambda k: len(searches[k].memo))
                prefix = searches[key].original(searches[key].best_prefix)
                for s in searches.values():
                    s.memo.clear()
                where = "" if key is None else f" on key {key!r}"
                return result(UNKNOWN, partition=key, budget="memory", longest_prefix=prefix,
                              reason=f"memory budget of {max_memory / 2**20:.0f} MB ran out{where}")
        total = sum(len(searches[k].memo) for k in running)
        while running and total > max_states:
            # Give up on the partition that uses the most memory; keep the others.
            key = max(running, key=lambda k: len(searches[k].memo))
            running[key].close()
            del running[key]
            total -= len(searches[key].memo)
            searches[key].memo.clear()
            undecided.append((key, f"more than {max_states} configurations"))
    if undecided:
        key, why = undecided[0]
        where = "" if key is None else f" on key {key!r}"
        return result(UNKNOWN, partition=key, budget="states", reason=f"search gave up{where}: {why}")
    ordered = {key: witness[key] for key in parts}
    return result(LINEARIZABLE, witness=ordered)


def linearization_points(result: LinearizabilityResult, *, end: float | None = None) -> dict[int, float]:
    """A moment for each linearized operation, inside its call..ret interval.

    Uses the witness (or, when not linearizable, the longest prefix).  Within
    each partition the moments increase along the order; each sits in the
    middle of the room the neighbours leave.  ``end`` replaces the infinite
    completion time of indeterminate operations (default: one past the last
    finite time).
    """
    ops = {op.index: op for op in result.operations}
    finite = [t for op in ops.values() for t in (op.call, op.ret) if t != float("inf")]
    horizon = end if end is not None else (max(finite) + 1 if finite else 1.0)
    if result.witness:
        orders = list(result.witness.values())
    else:
        orders = [result.longest_prefix]
    points: dict[int, float] = {}
    eps = 1e-6
    for order in orders:
        lo: list[float] = []
        prev = float("-inf")
        for i in order:
            prev = max(ops[i].call, prev + eps)
            lo.append(prev)
        hi: list[float] = [0.0] * len(order)
        nxt = float("inf")
        for k in range(len(order) - 1, -1, -1):
            nxt = min(min(ops[order[k]].ret, horizon), nxt - eps)
            hi[k] = nxt
        for k, i in enumerate(order):
            points[i] = (lo[k] + max(lo[k], hi[k])) / 2
    return points

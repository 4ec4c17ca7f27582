"""Causal consistency of register histories (Bouajjani, Enea, Guerraoui and
Hamza, "On verifying causal consistency", POPL 2017).

A history of reads and writes on registers (keys) is *differentiated* when
each value is written at most once per key.  Then every read names the write
it read from (``rf``), and the *causal order* ``co`` is the transitive closure
of each session's program order ``po`` and ``rf``.  The paper defines three
levels and shows that, on differentiated histories, each is violated exactly
when one of a few *bad patterns* occurs, all found in polynomial time:

``weak`` (CC)
    every read is explained by its own causal past: no ``ThinAirRead`` (a
    value nobody wrote), ``CyclicCO``, ``WriteCOInitRead`` (a read of the
    initial value after, causally, a write of that key) or ``WriteCORead``
    (``w1 co w2 co r`` on one key while ``r`` reads ``w1``);
``memory`` (CM, Ahamad et al.'s causal memory; ``--consistency causal``)
    each session sees all writes in one order consistent with ``co`` that
    explains *all* of its reads.  For each session the checker derives the
    orders every such serialization must have (``hb``: a write that must come
    before a read of the same key comes before the write it read from, and
    after that read if it must follow that write) and reports ``CyclicHB`` or
    ``WriteHBInitRead``;
``convergence`` (CCv, causal convergence; ``--consistency causal-convergence``)
    one arbitration order of all writes, extending ``co``, explains every read
    (the read returns the last write of its causal past): ``CyclicCF`` when
    ``co`` plus the conflict order (``w1 cf w2`` when ``w1`` is in the causal
    past of a read of ``w2``, same key) has a cycle.

CCv and CM are incomparable; both imply CC; sequential consistency implies
all three.  Jepsen outcomes: failed operations never happened; an
indeterminate write happened if somebody read it and is otherwise left out; an
indeterminate read is dropped.  A session is a client process.

The verdict names the bad pattern and its operations; tests check every level
against a brute-force reading of its definition (:mod:`consensus_lab.checkers.brute`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from consensus_lab.history import Op, Operation

from ._common import as_operations
from .models import _describe

__all__ = ["CAUSAL_MODES", "CausalHistory", "CausalResult", "NotDifferentiatedError", "check_causal"]

CAUSAL_MODES = ("weak", "memory", "convergence")
_NAMES = {"weak": "weakly causal (CC)", "memory": "causal (causal memory)",
          "convergence": "causally convergent (CCv)"}
READS = ("read", "get")
WRITES = ("write", "put")
INIT = -1  # the source of a read of the initial value


class NotDifferentiatedError(ValueError):
    """The history writes one value twice to a key (or is not a register history)."""


@dataclass
class CausalResult:
    """``holds``; the bad ``pattern`` found (``""`` when none) and the
    operations (``Operation.index``) that form it, in causal order."""

    mode: str
    holds: bool
    detail: str
    pattern: str = ""
    witness: list[int] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list, repr=False)

    @property
    def verdict(self) -> str:
        return _NAMES[self.mode] if self.holds else "not " + _NAMES[self.mode]


class CausalHistory:
    """A differentiated register history, with ``po``, ``rf`` and ``co`` worked out.

    ``ops`` are the operations that count (ok reads, ok writes, indeterminate
    writes somebody read), numbered ``0..n-1`` here; ``source[i]`` is the write a
    read read from (``INIT`` for the initial value, ``None`` for thin air);
    ``past[i]`` the causal past of ``i`` as a bitset (``None`` if ``co`` is cyclic).
    """

    def __init__(self, history: Sequence[Op] | Sequence[Operation], initial: Hashable = None) -> None:
        all_ops = as_operations(history)
        writer: dict[tuple[Hashable, Hashable], Operation] = {}
        for op in all_ops:
            if op.f not in READS + WRITES:
                raise NotDifferentiatedError(f"operation #{op.index} {op.f!r}: the causal checker knows "
                                             f"read/get and write/put only")
            if op.f in WRITES and op.status != "fail":
                slot = (op.key, op.value)
                if slot in writer or op.value == initial:
                    raise NotDifferentiatedError(
                        f"value {op.value!r} is written twice to key {op.key!r} (or is the initial "
                        f"value): the causal checker needs each value written once per key")
                writer[slot] = op
        read_values = {(op.key, op.output) for op in all_ops if op.f in READS and op.status == "ok"}
        self.ops = [op for op in all_ops if (op.f in READS and op.status == "ok") or (
            op.f in WRITES and (op.status == "ok" or (op.status == "info" and (op.key, op.value) in read_values)))]
        self.initial = initial
        pos = {op.index: i for i, op in enumerate(self.ops)}
        self.n = n = len(self.ops)
        self.reads = [i for i, op in enumerate(self.ops) if op.f in READS]
        self.writes_on: dict[Hashable, list[int]] = {}
        for i, op in enumerate(self.ops):
            if op.f in WRITES:
                self.writes_on.setdefault(op.key, []).append(i)
        self.source: dict[int, int | None] = {}
        for i in self.reads:
            op = self.ops[i]
            w = writer.get((op.key, op.output))
            self.source[i] = INIT if op.output == initial else (pos[w.index] if w is not None else None)
        self.sessions: dict[Hashable, list[int]] = {}
        for i in sorted(range(n), key=lambda i: (self.ops[i].call, self.ops[i].index)):
            self.sessions.setdefault(self.ops[i].process, []).append(i)
        self.succ: list[list[int]] = [[] for _ in range(n)]
        for seq in self.sessions.values():
            for a, b in zip(seq, seq[1:], strict=False):
                self.succ[a].append(b)
        for r, w in self.source.items():
            if w is not None and w != INIT:
                self.succ[w].append(r)
        self.past = closure(n, self.succ)

    def label(self, i: int) -> str:
        op = self.ops[i]
        return f"#{op.index} {_describe(op)} (process {op.process})"


def closure(n: int, succ: Sequence[Sequence[int]]) -> list[int] | None:
    """Strict ancestors of each node as bitsets, or ``None`` when the graph has a cycle."""
    indeg = [0] * n
    for outs in succ:
        for b in outs:
            indeg[b] += 1
    ready = [i for i in range(n) if not indeg[i]]
    past = [0] * n
    done = 0
    while ready:
        a = ready.pop()
        done += 1
        up = past[a] | (1 << a)
        for b in succ[a]:
            past[b] |= up
            indeg[b] -= 1
            if not indeg[b]:
                ready.append(b)
    return past if done == n else None


def find_cycle(n: int, succ: Sequence[Sequence[int]]) -> list[int]:
    """One cycle of the graph (nodes in order), or ``[]``."""
    color = [0] * n
    parent = [-1] * n
    for start in range(n):
        if color[start]:
            continue
        stack = [(start, iter(succ[start]))]
        color[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                continue
            if color[nxt] == 1:
                cycle = [node]
                while cycle[-1] != nxt:
                    cycle.append(parent[cycle[-1]])
                return cycle[::-1]
            if not color[nxt]:
                color[nxt] = 1
                parent[nxt] = node
                stack.append((nxt, iter(succ[nxt])))
    return []


def _common_patterns(h: CausalHistory) -> tuple[str, list[int], str] | None:
    """ThinAirRead, CyclicCO, WriteCOInitRead, WriteCORead: the bad patterns of every level."""
    for r in h.reads:
        if h.source[r] is None:
            return "ThinAirRead", [r], f"{h.label(r)} read a value nobody wrote"
    if h.past is None:
        cycle = find_cycle(h.n, h.succ)
        return "CyclicCO", cycle, "causal order has a cycle: " + " -> ".join(map(h.label, cycle))
    past = h.past
    for r in h.reads:
        key, src = h.ops[r].key, h.source[r]
        before = [w for w in h.writes_on.get(key, ()) if past[r] >> w & 1]
        if src == INIT:
            if before:
                w = before[0]
                return "WriteCOInitRead", [w, r], (f"{h.label(r)} read the initial value, but "
                                                   f"{h.label(w)} is in its causal past")
            continue
        for w2 in before:
            if w2 != src and past[w2] >> src & 1:  # type: ignore[operator]
                return "WriteCORead", [src, w2, r], (  # type: ignore[list-item]
                    f"{h.label(r)} read {h.label(src)}, which {h.label(w2)} causally overwrote "  # type: ignore[arg-type]
                    f"before the read")
    return None


def _convergence(h: CausalHistory) -> tuple[str, list[int], str] | None:
    past = h.past
    assert past is not None
    succ = [list(s) for s in h.succ]
    for r in h.reads:
        src = h.source[r]
        if src == INIT:
            continue
        for w1 in h.writes_on.get(h.ops[r].key, ()):
            if w1 != src and past[r] >> w1 & 1:
                succ[w1].append(src)  # type: ignore[arg-type]  # w1 cf src
    if closure(h.n, succ) is None:
        cycle = find_cycle(h.n, succ)
        return "CyclicCF", cycle, ("no single order of the writes explains every read: "
                                   + " -> ".join(map(h.label, cycle)) + " -> back")
    return None


def _memory(h: CausalHistory) -> tuple[str, list[int], str] | None:
    past = h.past
    assert past is not None
    for seq in h.sessions.values():
        last = seq[-1]
        scope = past[last] | (1 << last)
        succ = [list(h.succ[i]) for i in range(h.n)]
        mine = [r for r in seq if r in h.source]
        changed = True
        hb = past
        while changed:
            changed = False
            for r in mine:
                src = h.source[r]
                for w1 in h.writes_on.get(h.ops[r].key, ()):
                    if w1 == src or not scope >> w1 & 1:
                        continue
                    if hb[r] >> w1 & 1:  # w1 must precede r, so it precedes r's source
                        if src == INIT:
                            return "WriteHBInitRead", [w1, r], (
                                f"process {h.ops[r].process} must see {h.label(w1)} before its "
                                f"{h.label(r)}, which read the initial value")
                        if not hb[src] >> w1 & 1:  # type: ignore[index]
                            succ[w1].append(src)  # type: ignore[arg-type]
                            changed = True
                    if (src == INIT or hb[w1] >> src & 1) and not hb[w1] >> r & 1:  # type: ignore[operator]
                        succ[r].append(w1)  # w1 must follow src, so it follows r
                        changed = True
            if changed:
                sub = [[b for b in succ[a] if scope >> b & 1] if scope >> a & 1 else [] for a in range(h.n)]
                new = closure(h.n, sub)
                if new is None:
                    cycle = find_cycle(h.n, sub)
                    proc = h.ops[seq[0]].process
                    return "CyclicHB", cycle, (f"process {proc} cannot order the writes it sees: "
                                               + " -> ".join(map(h.label, cycle)) + " -> back")
                hb = new
    return None


def check_causal(
    history: Sequence[Op] | Sequence[Operation], *, mode: str = "memory", initial: Hashable = None
) -> CausalResult:
    """Decide causal consistency (``mode``: ``weak``, ``memory`` or ``convergence``).

    Raises :class:`NotDifferentiatedError` when a value is written twice to one
    key (the polynomial algorithms need unique writes).
    """
    if mode not in CAUSAL_MODES:
        raise ValueError(f"mode must be one of {', '.join(CAUSAL_MODES)}, got {mode!r}")
    h = CausalHistory(history, initial)
    found = _common_patterns(h)
    if found is None and mode == "convergence":
        found = _convergence(h)
    if found is None and mode == "memory":
        found = _memory(h)
    if found is None:
        return CausalResult(mode, True, f"{_NAMES[mode]}: no bad pattern among {h.n} operations",
                            operations=h.ops)
    pattern, nodes, why = found
    return CausalResult(mode, False, f"not {_NAMES[mode]} ({pattern}): {why}", pattern,
                        [h.ops[i].index for i in nodes], h.ops)

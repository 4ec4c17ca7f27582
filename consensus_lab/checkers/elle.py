"""Transactional isolation, Elle-style (Kingsbury and Alvaro, VLDB 2020).

A transaction is an operation with ``f = "txn"`` and a list of micro-operations:

* **list-append**: ``[:append k v]`` and ``[:r k [v1 v2 ...]]`` (what the read saw);
* **rw-register**: ``[:w k v]`` and ``[:r k v]``.

Values are unique per key, so every read names the transaction that wrote what it
saw.  For list-append a read reveals the whole version history of its key
(the list), so the *version order* of each key is the longest list read, and
every read must be a prefix of it.  For rw-register the order is inferred only
where a transaction read a value and then wrote the next one.

From these the checker builds Adya's *direct serialization graph* over the
committed transactions:

``ww``  T1 installed a version, T2 the next one of the same key;
``wr``  T2 read a version T1 installed;
``rw``  T1 read a version, T2 installed the next one (an anti-dependency);
``rt``  T1 completed before T2 was invoked (real time; strict serializability).

and reports the anomalies it finds, each with a witness:

``G1a``  aborted read: a read saw a write of a failed transaction;
``G1b``  intermediate read: a read saw a version its writer later overwrote;
``internal``  a read inside a transaction disagrees with the transaction's own
          earlier operations on that key;
``incompatible-order``  two reads of a key that are not prefixes of each other;
``G0``  a cycle of ``ww`` edges (write cycle);
``G1c`` a cycle of ``ww``/``wr`` edges (circular information flow);
``G-single`` a cycle with exactly one ``rw`` edge (read skew);
``G-nonadjacent`` a cycle with ``rw`` edges, no two of them adjacent (e.g. a long
          fork: two readers see two concurrent writers in opposite orders);
``G2``  a cycle with ``rw`` edges (anti-dependency cycle, e.g. write skew).

Levels forbid (after Adya): ``read-committed`` G0, G1a, G1b, G1c;
``snapshot-isolation`` those, G-single and G-nonadjacent (as Elle checks SI);
``serializable`` those and G2;
``strict-serializable`` the same with ``rt`` edges in the graph.  Internal and
incompatible-order anomalies violate every level.  Like Elle, the checker is
sound (every anomaly it reports is real); it is complete when the reads reveal
every key's version order (for list-append, a final read of every key).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from consensus_lab.history import Op, Operation

from ._common import as_operations

__all__ = ["ISOLATION_LEVELS", "IsolationResult", "check_isolation", "transaction_graph"]

#: level -> the cycle anomalies it forbids (G1a, G1b, internal, incompatible-order: all levels)
ISOLATION_LEVELS: dict[str, tuple[str, ...]] = {
    "read-committed": ("G0", "G1c"),
    "snapshot-isolation": ("G0", "G1c", "G-single", "G-nonadjacent"),
    "serializable": ("G0", "G1c", "G-single", "G-nonadjacent", "G2"),
    "strict-serializable": ("G0", "G1c", "G-single", "G-nonadjacent", "G2"),
}
_ALWAYS = ("G1a", "G1b", "internal", "incompatible-order")
_APPEND, _READ, _WRITE = "append", "r", "w"
_MICRO = {"append": _APPEND, "r": _READ, "read": _READ, "w": _WRITE, "write": _WRITE}


@dataclass(frozen=True)
class Anomaly:
    """One anomaly: its name, the transactions (``Operation.index``) involved
    and, for a cycle, its edges ``(from, kind, to)``."""

    name: str
    txns: tuple[int, ...]
    explanation: str
    cycle: tuple[tuple[int, str, int], ...] = ()


@dataclass
class IsolationResult:
    """``holds`` at ``level``; ``anomalies`` found (all, not only forbidden ones);
    ``graph``: edges ``(from, to) -> kinds`` between transaction indices."""

    level: str
    holds: bool
    detail: str
    anomalies: list[Anomaly] = field(default_factory=list)
    graph: dict[tuple[int, int], set[str]] = field(default_factory=dict, repr=False)
    transactions: dict[int, Operation] = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> str:
        return self.level if self.holds else f"not {self.level}"

    @property
    def witness(self) -> Anomaly | None:
        """The first forbidden anomaly (the one ``detail`` describes)."""
        forbidden = set(ISOLATION_LEVELS[self.level]) | set(_ALWAYS)
        return next((a for a in self.anomalies if a.name in forbidden), None)


def _mops(value: Any) -> list[tuple[str, Hashable, Any]]:
    if not isinstance(value, tuple):
        raise ValueError(f"a txn needs a list of micro-operations, got {value!r:.60}")
    out = []
    for m in value:
        if not (isinstance(m, tuple) and len(m) == 3 and m[0] in _MICRO):
            raise ValueError(f"a micro-operation is [:append k v], [:r k v] or [:w k v], got {m!r:.60}")
        out.append((_MICRO[m[0]], m[1], m[2]))
    return out


class _Graph:
    def __init__(self) -> None:
        self.edges: dict[tuple[int, int], set[str]] = {}
        self.succ: dict[int, dict[int, set[str]]] = {}

    def add(self, a: int, b: int, kind: str) -> None:
        if a == b:
            return
        self.edges.setdefault((a, b), set()).add(kind)
        self.succ.setdefault(a, {}).setdefault(b, set()).add(kind)

    def path(self, start: int, goal: int, kinds: set[str]) -> list[tuple[int, str, int]] | None:
        """A shortest path using only edges of ``kinds`` (breadth first)."""
        prev: dict[int, tuple[int, str]] = {}
        queue, seen = deque([start]), {start}
        while queue:
            a = queue.popleft()
            for b, ks in self.succ.get(a, {}).items():
                usable = sorted(ks & kinds)
                if not usable or b in seen:
                    continue
                prev[b] = (a, usable[0])
                if b == goal:
                    out = []
                    while b != start:
                        a2, k = prev[b]
                        out.append((a2, k, b))
                        b = a2
                    return out[::-1]
                seen.add(b)
                queue.append(b)
        return None

    def cycle(self, kinds: set[str], through: set[str] | None = None) -> list[tuple[int, str, int]] | None:
        """A cycle of ``kinds`` edges, containing an edge of ``through`` if given."""
        for (a, b), ks in sorted(self.edges.items()):
            first = ks & (through if through is not None else kinds)
            if not first:
                continue
            back = self.path(b, a, kinds)
            if back is not None:
                return [(a, sorted(first)[0], b), *back]
        return None

    def nonadjacent_cycle(self, kinds: set[str], budget: int = 200_000) -> list[tuple[int, str, int]] | None:
        """A simple cycle of ``kinds`` edges with at least one ``rw`` edge and no two
        ``rw`` edges adjacent (cyclically); ``None`` if there is none, or none was
        found within ``budget`` search steps (never a cycle that is not one)."""
        plain = kinds - {"rw"}

        def step(x: int, after_rw: bool) -> list[tuple[int, str, bool]]:
            out = []
            for y, ks in sorted(self.succ.get(x, {}).items()):
                other = sorted(ks & plain)
                if other:  # a plain edge never hurts: prefer it
                    out.append((y, other[0], False))
                elif "rw" in ks and "rw" in kinds and not after_rw:
                    out.append((y, "rw", True))
            return out

        left = budget
        for (a, b), ks in sorted(self.edges.items()):
            if "rw" not in ks or "rw" not in kinds:
                continue
            # depth first over simple paths b ... -> a; the closing edge must be plain
            stack = [(b, True, iter(step(b, True)))]
            path: list[tuple[int, str, int]] = [(a, "rw", b)]
            on_path = {a, b}
            while stack:
                left -= 1
                if left < 0:
                    return None
                x, _, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    on_path.discard(x)
                    path.pop()
                    continue
                y, kind, is_rw = nxt
                if y == a:
                    if not is_rw:
                        return [*path, (x, kind, a)]
                    continue
                if y in on_path:
                    continue
                on_path.add(y)
                path.append((x, kind, y))
                stack.append((y, is_rw, iter(step(y, is_rw))))
        return None


def transaction_graph(history: Sequence[Op] | Sequence[Operation], *, real_time: bool = False,
                      versions: Mapping[Hashable, Sequence[Any]] | None = None,
                      ) -> tuple[_Graph, list[Anomaly], dict[int, Operation]]:
    """The dependency graph of the committed transactions and the non-cycle anomalies.

    ``versions`` (rw-register only) is a known version order: key -> the values
    in the order they were installed (see :func:`check_isolation`)."""
    ops = [op for op in as_operations(history) if op.f == "txn"]
    anomalies: list[Anomaly] = []
    txns = {op.index: op for op in ops if op.status in ("ok", "info")}
    failed_writes: dict[tuple[Hashable, Any], int] = {}
    writer: dict[tuple[Hashable, Any], int] = {}  # (key, value) -> txn that wrote it
    last_write: dict[tuple[int, Hashable], Any] = {}  # (txn, key) -> its final value
    for op in ops:
        mops = _mops(op.output if op.status == "ok" else op.value)
        for f, k, v in mops:
            if f in (_APPEND, _WRITE):
                if op.status == "fail":
                    failed_writes[(k, v)] = op.index
                else:
                    writer[(k, v)] = op.index
                    last_write[(op.index, k)] = v
    graph = _Graph()
    reads: list[tuple[int, Hashable, Any]] = []  # (txn, key, what it saw before its own writes)
    lists: list[tuple[int, Hashable, tuple[Any, ...]]] = []  # list-append: every list read, whole
    kind = "append" if any(f == _APPEND or (f == _READ and isinstance(v, tuple))
                           for op in ops for f, _, v in _mops(op.output if op.status == "ok" else op.value)
                           ) else "register"
    for t, op in txns.items():
        if op.status != "ok":
            continue
        own: dict[Hashable, list[Any]] = {}
        for f, k, v in _mops(op.output):
            if f == _READ:
                seen = list(v or ()) if kind == "append" else v
                if kind == "append":
                    lists.append((t, k, tuple(seen)))
                if k in own:  # the txn wrote k before: the read must show it
                    mine = own[k]
                    ok = (seen[-len(mine):] == mine) if kind == "append" else (seen == mine[-1])
                    if not ok:
                        anomalies.append(Anomaly("internal", (t,), f"txn #{t} read {k!r} = {v!r} after "
                                                 f"writing {mine[-1]!r} itself"))
                    if kind == "append" and ok:
                        reads.append((t, k, tuple(seen[: len(seen) - len(mine)])))
                    continue
                reads.append((t, k, tuple(seen) if kind == "append" else v))
            else:
                own.setdefault(k, []).append(v)
    # versions seen, G1a / G1b, wr edges
    order: dict[Hashable, tuple[Any, ...]] = {}
    for t, k, seen in reads:
        values = seen if kind == "append" else (() if seen is None else (seen,))
        for i, v in enumerate(values):
            if (k, v) in failed_writes and (k, v) not in writer:
                anomalies.append(Anomaly("G1a", (failed_writes[(k, v)], t),
                                         f"txn #{t} read {k!r} = {v!r}, written by failed txn "
                                         f"#{failed_writes[(k, v)]}"))
                continue
            w = writer.get((k, v))
            if w is None:
                anomalies.append(Anomaly("G1a", (t,), f"txn #{t} read {k!r} = {v!r}, which nobody wrote"))
                continue
            last = i == len(values) - 1
            if last and kind == "register" and last_write.get((w, k)) != v:
                anomalies.append(Anomaly("G1b", (w, t), f"txn #{t} read {k!r} = {v!r}, an intermediate "
                                         f"write of txn #{w}"))
            if last and kind == "append" and last_write.get((w, k)) != v:
                # the read's version ends inside w: w appended more to k afterwards
                anomalies.append(Anomaly("G1b", (w, t), f"txn #{t} read {k!r} ending at {v!r}, an "
                                         f"intermediate append of txn #{w}"))
            if last:
                graph.add(w, t, "wr")
    for t, k, seen in lists:
        if kind == "append":
            longest = order.get(k, ())
            a, b = (seen, longest) if len(seen) <= len(longest) else (longest, seen)
            if b[: len(a)] != a:
                anomalies.append(Anomaly("incompatible-order", (t,), f"reads of {k!r} disagree on its "
                                         f"order: {list(a)!r} is not a prefix of {list(b)!r}"))
            elif len(seen) > len(longest):
                order[k] = seen
    # version order -> ww and rw edges
    nxt: dict[tuple[Hashable, Any], Any] = {}  # (key, version or None) -> next version
    if versions is not None:
        if kind == "append":
            raise ValueError("a list-append history reveals its own version order: give versions only "
                             "for rw-register histories")
        for k, seq in _known_order(versions, writer, failed_writes).items():
            prev = None
            for v in seq:
                nxt[(k, prev)] = v
                prev = v
    elif kind == "append":
        for k, seq in order.items():
            prev: Any = None
            for v in seq:
                nxt[(k, prev)] = v
                prev = v
    else:
        for op in txns.values():
            if op.status != "ok":
                continue
            seen_now: dict[Hashable, Any] = {}
            for f, k, v in _mops(op.output):
                if f == _READ and k not in seen_now:
                    seen_now[k] = v
                elif f == _WRITE and k in seen_now:
                    nxt.setdefault((k, seen_now.pop(k)), v)
    for (k, v), v2 in nxt.items():
        w2 = writer.get((k, v2))
        if w2 is None:
            continue
        if v is not None and (k, v) in writer:
            graph.add(writer[(k, v)], w2, "ww")
    # an append no read saw comes after every version a read saw (lists only grow)
    unseen: dict[Hashable, list[int]] = {}
    if kind == "append":
        for (k, v), w in writer.items():
            if v not in order.get(k, ()):
                unseen.setdefault(k, []).append(w)
        for k, ws in unseen.items():
            seq = order.get(k, ())
            if seq and (k, seq[-1]) in writer:
                for w in ws:
                    graph.add(writer[(k, seq[-1])], w, "ww")
    for t, k, seen in reads:
        v = (seen[-1] if seen else None) if kind == "append" else seen
        v2 = nxt.get((k, v))
        if v2 is not None and (k, v2) in writer:
            graph.add(t, writer[(k, v2)], "rw")
        if v2 is None:  # the reader saw the latest known version: what nobody saw comes next
            for w in unseen.get(k, ()):
                graph.add(t, w, "rw")
    if real_time:
        done = sorted((op.ret, t) for t, op in txns.items() if op.status == "ok")
        for t2, op2 in txns.items():
            for ret, t1 in done:
                if ret >= op2.call:
                    break
                graph.add(t1, t2, "rt")
    return graph, anomalies, txns


def _known_order(versions: Mapping[Hashable, Sequence[Any]], writer: Mapping[tuple[Hashable, Any], int],
                 failed: Mapping[tuple[Hashable, Any], int]) -> dict[Hashable, tuple[Any, ...]]:
    """A given version order, checked against the history: each value once per key, and
    written by a transaction of the history.  A value only a failed transaction wrote is
    dropped (it cannot take part in an edge; a read of it is G1a anyway)."""
    out: dict[Hashable, tuple[Any, ...]] = {}
    for k, seq in versions.items():
        seq = tuple(seq)
        if len(set(seq)) != len(seq):
            raise ValueError(f"the version order of {k!r} names a value twice: {list(seq)!r:.80}")
        for v in seq:
            if (k, v) not in writer and (k, v) not in failed:
                raise ValueError(f"the version order of {k!r} names {v!r}, which no transaction wrote")
        out[k] = tuple(v for v in seq if (k, v) in writer)
    return out


def check_isolation(history: Sequence[Op] | Sequence[Operation], level: str = "serializable", *,
                    versions: Mapping[Hashable, Sequence[Any]] | None = None) -> IsolationResult:
    """Check a list-append or rw-register transaction history at ``level``
    (one of :data:`ISOLATION_LEVELS`).

    ``versions``: for an rw-register history, a *known* version order of each key
    (key -> its values, oldest first), as Elle accepts one from a database that
    exposes it.  Adya defines the anomalies relative to the system's version order;
    without it a blind write cannot be ordered.  The order is data to check against,
    not a verdict: the edges still come from what the transactions read, and an
    order that contradicts them (or, for ``strict-serializable``, real time) shows
    up as a cycle.  Each value may appear once per key and must have been written by
    a transaction of the history (else ``ValueError``).
    """
    if level not in ISOLATION_LEVELS:
        raise ValueError(f"unknown isolation level {level!r}; choose one of {', '.join(ISOLATION_LEVELS)}")
    graph, anomalies, txns = transaction_graph(history, real_time=level == "strict-serializable",
                                               versions=versions)
    rt = {"rt"} if level == "strict-serializable" else set()
    searches = [("G0", {"ww"} | rt, None), ("G1c", {"ww", "wr"} | rt, {"wr"}),
                ("G-single", {"ww", "wr"} | rt, None), ("G-nonadjacent", {"ww", "wr", "rw"} | rt, None),
                ("G2", {"ww", "wr", "rw"} | rt, {"rw"})]
    for name, kinds, through in searches:
        if name in ("G-nonadjacent", "G2") and any(a.name in ("G-single", "G-nonadjacent") for a in anomalies):
            break  # each is a special case of the next, forbidden wherever the next is: one witness
        if name == "G-nonadjacent":
            cyc = graph.nonadjacent_cycle(kinds)
        elif name == "G-single":
            cyc = None
            for (a, b), ks in sorted(graph.edges.items()):
                if "rw" in ks:
                    back = graph.path(b, a, kinds)
                    if back is not None:
                        cyc = [(a, "rw", b), *back]
                        break
        else:
            cyc = graph.cycle(kinds, through)
        if cyc is not None:
            steps = " ".join(f"#{a} -{k}->" for a, k, _ in cyc) + f" #{cyc[0][0]}"
            anomalies.append(Anomaly(name, tuple(a for a, _, _ in cyc), f"cycle {steps}", tuple(cyc)))
    forbidden = set(ISOLATION_LEVELS[level]) | set(_ALWAYS)
    bad = [a for a in anomalies if a.name in forbidden]
    if not bad:
        n = sum(1 for op in txns.values() if op.status == "ok")
        return IsolationResult(level, True, f"{level}: no forbidden anomaly among {n} committed "
                               f"transactions", anomalies, graph.edges, txns)
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    return IsolationResult(level, False, f"not {level}: {bad[0].name}: {bad[0].explanation}{more}",
                           anomalies, graph.edges, txns)

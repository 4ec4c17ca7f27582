"""Eventual consistency: once writes stop, do the replicas agree?

Eventual consistency promises little: *if* clients stop writing and the
network lets replicas talk for a while (a quiet period), then all replicas end
up holding the same state.  Run the system past its last write, let it go
quiet, and hand the final states to :func:`check_convergence`.

Agreement alone is not enough for users: replicas can agree on a state that
has *lost* a write the store acknowledged (say, a last-writer-wins store whose
clocks disagree).  That is reported separately, as ``lost_writes``, and
checked on its own by :func:`check_no_lost_writes`.

What a replica holds for a key is one of:

* a single value;
* a tuple of *siblings*: the concurrent values a version-vector store keeps
  side by side until a later write resolves them (a single value is one
  sibling);
* a set, frozenset or list: a collection (a grow-only set, an append log),
  in which every element added stays.

An acknowledged write of value ``v`` to key ``k`` *survives* in a replica when
``v`` is one of its siblings (or elements), or when the write overwrites (a
``write``, ``put`` or ``cas``; a ``(key, value)`` pair) and one of the
siblings *supersedes* it: was written by a write that knew of this one.  An
``add`` or ``append`` is never superseded, and nothing in a collection
supersedes anything.  A write is *lost* when it survives in no replica.

Which write knew of which is causality, which the checker cannot see.  Pass
``superseded(key, old, new)`` (say, comparing the version vectors the store
gave the two values) to decide it.  Without it the checker goes by real time:
a sibling supersedes the write when it is the value of another acknowledged
write that did not finish before this one began (it may have seen it), or of
no acknowledged write at all (written by an operation we were not told about:
it cannot be judged, so it is given the benefit of the doubt).  Writes given as
``Operation`` objects carry their real-time interval; writes given as events or
``(key, value)`` pairs are taken to have been acknowledged one after another,
in list order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consensus_lab.history import Op, Operation

__all__ = ["ConvergenceResult", "Superseded", "check_convergence", "check_no_lost_writes", "lost_writes"]

_ADDS = ("add", "append")

_INF = float("inf")
_MISSING = object()

#: ``superseded(key, old, new)``: did the write of ``new`` know of (and so replace) the write of ``old``?
Superseded = Callable[[Hashable, Any, Any], bool]


@dataclass(frozen=True)
class _Write:
    key: Hashable
    value: Any
    call: float = -_INF
    ret: float = _INF
    label: str = ""
    adds: bool = False  # an add or append: it must stay an element, nothing supersedes it


@dataclass
class ConvergenceResult:
    """``holds`` when every replica has the same state; ``groups`` lists the
    replicas by state (one group when converged); ``lost_writes`` the
    acknowledged writes that no replica has (``lost_holds`` is ``True`` when
    there are none)."""

    holds: bool
    detail: str
    groups: list[list[Hashable]] = field(default_factory=list)
    lost_writes: list[Any] = field(default_factory=list)

    @property
    def lost_holds(self) -> bool:
        return not self.lost_writes


def _as_writes(acknowledged: Iterable[Any]) -> list[_Write]:
    out = []
    for pos, w in enumerate(acknowledged):
        if isinstance(w, Operation):
            if w.status != "ok":
                continue
            value = w.value[1] if w.f == "cas" and isinstance(w.value, tuple) else w.value
            out.append(_Write(w.key, value, w.call, w.ret, f"op #{w.index} {w.f}({value!r})", w.f in _ADDS))
        elif isinstance(w, Op):
            if w.type == "ok":
                out.append(_Write(w.key, w.value, pos, pos, f"{w.f}({w.value!r})", w.f in _ADDS))
        elif isinstance(w, tuple) and len(w) == 2:
            label = f"{w[1]!r}" if w[0] is None else f"{w[0]!r}={w[1]!r}"
            out.append(_Write(w[0], w[1], pos, pos, label))
        else:
            raise TypeError(f"an acknowledged write is an Operation, an ok Op or (key, value), got {w!r}")
    return out


def _current(state: Any, key: Hashable) -> Any:
    if isinstance(state, Mapping):
        return state.get(key, _MISSING)
    return state  # a single object: the key does not matter


class _Survival:
    """Does a write survive in a state?  (The acknowledged writes indexed by value.)"""

    def __init__(self, writes: list[_Write], superseded: Superseded | None) -> None:
        self.writes = writes
        self.superseded = superseded
        self.by_value: dict[tuple[Hashable, Any], list[_Write]] = {}
        for w in writes:
            try:
                self.by_value.setdefault((w.key, w.value), []).append(w)
            except TypeError:  # an unhashable value: found by a scan instead
                pass

    def present(self, write: _Write, state: Any) -> bool:
        cur = _current(state, write.key)
        if cur is _MISSING or cur is None:
            return False
        if isinstance(cur, set | frozenset | list):
            return write.value in cur
        siblings = cur if isinstance(cur, tuple) else (cur,)
        if write.value in siblings:
            return True
        if write.adds:
            return False
        if self.superseded is not None:
            return any(self.superseded(write.key, write.value, s) for s in siblings)
        return any(self._may_supersede(write, s) for s in siblings)

    def _may_supersede(self, write: _Write, value: Any) -> bool:
        """Real time only: a write of ``value`` that did not end before ``write`` began."""
        try:
            others = self.by_value.get((write.key, value), [])
        except TypeError:
            others = [w for w in self.writes if w.key == write.key and w.value == value]
        if not others:
            return True  # written by something we were not told about: cannot judge
        return any(not (w.ret < write.call) for w in others)


def lost_writes(final_states: Mapping[Hashable, Any], acknowledged_writes: Iterable[Any], *,
                superseded: Superseded | None = None) -> list[str]:
    """The acknowledged writes that survive in no replica (labels, in the given order)."""
    writes = _as_writes(acknowledged_writes)
    survival = _Survival(writes, superseded)
    return [w.label for w in writes
            if not any(survival.present(w, s) for s in final_states.values())]


def check_convergence(
    final_states: Mapping[Hashable, Any], acknowledged_writes: Iterable[Any] = (), *,
    superseded: Superseded | None = None,
) -> ConvergenceResult:
    """Do all replicas hold the same state?  ``final_states`` maps a replica
    name to its state after the quiet period; ``acknowledged_writes`` (ok
    operations, or ``(key, value)`` pairs) are checked for losses too, with
    ``superseded`` as in the module docstring."""
    if not final_states:
        raise ValueError("final_states is empty: give the state of each replica after the quiet period")
    groups: list[tuple[Any, list[Hashable]]] = []
    for node, state in final_states.items():
        for s, members in groups:
            if s == state:
                members.append(node)
                break
        else:
            groups.append((state, [node]))
    lost = lost_writes(final_states, acknowledged_writes, superseded=superseded)
    lost_note = f"; {len(lost)} acknowledged write(s) lost: {', '.join(lost[:3])}" if lost else ""
    if len(groups) == 1:
        detail = f"converged: all {len(final_states)} replicas hold the same state{lost_note}"
        return ConvergenceResult(True, detail, [groups[0][1]], lost)
    a, b = groups[0], groups[1]
    detail = (f"diverged into {len(groups)} states: {', '.join(map(str, a[1]))} hold {a[0]!r} "
              f"but {', '.join(map(str, b[1]))} hold {b[0]!r}{lost_note}")
    return ConvergenceResult(False, detail, [m for _, m in groups], lost)


def check_no_lost_writes(
    final_states: Mapping[Hashable, Any], acknowledged_writes: Iterable[Any], *,
    superseded: Superseded | None = None,
) -> ConvergenceResult:
    """``holds`` when every acknowledged write survives in some replica (a
    sibling that supersedes it counts: see the module docstring)."""
    result = check_convergence(final_states, acknowledged_writes, superseded=superseded)
    if result.lost_writes:
        lost = result.lost_writes
        more = f" (and {len(lost) - 3} more)" if len(lost) > 3 else ""
        detail = f"{len(lost)} acknowledged write(s) lost: {', '.join(lost[:3])}{more}"
        return ConvergenceResult(False, detail, result.groups, lost)
    return ConvergenceResult(True, "no acknowledged write was lost", result.groups, [])

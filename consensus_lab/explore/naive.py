"""The naive way to explore, kept as a yardstick: deep copies and printed states.

:class:`NaiveWorld` explores exactly the same states as :class:`ExploreWorld`
but copies the *whole* state with ``copy.deepcopy`` before every step and
fingerprints it by printing everything as text (dicts and sets printed in
sorted order, so equal states print alike) and hashing the text.  The
benchmark runs both and reports the ratio; a test checks that both count the
same states.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from ..sim.node import Node
from .world import ExploreWorld, State

__all__ = ["NaiveWorld"]


class NaiveWorld(ExploreWorld):
    """Same states and transitions as :class:`ExploreWorld`; naive copies and fingerprints."""

    _settle_lightly = False  # every state is copied and printed in full
    _keep_memory_live = False  # and the invariants' memory is installed for every state

    def _fork(self, s: State, i: int, copy_node: bool = True) -> State:
        ns = State()
        memo: dict[int, Any] = {}
        ns.nodes, ns.stores, ns.timers, ns.net, ns.hist = copy.deepcopy(
            (s.nodes, s.stores, s.timers, s.net, s.hist), memo
        )
        ns.henc = s.henc
        ns.clocks = s.clocks
        ns.nmsgs = s.nmsgs
        ns.clients = s.clients
        ns.faults = s.faults
        ns.memory = s.memory
        ns.verdict = None
        ns.comps = []
        ns.dirty = [i]
        # to the invariants every node was changed in place (but for a restart)
        ns.remap = {id(n): memo[id(n)] for n in s.nodes if n is not None}
        ns.fired = s.fired
        ns.error = None
        ns.cut = s.cut
        return ns

    def _msg_key(self, msg: Any) -> bytes:
        return _text(msg).encode()

    def _finish(self, s: State) -> State:
        for i in s.dirty:
            s.stores[i].writes = hash(_text(s.stores[i].snapshot()))
        if self._roots:
            self._remember(s)
        refs = {id(r): f"<root {k}>" for k, r in enumerate(self._roots)}
        memory = _plain(s.memory.snap if s.memory is not None else None, refs)
        view = (
            [None if n is None else _plain(vars(n), {}) for n in s.nodes],
            [st.snapshot() for st in s.stores],
            s.timers,
            s.clocks,
            sorted((k, c) for k, (_, c) in s.net.items()),
            [(op.process, op.type, op.f, op.key, op.value) for op in s.hist],
            s.clients,
            s.faults,
            s.fired,
            memory,
            s.error,
            sorted(s.cut),
        )
        s.fp = hashlib.blake2b(_text(view).encode(), digest_size=16).digest()
        return s


def _plain(v: Any, refs: dict[int, str]) -> Any:
    """Objects as dicts of their attributes (a protocol node by its id), for printing.

    ``refs`` names objects to print by name (invariant objects point at each other).
    """
    if id(v) in refs:
        return refs[id(v)]
    if isinstance(v, Node):
        return f"<node {v.id}>"
    if isinstance(v, dict):
        return {k: _plain(x, refs) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return type(v)(_plain(x, refs) for x in v) if not hasattr(v, "_fields") else v
    if isinstance(v, set | frozenset):
        return v
    if callable(v):
        return getattr(v, "__qualname__", "<function>")
    if hasattr(v, "__dict__") or hasattr(type(v), "__slots__"):
        if hasattr(type(v), "__dataclass_fields__") and type(v).__dataclass_params__.frozen:
            return v
        d = dict(getattr(v, "__dict__", {}))
        for klass in type(v).__mro__:
            for name in getattr(klass, "__slots__", ()):
                if hasattr(v, name) and name not in ("__dict__", "__weakref__"):
                    d[name] = getattr(v, name)
        return (type(v).__qualname__, _plain(d, refs))
    return v


def _text(v: Any) -> str:
    """``v`` printed so that equal values print alike: dicts and sets in sorted order.

    (``repr`` and ``pprint`` print a set in its iteration order, which depends on
    how it was built, so two equal states could print differently.)
    """
    if isinstance(v, dict):
        return "{" + ", ".join(sorted(f"{_text(k)}: {_text(x)}" for k, x in v.items())) + "}"
    if isinstance(v, set | frozenset):
        return "{" + ", ".join(sorted(_text(x) for x in v)) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_text(x) for x in v) + "]"
    if isinstance(v, tuple):
        return f"{type(v).__name__}(" + ", ".join(_text(x) for x in v) + ")"
    if hasattr(type(v), "__dataclass_fields__"):
        return f"{type(v).__qualname__}(" + ", ".join(
            f"{f}={_text(getattr(v, f))}" for f in type(v).__dataclass_fields__) + ")"
    return repr(v)

"""The invariants' memory kept *live* between the successors of one state.

Invariants remember (what was chosen, who voted yes), so every state carries a
snapshot of that memory, and judging a new state starts from its parent's.
Installing the parent's snapshot again into the invariant objects for every
successor -- a deep copy each time -- was about 40 % of a breadth-first search.
:class:`LiveMemory` installs it once per parent and keeps it live:

1. a successor is judged on the live memory, with each reference to the node
   that acted patched to that node's new copy (to the invariants the node was
   changed in place, as in the simulator);
2. the patches are put back, and each attribute of each invariant object is
   compared (``==``, protocol nodes by identity -- the equality that
   :func:`~consensus_lab.explore.state.digest_attrs` already trusts) with the
   parent's snapshot;
3. if none changed (60-70 % of states), the successor shares the parent's
   snapshot and the live memory is still the parent's; otherwise the changed
   attributes are *taken* into the successor's snapshot (its unchanged ones
   are the parent's, shared) and only they are copied back from the parent.

So a successor costs what its checks changed, not the size of the memory.
Where this cannot be done exactly, the old way is taken (install the parent's
snapshot with the remap, judge, capture everything): a node referred to from a
set, a dict key or a container ``clone_memory`` would copy, or mutable objects
shared between two attributes (copying one attribute back would split them).
"""

from __future__ import annotations

import collections
import dataclasses
import types
from collections.abc import Callable, Sequence
from typing import Any

from ..sim.node import Node

__all__ = ["LiveMemory"]

_PLAIN = frozenset({int, str, float, bool, type(None), bytes, complex})
_MISSING = object()
_UNPATCHABLE: list = []  # a node referred to where it cannot be swapped (a set, a dict key)


class _Fallback(Exception):
    """The memory cannot be kept live exactly: take the old way."""


def _node_ids(v: Any, out: set[int]) -> None:
    """The ids of the protocol nodes in ``v`` (a node, or plain tuples holding nodes)."""
    if isinstance(v, Node):
        out.add(id(v))
    elif type(v) is tuple:
        for x in v:
            if type(x) not in _PLAIN:
                _node_ids(x, out)


def _subst(v: Any, old_id: int, new: Any) -> Any:
    """``v`` with the node whose id is ``old_id`` replaced by ``new`` (inside plain tuples too)."""
    if id(v) == old_id:
        return new
    if type(v) is tuple:
        parts = [x if type(x) in _PLAIN else _subst(x, old_id, new) for x in v]
        if any(p is not x for p, x in zip(parts, v, strict=True)):
            return tuple(parts)
    return v


def _deep_has_node(v: Any, seen: set[int]) -> bool:
    if isinstance(v, Node):
        return True
    if type(v) in _PLAIN or id(v) in seen or callable(v):
        return False
    seen.add(id(v))
    if isinstance(v, dict):
        return any(_deep_has_node(k, seen) or _deep_has_node(x, seen) for k, x in v.items())
    if isinstance(v, list | tuple | set | frozenset | collections.deque):
        return any(_deep_has_node(x, seen) for x in v)
    d = getattr(v, "__dict__", None)
    return d is not None and _deep_has_node(d, seen)


def _walk(v: Any, holder: Any, key: Any, is_attr: bool, refs: dict, owned: set[int], stop: set[int]) -> None:
    """Index where ``v`` (found at ``holder[key]``) refers to nodes; collect its mutable objects.

    ``refs``: id(node) -> [(holder, key, is_attr)] (or ``_UNPATCHABLE``);
    ``owned``: ids of the mutable objects reached; ``stop``: objects not to
    enter (the invariant objects themselves, which are kept by identity).
    Raises :class:`_Fallback` where a node sits inside something
    ``clone_memory`` would deep-copy.
    """
    t = type(v)
    if t in _PLAIN or isinstance(v, type | types.ModuleType) or (callable(v) and not isinstance(v, Node)):
        return
    if t is not tuple and isinstance(v, tuple) and not isinstance(v, Node):
        for x in v:
            if type(x) not in _PLAIN:
                break
        else:
            return  # a named tuple of numbers and strings (a ballot): a value
        if _deep_has_node(v, set()):  # (a named tuple: clone_memory would copy a node in it)
            raise _Fallback
        for x in v:
            if type(x) not in _PLAIN:
                _walk(x, None, None, False, refs, owned, stop)
        return
    if isinstance(v, Node) or t is tuple:
        ids: set[int] = set()
        _node_ids(v, ids)
        for i in ids:
            locs = refs.setdefault(i, [])
            if locs is not _UNPATCHABLE:
                locs.append((holder, key, is_attr))
        if t is tuple:
            for x in v:  # mutable containers inside a tuple hold their own references
                if type(x) not in _PLAIN and not isinstance(x, Node):
                    _walk(x, None, None, False, refs, owned, stop)
        return
    i = id(v)
    if i in stop or i in owned:
        return
    if dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return  # a value: clone_memory keeps it as it is
    owned.add(i)
    if t is dict:
        for k, x in v.items():
            if type(k) not in _PLAIN:
                ks: set[int] = set()
                _node_ids(k, ks)
                for n in ks:
                    refs[n] = _UNPATCHABLE
            _walk(x, v, k, False, refs, owned, stop)
    elif t is list:
        for k, x in enumerate(v):
            _walk(x, v, k, False, refs, owned, stop)
    elif t is set:
        for x in v:
            if type(x) not in _PLAIN:
                xs: set[int] = set()
                _node_ids(x, xs)
                for n in xs:
                    refs[n] = _UNPATCHABLE
    elif isinstance(v, dict | list | set | frozenset | tuple | collections.deque) or t.__module__ == "builtins":
        if _deep_has_node(v, set()):
            raise _Fallback
    else:
        d = getattr(v, "__dict__", None)
        if d is not None:
            for k, x in d.items():
                _walk(x, d, k, False, refs, owned, stop)
        for klass in t.__mro__:
            sl = klass.__dict__.get("__slots__", ())
            for name in (sl,) if isinstance(sl, str) else sl:
                if name not in ("__dict__", "__weakref__") and hasattr(v, name):
                    _walk(getattr(v, name), v, name, True, refs, owned, stop)


def _set(holder: Any, key: Any, is_attr: bool, v: Any) -> None:
    if is_attr:
        object.__setattr__(holder, key, v)
    else:
        holder[key] = v


def _get(holder: Any, key: Any, is_attr: bool) -> Any:
    if is_attr:
        return getattr(holder, key, _MISSING)
    if isinstance(holder, dict):
        return holder.get(key, _MISSING)
    return holder[key] if key < len(holder) else _MISSING


class LiveMemory:
    """The invariant objects' memory, kept live between states (see the module docstring).

    An *attribute* is ``(root index, name, is_slot)``; a root that is itself a
    dict, list or set is one attribute ``(root index, None, False)``.  Attributes
    that share a mutable object form a *group* and are copied together.  A
    snapshot's ``shape`` token says which groups it has: snapshots made from one
    another here keep their parent's shape, and the live memory moves from one
    to another of the same shape by copying only the groups whose values are
    not the very objects it was copied from.
    """

    def __init__(self, roots: Sequence[Any], root_slots: Sequence[tuple[str, ...]]) -> None:
        self.roots = list(roots)
        self.root_slots = [tuple(s) for s in root_slots]
        self.stop = {id(r) for r in roots}
        self.memory: Any = None  # the _Memory the objects hold, untouched (None: unknown)
        self.shape: object | None = None
        self.attrs: list[tuple] = []
        self.source: dict[tuple, Any] = {}  # attribute -> the snapshot value the live one copies
        self.refs: dict[tuple, dict] = {}  # attribute -> {id(node): [(holder, key, is_attr)]}
        self.owners: dict[int, set[tuple]] = {}  # id(mutable object) -> the attributes that reach it
        self.owned: dict[tuple, set[int]] = {}  # attribute -> ids of the mutable objects it reaches
        self.group: dict[tuple, tuple] = {}  # attribute -> the attributes copied with it
        self.pcache: dict[tuple, tuple] = {}  # attribute -> (snapshot value, its index) last restored
        self.disabled = False  # a node sits where clone_memory would copy it: never kept live
        self.last_verdict: Any = None
        self.kept = self.fallbacks = self.installs = self.moves = 0

    def forget(self) -> None:
        """The invariant objects were changed elsewhere (a settling)."""
        self.memory = None

    # --- attributes -------------------------------------------------------------------------

    def _value(self, attr: tuple) -> Any:
        k, name, is_slot = attr
        r = self.roots[k]
        if name is None:
            return r
        return getattr(r, name, _MISSING) if is_slot else r.__dict__.get(name, _MISSING)

    def _snap_value(self, snap: tuple, attr: tuple) -> Any:
        k, name, is_slot = attr
        c = snap[k]
        if name is None:
            return c
        if is_slot:
            return c[1][self.root_slots[k].index(name)]
        return c[0].get(name, _MISSING)

    def _index(self, attr: tuple) -> None:
        """(Re)index one attribute: where it refers to nodes, which objects it reaches."""
        refs: dict = {}
        owned: set[int] = set()
        k, name, is_slot = attr
        r = self.roots[k]
        if name is None:
            self.stop.discard(id(r))
            try:
                _walk(r, None, None, False, refs, owned, self.stop)
            finally:
                self.stop.add(id(r))
        else:
            v = self._value(attr)
            if v is not _MISSING:
                _walk(v, r if is_slot else r.__dict__, name, is_slot, refs, owned, self.stop)
        self._record(attr, refs, owned)

    def _record(self, attr: tuple, refs: dict, owned: set[int]) -> None:
        self.refs[attr] = refs
        self.owned[attr] = owned
        owners = self.owners
        for i in owned:
            got = owners.get(i)
            if got is None:
                owners[i] = {attr}
            else:
                got.add(attr)

    def _unindex(self, attr: tuple) -> None:
        owners = self.owners
        for i in self.owned.pop(attr, ()):
            got = owners[i]
            got.discard(attr)
            if not got:
                del owners[i]

    def _full_install(self, memory: Any, install: Callable[..., None]) -> None:
        """Install ``memory`` whole (one copy, sharing kept) and index it."""
        self.memory = None
        self.installs += 1
        install(memory.snap)
        attrs = []
        for k, (r, slots) in enumerate(zip(self.roots, self.root_slots, strict=True)):
            if isinstance(r, dict | list | set):
                attrs.append((k, None, False))
                continue
            d = getattr(r, "__dict__", None)
            if d is not None:
                attrs.extend((k, name, False) for name in d)
            attrs.extend((k, name, True) for name in slots)
        self.attrs = attrs
        self.refs, self.owners, self.owned, self.pcache = {}, {}, {}, {}
        for attr in attrs:
            self._index(attr)
        # groups: attributes connected by a shared object
        parent = {a: a for a in attrs}

        def find(a: tuple) -> tuple:
            while parent[a] != a:
                a = parent[a]
            return a

        for owning in self.owners.values():
            if len(owning) > 1:
                first, *rest = owning
                for other in rest:
                    parent[find(other)] = find(first)
        members: dict[tuple, list[tuple]] = {}
        for a in attrs:
            members.setdefault(find(a), []).append(a)
        groups = {root: tuple(m) for root, m in members.items()}  # one tuple per group
        self.group = {a: groups[find(a)] for a in attrs}
        self.source = {a: self._snap_value(memory.snap, a) for a in attrs}
        if memory.shape is None:
            memory.shape = object()
        self.shape = memory.shape
        self.memory = memory

    def _groups(self, attrs: list[tuple]) -> list[tuple]:
        out: list[tuple] = []
        seen: set[tuple] = set()
        for a in attrs:
            for b in self.group[a]:
                if b not in seen:
                    seen.add(b)
                    out.append(b)
        return out

    def _restore(self, attrs: list[tuple], snap: tuple) -> None:
        """Copy the values of ``attrs`` (whole groups) from ``snap`` into the live objects."""
        from .state import clone_memory

        memo = {id(r): r for r in self.roots}
        for attr in attrs:
            k, name, is_slot = attr
            r = self.roots[k]
            v = self._snap_value(snap, attr)
            if name is None:
                c = clone_memory(v, memo)
                r.clear()
                r.extend(c) if isinstance(r, list) else r.update(c)
            elif is_slot:
                if v is _MISSING:
                    if hasattr(r, name):
                        object.__delattr__(r, name)
                else:
                    object.__setattr__(r, name, clone_memory(v, memo))
            else:
                r.__dict__[name] = clone_memory(v, memo)
            self.source[attr] = v
        for attr in attrs:
            self._unindex(attr)
            if not self._index_from_source(attr, memo):
                self._index(attr)

    def _index_from_source(self, attr: tuple, memo: dict[int, Any]) -> bool:
        """Index a just-restored attribute from the index of the snapshot value it was copied
        from (kept from the last time: siblings restore the same parent values), through the
        copy's ``memo``; False if that cannot be done."""
        k, name, is_slot = attr
        v = self.source[attr]
        if name is None or v is _MISSING:
            return False
        hit = self.pcache.get(attr)
        if hit is None or hit[0] is not v:
            refs_p: dict = {}
            owned_p: set[int] = set()
            r = self.roots[k]
            _walk(v, r if is_slot else r.__dict__, name, is_slot, refs_p, owned_p, self.stop)
            hit = self.pcache[attr] = (v, refs_p, owned_p)
        _, refs_p, owned_p = hit
        get = memo.get
        owned = set()
        for i in owned_p:
            c = get(i)
            if c is None:
                return False
            owned.add(id(c))
        refs = {}
        for n, locs in refs_p.items():
            refs[n] = locs if locs is _UNPATCHABLE else [(get(id(h), h), key, ia) for h, key, ia in locs]
        self._record(attr, refs, owned)
        return True

    def _move(self, memory: Any, install: Callable[..., None]) -> None:
        """Make the live objects hold ``memory``: copy only the groups that differ from it."""
        if self.memory is None and self.shape is not None and memory.shape is self.shape and self.source:
            self.shape = None  # objects changed in an unknown way (a check raised, a settling)
        if memory.shape is None or memory.shape is not self.shape:
            self._full_install(memory, install)
            return
        snap = memory.snap
        source = self.source
        differ = [a for a in self.attrs if source[a] is not self._snap_value(snap, a)]
        if differ:
            self.moves += 1
            self._restore(self._groups(differ), snap)
        self.memory = memory

    # --- judging a successor ------------------------------------------------------------------
    def _patch(self, remap: dict) -> list | None:
        """Point the references to remapped nodes at their new copies; the undo list
        ``[(attr, holder, key, is_attr, old value, new value)]``, or None if one cannot be."""
        done: list = []
        for attr, refs in self.refs.items():
            if not refs:
                continue
            for old_id, new in remap.items():
                locs = refs.get(old_id)
                if not locs:
                    if locs is _UNPATCHABLE:
                        self._unpatch(done)
                        return None
                    continue
                for holder, key, is_attr in locs:
                    cur = _get(holder, key, is_attr)
                    val = _subst(cur, old_id, new)
                    if val is not cur:
                        _set(holder, key, is_attr, val)
                        done.append((attr, holder, key, is_attr, cur, val))
        return done

    @staticmethod
    def _unpatch(undo: list) -> list:
        """Put back the patches still in place (the others were overwritten by a check)."""
        back = []
        for entry in reversed(undo):
            _, holder, key, is_attr, old, new = entry
            if _get(holder, key, is_attr) is new:
                _set(holder, key, is_attr, old)
                back.append(entry)
        return back

    def _changed(self, snap: tuple) -> list[tuple]:
        """The attributes whose live value differs from ``snap``'s (``_Fallback`` if attributes
        appeared or vanished)."""
        out = []
        for k, (r, c, slots) in enumerate(zip(self.roots, snap, self.root_slots, strict=True)):
            if isinstance(r, dict | list | set):
                if r != c:
                    out.append((k, None, False))
                continue
            d, slot_values = c
            live = getattr(r, "__dict__", None)
            if d is not None and live != d:
                if live is None or live.keys() != d.keys():
                    raise _Fallback
                for name, v in d.items():
                    if live[name] is not v and live[name] != v:
                        out.append((k, name, False))
            for name, v in zip(slots, slot_values, strict=False):
                got = getattr(r, name, _MISSING)
                if got is not v and got != v:
                    out.append((k, name, True))
        return out

    def judge(self, parent: Any, remap: dict | None, judge: Callable[[], Any],
              install: Callable[..., None]) -> tuple[Any, tuple | None, object | None] | None:
        """Judge a successor of the state whose memory is ``parent`` (a ``_Memory``).

        ``remap`` maps id(a node of the parent) to its copy in the successor;
        ``judge()`` runs the checks; ``install(snap, remap=None)`` puts a
        snapshot into the invariant objects.  Returns ``(verdict, snapshot,
        shape)`` with ``snapshot`` None when the memory did not change; or None
        when the old way was taken: the objects then hold the successor's
        memory, to be captured whole, and the verdict is in ``last_verdict``.
        """
        undo: list | None = None
        if not self.disabled:
            try:
                if self.memory is not parent:
                    self._move(parent, install)
                undo = self._patch(remap) if remap else []
            except _Fallback:
                self.disabled = True
        if undo is None:
            self.memory = None
            self.fallbacks += 1
            install(parent.snap, remap)
            self.last_verdict = judge()
            return None
        self.memory = None  # (in case a check raises)
        verdict = judge()
        back = self._unpatch(undo)
        try:
            changed = self._changed(parent.snap)
        except _Fallback:
            changed = None
        if changed == []:
            self.memory = parent
            self.kept += 1
            return verdict, None, None
        # the successor's memory differs: its patched references must point at its nodes again
        for _, holder, key, is_attr, _, new in back:
            _set(holder, key, is_attr, new)
        attrs = self._groups(changed) if changed is not None else []
        if changed is None or not self._separable(attrs):
            self.fallbacks += 1
            self.last_verdict = verdict
            self.shape = None
            return None
        self.kept += 1
        snap = self._take(parent.snap, attrs)
        self._restore(attrs, parent.snap)
        self.memory = parent
        return verdict, snap, self.shape

    def _separable(self, attrs: list[tuple]) -> bool:
        """Whether the live values of ``attrs`` (whole groups) share no mutable object with
        the other attributes, nor a new one across two groups: then they can be taken into
        the successor's snapshot, and copied back from the parent's, on their own."""
        mine = set(attrs)
        owners = self.owners
        group = self.group
        reached: dict[int, tuple] = {}
        try:
            for attr in attrs:
                owned: set[int] = set()
                _walk(self._value(attr), None, None, False, {}, owned, self.stop)
                for i in owned:
                    was = owners.get(i)
                    if was is not None and not was <= mine:
                        return False
                    other = reached.setdefault(i, group[attr])
                    if other is not group[attr]:
                        return False
        except _Fallback:
            return False
        return True

    def _take(self, snap: tuple, attrs: list[tuple]) -> tuple:
        """The successor's snapshot: the live values of ``attrs``, the rest shared with ``snap``."""
        by_root: dict[int, list[tuple]] = {}
        for attr in attrs:
            by_root.setdefault(attr[0], []).append(attr)
        out = list(snap)
        for k, mine in by_root.items():
            r = self.roots[k]
            if isinstance(r, dict | list | set):
                out[k] = type(r)(r)
                continue
            d, slot_values = snap[k]
            nd = dict(d) if d is not None else None
            nslots = list(slot_values)
            slots = self.root_slots[k]
            for _, name, is_slot in mine:
                if is_slot:
                    nslots[slots.index(name)] = getattr(r, name, _MISSING)
                else:
                    nd[name] = r.__dict__[name]
            out[k] = (nd, tuple(nslots))
        return tuple(out)

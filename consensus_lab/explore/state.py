"""Canonical fingerprints and cheap copies of node state.

The explorer must recognise a state it has seen before, however it got there.
Two nodes hold the same state when their attributes hold the same *values*,
whatever the order in which a set was filled or a dict was written.  So a state
is first turned into a canonical *encoding* -- nested tuples of ints, strings,
floats, booleans, bytes and ``None`` -- in which

* dicts become their items sorted by key, sets their elements sorted;
* dataclasses and plain objects become ``(class name, field values...)``;
* lists and tuples keep their order (order is part of their value).

The encoding is then serialised with :mod:`marshal` (format 0, which has no
back-references and no interned-string flags, so equal values give equal
bytes) and hashed with BLAKE2b to a 16-byte digest.  The digest is the same in
every process and under every ``PYTHONHASHSEED``.

Fingerprints are incremental.  A step changes one node, so the other nodes'
digests are reused as they are; and the node that acted is digested attribute
by attribute (:func:`digest_attrs`), reusing the digest of every attribute
that is the same object as, or ``==`` to, its value in the parent state.  Only
what a handler changed is encoded again.

Copies are just as structural: :func:`clone` copies lists, dicts, sets and
mutable objects, and shares everything immutable (numbers, strings, frozen
dataclasses such as messages, tuples of those).  Compared with
``copy.deepcopy`` it needs no memo dictionary and never descends into values
that cannot change.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import enum
import functools
import hashlib
import marshal
import operator
import random
import types
from collections.abc import Callable
from typing import Any

from ..sim.node import Node, Storage

__all__ = [
    "encode",
    "encode_memory",
    "clone",
    "clone_storage",
    "clone_memory",
    "memory_encoder",
    "digest_attrs",
    "digest",
    "to_bytes",
    "register_atom",
    "StateEncodingError",
]

_NoneType = type(None)
_SCALARS: frozenset[type] = frozenset({int, str, float, bool, _NoneType, bytes, complex})

# tags keep a dict or a set from encoding like a tuple of the same contents
_DICT = "\x00dict"
_SET = "\x00set"


class StateEncodingError(TypeError):
    """A node holds something that is not plain data (a function, a socket, ...)."""


def _sorted(items: list) -> tuple:
    try:
        items.sort()
    except TypeError:  # mixed types (None next to an int, ...): order by their bytes
        items.sort(key=lambda x: marshal.dumps(x, 0))
    return tuple(items)


# --- encoding -------------------------------------------------------------------


def _build_encoder(
    node_refs: bool, refs: dict[int, Any] | None = None
) -> tuple[Callable[[Any], Any], dict[type, Callable[[Any], Any]]]:
    """An ``encode`` function with its own per-type table.

    With ``node_refs`` a protocol node is encoded as a reference (its class and
    id) rather than by its contents: invariants remember nodes that way.
    ``refs`` maps ``id(obj)`` to a token for objects to encode by reference
    (objects shared by several invariants are then encoded once).
    """
    table: dict[type, Callable[[Any], Any]] = {}

    def encode(v: Any) -> Any:
        t = type(v)
        if t in _SCALARS:
            return v
        f = table.get(t)
        if f is None:
            f = table[t] = make(t)
        return f(v)

    def enc_tuple(v: tuple) -> Any:
        for x in v:
            if type(x) not in _SCALARS:
                return tuple([x if type(x) in _SCALARS else encode(x) for x in v])
        return v

    def enc_list(v: list) -> Any:
        for x in v:
            if type(x) not in _SCALARS:
                return tuple([x if type(x) in _SCALARS else encode(x) for x in v])
        return tuple(v)

    def enc_dict(v: dict) -> Any:
        return (_DICT, _sorted([
            (k if type(k) in _SCALARS else encode(k), x if type(x) in _SCALARS else encode(x))
            for k, x in v.items()
        ]))

    def enc_set(v: set | frozenset) -> Any:
        return (_SET, _sorted([x if type(x) in _SCALARS else encode(x) for x in v]))

    def make(t: type) -> Callable[[Any], Any]:
        if t in _ATOMS:
            token = _ATOMS[t]
            return lambda v: token
        if issubclass(t, enum.Enum):
            name = t.__qualname__
            return lambda v: (name, encode(v.value))
        if issubclass(t, tuple) and hasattr(t, "_fields"):  # namedtuple
            name = t.__qualname__
            return lambda v: (name, enc_tuple(tuple(v)))
        if issubclass(t, tuple):
            return enc_tuple
        if issubclass(t, list | collections.deque):
            return enc_list
        if issubclass(t, dict):
            return enc_dict
        if issubclass(t, set | frozenset):
            return enc_set
        if issubclass(t, random.Random):
            # the explorer restarts ctx.rng before every handler: it is not state
            return lambda v: ("\x00rng",)
        if issubclass(t, _FUNCTION_TYPES):
            return lambda v: ("\x00fn", getattr(v, "__qualname__", repr(type(v))))
        if node_refs and issubclass(t, Node):
            name = t.__qualname__
            return lambda v: ("\x00node", name, v.id)
        if dataclasses.is_dataclass(t):
            name = t.__qualname__
            names = tuple(f.name for f in dataclasses.fields(t))
            getters = tuple(operator.attrgetter(n) for n in names)

            def enc_dataclass(v: Any) -> Any:
                out = [name]
                for g in getters:
                    x = g(v)
                    out.append(x if type(x) in _SCALARS else encode(x))
                return tuple(out)

            return enc_dataclass
        if issubclass(t, Storage):
            return lambda v: ("\x00storage", enc_dict(v._data))
        if t.__module__ == "builtins" or issubclass(t, type):
            raise StateEncodingError(
                f"cannot fingerprint a {t.__name__}: keep node state in plain data "
                "(ints, strings, tuples, lists, dicts, sets, dataclasses)"
            )
        slots = _slot_names(t)
        name = t.__qualname__

        def enc_object(v: Any) -> Any:
            if refs is not None and id(v) in refs:
                return refs[id(v)]
            d = getattr(v, "__dict__", None)
            parts: list = [name, enc_dict(d) if d is not None else None]
            for s in slots:
                parts.append(encode(getattr(v, s, None)))
            return tuple(parts)

        return enc_object

    table.update({tuple: enc_tuple, list: enc_list, dict: enc_dict, set: enc_set, frozenset: enc_set})
    return encode, table


_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)
_ATOMS: dict[type, Any] = {}


def _slot_names(t: type) -> tuple[str, ...]:
    out: list[str] = []
    for klass in t.__mro__:
        s = klass.__dict__.get("__slots__", ())
        if isinstance(s, str):
            s = (s,)
        out.extend(n for n in s if n not in ("__dict__", "__weakref__") and n not in out)
    return tuple(out)


#: The canonical encoding of a value (nodes encoded by their contents).
encode, _ENCODERS = _build_encoder(False)
#: The same, but a protocol node is encoded as a reference: for what invariants remember.
encode_memory, _MEM_ENCODERS = _build_encoder(True)


_EQ_SAFE = frozenset({dict, list, set, frozenset, tuple})


def digest_attrs(d: dict[str, Any], prev: tuple | None, enc: Callable[[Any], Any] = encode) -> tuple[bytes, tuple]:
    """The digest of an object's attribute dict, reusing the digests of unchanged attributes.

    Each attribute contributes its value (a number, a string, ...) or the
    digest of its encoding; the object's digest is that of the sorted pairs.
    ``prev`` is the cache returned for an earlier version of the object (its
    copy in the parent state).  If the whole dict is equal (one comparison, in
    C) its digest is reused; otherwise an attribute whose value is the same
    object, or an equal builtin container, keeps its digest, and only the
    attributes a handler changed are encoded again.  Returns the digest and
    the cache for the next version: ``(dict, digest, keys, values, digests)``
    (the values are the dict's own, so the cache costs little memory).

    Equality is Python's ``==``: values whose ``__eq__`` ignores part of their
    state (a dataclass field with ``compare=False``) must not be kept in node
    state.
    """
    if prev is not None and prev[0] == d:
        return prev[1], prev
    keys = tuple(d)
    reuse = prev is not None and prev[2] == keys
    if reuse:
        keys = prev[2]  # one keys tuple shared by every version of the object
        pvals = prev[3]
        pdig = prev[4]
    vals = []
    digs = []
    items = []
    for idx, v in enumerate(d.values()):
        tv = type(v)
        if tv in _SCALARS:
            items.append((keys[idx], 0, v))
            vals.append(None)
            digs.append(_ZERO16)
            continue
        h = None
        if reuse:
            pv = pvals[idx]
            if pv is v or (tv in _EQ_SAFE and type(pv) is tv and pv == v):
                h = pdig[16 * idx:16 * idx + 16]
        if h is None:
            h = _blake(marshal.dumps(enc(v), 0), digest_size=16).digest()
        vals.append(v)
        digs.append(h)
        items.append((keys[idx], 1, h))
    items.sort()
    out = _blake(marshal.dumps(tuple(items), 0), digest_size=16).digest()
    return out, (d, out, keys, tuple(vals), b"".join(digs))


_ZERO16 = bytes(16)
_blake = hashlib.blake2b


def memory_encoder(refs: dict[int, Any]) -> Callable[[Any], Any]:
    """An encoder for invariant memory: nodes by id, the objects in ``refs`` by their token."""
    return _build_encoder(True, refs)[0]


def register_atom(t: type, token: Any) -> None:
    """Encode every value of type ``t`` as ``token`` and share it when cloning."""
    _ATOMS[t] = token
    _CLONERS[t] = None


def to_bytes(encoded: Any) -> bytes:
    """The canonical bytes of an encoding (marshal format 0: no refs, no interning)."""
    return marshal.dumps(encoded, 0)


def digest(encoded: Any) -> bytes:
    """A 16-byte BLAKE2b digest of an encoding: the state's fingerprint."""
    return hashlib.blake2b(marshal.dumps(encoded, 0), digest_size=16).digest()


# --- cloning --------------------------------------------------------------------

_CLONERS: dict[type, Callable[[Any], Any] | None] = {}  # None: immutable, share it


def clone(v: Any) -> Any:
    """A copy of plain data that shares every immutable part."""
    t = type(v)
    if t in _SCALARS:
        return v
    try:
        f = _CLONERS[t]
    except KeyError:
        f = _CLONERS[t] = _make_cloner(t)
    return v if f is None else f(v)


def _mutable(x: Any) -> bool:
    t = type(x)
    if t in _SCALARS:
        return False
    try:
        f = _CLONERS[t]
    except KeyError:
        f = _CLONERS[t] = _make_cloner(t)
    return f is not None


def _clone_tuple(v: tuple) -> tuple:
    for x in v:
        if type(x) not in _SCALARS and _mutable(x):
            return tuple([x if type(x) in _SCALARS else clone(x) for x in v])
    return v


def _clone_list(v: list) -> list:
    return [x if type(x) in _SCALARS else clone(x) for x in v]


def _clone_dict(v: dict) -> dict:
    return {k: (x if type(x) in _SCALARS else clone(x)) for k, x in v.items()}


def _make_cloner(t: type) -> Callable[[Any], Any] | None:
    if issubclass(t, _FUNCTION_TYPES) or issubclass(t, type):
        return None
    if issubclass(t, enum.Enum) or issubclass(t, frozenset) or issubclass(t, random.Random):
        return None
    if t is tuple or (issubclass(t, tuple) and hasattr(t, "_fields")):
        if t is tuple:
            return _clone_tuple
        return lambda v: t(*[clone(x) for x in v]) if any(_mutable(x) for x in v) else v
    if t is list:
        return _clone_list
    if t is dict:
        return _clone_dict
    if t is set:
        return set.copy  # elements are hashable, hence treated as values
    if issubclass(t, dict | list | set | collections.deque):

        def clone_container(v: Any) -> Any:
            c = copy.copy(v)
            if isinstance(c, dict):
                for k in c:
                    c[k] = clone(c[k])
            elif isinstance(c, list | collections.deque):
                for i, x in enumerate(c):
                    c[i] = clone(x)
            return c

        return clone_container
    if dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return None  # a value (messages, log entries): shared, never changed
    if issubclass(t, Storage):
        return clone_storage
    if t.__module__ == "builtins":
        return copy.deepcopy
    slots = _slot_names(t)

    def clone_object(v: Any) -> Any:
        new = object.__new__(t)
        d = getattr(v, "__dict__", None)
        if d is not None:
            new.__dict__.update(_clone_dict(d))
        for s in slots:
            if hasattr(v, s):
                object.__setattr__(new, s, clone(getattr(v, s)))
        return new

    return clone_object


def clone_storage(s: Storage) -> Storage:
    """Copy durable storage: its values are never changed in place, so a dict copy will do."""
    new = Storage.__new__(Storage)
    new._data = s._data.copy()
    # shared, not copied: an entry only says "this object was found immutable", which stays true
    # whoever wrote it (a read checks that the object is the one stored; see Storage._values)
    new._values = s._values
    new.writes = s.writes
    return new


# --- what invariants remember ------------------------------------------------------------


_ATOM, _DICT_K, _LIST_K, _SET_K, _TUPLE_K, _OBJECT_K, _DEEP_K, _NODE_K, _NAMED_K = range(9)
_MEM_KIND: dict[type, int] = {}


def _mem_kind(t: type) -> int:
    k = _MEM_KIND.get(t)
    if k is None:
        if issubclass(t, Node):
            k = _NODE_K
        elif (
            t in _SCALARS or t in _ATOMS or issubclass(t, type | types.ModuleType | enum.Enum | frozenset)
            or issubclass(t, _FUNCTION_TYPES) or issubclass(t, random.Random)
            or (dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen)  # type: ignore[attr-defined]
        ):
            k = _ATOM
        elif t is dict:
            k = _DICT_K
        elif t is list:
            k = _LIST_K
        elif t is set:
            k = _SET_K
        elif t is tuple:
            k = _TUPLE_K
        elif issubclass(t, tuple) and hasattr(t, "_fields"):
            k = _NAMED_K  # a named tuple (a Paxos ballot): a value when what it holds is
        elif t.__module__ == "builtins" or issubclass(t, dict | list | set | collections.deque | tuple):
            k = _DEEP_K
        else:
            k = _OBJECT_K
        _MEM_KIND[t] = k
    return k


def clone_memory(v: Any, memo: dict[int, Any]) -> Any:
    """Copy what an invariant remembers, keeping shared objects shared.

    Like ``copy.deepcopy`` with ``memo``, but functions and frozen values are
    kept as they are, and a protocol node is kept, or replaced by what
    ``memo`` maps it to (the same node, one step later: an invariant's "the
    node object I last looked at" must follow the node, not a stale copy).
    """
    t = type(v)
    if t in _SCALARS:
        return v
    k = _MEM_KIND.get(t)
    if k is None:
        k = _mem_kind(t)
    if k == _ATOM:
        return v
    if k == _NODE_K:
        return memo.get(id(v), v)
    i = id(v)
    if i in memo:
        return memo[i]
    if k == _DICT_K:
        new: Any = {}
        memo[i] = new
        for key, x in v.items():
            new[key if type(key) in _SCALARS else clone_memory(key, memo)] = (
                x if type(x) in _SCALARS else clone_memory(x, memo)
            )
        return new
    if k == _LIST_K:
        new = []
        memo[i] = new
        new.extend([x if type(x) in _SCALARS else clone_memory(x, memo) for x in v])
        return new
    if k == _SET_K:
        new = set(v)
        memo[i] = new
        return new
    if k == _TUPLE_K:
        for x in v:
            tx = type(x)
            if tx not in _SCALARS:
                kx = _MEM_KIND.get(tx)
                if (kx if kx is not None else _mem_kind(tx)) not in (_ATOM,):
                    break
        else:
            return v  # only values inside: the tuple is a value too
        items = [x if type(x) in _SCALARS else clone_memory(x, memo) for x in v]
        for x, y in zip(items, v, strict=True):
            if x is not y:
                new = tuple(items)
                break
        else:
            new = v  # every item is the same object (a node that stays itself): share the tuple
        memo[i] = new
        return new
    if k == _NAMED_K:
        for x in v:
            tx = type(x)
            if tx not in _SCALARS:
                kx = _MEM_KIND.get(tx)
                if (kx if kx is not None else _mem_kind(tx)) != _ATOM:
                    return copy.deepcopy(v, memo)
        return v  # numbers and strings inside (a ballot): shared, as a plain tuple of them is
    if k == _DEEP_K:
        return copy.deepcopy(v, memo)
    new = object.__new__(t)
    memo[i] = new
    d = getattr(v, "__dict__", None)
    if d is not None:
        new.__dict__.update(clone_memory(d, memo))
    for name in _slot_names_cached(t):
        if hasattr(v, name):
            object.__setattr__(new, name, clone_memory(getattr(v, name), memo))
    return new


_SLOTS_CACHE: dict[type, tuple[str, ...]] = {}


def _slot_names_cached(t: type) -> tuple[str, ...]:
    s = _SLOTS_CACHE.get(t)
    if s is None:
        s = _SLOTS_CACHE[t] = _slot_names(t)
    return s

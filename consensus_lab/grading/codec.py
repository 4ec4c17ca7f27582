"""Plain data across the sandbox wall: a tagged JSON encoding with an allow-list.

The grader and a student's process talk in JSON lines.  Nothing is pickled and
nothing the student sends is ever *called*: the grader decodes values into
Python scalars, lists, tuples, dicts, sets and instances of the exercise's own
frozen message classes (looked up by name in an allow-list it owns), checking
sizes and depth on the way.

Encoding (a JSON value is always one of these):

* ``null``, ``true``/``false``, numbers (finite floats only), strings;
* ``[...]`` a list;
* ``{"T": [...]}`` a tuple, ``{"S": [...]}`` a set (sorted canonically),
  ``{"D": [[k, v], ...]}`` a dict;
* ``{"M": "Name", "F": [...]}`` a frozen dataclass from the allow-list.

Types are checked exactly (``type(v) is int``), so a subclass with a
doctored ``__eq__`` cannot cross the wall.  This module is imported on both
sides of it and depends on nothing but the standard library.

What a reply may cost the grader is bounded, because decoding runs in the
grader's own process: one JSON line (``MAX_LINE`` bytes, enforced by the
reader), at most ``MAX_REPLY_ITEMS`` JSON values in it, nesting at most
``MAX_DEPTH`` values deep, integers of at most 64 bits, strings of at most
``MAX_STR`` characters, sets and dicts of at most ``MAX_ENTRIES`` entries and
no more than ``MAX_SAME_HASH`` elements with one hash (a set of values crafted
to collide would make building it quadratic: hash flooding).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["CodecError", "encode", "decode", "dumps", "loads", "MAX_DEPTH", "MAX_ITEMS", "MAX_ENTRIES",
           "MAX_INT", "MAX_REPLY_ITEMS"]

MAX_DEPTH = 40
MAX_ITEMS = 200_000  # values in one decoded value
MAX_REPLY_ITEMS = 400_000  # JSON values in one line
MAX_ENTRIES = 20_000  # entries of one set or dict
MAX_SAME_HASH = 8
MAX_INT = 2**64
MAX_STR = 100_000


class CodecError(ValueError):
    """A value that may not cross the sandbox wall (or a malformed encoding)."""


_SCALARS = (type(None), bool, int, str)
_FIELDS: dict[type, tuple[str, ...]] = {}


def field_names(t: type) -> tuple[str, ...]:
    try:
        return _FIELDS[t]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(t))
        _FIELDS[t] = names
        return names


def encode(v: Any, types: Mapping[str, type], _depth: int = 0) -> Any:
    """The tagged JSON form of ``v``; raises :class:`CodecError` for anything else."""
    if _depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    t = type(v)
    if t in _SCALARS:
        _check_scalar(v, t)
        return v
    if t is float:
        if not math.isfinite(v):
            raise CodecError(f"non-finite number {v!r}")
        return v
    if (t is dict or t is set or t is frozenset) and len(v) > MAX_ENTRIES:
        raise CodecError(f"a {t.__name__} of {len(v)} entries (the limit is {MAX_ENTRIES})")
    d = _depth + 1
    if t is list:
        return [encode(x, types, d) for x in v]
    if t is tuple:
        return {"T": [encode(x, types, d) for x in v]}
    if t is dict:
        return {"D": [[encode(k, types, d), encode(x, types, d)] for k, x in v.items()]}
    if t is set or t is frozenset:
        items = [encode(x, types, d) for x in v]
        items.sort(key=lambda x: json.dumps(x, sort_keys=True))
        return {"S": items}
    name = getattr(t, "__name__", None)
    if name is not None and types.get(name) is t:
        return {"M": name, "F": [encode(getattr(v, f), types, d) for f in field_names(t)]}
    raise CodecError(f"{t.__name__} values cannot be sent (use plain data or the exercise's message classes)")


def _check_scalar(v: Any, t: type) -> None:
    if t is str:
        if len(v) > MAX_STR:
            raise CodecError("string too long")
    elif t is int and not -MAX_INT <= v <= MAX_INT:
        raise CodecError("integer too large (64 bits at most)")


def _check_hashes(items: list) -> None:
    """Refuse keys that cannot be hashed or that collide on purpose, before a set or dict is built."""
    seen: dict[int, int] = {}
    for x in items:
        try:
            h = hash(x)
        except TypeError:
            raise CodecError(f"unhashable set element or dict key ({type(x).__name__})") from None
        n = seen.get(h, 0) + 1
        if n > MAX_SAME_HASH:
            raise CodecError("too many set elements or dict keys with the same hash")
        seen[h] = n


class _Budget:
    __slots__ = ("left",)

    def __init__(self, n: int) -> None:
        self.left = n

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise CodecError("value too large")


def decode(obj: Any, types: Mapping[str, type], *, max_items: int = MAX_ITEMS) -> Any:
    """Rebuild a value from :func:`encode`'s form, trusting nothing in it."""
    return _decode(obj, types, _Budget(max_items), 0)


def _decode(obj: Any, types: Mapping[str, type], budget: _Budget, depth: int) -> Any:
    budget.take()
    if depth > MAX_DEPTH:
        raise CodecError("value nested too deeply")
    t = type(obj)
    if t in _SCALARS:
        _check_scalar(obj, t)
        return obj
    if t is float:
        if not math.isfinite(obj):
            raise CodecError("non-finite number")
        return obj
    d = depth + 1
    if t is list:
        return [_decode(x, types, budget, d) for x in obj]
    if t is not dict or len(obj) not in (1, 2):
        raise CodecError(f"malformed value of type {t.__name__}")
    if len(obj) == 1:
        (tag, body), = obj.items()
        if type(body) is not list:
            raise CodecError(f"malformed {tag!r} value")
        if tag == "T":
            return tuple(_decode(x, types, budget, d) for x in body)
        if tag in ("S", "D") and len(body) > MAX_ENTRIES:
            raise CodecError(f"a set or dict of {len(body)} entries (the limit is {MAX_ENTRIES})")
        if tag == "S":
            items = [_decode(x, types, budget, d) for x in body]
            _check_hashes(items)
            return frozenset(items)
        if tag == "D":
            keys, values = [], []
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("malformed dict entry")
                keys.append(_decode(pair[0], types, budget, d))
                values.append(_decode(pair[1], types, budget, d))
            _check_hashes(keys)
            return dict(zip(keys, values, strict=True))
        raise CodecError(f"unknown tag {tag!r}")
    name, fields = obj.get("M"), obj.get("F")
    if type(name) is not str or type(fields) is not list:
        raise CodecError("malformed message")
    cls = types.get(name)
    if cls is None:
        raise CodecError(f"{name!r} is not one of this exercise's message types")
    names = field_names(cls)
    if len(fields) != len(names):
        raise CodecError(f"{name} takes {len(names)} fields, got {len(fields)}")
    values = [_decode(x, types, budget, d) for x in fields]
    try:
        return cls(*values)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"bad {name}: {exc}") from None


def dumps(obj: Any) -> bytes:
    """One JSON line (the wire format)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode() + b"\n"


def loads(line: bytes) -> Any:
    """One JSON line, refused when it holds more values, deeper nesting or larger integers than allowed."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"not JSON: {str(exc)[:80]}") from None
    count = 0
    stack = [(obj, 0)]
    while stack:
        v, depth = stack.pop()
        count += 1
        if count > MAX_REPLY_ITEMS:
            raise CodecError(f"more than {MAX_REPLY_ITEMS} values in one reply")
        t = type(v)
        if t is list:
            if depth >= 2 * MAX_DEPTH + 4:  # (a tagged value is two JSON levels)
                raise CodecError("value nested too deeply")
            stack.extend((x, depth + 1) for x in v)
        elif t is dict:
            if depth >= 2 * MAX_DEPTH + 4:
                raise CodecError("value nested too deeply")
            stack.extend((x, depth + 1) for x in v.values())
        elif t is int or t is str:
            _check_scalar(v, t)
    return obj

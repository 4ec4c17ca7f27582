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
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["CodecError", "encode", "decode", "dumps", "loads", "MAX_DEPTH", "MAX_ITEMS"]

MAX_DEPTH = 40
MAX_ITEMS = 200_000
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
        if t is str and len(v) > MAX_STR:
            raise CodecError("string too long")
        return v
    if t is float:
        if not math.isfinite(v):
            raise CodecError(f"non-finite number {v!r}")
        return v
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
        if t is str and len(obj) > MAX_STR:
            raise CodecError("string too long")
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
        if tag == "S":
            items = [_decode(x, types, budget, d) for x in body]
            try:
                return frozenset(items)
            except TypeError:
                raise CodecError("unhashable set element") from None
        if tag == "D":
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("malformed dict entry")
                k = _decode(pair[0], types, budget, d)
                try:
                    out[k] = _decode(pair[1], types, budget, d)
                except TypeError:
                    raise CodecError("unhashable dict key") from None
            return out
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
    try:
        return json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"not JSON: {str(exc)[:80]}") from None

"""A small reader for EDN, the Clojure data notation Jepsen writes (private).

Enough for Jepsen histories: maps, vectors, lists, sets, keywords, strings,
integers, floats, ``nil``/``true``/``false``, symbols, ``#inst``-style tags
(the tag is dropped) and ``;`` comments.  Keywords become plain strings without
the colon (``:invoke`` -> ``"invoke"``), vectors and lists become tuples, sets
frozensets, maps :class:`~consensus_lab.history.FrozenMap` (all hashable, so any
value can be a map key, a set element or a model state).  Errors carry the line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from consensus_lab.history import FrozenMap

__all__ = ["EDNError", "read_forms"]


class EDNError(ValueError):
    def __init__(self, line: int, msg: str) -> None:
        super().__init__(msg)
        self.line = line
        self.msg = msg


_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+|;[^\n]*)
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<tag>\#[A-Za-z][\w.\-/]*)
  | (?P<atom>[^\s,\[\](){}";]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_CLOSERS = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _atom(text: str, line: int) -> Any:
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith(":"):
        if len(text) == 1:
            raise EDNError(line, "empty keyword ':'")
        return text[1:]
    if _INT.fullmatch(text):
        return int(text.rstrip("N"))
    if _FLOAT.fullmatch(text):
        return float(text.rstrip("M"))
    if text[0].isdigit():
        raise EDNError(line, f"bad number {text!r}")
    return text  # a symbol


def _string(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def read_forms(text: str) -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` for each top-level form of ``text``."""
    pos, line = 0, 1
    # stack of (opening token, line where it opened, items)
    stack: list[tuple[str, int, list[Any]]] = []
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise EDNError(line, f"unexpected character {text[pos]!r}")
        kind, tok = m.lastgroup, m.group()
        start_line = line
        line += tok.count("\n")
        pos = m.end()
        if kind == "ws" or kind == "tag":
            continue
        if kind == "open":
            stack.append((tok, start_line, []))
            continue
        if kind == "close":
            if not stack:
                raise EDNError(start_line, f"unmatched {tok!r}")
            opener, open_line, items = stack.pop()
            if _CLOSERS[opener] != tok:
                raise EDNError(start_line, f"{opener!r} opened on line {open_line} closed by {tok!r}")
            if opener == "{":
                if len(items) % 2:
                    raise EDNError(open_line, "a map needs an even number of forms (key value pairs)")
                value: Any = FrozenMap(zip(items[::2], items[1::2], strict=True))
            elif opener == "#{":
                value = frozenset(items)
            else:
                value = tuple(items)
            start_line = open_line
        elif kind == "string":
            value = _string(tok)
        else:
            value = _atom(tok, start_line)
        if stack:
            stack[-1][2].append(value)
        else:
            yield start_line, value
    if stack:
        opener, open_line, _ = stack[-1]
        raise EDNError(open_line, f"{opener!r} is never closed")

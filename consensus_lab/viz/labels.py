"""Short, readable labels for client operations (shared by every figure and the lab).

``op_label("txn", None, (("a", 10), ("b", 11)))`` is ``txn a=10 b=11``, not
``txn(, (('a', 10)…``; a read is ``read(x)``, a write ``write(x, 1)``.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["op_label", "short_value"]


def short_value(v: Any, width: int = 18) -> str:
    """``repr(v)`` cut to ``width`` characters (lists shown as tuples)."""
    s = repr(tuple(v)) if isinstance(v, list) else repr(v)
    return s if len(s) <= width else s[: width - 2] + "…"


def _pairs(value: Any) -> list[tuple[Any, Any]] | None:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return None
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        return [(k, v) for k, v in value]
    return None


def op_label(f: Any, key: Any = None, value: Any = None, *, width: int = 28) -> str:
    """A label for an operation ``f`` on ``key`` with ``value`` (a transaction's writes as ``k=v``)."""
    pairs = _pairs(value) if f == "txn" or key is None else None
    if pairs is not None:
        body = " ".join(f"{k}={short_value(v, 8)}" for k, v in pairs)
        text = f"{f} {body}"
        return text if len(text) <= width else text[: width - 1] + "…"
    args = [] if key is None else [str(key)]
    if value is not None:
        args.append(short_value(value))
    return f"{f}({', '.join(args)})"

"""Argument parsing shared by the sub-commands: numbers and KEY=VALUE options."""

from __future__ import annotations

import math

from . import UsageError

__all__ = ["parse_number", "parse_options"]


def parse_number(text: str | None, name: str, kind: type, *, low: float | None = None, high: float | None = None):
    if text is None:
        return None
    try:
        v = kind(text)
    except (TypeError, ValueError):
        raise UsageError(f"--{name} must be {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
    if isinstance(v, float) and not math.isfinite(v):
        raise UsageError(f"--{name} must be finite, got {text!r}")
    if low is not None and v < low:
        raise UsageError(f"--{name} must be at least {low:g}, got {text}")
    if high is not None and v > high:
        raise UsageError(f"--{name} must be at most {high:g}, got {text}")
    return v


def parse_options(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out

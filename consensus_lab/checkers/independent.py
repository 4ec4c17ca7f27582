"""Jepsen's ``independent`` histories: many keys, each value a ``[key value]`` tuple.

Jepsen's ``jepsen.independent`` runs one workload on many keys at once and
writes each operation's value as a tuple ``[k v]``: ``[3 1]`` is "write 1 to
key 3", a read's invocation is ``[3 nil]`` and its completion ``[3 1]``, a cas
is ``[3 [1 2]]``.  Read as one register, such a history is a register holding
pairs, and the verdict is wrong.  :func:`unwrap_independent` moves the key out
of the value into ``Op.key``, so that every checker splits by key as it should.

Whether a history is ``independent`` is decided by ``mode``:

``"yes"``
    every value must be a ``[k v]`` tuple (else an error naming the event);
``"no"``
    values are left alone (one object whose values happen to be pairs);
``"auto"`` (the default)
    unwrap when the shape is unmistakable: every client event with a value
    carries a 2-tuple and some read *invocation* names a key (``[k nil]``; a
    plain read's invocation has no value).  When every value is a 2-tuple but
    no read invocation settles it, the history is ambiguous and
    :class:`AmbiguousShapeError` says to pass ``--independent yes`` or ``no``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from consensus_lab.history import Op

__all__ = ["INDEPENDENT_MODES", "AmbiguousShapeError", "looks_independent", "unwrap_independent"]

INDEPENDENT_MODES = ("auto", "yes", "no")

_READS = ("read", "get")


class AmbiguousShapeError(ValueError):
    """The values are all pairs, and nothing says whether they are [key value]."""


def _pair(v: object) -> bool:
    return isinstance(v, tuple) and len(v) == 2


def looks_independent(events: Sequence[Op]) -> bool | None:
    """``True``: an ``independent`` history; ``False``: not one; ``None``: cannot tell."""
    valued = [ev for ev in events if ev.value is not None and ev.type in ("invoke", "ok")]
    if not valued or any(ev.key is not None or ev.f == "txn" for ev in events):
        return False  # keys given already, or transactions (whose micro-op lists may be pairs)
    if not all(_pair(ev.value) for ev in valued):
        return False
    if any(ev.type == "invoke" and ev.f in _READS for ev in valued):
        return True  # a read invocation that names a key: [k nil]
    return None


def unwrap_independent(events: Sequence[Op], mode: str = "auto") -> list[Op]:
    """``events`` with ``[k v]`` values split into ``key=k, value=v`` (see the module)."""
    if mode not in INDEPENDENT_MODES:
        raise ValueError(f"independent mode must be one of {', '.join(INDEPENDENT_MODES)}, got {mode!r}")
    if mode == "no":
        return list(events)
    if mode == "auto":
        shape = looks_independent(events)
        if shape is None:
            raise AmbiguousShapeError(
                "every value is a pair: pass --independent yes to read them as Jepsen's [key value] "
                "tuples (checked per key) or --independent no for one object holding pairs"
            )
        if not shape:
            return list(events)
    out: list[Op] = []
    open_key: dict[int, object] = {}
    for pos, ev in enumerate(events):
        if _pair(ev.value):
            key, value = ev.value
        elif ev.type != "invoke" and ev.process in open_key and (ev.value is None or ev.type != "ok"):
            key, value = open_key[ev.process], None  # a fail/info: no value, or an error
        else:
            raise ValueError(f"event {pos}: value {ev.value!r:.40} is not a [key value] tuple")
        if ev.type == "invoke":
            open_key[ev.process] = key
        out.append(dataclasses.replace(ev, key=key, value=value))
    return out

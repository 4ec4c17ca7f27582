"""Exercise 5: vector clocks and a CRDT merge.

Vector clocks are dicts ``{node: count}``; a missing node counts as 0.

* ``vc_compare(a, b)`` returns ``"equal"``, ``"before"`` (``a`` happened
  before ``b``: every entry ``<=`` and the clocks differ), ``"after"`` or
  ``"concurrent"``;
* ``vc_merge(a, b)`` returns a new dict holding the entry-wise maximum
  (entries that are 0 may be left out).

Then an observed-remove set, ``ORSet(replica)``, with add-wins semantics:

* ``add(element)`` adds an element (tag each add so it is unique to this
  replica and this add);
* ``remove(element)`` removes the adds of ``element`` that this replica has
  seen (an add it has not seen yet survives: add wins);
* ``merge(other)`` makes ``self`` the merge of both states (``other`` is left
  unchanged); merging must be commutative, associative and idempotent;
* ``value()`` returns the set of elements present.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["INTERFACE", "PREAMBLE"]

INTERFACE = ("vc_compare", "vc_merge", "ORSet")
PREAMBLE = ""
MESSAGES = ()
_RELATIONS = ("equal", "before", "after", "concurrent")


def _clock(v: Any) -> dict:
    if type(v) is not dict:
        raise TypeError(f"vc_merge must return a dict, not a {type(v).__name__}")
    out = {}
    for k, c in v.items():
        if type(k) is not str or type(c) is not int:
            raise TypeError("a vector clock maps node names (str) to counts (int)")
        if c:
            out[k] = c
    return dict(sorted(out.items()))


def call(answers: dict[str, Any], name: str, args: list) -> Any:
    if name == "vc":
        out = []
        for kind, a, b in args[0]:
            if kind == "compare":
                r = answers["vc_compare"](dict(a), dict(b))
                if type(r) is not str or r not in _RELATIONS:
                    raise ValueError(f"vc_compare must return one of {', '.join(_RELATIONS)}, got {r!r}")
                out.append(r)
            else:
                out.append(_clock(answers["vc_merge"](dict(a), dict(b))))
        return out
    if name == "orset":
        cls = answers["ORSet"]
        replicas: dict[str, Any] = {}
        out = []
        for step in args[0]:
            kind, r = step[0], step[1]
            if kind == "new":
                replicas[r] = cls(r)
                out.append(None)
            elif kind == "add":
                replicas[r].add(step[2])
                out.append(None)
            elif kind == "remove":
                replicas[r].remove(step[2])
                out.append(None)
            elif kind == "merge":
                # the other replica's state arrives as a copy, as it would over a network
                replicas[r].merge(copy.deepcopy(replicas[step[2]]))
                out.append(None)
            elif kind == "value":
                v = replicas[r].value()
                if type(v) not in (set, frozenset, list, tuple):
                    raise TypeError(f"value() must return a set, not a {type(v).__name__}")
                items = list(v)
                if any(type(x) is not str for x in items):
                    raise TypeError("value() must return the elements that were added")
                out.append(sorted(set(items)))
            else:
                raise ValueError(f"unknown step {kind!r}")
        return out
    raise ValueError(f"unknown call {name!r}")

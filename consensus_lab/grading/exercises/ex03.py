"""Exercise 3: consistent hashing with virtual nodes.

Write a class ``Ring(nodes, vnodes)``:

* each node ``n`` appears on the ring ``vnodes`` times, virtual node ``i`` at
  position ``stable_hash(f"{n}#{i}")`` (``stable_hash`` is imported for you;
  positions are integers in ``[0, 2**32)``); when two points share a position,
  the one whose node name sorts first comes first;
* ``owner(key)`` is the node of the first point at or after
  ``stable_hash(key)``, wrapping around past the top of the ring;
* ``preference_list(key, n)`` walks clockwise from that point and returns the
  first ``n`` *distinct* nodes it meets, as a list (fewer if there are fewer
  nodes);
* ``add_node(node)`` and ``remove_node(node)`` change the ring in place.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["stable_hash", "RING_SIZE", "INTERFACE", "PREAMBLE"]

RING_SIZE = 2**32
INTERFACE = ("Ring",)
PREAMBLE = "from consensus_lab.grading.exercises.ex03 import stable_hash, RING_SIZE\n"
MESSAGES = ()


def stable_hash(text: Any) -> int:
    """A 32-bit position for ``str(text)``: the same in every process and every run."""
    return int.from_bytes(hashlib.sha1(str(text).encode()).digest()[:4], "big")


def _node_name(v: Any, what: str) -> str:
    if type(v) is not str:
        raise TypeError(f"{what} must return a node name (a str), not a {type(v).__name__}")
    return v


def call(answers: dict[str, Any], name: str, args: list) -> Any:
    """Run a script against a fresh ``Ring``; return what each step returned."""
    if name != "script":
        raise ValueError(f"unknown call {name!r}")
    nodes, vnodes, script = args
    ring = answers["Ring"](list(nodes), vnodes)
    out: list[Any] = []
    for step in script:
        kind = step[0]
        if kind == "owner":
            out.append(_node_name(ring.owner(step[1]), "owner"))
        elif kind == "pref":
            got = ring.preference_list(step[1], step[2])
            if type(got) not in (list, tuple):
                raise TypeError(f"preference_list must return a list, not a {type(got).__name__}")
            out.append([_node_name(x, "preference_list") for x in got])
        elif kind == "add":
            ring.add_node(step[1])
            out.append(None)
        elif kind == "remove":
            ring.remove_node(step[1])
            out.append(None)
        else:
            raise ValueError(f"unknown step {kind!r}")
    return out

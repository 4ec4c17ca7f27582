"""The wire: typed, versioned frames between real nodes, clients and the harness.

A frame is one JSON line (nothing is pickled, nothing received is ever called):

    {"v": 1, "k": KIND, ...}

with ``KIND`` one of

* ``"msg"``   -- a protocol message: ``{"src": "n1", "m": VALUE}``;
* ``"req"``   -- a client request (a :class:`~consensus_lab.sim.ClientRequest`);
* ``"rep"``   -- the node's answer to it: ``{"req": VALUE, "r": VALUE}``;
* ``"ctl"``   -- a command from the test harness (block links, skew the clock, ...);
* ``"ack"``   -- the node's answer to a ``ctl`` frame.

Values use the tagged encoding of :mod:`consensus_lab.grading.codec` (tuples, sets,
dicts and frozen dataclasses are tagged), so a message arrives as the same frozen
dataclass the sender built.  Only the dataclasses of the protocol being served may
be decoded: :func:`protocol_types` collects them from the node's class.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

from ..grading import codec
from ..sim import clients as _clients

__all__ = ["WIRE_VERSION", "WireError", "protocol_types", "encode_frame", "decode_frame"]

WIRE_VERSION = 1
MAX_FRAME = 4 * 1024 * 1024  # bytes in one line; a longer line is a malformed frame
_KINDS = frozenset({"msg", "req", "rep", "ctl", "ack"})


class WireError(ValueError):
    """A frame that is not of this protocol's wire format."""


def protocol_types(node_class: type) -> dict[str, type]:
    """Every frozen dataclass a node of ``node_class`` may send, store or receive.

    Starts from the modules that define the class and its bases, then follows
    each dataclass found to the module that defines it (log entries, commands,
    snapshots), and adds the client request and reply types.
    """
    types: dict[str, type] = {}
    seen: set[str] = set()
    todo = [c.__module__ for c in node_class.__mro__ if c is not object]
    todo.append(_clients.__name__)
    while todo:
        name = todo.pop()
        if name in seen or name not in sys.modules:
            continue
        seen.add(name)
        for obj in list(vars(sys.modules[name]).values()):
            if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
                continue
            if not obj.__dataclass_params__.frozen:  # type: ignore[attr-defined]
                continue
            other = types.get(obj.__name__)
            if other is not None and other is not obj:
                raise WireError(
                    f"two message types are called {obj.__name__} ({other.__module__} and "
                    f"{obj.__module__}); give them different names to send them over a network"
                )
            types[obj.__name__] = obj
            todo.append(obj.__module__)
    return types


def encode_frame(kind: str, types: Mapping[str, type], **fields: Any) -> bytes:
    """One frame as a JSON line; values in ``fields`` are encoded with ``types``."""
    body: dict[str, Any] = {"v": WIRE_VERSION, "k": kind}
    for k, v in fields.items():
        body[k] = codec.encode(v, types)
    return codec.dumps(body)


def decode_frame(line: bytes, types: Mapping[str, type]) -> tuple[str, dict[str, Any]]:
    """``(kind, fields)`` of one frame; raises :class:`WireError` naming the problem."""
    if len(line) > MAX_FRAME:
        raise WireError(f"frame of {len(line)} bytes is larger than {MAX_FRAME}")
    try:
        body = codec.loads(line)
    except codec.CodecError as exc:
        raise WireError(f"malformed frame: {exc}") from None
    if type(body) is not dict:
        raise WireError("malformed frame: not a JSON object")
    if body.get("v") != WIRE_VERSION:
        raise WireError(f"wire version {body.get('v')!r} is not {WIRE_VERSION} (mixed versions?)")
    kind = body.get("k")
    if kind not in _KINDS:
        raise WireError(f"unknown frame kind {kind!r}")
    try:
        fields = {k: codec.decode(v, types) for k, v in body.items() if k not in ("v", "k")}
    except codec.CodecError as exc:
        raise WireError(f"malformed {kind} frame: {exc}") from None
    return kind, fields

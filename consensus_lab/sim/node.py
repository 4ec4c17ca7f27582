"""The node contract: a protocol node only reacts, and acts only through ``ctx``.

A node is a state machine fed three kinds of input -- messages, timers and
client requests -- and it produces effects: messages to send, timers to set or
cancel, client replies.  It never reads a wall clock, never touches the global
``random`` module and never talks to another node except by ``ctx.send``.

``ctx`` records the effects in an *outbox* (as etcd's ``Ready`` or
Stateright's ``Out`` do); whoever drives the node -- the simulator, the schedule
explorer, or a unit test with :class:`consensus_lab.testing.FakeContext` --
applies them after the handler returns.  Only ``ctx.storage`` is written at
once: a durable write completes before the handler goes on, which is exactly
the promise "persist before you reply" needs.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Iterator, MutableMapping
from typing import Any, NamedTuple

__all__ = [
    "Node",
    "Context",
    "Storage",
    "Send",
    "SetTimer",
    "CancelTimer",
    "Reply",
    "Effect",
    "freeze_message",
]


class Node:
    """Base class of every protocol node.

    Subclasses override the handlers they need.  ``__init__`` receives the
    node's id and the ids of the whole cluster; volatile state lives in plain
    attributes and is lost on a crash (the simulator builds a fresh object);
    state that must survive goes to ``ctx.storage`` and is read back in
    :meth:`on_start`.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...] = ()) -> None:
        self.id = node_id
        self.cluster = tuple(cluster)
        self.peers = tuple(p for p in self.cluster if p != node_id)

    def on_start(self, ctx: Context) -> None:
        """Called when the node boots, and again after every restart."""

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        """A message from node ``src`` arrived."""

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        """The timer ``name`` set earlier with ``ctx.set_timer`` fired."""

    def on_client_request(self, ctx: Context, request: Any) -> None:
        """A client asks this node to do something; answer with ``ctx.reply``."""

    def state_view(self) -> dict[str, Any]:
        """A small read-only summary for pictures, widgets and graders."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"


# --- effects -----------------------------------------------------------------
# Effects are typed named tuples: as readable as dataclasses in a test
# (``Send(dst='n2', msg=Ping(1))``), immutable, and cheap to make in the hot loop.


class Send(NamedTuple):
    dst: str
    msg: Any


class SetTimer(NamedTuple):
    name: str
    delay: float
    payload: Any = None


class CancelTimer(NamedTuple):
    name: str


class Reply(NamedTuple):
    request: Any
    result: Any


Effect = Send | SetTimer | CancelTimer | Reply

# ``Send(dst, msg)`` without the named tuple's Python-level ``__new__`` (the hot path)
_tuple_new = tuple.__new__


# --- durable storage -----------------------------------------------------------


class Storage(MutableMapping):
    """A node's durable key-value store: it survives crash and restart.

    Values are copied in and out, so a node can never keep a live reference to
    what it stored (mutating a list after ``storage['log'] = log`` does not
    change the stored log).  Immutable values (ints, strings, tuples of them)
    are stored as they are, which keeps the common case cheap.
    """

    __slots__ = ("_data", "writes", "_values")

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = {}
        # key -> an object found immutable when it was written: a read hands out the stored
        # value without checking it again if it is that very object (a value written behind
        # our back, into ``_data`` directly, is not, and is checked and copied if need be).
        # Since an entry stays true whoever wrote it, copies of a store may share this dict.
        self._values: dict[str, Any] = {}
        self.writes = 0
        if data:
            for k, v in data.items():
                self._store(k, v)

    def _store(self, key: str, value: Any) -> None:
        if _is_immutable(value):
            self._data[key] = self._values[key] = value
        else:
            self._data[key] = _copy_mutable(value)
            self._values.pop(key, None)

    def __getitem__(self, key: str) -> Any:
        v = self._data[key]
        if self._values.get(key) is v:  # (also true of a stored None: immutable as well)
            return v
        return _copy_value(v)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        self._store(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes += 1
        del self._data[key]
        self._values.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def snapshot(self) -> dict[str, Any]:
        """A copy of the contents (for traces, fingerprints and tests)."""
        return {k: _copy_value(v) for k, v in self._data.items()}

    def __repr__(self) -> str:
        return f"Storage({self._data!r})"


_IMMUTABLE_SCALARS = (int, float, str, bool, bytes, type(None), complex)
_SCALAR_TYPES = frozenset(_IMMUTABLE_SCALARS)


_DATACLASS_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _frozen_fields(t: type) -> tuple[str, ...] | None:
    """Field names of a frozen dataclass type (cached); None for anything else."""
    try:
        return _DATACLASS_FIELDS[t]
    except KeyError:
        ok = dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen  # type: ignore[attr-defined]
        names = tuple(f.name for f in dataclasses.fields(t)) if ok else None
        _DATACLASS_FIELDS[t] = names
        return names


def _is_immutable(v: Any) -> bool:
    t = type(v)
    if t in _SCALAR_TYPES:
        return True
    if isinstance(v, tuple | frozenset):  # named tuples too
        for x in v:
            if type(x) not in _SCALAR_TYPES and not _is_immutable(x):
                return False
        return True
    if isinstance(v, _IMMUTABLE_SCALARS):
        return True
    names = _frozen_fields(t)
    if names is None:
        return False
    for n in names:
        x = getattr(v, n)
        if type(x) not in _SCALAR_TYPES and not _is_immutable(x):
            return False
    return True


def _copy_mutable(v: Any) -> Any:
    """The copy that keeps a node from holding a live reference to what it stored (and back)."""
    return copy.deepcopy(v)


def _copy_value(v: Any) -> Any:
    return v if _is_immutable(v) else _copy_mutable(v)


def freeze_message(msg: Any) -> Any:
    """Check that ``msg`` is a frozen dataclass and return a private copy.

    Messages are values: the receiver gets its own copy, so two nodes can never
    share an object.  A message whose fields are all immutable is already a
    value and is passed as it is; one holding a list or dict is deep-copied.
    """
    t = type(msg)
    fields = _frozen_fields(t)
    if fields is None:
        raise TypeError(
            f"message {msg!r} is a {t.__name__}; messages must be frozen dataclasses "
            "(@dataclass(frozen=True)) so that they cannot be shared between nodes"
        )
    for name in fields:
        v = getattr(msg, name)
        if type(v) not in _SCALAR_TYPES and not _is_immutable(v):
            return copy.deepcopy(msg)
    return msg


# --- the context ---------------------------------------------------------------


class Context:
    """What a node may touch: time, its own randomness, storage, and the outbox.

    ``now`` is simulated time; ``clock()`` is the node's own, possibly skewed,
    local clock (use it for timestamps a protocol compares, never for timers).
    """

    __slots__ = ("node_id", "rng", "storage", "outbox", "_now", "_clock_offset", "_clock_drift", "_last_sent")

    def __init__(self, node_id: str, rng: random.Random, storage: Storage) -> None:
        self.node_id = node_id
        self.rng = rng
        self.storage = storage
        self.outbox: list[Effect] = []
        self._now = 0.0
        self._clock_offset = 0.0
        self._clock_drift = 0.0
        self._last_sent: Any = None  # the last message found to be a value (sent as it is)

    @property
    def now(self) -> float:
        return self._now

    def clock(self) -> float:
        """This node's local clock: true time with its offset and drift applied."""
        return self._now * (1.0 + self._clock_drift) + self._clock_offset

    def send(self, dst: str, msg: Any) -> None:
        # the same value sent to several peers in a row is checked once: a message whose
        # fields are all immutable stays so (a copied one is copied again for each send)
        if msg is not self._last_sent:
            msg = self._checked(msg)
        self.outbox.append(_tuple_new(Send, (dst, msg)))

    def _checked(self, msg: Any) -> Any:
        """``freeze_message(msg)``, remembering a message found to be a value (see :meth:`send`)."""
        frozen = freeze_message(msg)
        if frozen is msg:
            self._last_sent = msg
        return frozen

    def broadcast(self, dsts: tuple[str, ...] | list[str], msg: Any) -> None:
        """Send the same message to every node in ``dsts`` (in that order)."""
        msg = freeze_message(msg)
        append = self.outbox.append
        for d in dsts:
            append(_tuple_new(Send, (d, msg)))

    def set_timer(self, name: str, delay: float, payload: Any = None) -> None:
        """(Re)arm timer ``name``: it fires once after ``delay`` seconds.

        Setting a timer that is already armed replaces it.
        """
        if not delay >= 0:
            raise ValueError(f"timer {name!r}: delay must be >= 0, got {delay!r}")
        self.outbox.append(_tuple_new(SetTimer, (name, float(delay), payload)))

    def cancel_timer(self, name: str) -> None:
        self.outbox.append(CancelTimer(name))

    def reply(self, request: Any, result: Any) -> None:
        """Complete a client operation (see :mod:`consensus_lab.sim.clients`)."""
        self.outbox.append(Reply(request, result))

    def take_effects(self) -> list[Effect]:
        out = self.outbox
        self.outbox = []
        return out

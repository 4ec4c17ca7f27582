"""Exercise 11: a lock with fencing tokens, and storage that refuses stale ones (lesson 10).

Roles, by node id: ``n1`` runs the lock service (:class:`LockServer`, given);
``n2`` runs the storage (your :class:`FencedStorage`); every other node is a
lock client (your :class:`LockClient`) that takes the workload's requests.
The lock server and the storage answer a client request with ``Redirect()``.

The lock service grants one lease at a time, for ``LEASE`` seconds, each with a
**fencing token** one larger than the last (durable, so it never repeats).  A
lease can expire while its holder still believes in it -- a GC pause, a slow
network, a clock that runs slow -- so the lock alone cannot protect the data:
the storage must check the token of every write.

**LockClient** -- for a ``write`` request (``request.key``, ``request.value``):

1. send ``Acquire(rid)`` to ``n1`` (``rid`` names this request, e.g.
   ``f"{request.client}:{request.seq}"``), again every ``RETRY`` seconds until a
   ``Grant(rid, token)`` comes;
2. send ``Write(token, key, value)`` to ``n2``, again every ``RETRY`` seconds
   until ``WriteReply(value, accepted)`` comes;
3. send ``Release(token)`` to ``n1`` and answer the client ``Ok()`` if the
   storage accepted the write, ``Fail("stale token")`` if it refused it.

A ``read`` needs no lock: send ``Read(rid, key)`` to ``n2`` (again every
``RETRY`` seconds) and answer ``Ok(value)`` from its ``ReadReply(rid, value)``.

**FencedStorage** -- durable state: ``ctx.storage["highest"]`` (the highest
token it has accepted) and ``ctx.storage[f"data:{key}"] = (token, value)``.

* on ``Write(token, key, value)``: refuse it if ``token`` is lower than the
  highest token accepted so far; otherwise store it (and the new highest).
  The storage remembers each write's verdict -- ``ctx.storage[f"write:{value}"]
  = accepted`` (values are unique) -- and answers a retried ``Write`` of the
  same value with the first verdict, without applying it again;
* on ``Read(rid, key)``: answer ``ReadReply(rid, value)`` (``None`` if never
  written).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Fail, Node, Ok, Redirect

__all__ = ["Acquire", "Grant", "Release", "Write", "WriteReply", "Read", "ReadReply", "LockServer",
           "LEASE", "RETRY", "LOCK_SERVER", "STORAGE", "Node", "Ok", "Fail", "Redirect", "INTERFACE",
           "PREAMBLE"]

LEASE = 0.25
RETRY = 0.1
LOCK_SERVER = "n1"
STORAGE = "n2"


@dataclass(frozen=True, slots=True)
class Acquire:
    rid: str


@dataclass(frozen=True, slots=True)
class Grant:
    rid: str
    token: int


@dataclass(frozen=True, slots=True)
class Release:
    token: int


@dataclass(frozen=True, slots=True)
class Write:
    token: int
    key: Any
    value: Any


@dataclass(frozen=True, slots=True)
class WriteReply:
    value: Any
    accepted: bool


@dataclass(frozen=True, slots=True)
class Read:
    rid: str
    key: Any


@dataclass(frozen=True, slots=True)
class ReadReply:
    rid: str
    value: Any


class LockServer(Node):
    """The lock service (given): one lease at a time, first come first served, a new token each time.

    ``ctx.storage["token"]`` is the last token granted, so a restarted server never
    hands out a token twice.  A lease ends when its holder sends ``Release(token)``
    or when ``LEASE`` seconds have passed -- whether or not the holder knows.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...]) -> None:
        super().__init__(node_id, cluster)
        self.holder: tuple[str, str, int] | None = None  # (client node, rid, token)
        self.queue: list[tuple[str, str]] = []
        self.served: set[tuple[str, str]] = set()  # (client node, rid) granted before: a late retry is ignored

    def on_start(self, ctx) -> None:
        self.holder, self.queue = None, []  # after a restart every lease is void: no lock is held

    def on_client_request(self, ctx, request) -> None:
        ctx.reply(request, Redirect())

    def on_message(self, ctx, src: str, msg: Any) -> None:
        if isinstance(msg, Acquire):
            if self.holder is not None and self.holder[:2] == (src, msg.rid):
                ctx.send(src, Grant(msg.rid, self.holder[2]))  # the Grant was lost: send it again
            elif (src, msg.rid) not in self.served and (src, msg.rid) not in self.queue:
                self.queue.append((src, msg.rid))
                self._grant(ctx)
        elif isinstance(msg, Release) and self.holder is not None and self.holder[2] == msg.token:
            self.holder = None
            ctx.cancel_timer("lease")
            self._grant(ctx)

    def on_timer(self, ctx, name: str, payload: Any) -> None:
        if name == "lease" and self.holder is not None and self.holder[2] == payload:
            self.holder = None  # expired: the holder may not know yet
            self._grant(ctx)

    def _grant(self, ctx) -> None:
        if self.holder is not None or not self.queue:
            return
        src, rid = self.queue.pop(0)
        token = ctx.storage.get("token", 0) + 1
        ctx.storage["token"] = token
        self.holder = (src, rid, token)
        self.served.add((src, rid))
        ctx.set_timer("lease", LEASE, token)
        ctx.send(src, Grant(rid, token))


INTERFACE = ("LockClient", "FencedStorage")
PREAMBLE = "from consensus_lab.grading.exercises.ex11 import *\n"
MESSAGES = (Acquire, Grant, Release, Write, WriteReply, Read, ReadReply)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    if node_id == LOCK_SERVER:
        return LockServer(node_id, cluster)
    if node_id == STORAGE:
        return answers["FencedStorage"](node_id, cluster)
    return answers["LockClient"](node_id, cluster)


def view(node: Any) -> dict:
    return {}

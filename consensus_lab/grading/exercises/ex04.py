"""Exercise 4: quorum reads with read repair.

Every node is a replica of one register (key ``"x"``) and can also
coordinate client requests.  A cluster of ``n`` nodes uses a read quorum
``r`` and a write quorum ``w`` with ``r + w > n``.

Replica: keep ``ctx.storage["version"]`` (a :data:`Version`, initially
``NO_VERSION``) and ``ctx.storage["value"]`` (initially ``None``).  Answer a
:class:`Read` with a :class:`ReadReply` of what you hold.  On a :class:`Write`,
store the version and value if the version is newer than yours, then answer
:class:`WriteAck` -- always after storing, never before.

Coordinator (``on_client_request``; ``request.f`` is ``"read"`` or ``"write"``):

* write ``v``: send :class:`Read` to every replica (yourself included, through
  ``ctx.send``); with ``r`` replies, pick the version ``(highest counter + 1,
  self.id)``; send :class:`Write` to every replica; after ``w`` acks answer
  ``ctx.reply(request, Ok())``;
* read: send :class:`Read` to every replica; with ``r`` replies, take the
  newest version.  **Read repair**: before answering, make sure ``w`` replicas
  hold that version -- replicas that replied with it count, send it as a
  :class:`Write` to the ones that replied with an older version and count
  their acks.  Then answer ``ctx.reply(request, Ok(value))``;
* resend to the replicas that have not answered every ``RETRY`` seconds
  (messages can be lost); give up after ``GIVE_UP`` seconds without answering
  (the client then records the operation as indeterminate).

Request ids (``rid``) are yours to choose; ``(self.id, a counter)`` works.
Keep requests in progress in ordinary attributes: they are lost in a crash,
which is fine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node, Ok

__all__ = ["Read", "ReadReply", "Write", "WriteAck", "Version", "NO_VERSION", "RETRY", "GIVE_UP",
           "Node", "Ok", "INTERFACE", "PREAMBLE"]

Version = tuple  # (counter: int, writer: str); compare versions as tuples
NO_VERSION: Version = (0, "")
RETRY = 0.1
GIVE_UP = 1.0


@dataclass(frozen=True, slots=True)
class Read:
    rid: Any


@dataclass(frozen=True, slots=True)
class ReadReply:
    rid: Any
    version: Version
    value: Any


@dataclass(frozen=True, slots=True)
class Write:
    rid: Any
    version: Version
    value: Any


@dataclass(frozen=True, slots=True)
class WriteAck:
    rid: Any
    version: Version


INTERFACE = ("QuorumNode",)
PREAMBLE = "from consensus_lab.grading.exercises.ex04 import *\n"
MESSAGES = (Read, ReadReply, Write, WriteAck)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    return answers["QuorumNode"](node_id, cluster, r=options["r"], w=options["w"])


def view(node: Any) -> dict:
    """The grader looks at nothing else (your storage is in its hands already)."""
    return {}

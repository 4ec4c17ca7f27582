"""Exercise 0: reliable broadcast -- retries and de-duplication (lesson 00).

A client asks any node to ``add`` a value (``request.f == "add"``,
``request.value``); ``read`` asks for the values a node holds.  Every node keeps
the values it has *delivered* in durable storage, in the order it delivered
them: ``ctx.storage["delivered"]``, a tuple, each value at most once.

* **add**: deliver the value (append it to ``ctx.storage["delivered"]`` unless it
  is already there) *before* answering ``Ok()``, then send :class:`Gossip` to
  every peer -- again every ``RETRY`` seconds until that peer has answered
  :class:`GossipAck`.  Whom you still have to tell is durable state too: after a
  crash and restart (``on_start``) the node carries on retrying.
* **Gossip**: deliver the value (once: duplicates and retries change nothing),
  then answer ``GossipAck(value)`` -- also to a duplicate, since the first ack
  may have been lost.
* **read**: answer ``Ok(tuple(sorted(delivered)))``.

The grader reads the durable storage and judges the lesson's invariants:
validity (only added values), no duplicates, durability (an acknowledged add is
stored before the answer and never lost), and, once the faults heal,
agreement (every node delivers every acknowledged value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node, Ok

__all__ = ["Gossip", "GossipAck", "RETRY", "Node", "Ok", "INTERFACE", "PREAMBLE"]

RETRY = 0.1


@dataclass(frozen=True, slots=True)
class Gossip:
    """"I delivered ``value``": sent to a peer until it acknowledges."""

    value: Any


@dataclass(frozen=True, slots=True)
class GossipAck:
    value: Any


INTERFACE = ("BroadcastNode",)
PREAMBLE = "from consensus_lab.grading.exercises.ex00 import *\n"
MESSAGES = (Gossip, GossipAck)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    return answers["BroadcastNode"](node_id, cluster)


def view(node: Any) -> dict:
    return {}

"""Exercise 7: a Paxos acceptor and proposer (single-decree Paxos).

Every node is a proposer, an acceptor and a learner; the cluster must choose
one value.  A client asks any node to propose ``request.value``
(``request.f == "propose"``); the node answers ``ctx.reply(request,
Ok(chosen))`` once it knows the chosen value -- which may be another client's.

Ballots are tuples ``(round, node_id)``, compared as tuples; ``NO_BALLOT``
is below every real one.

Acceptor (durable state, in these storage keys):

* ``ctx.storage["promised"]``: the highest ballot promised (default ``NO_BALLOT``);
* ``ctx.storage["accepted"]``: ``(ballot, value)`` last accepted, or absent.

On ``Prepare(b)`` with ``b`` above your promise: store the promise, then
answer ``Promise(b, accepted_ballot, accepted_value)`` (``NO_BALLOT, None``
if nothing accepted).  On ``Accept(b, v)`` with ``b`` at least your promise:
store the promise and ``(b, v)``, then answer ``Accepted(b, v)``.  Store
*before* you answer; otherwise answer ``Nack(b, promised)`` (or nothing).

Proposer: pick a ballot above any you have seen; send ``Prepare`` to all
(yourself included); with promises from a majority, propose the value of the
highest-ballot accepted promise, or your own client's value if none; send
``Accept`` to all; with ``Accepted`` from a majority the value is chosen: send
``Decided(v)`` to all and answer your clients.  If a round stalls, retry with
a higher ballot after a random delay drawn from ``ctx.rng`` between
``RETRY_MIN`` and ``RETRY_MAX`` seconds (two proposers can otherwise duel
forever).

Learner: on ``Decided(v)`` store ``ctx.storage["decided"] = v`` and answer any
waiting clients.  The grader looks at the node's ``decided`` attribute
(``None`` until it knows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node, Ok

__all__ = ["Prepare", "Promise", "Accept", "Accepted", "Nack", "Decided", "NO_BALLOT", "Ballot",
           "RETRY_MIN", "RETRY_MAX", "Node", "Ok", "INTERFACE", "PREAMBLE"]

Ballot = tuple  # (round: int, node_id: str)
NO_BALLOT: Ballot = (0, "")
RETRY_MIN = 0.05
RETRY_MAX = 0.25


@dataclass(frozen=True, slots=True)
class Prepare:
    ballot: Ballot


@dataclass(frozen=True, slots=True)
class Promise:
    ballot: Ballot
    accepted_ballot: Ballot
    accepted_value: Any


@dataclass(frozen=True, slots=True)
class Accept:
    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Accepted:
    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Nack:
    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Decided:
    value: Any


INTERFACE = ("PaxosNode",)
PREAMBLE = "from consensus_lab.grading.exercises.ex07 import *\n"
MESSAGES = (Prepare, Promise, Accept, Accepted, Nack, Decided)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    return answers["PaxosNode"](node_id, cluster)


def view(node: Any) -> dict:
    return {"decided": node.decided}

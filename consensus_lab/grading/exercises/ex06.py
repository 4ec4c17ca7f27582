"""Exercise 6: two-phase commit, with recovery from the durable log.

Node ``n1`` (``cluster[0]``) is the coordinator; every other node is a
participant.  One class plays both parts: check ``self.id == self.coordinator``.

A client asks the coordinator to commit transaction ``request.value`` (an
int; ``request.f == "commit"``).  A participant that gets a client request
answers ``ctx.reply(request, Redirect(self.coordinator))``.

Coordinator:

1. send :class:`Prepare` to every participant; wait for their :class:`Vote`;
2. decide ``commit`` if every participant voted yes, ``abort`` if one voted
   no or not every vote came within ``VOTE_TIMEOUT`` seconds;
3. **log the decision** -- ``ctx.storage[f"decision:{txid}"] = "commit"`` or
   ``"abort"`` -- then answer the client ``Ok("commit")`` or ``Ok("abort")``
   and send :class:`Decision` to every participant, again every ``RESEND``
   seconds until each has sent :class:`Ack`;
4. after a restart (``on_start``), read the log back and keep sending the
   logged decisions; answer an :class:`Inquire` about a transaction with the
   logged decision, or -- if there is none -- decide (and log) ``abort``.

Participant:

* on :class:`Prepare`: the vote is ``will_vote_yes(self.id, txid)`` (imported
  for you).  A yes vote is a promise: **log** ``ctx.storage[f"txn:{txid}"] =
  "prepared"`` before you send ``Vote(txid, True)``.  A no vote may log
  ``"abort"`` at once;
* on :class:`Decision`: log ``"commit"`` or ``"abort"`` under ``f"txn:{txid}"``,
  then send :class:`Ack`.  A logged outcome never changes;
* while prepared without a decision -- in particular after a restart -- send
  :class:`Inquire` to the coordinator every ``INQUIRE_EVERY`` seconds.
  A prepared participant must never decide on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node, Ok, Redirect

__all__ = ["Prepare", "Vote", "Decision", "Ack", "Inquire", "will_vote_yes", "VOTE_TIMEOUT",
           "RESEND", "INQUIRE_EVERY", "Node", "Ok", "Redirect", "INTERFACE", "PREAMBLE"]

VOTE_TIMEOUT = 0.5
RESEND = 0.2
INQUIRE_EVERY = 0.3


@dataclass(frozen=True, slots=True)
class Prepare:
    txid: int


@dataclass(frozen=True, slots=True)
class Vote:
    txid: int
    yes: bool


@dataclass(frozen=True, slots=True)
class Decision:
    txid: int
    commit: bool


@dataclass(frozen=True, slots=True)
class Ack:
    txid: int


@dataclass(frozen=True, slots=True)
class Inquire:
    txid: int


def will_vote_yes(node_id: str, txid: int) -> bool:
    """Whether participant ``node_id`` can commit transaction ``txid`` (fixed, about 4 in 5)."""
    digits = "".join(ch for ch in node_id if ch.isdigit()) or "0"
    return (txid * 7 + int(digits) * 3) % 5 != 0


INTERFACE = ("TwoPCNode",)
PREAMBLE = "from consensus_lab.grading.exercises.ex06 import *\n"
MESSAGES = (Prepare, Vote, Decision, Ack, Inquire)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    node = answers["TwoPCNode"](node_id, cluster)
    return node


def view(node: Any) -> dict:
    return {}

"""Exercise 8: Raft leader election (Ongaro and Ousterhout 2014, section 5.2).

Every node starts as a follower in term 0.  Durable state, in these keys:
``ctx.storage["current_term"]`` (int) and ``ctx.storage["voted_for"]`` (a node
id or ``None``); rebuild both in ``on_start``.  The grader reads three
attributes: ``role`` (``"follower"``, ``"candidate"`` or ``"leader"``),
``current_term`` and ``voted_for``.

* Election timeout: a follower or candidate that hears from no leader for a
  random time between ``ELECTION_TIMEOUT_MIN`` and ``ELECTION_TIMEOUT_MAX``
  seconds (draw it from ``ctx.rng``) starts an election: new term, vote for
  itself (persisted), send ``RequestVote`` to every peer.
* Voting: grant at most one vote per term, and persist the vote (and the
  term) *before* answering ``Vote(term, granted=True)``.
* A candidate with votes from a majority (its own included) becomes leader
  and sends ``AppendEntries(term, leader)`` heartbeats to every peer every
  ``HEARTBEAT`` seconds; a follower answers ``AppendEntriesReply(term, success)``
  and restarts its election timer when a current leader speaks.
* Any message with a higher term makes a node adopt that term (persisted) and
  become a follower, before anything else.  Messages from an older term are
  answered with your term (so the sender steps down) and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Node

__all__ = ["RequestVote", "Vote", "AppendEntries", "AppendEntriesReply", "ELECTION_TIMEOUT_MIN",
           "ELECTION_TIMEOUT_MAX", "HEARTBEAT", "Node", "INTERFACE", "PREAMBLE"]

ELECTION_TIMEOUT_MIN = 0.15
ELECTION_TIMEOUT_MAX = 0.30
HEARTBEAT = 0.05


@dataclass(frozen=True, slots=True)
class RequestVote:
    term: int
    candidate: str


@dataclass(frozen=True, slots=True)
class Vote:
    term: int
    granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    term: int
    leader: str


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    term: int
    success: bool


INTERFACE = ("RaftElectionNode",)
PREAMBLE = "from consensus_lab.grading.exercises.ex08 import *\n"
MESSAGES = (RequestVote, Vote, AppendEntries, AppendEntriesReply)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    return answers["RaftElectionNode"](node_id, cluster)


def view(node: Any) -> dict:
    return {"role": node.role, "current_term": node.current_term, "voted_for": node.voted_for}

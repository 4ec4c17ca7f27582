"""Exercise 13 (capstone, part B): linearizable reads without a log entry -- read index (lesson 11).

Part A put every ``get`` in the log.  Here a ``get`` never goes into the log;
``put`` and ``append`` do, exactly once, as in part A (``RaftNode`` and
``Command`` are part A's).  A leader answers a read only when it knows that its
state is at least as new as any write that completed before the read began:

1. it has committed an entry of its own term (its no-op): before that its
   ``commit_index`` may lag behind what the old leader committed;
2. it takes ``read_index = self.commit_index`` and checks that it is *still*
   the leader: it sends ``ReadProbe(term, round)`` to every peer; a peer of
   the same term answers ``ReadAck(term, round)`` (a peer with a newer term
   answers with that term, and the old leader steps down: ``RaftNode`` adopts
   any newer term it sees);
3. once a majority (itself included) acknowledged that round, and
   ``self.last_applied >= read_index``, it answers the read from its state.

Any other node answers a read ``Redirect(self.leader_id)``.  A probe that gets no
majority is sent again every ``PROBE_EVERY`` seconds, with a new round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .ex09 import AppendEntries, AppendEntriesReply, Entry, RequestVote, Vote
from .ex12 import HEARTBEAT, Command, Node, Ok, RaftNode, Redirect, make_node, view  # noqa: F401 - the adapters

__all__ = ["ReadProbe", "ReadAck", "Command", "Entry", "RaftNode", "HEARTBEAT", "PROBE_EVERY", "Node", "Ok",
           "Redirect", "INTERFACE", "PREAMBLE"]

PROBE_EVERY = 0.05
DEPENDS = ("ex09", "ex12")


@dataclass(frozen=True, slots=True)
class ReadProbe:
    term: int
    round: int


@dataclass(frozen=True, slots=True)
class ReadAck:
    term: int
    round: int


INTERFACE = ("KVServer",)
PREAMBLE = "from consensus_lab.grading.exercises.ex13 import *\n"
MESSAGES = (Command, Entry, RequestVote, Vote, AppendEntries, AppendEntriesReply, ReadProbe, ReadAck)


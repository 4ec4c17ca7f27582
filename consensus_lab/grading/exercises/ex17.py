"""Exercise 17 (capstone, part D): shards and transactions -- two-phase commit between Raft groups (lesson 11).

The keys are split over ``shards`` Raft groups: with 6 nodes and 2 shards,
``n1-n3`` hold shard 0 and ``n4-n6`` shard 1 (:class:`Layout`;
``layout.shard_of(key)``).  Each group runs part A's ``RaftNode`` among its
own members only.  A client sends ``get`` (one key) or ``txn`` (its value:
the writes ``((key, value), ...)``, on one or more shards) to any node.

Given: :class:`TxnServer` (a ``RaftNode`` of one group) routes every request.
A request for another group is redirected there, a non-leader redirects to its
leader, and on a leader it calls ``self.start_read(ctx, request)`` or
``self.start_txn(ctx, request, txid, parts)`` -- ``txid`` names the
transaction (``"client.seq"``: a retry is the same transaction), ``parts`` is
``((group, writes), ...)``.  The group of the transaction's first key is its
**coordinator**.  ``self.send_group(ctx, g, msg)`` sends to every member of
group ``g``; ``self.on_tick(ctx)`` is called every ``TICK`` seconds on every
node.

You write ``ShardServer(TxnServer)``: two-phase commit in which the
coordinator and the participants are Raft groups.  Every step is an entry of
the group's log, and a node acts on a step only once the entry is applied
(committed):

* participant: on ``Prepare`` its leader proposes ``Step("prepare", txid,
  (writes, coordinator))``; applying it locks the keys (vote yes) -- or, if a
  key is locked by another transaction, aborts it here (vote no).  Only then
  does the leader send ``TxnVote(txid, group, yes)``;
* coordinator: with a yes from every group the leader proposes
  ``Step("decision", txid, "commit")`` (a no, or a missing vote after
  ``VOTE_TIMEOUT``: ``"abort"``).  **The first decision entry for a txid in the
  log is the outcome.**  Once it is applied the leader answers the client
  (``Ok()`` or ``Fail("aborted")``) and sends ``Decision(txid, outcome)`` to
  the participant groups;
* participant: on ``Decision`` the leader proposes ``Step("finish", txid,
  outcome)``; applying it installs the writes (commit) or drops them, and
  releases the locks;
* recovery: a participant leader asks the coordinator group about every
  transaction it holds in doubt (``DecisionRequest``).  A coordinator node that
  has applied the decision answers it; a coordinator *leader* with no decision
  and no such transaction running logs ``"abort"`` (presumed abort: if an old
  leader's commit entry was committed, it is earlier in the log and wins);
* reads go through the log (``Command(client, seq, "get", key, None)``); a key
  locked by an in-doubt transaction answers ``Fail("locked")``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Fail, Node, Ok, Redirect

from .ex09 import AppendEntries, AppendEntriesReply, Entry, RequestVote, Vote
from .ex12 import ELECTION_TIMEOUT_MAX, ELECTION_TIMEOUT_MIN, HEARTBEAT, Command, RaftNode

__all__ = ["Prepare", "TxnVote", "Decision", "DecisionRequest", "Step", "Command", "Entry", "Layout", "RaftNode",
           "TxnServer", "COMMIT", "ABORT", "TICK", "VOTE_TIMEOUT", "SHARDS", "HEARTBEAT", "ELECTION_TIMEOUT_MIN",
           "ELECTION_TIMEOUT_MAX", "Node", "Ok", "Fail", "Redirect", "INTERFACE", "PREAMBLE"]

COMMIT, ABORT = "commit", "abort"
TICK = 0.05  # on_tick runs this often on every node
VOTE_TIMEOUT = 0.5  # a coordinator may abort a transaction whose votes are still missing after this long
SHARDS = 2  # the default number of shard groups (a check may set the option "shards")
DEPENDS = ("ex09", "ex12")


# --- messages between groups ---------------------------------------------------------------
# Prepare, Decision and DecisionRequest have the shape of consensus_lab.protocols.sharded_txn's, declared
# again on purpose: graded code runs where only consensus_lab.sim, .history and the exercise modules exist.


@dataclass(frozen=True, slots=True)
class Prepare:
    """Coordinator leader -> every member of a participant group: "can you commit these writes?"."""

    txid: str
    writes: tuple[tuple[Any, Any], ...]
    coordinator: int  # the coordinator's group


@dataclass(frozen=True, slots=True)
class TxnVote:
    """A participant group's vote, sent by its leader once the prepare entry is applied."""

    txid: str
    group: int
    yes: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The coordinator group's outcome, sent only by a node that has applied the decision entry."""

    txid: str
    outcome: str


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """An in-doubt participant group asks the coordinator group how ``txid`` ended."""

    txid: str
    group: int


@dataclass(frozen=True, slots=True)
class Step:
    """One step of two-phase commit, as it travels in a group's log.

    ``kind`` is ``"prepare"`` (value: ``(writes, coordinator group)``), ``"decision"``
    (the coordinator's outcome, ``"commit"`` or ``"abort"``) or ``"finish"`` (a
    participant installs or drops its writes; value: the outcome)."""

    kind: str
    txid: str
    value: Any


# --- the layout and the routing (given) ----------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Which node is in which shard group (the same on every node)."""

    groups: tuple[tuple[str, ...], ...]

    @classmethod
    def build(cls, cluster: tuple[str, ...], shards: int) -> Layout:
        if shards < 1 or len(cluster) % shards:
            raise ValueError(f"{len(cluster)} nodes cannot form {shards} equal shard groups")
        size = len(cluster) // shards
        return cls(tuple(tuple(cluster[g * size:(g + 1) * size]) for g in range(shards)))

    @property
    def shards(self) -> int:
        return len(self.groups)

    def shard_of(self, key: Any) -> int:
        return zlib.crc32(str(key).encode()) % len(self.groups)

    def group_of(self, node_id: str) -> int:
        return next(g for g, members in enumerate(self.groups) if node_id in members)

    def split(self, writes: tuple[tuple[Any, Any], ...]) -> tuple[tuple[int, tuple[tuple[Any, Any], ...]], ...]:
        """A transaction's writes by shard: ``((group, writes), ...)`` in group order."""
        parts: dict[int, list[tuple[Any, Any]]] = {}
        for k, v in writes:
            parts.setdefault(self.shard_of(k), []).append((k, v))
        return tuple((g, tuple(parts[g])) for g in sorted(parts))


class TxnServer(RaftNode):
    """A Raft node of one shard group, with the routing of client requests (given)."""

    def __init__(self, node_id: str, cluster: tuple[str, ...], shards: int = SHARDS) -> None:
        self.shard_groups = Layout.build(tuple(cluster), shards).groups  # plain data: a search check copies it
        self.group = self.layout.group_of(node_id)
        super().__init__(node_id, self.shard_groups[self.group])  # Raft among the group's members

    @property
    def layout(self) -> Layout:
        """The shard groups (:class:`Layout`), the same on every node."""
        return Layout(self.shard_groups)

    def on_start(self, ctx) -> None:
        super().on_start(ctx)
        ctx.set_timer("tick", TICK)

    def on_timer(self, ctx, name: str, payload: Any) -> None:
        if name == "tick":
            ctx.set_timer("tick", TICK)
            self.on_tick(ctx)
        else:
            super().on_timer(ctx, name, payload)

    def send_group(self, ctx, group: int, msg: Any) -> None:
        ctx.broadcast(self.layout.groups[group], msg)

    def on_client_request(self, ctx, request) -> None:
        if request.f == "get":
            target = self.layout.shard_of(request.key)
        elif request.f == "txn" and request.value:
            target = self.layout.shard_of(request.value[0][0])
        else:
            ctx.reply(request, Fail(f"this store runs get and txn, not {request.f!r}"))
            return
        if target != self.group:
            members = self.layout.groups[target]
            ctx.reply(request, Redirect(members[request.attempt % len(members)]))
        elif self.role != "leader":
            ctx.reply(request, Redirect(self.leader_id))
        elif request.f == "get":
            self.start_read(ctx, request)
        else:
            self.start_txn(ctx, request, f"{request.client}.{request.seq}", self.layout.split(tuple(request.value)))

    def start_read(self, ctx, request) -> None:
        """The leader of the key's group: read it through the log (override it)."""

    def start_txn(self, ctx, request, txid: str, parts: tuple) -> None:
        """The leader of the coordinator group: run two-phase commit (override it)."""

    def on_tick(self, ctx) -> None:
        """Every TICK seconds on every node (override it)."""

    def in_doubt(self) -> tuple[str, ...]:
        """The transactions this replica has prepared (voted yes on) and not yet finished (override it)."""
        return ()


INTERFACE = ("ShardServer",)
PREAMBLE = "from consensus_lab.grading.exercises.ex17 import *\n"
MESSAGES = (Command, Step, Entry, RequestVote, Vote, AppendEntries, AppendEntriesReply, Prepare, TxnVote, Decision,
            DecisionRequest)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    cls = answers["ShardServer"]
    if not (isinstance(cls, type) and issubclass(cls, TxnServer)):
        raise TypeError("ShardServer must be a subclass of TxnServer")
    return cls(node_id, cluster, int(options.get("shards", SHARDS)))


def view(node: Any) -> dict:
    return {"role": node.role, "term": node.current_term, "commit_index": node.commit_index, "group": node.group,
            "in_doubt": tuple(sorted(node.in_doubt()))}

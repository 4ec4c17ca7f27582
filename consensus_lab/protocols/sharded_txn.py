"""Capstone: a sharded, replicated, transactional key-value store.

Three ideas of the course, stacked:

* **Partitioning (lesson 04).**  Keys are split across ``shards`` by hash:
  ``shard = stable_hash(key) mod shards``.  Nodes ``n1..nN`` form the shard
  groups in order: with 9 nodes and 3 shards, ``n1-n3`` hold shard 0,
  ``n4-n6`` shard 1, ``n7-n9`` shard 2.
* **Replication (lesson 07).**  Each shard group is a Raft group: the
  :class:`~consensus_lab.protocols.raft.RaftNode` of lesson 07, reused by
  subclassing, with a richer state machine (:class:`ShardMachine`).  Every
  change of a shard's state -- a read, a vote, a decision -- is a Raft log entry,
  so it survives the crash of any minority of the group.
* **Atomic commitment (lesson 05).**  A transaction writes keys on several
  shards.  Two-phase commit makes it all-or-nothing; as in Spanner (Corbett et
  al. 2012, section 4.2.1) the coordinator and the participants are not single
  machines but *groups*: the coordinator is the group of the transaction's
  first key, and each step of the protocol is a Raft entry of the group that
  takes it.

A transaction, step by step
---------------------------
1. A client sends ``txn`` (writes on one or more keys) to any node; it is
   redirected to the leader of the coordinator group.  The transaction is named
   by the client's operation, ``txid = client.seq``, so a retry at another node
   (after a leader change) is the same transaction.
2. The coordinator leader sends ``Prepare(txid, writes)`` to every participant
   group (all its members; only the leader acts).
3. A participant leader appends a *prepare* entry.  When the entry commits and
   is applied, the group locks the keys and votes yes -- or, if another
   in-doubt transaction holds one of the keys, votes no and aborts at once
   (no-wait locking: nobody waits, so nobody deadlocks).  The leader sends the
   ``Vote``.
4. With a yes from every group the coordinator leader appends a *decision*
   entry (commit); a no, or votes missing after ``vote_timeout``, make it an
   abort.  The **commit point is when the decision entry commits** in the
   coordinator group: the first decision entry for a ``txid`` in the group's
   log wins, so the outcome is unique even if two leaders of different terms
   propose different ones.  The leader answers the client and sends
   ``Decision`` to the participants.
5. Each participant leader appends a *decide* entry; applying it installs the
   writes (commit) or drops them (abort) and releases the locks.

Reads go through the shard's Raft log too.  A read of a key locked by an
in-doubt transaction fails ("locked"): answering the old value could show a
committed transaction on one shard and not yet on another.  Every installed
write is numbered by its shard (the same number on every replica) and the
number is kept in the durable write log
(:mod:`consensus_lab.protocols._writelog`), so the session-guarantee checks
judge reads in the store's own order of writes.

Why a crash does not block
--------------------------
Plain 2PC blocks when the coordinator crashes after the participants voted
yes: they may not decide alone and must wait, holding their locks, for it to
come back (lesson 05).  Here a prepared participant group asks the coordinator
*group* (``DecisionRequest``, every ``ask_timeout``).  Any member that has
applied the decision answers.  If there is none, the group's new leader --
which has no record of the transaction, because that was lost with the old
leader -- decides **abort** and logs it (presumed abort, made safe by the log:
if the old leader's commit entry had committed, the new leader would have it,
by Raft's leader completeness).  A single node crash takes out at most one
replica of each group, so every group still has a majority and goes on.

Variants
--------
``correct``    shard groups of ``nodes / shards`` Raft replicas.
``plain-2pc``  the same code with groups of **one**: node ``n1`` holds shard
               0, the next group's first node holds shard 1, and so on; the
               other nodes are spares that only redirect clients.  A single
               node's durable log is exactly what a plain 2PC coordinator or
               participant has, so this is plain two-phase commit.  Crash the
               coordinator between the votes and the decision and the
               participants stay in doubt until it restarts.
``early-vote`` (broken) a participant leader votes yes as soon as it *appends*
               the prepare entry, before the log has applied it.  A concurrent
               transaction's prepare, earlier in the log, can take the lock
               first -- the shard then aborts what it promised to commit -- or
               the leader crashes and its successor never heard of the
               transaction: either way a torn transaction.
``read-locked`` (broken) reads ignore the locks of in-doubt transactions and
               return the value from before.  Every shard is still atomic, but a
               reader can see a committed transaction on one shard and miss it
               on another: only the history check (``txn-kv``) catches it.
``ignore-conflicts`` (broken) a participant votes yes even when another
               in-doubt transaction holds one of the keys.  Each transaction is
               still all-or-nothing, but two concurrent ones can install their
               writes in opposite orders on two shards: a write cycle (Adya's G0),
               which the isolation check finds in the shards' logged version order
               (:func:`~consensus_lab.protocols._sharded_txn_analysis.check_store_isolation`).

Invariants, after every event: each group's Raft safety (Figure 3 of the Raft
paper, per group), and **atomicity**: no transaction is committed on one
shard and aborted on another or by the coordinator, and no shard installs a
commit for a transaction it never prepared (its writes would be missing).
Histories are checked with the ``txn-kv`` model: the whole store as one
object whose transactions take effect at one instant (strict
serializability), which includes per-key linearizability, and with Elle's
isolation check in the order the shards installed the writes
(:mod:`consensus_lab.protocols._sharded_txn_analysis`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..partitioning import stable_hash
from ..sim import ClientRequest, Context, Fail, Node, Ok, ProtocolSpec, Redirect, Workload
from ._writelog import record_version
from .raft import LEADER, RaftConfig, RaftNode
from .raft_log import READS, Command, Entry, KVStateMachine

__all__ = [
    "Prepare",
    "Vote",
    "Decision",
    "DecisionRequest",
    "Layout",
    "TxnConfig",
    "ShardMachine",
    "ShardNode",
    "SpareNode",
    "COMMIT",
    "ABORT",
    "VARIANTS",
    "DEFAULT_OPTIONS",
    "WORKLOAD",
    "SPEC",
    "SPECS",
]

COMMIT, ABORT = "commit", "abort"

# log entry kinds (Command.f) besides the client's reads
PREPARE = "prepare"  # participant: lock and vote
DECIDE = "decide"  # participant: install or drop
COORD_DECIDE = "coord-decide"  # coordinator: the commit point

TXN_OPS = frozenset({"txn", "write", "put"})


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepare:
    """Coordinator leader -> members of a participant group: "can you commit these writes?"."""

    txid: str
    writes: tuple[tuple[Any, Any], ...]
    coordinator: int  # the coordinator's group


@dataclass(frozen=True, slots=True)
class Vote:
    """A participant group's vote, sent by its leader once the prepare entry is applied."""

    txid: str
    group: int
    yes: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The coordinator group's decision (sent only once it is applied: final)."""

    txid: str
    outcome: str


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """An in-doubt participant group asks the coordinator group how ``txid`` ended."""

    txid: str
    group: int


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """Which node belongs to which shard group (immutable, the same on every node)."""

    shards: int
    groups: tuple[tuple[str, ...], ...]
    spares: tuple[str, ...] = ()

    @classmethod
    def build(cls, cluster: tuple[str, ...], shards: int, replicated: bool = True) -> Layout:
        n = len(cluster)
        if shards < 1:
            raise ValueError(f"sharded-txn needs shards >= 1, got {shards}")
        if n % shards:
            raise ValueError(
                f"sharded-txn needs nodes = shards x replicas: {n} nodes cannot be split into {shards} "
                f"equal groups (try --nodes {shards * max(1, round(n / shards))} or --set shards=...)"
            )
        size = n // shards
        full = tuple(tuple(cluster[g * size:(g + 1) * size]) for g in range(shards))
        if replicated:
            return cls(shards, full)
        return cls(shards, tuple(g[:1] for g in full), tuple(x for g in full for x in g[1:]))

    def shard_of(self, key: Any) -> int:
        return stable_hash(key) % self.shards

    def group_of(self, node_id: str) -> int | None:
        for g, members in enumerate(self.groups):
            if node_id in members:
                return g
        return None

    def split(self, writes: tuple[tuple[Any, Any], ...]) -> tuple[tuple[int, tuple[tuple[Any, Any], ...]], ...]:
        """The writes of a transaction, grouped by shard: ``((group, writes), ...)`` by group."""
        parts: dict[int, list[tuple[Any, Any]]] = {}
        for k, v in writes:
            parts.setdefault(self.shard_of(k), []).append((k, v))
        return tuple((g, tuple(parts[g])) for g in sorted(parts))


@dataclass(frozen=True)
class TxnConfig:
    vote_timeout: float = 0.5  # coordinator: abort if a vote is still missing after this long
    retry: float = 0.05  # coordinator: re-send Prepare this often
    ask_timeout: float = 0.1  # in-doubt participant: ask for the decision this often
    variant: str = "correct"


VARIANTS = {
    "correct": "two-phase commit across Raft groups: a single node crash never blocks a transaction",
    "plain-2pc": "the same store with groups of one node (plain 2PC): a coordinator crash blocks the participants",
    "early-vote": "a participant votes yes before its prepare entry is applied: the shard may abort what it promised",
    "read-locked": "reads ignore in-doubt locks: a reader sees a transaction on one shard and misses it on another",
    "ignore-conflicts": "a participant votes yes on keys another in-doubt transaction holds: a write cycle (G0)",
}

DEFAULT_OPTIONS: dict[str, Any] = {
    "shards": 3,
    "vote_timeout": 0.5,
    "retry": 0.05,
    "ask_timeout": 0.1,
    "election_min": 0.15,
    "election_max": 0.30,
    "heartbeat": 0.05,
    "max_entries": 64,
}

#: keys that spread two per shard over three shards (x, y, z: one per shard)
DEFAULT_KEYS = ("a", "b", "d", "x", "y", "z")

WORKLOAD = Workload(
    clients=3,
    keys=DEFAULT_KEYS,
    mix=(("read", 0.5), ("txn", 0.5)),
    think=0.05,
    timeout=0.5,
    deadline=2.0,
)


# --- the state machine of one shard -----------------------------------------------------


@dataclass
class ShardMachine(KVStateMachine):
    """The key-value map of one shard, with 2PC state; applied in log order on every replica.

    Participant side: ``locks`` (key -> txid), ``prepared`` (txid -> (writes,
    coordinator group): voted yes, outcome unknown, *in doubt*) and
    ``outcomes`` (txid -> commit/abort).  Coordinator side: ``decisions``
    (txid -> commit/abort; the first decision entry wins).  ``decided`` lists
    every outcome in the order applied (for the invariants) and ``touched`` the
    transactions changed by the last entries (drained by the node).
    """

    locks: dict[Any, str] = field(default_factory=dict)
    prepared: dict[str, tuple[tuple[tuple[Any, Any], ...], int]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)
    decided: list[tuple[str, str, str, bool]] = field(default_factory=list)  # (kind, txid, outcome, was prepared)
    touched: list[str] = field(default_factory=list)
    installs: int = 0  # writes installed so far: the version of the next one (the same on every replica)
    installed: list[tuple[Any, Any, int]] = field(default_factory=list)  # (key, value, version), drained by the node
    ignore_locks: bool = False  # the read-locked twin
    ignore_conflicts: bool = False  # the ignore-conflicts twin


    def _execute(self, c: Command) -> Any:
        f = c.f
        if f in READS:
            holder = self.locks.get(c.key)
            if holder is not None and not self.ignore_locks:
                return Fail(f"key {c.key!r} is locked by in-doubt transaction {holder}")
            return Ok(self.data.get(c.key))
        txid = c.key
        self.touched.append(txid)
        if f == PREPARE:
            writes, coordinator = c.value
            if txid in self.outcomes or txid in self.prepared:
                return Ok()  # decided or prepared already: the vote stands
            if not self.ignore_conflicts and any(self.locks.get(k, txid) != txid for k, _ in writes):
                self._decide_local(txid, ABORT)  # not voted yes: free to abort alone
                return Ok()
            self.prepared[txid] = (writes, coordinator)
            for k, _ in writes:
                self.locks[k] = txid
            return Ok()
        if f == DECIDE:
            if txid not in self.outcomes:
                self._decide_local(txid, c.value)
            return Ok()
        if f == COORD_DECIDE:
            if txid not in self.decisions:
                self.decisions[txid] = c.value
                self.decided.append(("coordinator", txid, c.value, True))
            return Ok()
        return Fail(f"unknown operation {f!r}")

    def _decide_local(self, txid: str, outcome: str) -> None:
        was_prepared = txid in self.prepared
        writes, _ = self.prepared.pop(txid, ((), 0))
        self.outcomes[txid] = outcome
        if outcome == COMMIT:
            for k, v in writes:
                self.data[k] = v
                self.installs += 1
                self.installed.append((k, v, self.installs))
        for k, _ in writes:
            if self.locks.get(k) == txid:
                del self.locks[k]
        self.decided.append(("participant", txid, outcome, was_prepared))

    def vote(self, txid: str) -> bool | None:
        """This shard's vote on ``txid`` (``None``: no prepare applied yet)."""
        if txid in self.prepared:
            return True
        if txid in self.outcomes:
            return self.outcomes[txid] == COMMIT
        return None


# --- the coordinator's volatile record -------------------------------------------------------


@dataclass
class _Txn:
    txid: str
    parts: tuple[tuple[int, tuple[tuple[Any, Any], ...]], ...]
    request: ClientRequest | None
    deadline: float
    votes: dict[int, bool] = field(default_factory=dict)
    deciding: bool = False


# --- the node ------------------------------------------------------------------------------


class ShardNode(RaftNode):
    """One replica of one shard group: a Raft node whose state machine is a :class:`ShardMachine`.

    Raft is inherited unchanged (elections, replication, commit, persistence);
    this class adds the routing of client operations, the 2PC messages, and the
    reactions of a leader to applied entries.  Read-only views for invariants,
    pictures and graders: ``group``, ``in_doubt()``, ``outcomes()``,
    ``decisions()``, ``locked_keys()``, ``data()``.
    """

    def __init__(
        self, node_id: str, cluster: tuple[str, ...], layout: Layout, config: RaftConfig, txn: TxnConfig
    ) -> None:
        group = layout.group_of(node_id)
        if group is None:
            raise ValueError(f"{node_id} is not in any shard group of {layout}")
        super().__init__(node_id, layout.groups[group], config)
        self.everyone = tuple(cluster)
        self.layout = layout
        self.group = group
        self.txn = txn
        self.sm = self._machine()
        self._volatile()

    def _machine(self) -> ShardMachine:
        v = self.txn.variant
        return ShardMachine(ignore_locks=v == "read-locked", ignore_conflicts=v == "ignore-conflicts")

    def _volatile(self) -> None:
        self.active: dict[str, _Txn] = {}  # coordinator leader: transactions it runs
        self.vote_to: dict[str, str] = {}  # participant leader: who asked for each vote
        self.proposed: dict[tuple[str, str], int] = {}  # (kind, txid) -> term it was appended in
        self.retrying = False
        self.asking = False

    # --- read-only views ---------------------------------------------------------------

    def in_doubt(self) -> tuple[str, ...]:
        """Transactions this replica has prepared (voted yes) and not yet decided."""
        return tuple(self.sm.prepared)

    def outcomes(self) -> dict[str, str]:
        return self.sm.outcomes

    def decisions(self) -> dict[str, str]:
        return self.sm.decisions

    def locked_keys(self) -> dict[Any, str]:
        return self.sm.locks

    def data(self) -> dict[Any, Any]:
        return self.sm.data

    def replicas_of(self, key: Any) -> tuple[str, ...]:
        """The nodes that hold ``key`` (its shard's group): what convergence compares."""
        return self.layout.groups[self.layout.shard_of(key)]

    def state_view(self) -> dict[str, Any]:
        view = super().state_view()
        view.update({
            "group": self.group,
            "data": dict(sorted(self.sm.data.items(), key=lambda kv: repr(kv[0]))),
            "in_doubt": list(self.sm.prepared),
            "locks": dict(sorted(self.sm.locks.items(), key=lambda kv: repr(kv[0]))),
        })
        return view

    # --- life cycle ------------------------------------------------------------------------

    def on_start(self, ctx: Context) -> None:
        super().on_start(ctx)  # rebuilds Raft's persistent state; entries are re-applied as they commit
        self.sm = self._machine()
        self._volatile()

    def _become_leader(self, ctx: Context) -> None:
        super()._become_leader(ctx)
        # Section 8 of the Raft paper: a new leader commits a no-op of its term at once,
        # so that entries of earlier terms (a prepare, a decision) commit without waiting
        # for the next client.
        self._append(ctx, None)
        if self.sm.prepared:
            self._ask_soon(ctx)

    def _release_clients(self, ctx: Context) -> None:
        if self.ls is not None:
            for rec in self.active.values():
                if rec.request is not None:
                    ctx.reply(rec.request, Redirect(None))
        super()._release_clients(ctx)
        self.active, self.vote_to, self.proposed = {}, {}, {}

    def _append(self, ctx: Context, command: Command | None) -> None:
        """Append one entry as leader and send it (what Raft does for a client command)."""
        index = self.log.append(Entry(self.current_term, command))
        self._save_log_from(ctx, index)
        if self.majority == 1:
            self._advance_commit_index(ctx)
        for p in self.peers:
            if self.ls.next_index[p] == index:
                self._send_append_entries(ctx, p)

    def _propose(self, ctx: Context, kind: str, txid: str, value: Any) -> None:
        """Append a 2PC step once per term (a retry in the same term would only repeat it)."""
        if self.proposed.get((kind, txid)) == self.current_term:
            return
        self.proposed[(kind, txid)] = self.current_term
        self._append(ctx, Command(f"~{kind}:{txid}", 1, kind, txid, value))

    def _apply_committed(self, ctx: Context) -> None:
        super()._apply_committed(ctx)
        if self.sm.installed:
            for k, v, version in self.sm.installed:  # the store's own order of writes, for the
                record_version(ctx, k, v, (version,))  # session-guarantee checks
            self.sm.installed = []
        touched = self.sm.touched
        if touched:
            self.sm.touched = []
            if self.role == LEADER:
                for txid in dict.fromkeys(touched):
                    self._react(ctx, txid)

    def _react(self, ctx: Context, txid: str) -> None:
        """A leader's follow-up once an entry about ``txid`` is applied."""
        sm = self.sm
        decision = sm.decisions.get(txid)
        rec = self.active.get(txid)
        if decision is not None and rec is not None:  # coordinator: the commit point has passed
            del self.active[txid]
            if rec.request is not None:
                ctx.reply(rec.request, Ok(rec.request.value) if decision == COMMIT else Fail("aborted"))
            for g, _ in rec.parts:
                ctx.broadcast(self.layout.groups[g], Decision(txid, decision))
        vote = sm.vote(txid)
        asker = self.vote_to.get(txid)
        if vote is not None and asker is not None:  # participant: the prepare entry is applied
            del self.vote_to[txid]
            ctx.send(asker, Vote(txid, self.group, vote))
        if txid in sm.prepared:
            self._ask_soon(ctx)

    # --- messages -----------------------------------------------------------------------

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        t = type(msg)
        if t is Prepare:
            self.handle_prepare(ctx, src, msg)
        elif t is Vote:
            self.handle_vote(ctx, src, msg)
        elif t is Decision:
            self.handle_decision(ctx, src, msg)
        elif t is DecisionRequest:
            self.handle_decision_request(ctx, src, msg)
        else:
            super().on_message(ctx, src, msg)  # Raft's own messages

    def handle_prepare(self, ctx: Context, src: str, m: Prepare) -> None:
        if self.role != LEADER:
            return  # the coordinator sends to every member; only the leader acts
        vote = self.sm.vote(m.txid)
        if vote is not None:  # applied already (a re-sent Prepare): repeat the vote
            ctx.send(src, Vote(m.txid, self.group, vote))
            return
        self.vote_to[m.txid] = src
        self._propose(ctx, PREPARE, m.txid, (m.writes, m.coordinator))
        if self.txn.variant == "early-vote":
            # the broken twin: promise before the promise is durable in the group
            free = all(self.sm.locks.get(k, m.txid) == m.txid for k, _ in m.writes)
            ctx.send(src, Vote(m.txid, self.group, free))

    def handle_vote(self, ctx: Context, src: str, m: Vote) -> None:
        rec = self.active.get(m.txid)
        if self.role != LEADER or rec is None or rec.deciding:
            return
        rec.votes[m.group] = m.yes
        if not m.yes:
            self._decide(ctx, rec, ABORT)
        elif all(rec.votes.get(g) for g, _ in rec.parts):
            self._decide(ctx, rec, COMMIT)

    def _decide(self, ctx: Context, rec: _Txn, outcome: str) -> None:
        rec.deciding = True
        self._propose(ctx, COORD_DECIDE, rec.txid, outcome)

    def handle_decision(self, ctx: Context, src: str, m: Decision) -> None:
        if self.role == LEADER and m.txid not in self.sm.outcomes:
            self._propose(ctx, DECIDE, m.txid, m.outcome)

    def handle_decision_request(self, ctx: Context, src: str, m: DecisionRequest) -> None:
        decision = self.sm.decisions.get(m.txid)
        if decision is not None:  # applied, so committed in this group: any replica may answer
            ctx.send(src, Decision(m.txid, decision))
        elif self.role == LEADER and m.txid not in self.active:
            # Presumed abort: this leader is not running the transaction, and no decision
            # for it is in the log.  Log an abort; if an old leader's commit entry is
            # committed after all, it comes first in the log and wins.
            self._propose(ctx, COORD_DECIDE, m.txid, ABORT)

    # --- clients ----------------------------------------------------------------------------

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        f = request.f
        if f in READS:
            target = self.layout.shard_of(request.key)
            writes: tuple = ()
        elif f in TXN_OPS:
            writes = tuple(request.value or ()) if f == "txn" else ((request.key, request.value),)
            if not writes:
                ctx.reply(request, Fail("an empty transaction"))
                return
            target = self.layout.shard_of(writes[0][0])  # the coordinator: the first key's group
        else:
            ctx.reply(request, Fail(f"sharded-txn runs read and txn (and write), not {f!r}"))
            return
        if target != self.group:
            members = self.layout.groups[target]
            ctx.reply(request, Redirect(members[request.attempt % len(members)]))
            return
        if self.role != LEADER:
            hint = self.leader_id
            if hint is None and len(self.cluster) > 1:
                hint = self.cluster[(self.cluster.index(self.id) + 1) % len(self.cluster)]
            ctx.reply(request, Redirect(hint))
            return
        if f in READS:
            super().on_client_request(ctx, request)  # through the log, as in lesson 07
            return
        self.start_transaction(ctx, request, writes)

    def start_transaction(self, ctx: Context, request: ClientRequest, writes: tuple) -> None:
        txid = f"{request.client}.{request.seq}"
        decision = self.sm.decisions.get(txid)
        if decision is not None:  # a retry of a decided transaction
            ctx.reply(request, Ok(request.value) if decision == COMMIT else Fail("aborted"))
            return
        rec = self.active.get(txid)
        if rec is not None:  # a retry of one we are running: answer this copy
            rec.request = request
            return
        rec = _Txn(txid, self.layout.split(writes), request, ctx.now + self.txn.vote_timeout)
        self.active[txid] = rec
        for g, part in rec.parts:
            ctx.broadcast(self.layout.groups[g], Prepare(txid, part, self.group))
        self._retry_soon(ctx)

    # --- timers ---------------------------------------------------------------------------------

    def _retry_soon(self, ctx: Context) -> None:
        if not self.retrying:
            self.retrying = True
            ctx.set_timer("txn-retry", self.txn.retry)

    def _ask_soon(self, ctx: Context) -> None:
        if not self.asking:
            self.asking = True
            ctx.set_timer("txn-ask", self.txn.ask_timeout)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "txn-retry":
            self.retrying = False
            self.on_retry(ctx)
        elif name == "txn-ask":
            self.asking = False
            self.on_ask(ctx)
        else:
            super().on_timer(ctx, name, payload)

    def on_retry(self, ctx: Context) -> None:
        """Coordinator leader: abort what timed out, re-send Prepare where votes are missing."""
        if self.role != LEADER:
            return
        for rec in list(self.active.values()):
            if rec.deciding:
                continue
            if ctx.now >= rec.deadline - 1e-9:
                self._decide(ctx, rec, ABORT)
                continue
            for g, part in rec.parts:
                if g not in rec.votes:
                    ctx.broadcast(self.layout.groups[g], Prepare(rec.txid, part, self.group))
        if any(not rec.deciding for rec in self.active.values()):
            self._retry_soon(ctx)

    def on_ask(self, ctx: Context) -> None:
        """Participant leader: ask the coordinator group about every transaction in doubt."""
        if self.role != LEADER or not self.sm.prepared:
            return
        for txid, (_, coordinator) in self.sm.prepared.items():
            ctx.broadcast(self.layout.groups[coordinator], DecisionRequest(txid, self.group))
        self._ask_soon(ctx)

    def __repr__(self) -> str:
        return f"ShardNode({self.id!r}, shard {self.group}, {self.role}, term={self.current_term})"


class SpareNode(Node):
    """A node that holds no shard (the plain-2pc variant): it only points clients the right way."""

    def __init__(self, node_id: str, cluster: tuple[str, ...], layout: Layout) -> None:
        super().__init__(node_id, cluster)
        self.layout = layout

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        key = request.value[0][0] if request.f == "txn" and request.value else request.key
        ctx.reply(request, Redirect(self.layout.groups[self.layout.shard_of(key)][0]))

    def replicas_of(self, key: Any) -> tuple[str, ...]:
        return self.layout.groups[self.layout.shard_of(key)]

    def state_view(self) -> dict[str, Any]:
        return {"role": "spare"}


# --- registration -----------------------------------------------------------------------------


def txn_config(options: Mapping[str, Any], variant: str = "correct") -> TxnConfig:
    o = {**DEFAULT_OPTIONS, **dict(options)}
    cfg = TxnConfig(float(o["vote_timeout"]), float(o["retry"]), float(o["ask_timeout"]), variant)
    if min(cfg.vote_timeout, cfg.retry, cfg.ask_timeout) <= 0:
        raise ValueError("sharded-txn needs vote_timeout, retry and ask_timeout > 0")
    if variant not in VARIANTS:
        raise ValueError(f"sharded-txn has no variant {variant!r} (variants: {', '.join(VARIANTS)})")
    return cfg


def make_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str = "correct") -> Node:
    o = {**DEFAULT_OPTIONS, **dict(options)}
    layout = Layout.build(tuple(cluster), int(o["shards"]), replicated=variant != "plain-2pc")
    if layout.group_of(node_id) is None:
        return SpareNode(node_id, cluster, layout)
    raft = RaftConfig.from_options({k: o[k] for k in ("election_min", "election_max", "heartbeat", "max_entries")})
    return ShardNode(node_id, cluster, layout, raft, txn_config(o, variant))


def _invariants(options: Mapping[str, Any], variant: str) -> list:
    from ._sharded_txn_invariants import invariants

    return invariants(options, variant)


def _replica_state(node: Node) -> Any:
    if isinstance(node, ShardNode):
        return tuple(sorted(node.sm.data.items(), key=lambda kv: repr(kv[0])))
    return ()


def _register_model() -> None:
    from ._sharded_txn_analysis import register_model

    register_model()


_register_model()

SPECS = [
    ProtocolSpec(
        name="sharded-txn",
        summary="the capstone: keys sharded over Raft groups, cross-shard transactions by 2PC between groups",
        make_node=make_node,
        variants=VARIANTS,
        invariants=_invariants,
        workload=WORKLOAD,
        options=DEFAULT_OPTIONS,
        default_nodes=9,
        min_nodes=1,
        history_model="txn-kv",
        replica_state=_replica_state,
    )
]
SPEC = SPECS[0]

"""Multi-Paxos: a replicated log, and a key-value service built on it.

One instance of Paxos per log *slot* would cost two round trips per command.
*Paxos Made Simple* section 3 shows how to pay phase 1 once: a *leader* runs
phase 1 for **all** slots from the first one it does not know to be chosen,
with one ballot.  While it stays leader it sends only phase 2 (``Accept``) for
each new command: one round trip per command, the *stable leader* case.

Election and recovery (section 3)
    A node that hears nothing from a leader for a randomized timeout becomes a
    *candidate*: it picks a higher ballot and sends ``Prepare(ballot,
    from_slot)``.  Each acceptor promises, for every slot at or after
    ``from_slot`` at once, and reports every value it has accepted there.  With
    a majority of promises the candidate becomes leader and first *recovers*
    the log: for each reported slot it re-proposes the value with the highest
    ballot (the single-decree rule, slot by slot) and fills any gap below the
    highest reported slot with a no-op, so that later commands never wait on a
    hole.  Then new commands go to fresh slots.

Learning and applying
    The leader learns a slot is chosen from a majority of ``Accepted`` and tells
    everyone (``Chosen``).  Heartbeats carry how far the leader's log is chosen,
    so a replica that missed something asks (``CatchUp``) and gets the chosen
    entries.  Every replica applies chosen commands in slot order to its own
    copy of the key-value map: the same commands in the same order give the same
    state -- state-machine replication.

The service
    Clients send ``read``, ``write`` and ``cas`` (compare-and-set, value
    ``(expected, new)``; it fails when the key does not hold ``expected``) to
    the leader; others redirect them.  Reads go through the log too, so every
    answer reflects a prefix of the chosen log, and the history is linearizable
    (checked by :func:`consensus_lab.checkers.check_linearizable` with the ``kv``
    model).  A client that retries sends the same ``(client, seq)``; the state
    machine applies each operation at most once and remembers its answer.

Invariants (after every event): *one value per slot* (no two values chosen for
a slot), *replicas learn only chosen commands* (and never change a learned
slot), and *chosen commands were requested* by a client.

Broken twins (``variant=``), each a one-line change:

``no-recovery``       a new leader ignores the accepted values the promises
                      report and proposes its own commands in those slots.
``minority-commit``   the leader counts a slot chosen after a single ``Accepted``.
``local-read``        the leader answers reads from its own copy without the log;
                      a deposed or lagging leader returns stale values (the
                      linearizability checker catches it, not the invariants).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..sim import (
    ClientRequest,
    Context,
    Fail,
    Latency,
    NetworkConfig,
    Node,
    Ok,
    ProtocolSpec,
    Redirect,
    Scenario,
    Workload,
)
from ._ballot import ZERO, Ballot, Loopback, majority, message_log
from ._multipaxos_invariants import INVARIANT_NAMES, invariants

__all__ = [
    "Command", "NOOP", "Prepare", "Promise", "Accept", "Accepted", "Nack", "Chosen",
    "Heartbeat", "CatchUp", "Entries", "MultiPaxosNode", "INVARIANT_NAMES", "invariants",
    "message_log", "STORIES", "TWINS", "random_scenario", "SPEC", "SPECS",
]


class Command(NamedTuple):
    """One client operation, as it sits in a log slot (a named tuple: plain, immutable data)."""

    client: str
    seq: int
    f: str
    key: Any = None
    value: Any = None

    def __str__(self) -> str:
        return "noop" if self.f == "noop" else f"{self.client}#{self.seq} {self.f} {self.key} {self.value!r}"


#: what a new leader puts in a hole of the log
NOOP = Command("", 0, "noop")

# --- messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a for every slot from ``from_slot`` on."""

    ballot: Ballot
    from_slot: int


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b: the promise, with ``(slot, ballot, command)`` for each accepted slot >= from_slot."""

    ballot: Ballot
    entries: tuple[tuple[int, Ballot, Command], ...] = ()


@dataclass(frozen=True, slots=True)
class Accept:
    ballot: Ballot
    slot: int
    command: Command


@dataclass(frozen=True, slots=True)
class Accepted:
    ballot: Ballot
    slot: int


@dataclass(frozen=True, slots=True)
class Nack:
    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Chosen:
    """The leader's news: ``command`` is chosen in ``slot``."""

    slot: int
    command: Command


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """"I lead with ``ballot``; my log is chosen up to (not including) ``chosen_upto``"."""

    ballot: Ballot
    chosen_upto: int


@dataclass(frozen=True, slots=True)
class CatchUp:
    """"Send me the chosen entries from ``from_slot`` on"."""

    from_slot: int


@dataclass(frozen=True, slots=True)
class Entries:
    entries: tuple[tuple[int, Command], ...]


DEFAULTS: dict[str, Any] = {
    "heartbeat": 0.05,  # leader: heartbeat and re-send interval
    "election_timeout": 0.2,  # follower: start an election after [T, 2T] of silence
}
_CATCHUP_BATCH = 64
_KV_OPS = ("read", "write", "cas")


@dataclass(frozen=True, slots=True)
class Config:
    heartbeat: float = 0.05
    election_timeout: float = 0.2

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Config:
        o = {**DEFAULTS, **options}
        return cls(float(o["heartbeat"]), float(o["election_timeout"]))


@dataclass
class _Leadership:
    """Volatile state of a leader (or candidate) for its current ballot."""

    ballot: Ballot
    from_slot: int
    promises: dict[str, tuple] = field(default_factory=dict)
    next_slot: int = 0
    inflight: dict[int, Command] = field(default_factory=dict)
    acks: dict[int, list[str]] = field(default_factory=dict)
    proposed: dict[tuple[str, int], int] = field(default_factory=dict)


class MultiPaxosNode(Loopback, Node):
    """Every node is acceptor, learner and replica; one at a time leads.

    Durable storage: ``promised``, ``round``, ``acc:SLOT = (ballot, command)``
    and ``chosen:SLOT = command``.  The key-value map and the client sessions
    are rebuilt by re-applying the chosen log.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...], config: Config, variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.config = config
        self.variant = variant
        self.quorum = majority(len(cluster))
        self.promised: Ballot = ZERO
        self.round = 0
        self.accepted: dict[int, tuple[Ballot, Command]] = {}
        self.chosen: dict[int, Command] = {}
        self.applied = 0  # slots below this are chosen and applied
        self.kv: dict[Any, Any] = {}
        self.sessions: dict[str, tuple[int, Any]] = {}  # client -> (seq, result)
        self.role = "follower"  # follower, candidate, leader
        self.lead: _Leadership | None = None
        self.leader_hint: str | None = None
        self.pending: dict[tuple[str, int], ClientRequest] = {}
        self._local: list[Any] = []

    # --- read-only views ------------------------------------------------------------------
    def decided(self, slot: int) -> Command | None:
        return self.chosen.get(slot)

    def log(self) -> list[Command]:
        """The chosen prefix of the log, in slot order."""
        return [self.chosen[s] for s in range(self.applied)]

    @property
    def is_leader(self) -> bool:
        return self.role == "leader"

    def state_view(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "ballot": str(self.lead.ballot) if self.lead else None,
            "promised": str(self.promised),
            "chosen_upto": self.applied,
            "log": [str(c) for c in self.log()[-5:]],
            "kv": dict(sorted(self.kv.items(), key=repr)),
        }

    # --- boot -------------------------------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        fresh = not len(ctx.storage)
        self.promised = ctx.storage.get("promised", ZERO)
        self.round = ctx.storage.get("round", 0)
        for key in sorted(ctx.storage):
            kind, _, slot = key.partition(":")
            if kind == "acc":
                self.accepted[int(slot)] = ctx.storage[key]
            elif kind == "chosen":
                self.chosen[int(slot)] = ctx.storage[key]
        self._apply(ctx)
        first = fresh and self.id == self.cluster[0]  # n1 stands first, to start quickly
        self._arm_election(ctx, 0.001 if first else None)

    def _arm_election(self, ctx: Context, delay: float | None = None) -> None:
        t = self.config.election_timeout
        ctx.set_timer("election", delay if delay is not None else t + ctx.rng.random() * t)

    # --- dispatch -----------------------------------------------------------------------------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        self._dispatch(ctx, src, msg)
        self._drain(ctx)

    def _dispatch(self, ctx: Context, src: str, msg: Any) -> None:
        t = type(msg)
        if t is Accept:
            self.on_accept(ctx, src, msg)
        elif t is Accepted:
            self.on_accepted(ctx, src, msg)
        elif t is Heartbeat:
            self.on_heartbeat(ctx, src, msg)
        elif t is Chosen:
            self._learn(ctx, msg.slot, msg.command)
        elif t is Prepare:
            self.on_prepare(ctx, src, msg)
        elif t is Promise:
            self.on_promise(ctx, src, msg)
        elif t is Nack:
            self._step_down(ctx, msg.promised)
        elif t is CatchUp:
            entries = []
            for s in range(msg.from_slot, min(self.applied, msg.from_slot + _CATCHUP_BATCH)):
                entries.append((s, self.chosen[s]))
            if entries:
                ctx.send(src, Entries(tuple(entries)))
        elif t is Entries:
            for slot, command in msg.entries:
                self._learn(ctx, slot, command)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "election" and self.role != "leader":
            self.start_election(ctx)
        elif name == "heartbeat" and self.role == "leader":
            self.on_heartbeat_timer(ctx)
        self._drain(ctx)

    # --- acceptor -------------------------------------------------------------------------------
    def _promise(self, ctx: Context, ballot: Ballot) -> None:
        if ballot > self.promised:
            self.promised = ballot
            ctx.storage["promised"] = ballot
            if self.lead is not None and ballot > self.lead.ballot:
                self._step_down(ctx, ballot)

    def on_prepare(self, ctx: Context, src: str, msg: Prepare) -> None:
        if msg.ballot < self.promised:
            self._send(ctx, src, Nack(msg.ballot, self.promised))
            return
        self._promise(ctx, msg.ballot)
        if src != self.id:
            self._arm_election(ctx)  # give the candidate time to win
        entries = tuple((s, b, c) for s, (b, c) in sorted(self.accepted.items()) if s >= msg.from_slot)
        self._send(ctx, src, Promise(msg.ballot, entries))

    def on_accept(self, ctx: Context, src: str, msg: Accept) -> None:
        if msg.ballot < self.promised:
            self._send(ctx, src, Nack(msg.ballot, self.promised))
            return
        self._promise(ctx, msg.ballot)
        if src != self.id:
            self.leader_hint = src
            self._arm_election(ctx)
        self.accepted[msg.slot] = (msg.ballot, msg.command)
        ctx.storage[f"acc:{msg.slot}"] = (msg.ballot, msg.command)
        self._send(ctx, src, Accepted(msg.ballot, msg.slot))

    def on_heartbeat(self, ctx: Context, src: str, msg: Heartbeat) -> None:
        if msg.ballot < self.promised:
            ctx.send(src, Nack(msg.ballot, self.promised))  # a deposed leader: tell it
            return
        self._promise(ctx, msg.ballot)
        self.leader_hint = src
        self._arm_election(ctx)
        if self.applied < msg.chosen_upto:
            ctx.send(src, CatchUp(self.applied))

    # --- learner and replica -----------------------------------------------------------------------
    def _learn(self, ctx: Context, slot: int, command: Command) -> None:
        if slot in self.chosen:
            return
        self.chosen[slot] = command
        ctx.storage[f"chosen:{slot}"] = command
        self._apply(ctx)

    def _apply(self, ctx: Context) -> None:
        while self.applied in self.chosen:
            cmd = self.chosen[self.applied]
            self.applied += 1
            if cmd.f == "noop":
                continue
            last = self.sessions.get(cmd.client)
            if last is not None and cmd.seq <= last[0]:
                continue  # a retried operation chosen twice: apply it once
            result = self.execute(cmd)
            self.sessions[cmd.client] = (cmd.seq, result)
            req = self.pending.pop((cmd.client, cmd.seq), None)
            if req is not None:
                ctx.reply(req, result)

    def execute(self, cmd: Command) -> Ok | Fail:
        """The state machine: one command on the key-value map."""
        if cmd.f == "read":
            return Ok(self.kv.get(cmd.key))
        if cmd.f == "write":
            self.kv[cmd.key] = cmd.value
            return Ok(cmd.value)
        expected, new = cmd.value
        current = self.kv.get(cmd.key)
        if current != expected:
            return Fail(f"cas on {cmd.key}: expected {expected!r}, found {current!r}")
        self.kv[cmd.key] = new
        return Ok(cmd.value)

    # --- clients ----------------------------------------------------------------------------------
    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        if request.f not in _KV_OPS:
            ctx.reply(request, Fail(f"the key-value service offers {', '.join(_KV_OPS)}, not {request.f!r}"))
            return
        last = self.sessions.get(request.client)
        if last is not None and request.seq <= last[0]:
            if request.seq == last[0]:
                ctx.reply(request, last[1])  # already applied: the remembered answer
            return
        lead = self.lead
        if self.role != "leader" or lead is None:
            hint = self.leader_hint if self.leader_hint != self.id else None
            ctx.reply(request, Redirect(hint))
            return
        if request.f == "read" and self.variant == "local-read":
            ctx.reply(request, Ok(self.kv.get(request.key)))  # the bug: no trip through the log
            return
        op = (request.client, request.seq)
        self.pending[op] = request
        if op not in lead.proposed:
            self.propose(ctx, Command(request.client, request.seq, request.f, request.key, request.value))
        self._drain(ctx)

    # --- leader ------------------------------------------------------------------------------------
    def start_election(self, ctx: Context) -> None:
        """Phase 1a for all slots from the first one not known chosen."""
        self.round = max(self.round, self.promised.round) + 1
        ctx.storage["round"] = self.round
        self.role = "candidate"
        self.lead = _Leadership(Ballot(self.round, self.id), self.applied)
        self._arm_election(ctx)
        self._broadcast(ctx, Prepare(self.lead.ballot, self.applied))

    def on_promise(self, ctx: Context, src: str, msg: Promise) -> None:
        lead = self.lead
        if self.role != "candidate" or lead is None or msg.ballot != lead.ballot:
            return
        lead.promises[src] = msg.entries
        if len(lead.promises) >= self.quorum:
            self.become_leader(ctx)

    def become_leader(self, ctx: Context) -> None:
        """Recover the log: re-propose the highest-ballot value of every reported slot."""
        lead = self.lead
        assert lead is not None
        best: dict[int, tuple[Ballot, Command]] = {}
        for entries in lead.promises.values():
            for slot, ballot, command in entries:
                if slot not in best or ballot > best[slot][0]:
                    best[slot] = (ballot, command)
        if self.variant == "no-recovery":
            best = {}  # the bug: what the acceptors accepted is forgotten
        top = max([*best, *self.chosen, lead.from_slot - 1])
        self.role = "leader"
        self.leader_hint = self.id
        lead.next_slot = top + 1
        ctx.cancel_timer("election")
        for slot in range(lead.from_slot, top + 1):
            if slot not in self.chosen:
                self._accept_in(ctx, slot, best[slot][1] if slot in best else NOOP)
        self.on_heartbeat_timer(ctx, resend=False)

    def propose(self, ctx: Context, command: Command) -> None:
        """Phase 2 only: the stable leader puts a command in the next free slot."""
        lead = self.lead
        assert lead is not None
        slot = lead.next_slot
        lead.next_slot += 1
        self._accept_in(ctx, slot, command)

    def _accept_in(self, ctx: Context, slot: int, command: Command) -> None:
        lead = self.lead
        assert lead is not None
        lead.inflight[slot] = command
        lead.acks[slot] = []
        if command.f != "noop":
            lead.proposed[(command.client, command.seq)] = slot
        self._broadcast(ctx, Accept(lead.ballot, slot, command))

    def on_accepted(self, ctx: Context, src: str, msg: Accepted) -> None:
        lead = self.lead
        if self.role != "leader" or lead is None or msg.ballot != lead.ballot or msg.slot not in lead.inflight:
            return
        acks = lead.acks[msg.slot]
        if src not in acks:
            acks.append(src)
        needed = 1 if self.variant == "minority-commit" else self.quorum
        if len(acks) >= needed:
            command = lead.inflight.pop(msg.slot)
            del lead.acks[msg.slot]
            self._learn(ctx, msg.slot, command)
            for p in self.peers:
                ctx.send(p, Chosen(msg.slot, command))

    def on_heartbeat_timer(self, ctx: Context, resend: bool = True) -> None:
        lead = self.lead
        assert lead is not None
        for p in self.peers:
            ctx.send(p, Heartbeat(lead.ballot, self.applied))
        for slot, command in lead.inflight.items() if resend else ():  # re-send what is not yet chosen
            for p in self.peers:
                if p not in lead.acks[slot]:
                    ctx.send(p, Accept(lead.ballot, slot, command))
        ctx.set_timer("heartbeat", self.config.heartbeat)

    def _step_down(self, ctx: Context, higher: Ballot) -> None:
        if self.lead is None or higher <= self.lead.ballot:
            return
        self.role = "follower"
        self.lead = None
        self.leader_hint = higher.proposer or None
        ctx.cancel_timer("heartbeat")
        self._arm_election(ctx)


# --- registration and stories --------------------------------------------------------------------


def make_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> Node:
    return MultiPaxosNode(node_id, cluster, Config.from_options(options), variant)


VARIANTS = {
    "correct": "Multi-Paxos with a stable leader, log recovery on leader change, reads through the log",
    "no-recovery": "a new leader ignores the accepted values its promises report",
    "minority-commit": "the leader counts a slot chosen after one Accepted",
    "local-read": "the leader answers reads from its own copy, not through the log",
}

WORKLOAD = Workload(
    clients=3, keys=("x", "y"), mix=(("read", 0.4), ("write", 0.4), ("cas", 0.2)),
    think=0.05, timeout=0.3, deadline=1.5,
)

SPECS = [
    ProtocolSpec(
        name="multi-paxos",
        summary="Multi-Paxos: a replicated log with a stable leader, and a key-value service on it",
        make_node=make_node,
        variants=VARIANTS,
        invariants=invariants,
        workload=WORKLOAD,
        options=DEFAULTS,
        default_nodes=3,
        min_nodes=1,
        history_model="kv",
        replica_state=lambda node: tuple(sorted(node.kv.items(), key=repr)),
    )
]
SPEC = SPECS[0]

_NET = NetworkConfig(latency=Latency.constant(0.01))


def _story(nemesis: str = "none", duration: float = 1.0, nodes: int = 3, **kw: Any) -> Scenario:
    workload = kw.pop("workload", Workload(clients=2, keys=("x",), mix=(("write", 0.6), ("read", 0.4)), think=0.05, timeout=0.3, deadline=1.5))
    return Scenario(protocol=SPEC.name, nodes=nodes, seed=1, duration=duration, network=kw.pop("network", _NET),
                    workload=workload, nemesis=nemesis, **kw)


#: Multi-Paxos stories (n1 is the first leader).
STORIES: dict[str, Scenario] = {
    "stable-leader": _story(duration=0.6),
    "leader-change": _story("0.3 crash n1; 1.2 restart n1", duration=1.6),
    "partitioned-leader": _story("0.3 partition n1|n2,n3; 1.0 heal", duration=1.6),
    "random-nemesis": _story("random", duration=3.0, nodes=5, network=NetworkConfig(loss=0.05),
                             workload=WORKLOAD),
}


def random_scenario(seed: int, variant: str = "correct") -> Scenario:
    """One seeded random fault schedule (the batteries, the twin hunts, the linearizability tests)."""
    rng = random.Random(f"multipaxos-battery:{seed}")
    latency = rng.choice((Latency.exponential(0.012, 0.002), Latency.uniform(0.005, 0.02)))
    network = NetworkConfig(latency=latency, loss=rng.choice((0.0, 0.05, 0.1)), duplicate=rng.choice((0.0, 0.05)))
    return Scenario(
        protocol=SPEC.name, nodes=rng.choice((3, 3, 5)), seed=seed, duration=1.0, network=network,
        nemesis=rng.choice(("random", "random", "crash", "partition")),
        nemesis_interval=round(rng.uniform(0.2, 0.4), 3), variant=variant,
    )


#: Each broken twin caught in the act (scripted, or a seed kept from the hunts over
#: random_scenario); with ``variant="correct"`` each of these runs is safe.
TWINS: dict[str, Scenario] = {
    # n1 is cut off while Accepted replies are in flight: a slot is chosen that no
    # replica has learned; the new leader n2 does not recover it and reuses the slot
    "no-recovery": _story("0.305 partition n1|n2,n3; 1.0 heal", duration=1.6).replace(variant="no-recovery"),
    # the leader learns a slot from its own acceptor's Accepted alone
    "minority-commit": STORIES["stable-leader"].replace(variant="minority-commit"),
    # a deposed leader still answers reads from its own copy
    "local-read": random_scenario(6, "local-read"),
}

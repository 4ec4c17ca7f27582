"""Single-decree Paxos: nodes that may crash agree on one value, exactly.

Roles, as in Lamport's *Paxos Made Simple* (2001): *proposers* suggest values,
*acceptors* vote on them, *learners* find out what was chosen.  Here every node
is an acceptor and a learner; the first ``proposers`` nodes are also proposers.
A value is **chosen** when a majority of acceptors have accepted it in the same
ballot.  Safety (section 2.1): only a proposed value may be chosen, only one
value is chosen, and a process never learns a value unless it was chosen.

Ballots are pairs ``(round, proposer id)`` (:class:`~._ballot.Ballot`), so any
two are ordered and no two proposers share one (section 2.2).

Phase 1 (section 2.2, "prepare")
    (a) A proposer picks a ballot ``b`` higher than any it has used or seen,
        writes its round to durable storage, and sends ``Prepare(b)`` to every
        acceptor.
    (b) An acceptor that has not promised a higher ballot promises ``b``:
        it writes ``promised = b`` to durable storage, then answers
        ``Promise(b, accepted)`` with the ballot and value it last accepted (if
        any).  Otherwise it answers ``Nack`` with the ballot it did promise.

Phase 2 ("accept")
    (a) With promises from a majority, the proposer proposes the value of the
        highest-ballot acceptance among them -- or, if none of them accepted
        anything, its own value -- in ``Accept(b, v)``.  This rule is what makes
        a chosen value stick: any majority overlaps the majority that chose it.
    (b) An acceptor that has not promised a higher ballot accepts: it writes
        ``accepted = (b, v)`` durably and tells every learner ``Accepted(b, v)``.

Learning (section 2.3)
    A learner that has ``Accepted(b, v)`` from a majority for the same ``b``
    learns ``v``.

Progress (section 2.4)
    Two proposers can *duel* for ever, each one's prepare spoiling the other's
    accept.  Lamport's remedy is to elect a distinguished proposer; the simpler
    one used here is *randomized backoff*: after a rejection a proposer waits a
    random, growing time before its next ballot (``backoff=False`` turns it off,
    and ``STORIES['duelling-livelock']`` shows the livelock).

Each node answers itself without the network (its own acceptor is in-process),
so a space-time diagram shows only messages between different nodes.

The broken twins (``variant=``), each a one-line change:

``forget-promise``     an acceptor does not keep its promise on durable storage:
                       after a restart it accepts a ballot lower than it promised.
``ignore-accepted``    a proposer always proposes its own value, ignoring the
                       values the promises report (phase 2a).
``first-promise``      a proposer takes the value of the *first* promise that
                       reports one, not of the highest ballot.
``minority-learner``   a learner learns from a single ``Accepted``.
``article``            the course's source article's sketch on this node contract:
                       the first promise and the first ``Accepted`` are enough, a
                       proposer proposes its own value, ballots are bare rounds
                       shared by all proposers and a failed round is retried with
                       the same number (the sketch decrements its term), and
                       nothing is written to durable storage.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..sim import (
    ClientRequest,
    Context,
    Invariant,
    Latency,
    NetworkConfig,
    Node,
    Ok,
    ProtocolSpec,
    Redirect,
    Scenario,
    Workload,
    World,
    goal,
)
from ._ballot import ZERO, Ballot, Loopback, Watch, majority, message_log, observed_invariants

__all__ = [
    "Ballot", "Prepare", "Promise", "Accept", "Accepted", "Nack", "PaxosNode", "Config",
    "auto_value", "ballots_tried", "message_log", "STORIES", "TWINS", "random_scenario", "SPEC",
    "SPECS",
]

# --- messages (named as in Paxos Made Simple) --------------------------------------


@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a: "promise me not to accept anything below ``ballot``"."""

    ballot: Ballot


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b: the promise, with what this acceptor last accepted (if anything)."""

    ballot: Ballot
    accepted_ballot: Ballot | None = None
    accepted_value: Any = None


@dataclass(frozen=True, slots=True)
class Accept:
    """Phase 2a: "accept ``value`` in ``ballot``"."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phase 2b, sent to every learner: "I accepted ``value`` in ``ballot``"."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Nack:
    """A rejection: "I promised ``promised``, which is higher than ``ballot``"."""

    ballot: Ballot
    promised: Ballot


DEFAULTS: dict[str, Any] = {
    "proposers": 2,  # the first k nodes are proposers
    "backoff": True,  # randomized backoff after a rejection
    "backoff_base": 0.02,  # seconds; the wait is uniform in [0, base * 2**attempts]
    "retry": 0.1,  # a ballot that has not finished by then is retried
    "propose_at": 0.0,  # >= 0: every proposer proposes its own value at this time (a duel at once); -1: only clients
    "stagger": 0.0,  # ... the i-th proposer (from 0) at propose_at + i * stagger
}


@dataclass(frozen=True, slots=True)
class Config:
    proposers: tuple[str, ...]
    backoff: bool = True
    backoff_base: float = 0.02
    retry: float = 0.1
    propose_at: float = -1.0
    stagger: float = 0.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any], cluster: tuple[str, ...]) -> Config:
        o = {**DEFAULTS, **options}
        k = max(1, min(int(o["proposers"]), len(cluster)))
        return cls(
            tuple(cluster[:k]), bool(o["backoff"]), float(o["backoff_base"]), float(o["retry"]),
            float(o["propose_at"]), float(o["stagger"]),
        )


def auto_value(node_id: str) -> str:
    """The value a proposer proposes on its own (``propose_at``): ``'v-n1'`` for n1."""
    return f"v-{node_id}"


class PaxosNode(Loopback, Node):
    """A Paxos node: acceptor and learner, and a proposer if it is one of the first ``proposers``.

    Durable storage: ``promised`` and ``accepted`` (the acceptor's whole
    memory), ``round`` (the highest round this proposer has used, so it never
    reuses a ballot) and ``learned``.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...], config: Config, variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.config = config
        self.variant = variant
        self.is_proposer = node_id in config.proposers
        self.quorum = majority(len(cluster))
        # acceptor
        self.promised: Ballot = ZERO
        self.accepted: tuple[Ballot, Any] | None = None
        # learner
        self.learned: Any = None
        self.has_learned = False
        self.accepts: dict[Ballot, list[str]] = {}
        # proposer
        self.round = 0
        self.ballot: Ballot | None = None
        self.phase = "idle"  # idle, preparing, accepting, backoff, done
        self.value: Any = None
        self.promises: dict[str, tuple[Ballot, Any] | None] = {}
        self.highest_seen: Ballot = ZERO
        self.attempts = 0
        self.requests: list[ClientRequest] = []
        self._local: list[Any] = []  # messages to itself, handled before the handler returns

    # --- read-only views ---------------------------------------------------------
    @property
    def decided(self) -> Any:
        """The value this node has learned, or None."""
        return self.learned if self.has_learned else None

    @property
    def proposal(self) -> Any:
        """The value this proposer is trying to get chosen (None if it is not trying)."""
        return self.value

    def state_view(self) -> dict[str, Any]:
        acc = self.accepted
        view: dict[str, Any] = {
            "promised": str(self.promised),
            "accepted": f"{acc[1]!r} in {acc[0]}" if acc else None,
            "learned": self.learned if self.has_learned else None,
        }
        if self.is_proposer:
            view.update({"ballot": str(self.ballot) if self.ballot else None, "phase": self.phase, "value": self.value})
        return view

    # --- boot and recovery ---------------------------------------------------------
    def on_start(self, ctx: Context) -> None:
        self.accepted = ctx.storage.get("accepted")
        self.promised = ctx.storage.get("promised", ZERO)
        if self.accepted is not None:
            self.promised = max(self.promised, self.accepted[0])
        self.round = ctx.storage.get("round", 0)
        if "learned" in ctx.storage:
            self.learned, self.has_learned = ctx.storage["learned"], True
            self.phase = "done"
        if self.is_proposer and self.config.propose_at >= 0 and not self.has_learned:
            at = self.config.propose_at + self.config.proposers.index(self.id) * self.config.stagger
            ctx.set_timer("propose", max(0.0, at - ctx.now))

    # --- every handler ends by handling the messages sent to itself (Loopback) ---------
    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        self._dispatch(ctx, src, msg)
        self._drain(ctx)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name == "propose" and self.value is None and not self.has_learned:
            self.value = auto_value(self.id)
            self.start_ballot(ctx)
        elif name == "retry" and self.phase in ("preparing", "accepting", "backoff"):
            self.start_ballot(ctx)
        self._drain(ctx)

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        if self.has_learned:
            ctx.reply(request, Ok(self.learned))
        elif not self.is_proposer:
            proposers = self.config.proposers
            ctx.reply(request, Redirect(proposers[ctx.rng.randrange(len(proposers))]))
        else:
            self.requests = [r for r in self.requests if r.client != request.client] + [request]
            if self.value is None:
                self.value = request.value
            if self.phase == "idle":
                self.start_ballot(ctx)
        self._drain(ctx)

    def _dispatch(self, ctx: Context, src: str, msg: Any) -> None:
        t = type(msg)
        if t is Prepare:
            self.on_prepare(ctx, src, msg)
        elif t is Accept:
            self.on_accept(ctx, src, msg)
        elif t is Accepted:
            self.on_accepted(ctx, src, msg)
        elif t is Promise:
            self.on_promise(ctx, src, msg)
        elif t is Nack:
            self.on_nack(ctx, src, msg)

    # --- acceptor ----------------------------------------------------------------------
    def on_prepare(self, ctx: Context, src: str, msg: Prepare) -> None:
        """Phase 1b: promise, durably, unless a higher ballot was promised."""
        if msg.ballot < self.promised:
            self._send(ctx, src, Nack(msg.ballot, self.promised))
            return
        if msg.ballot > self.promised:
            self.promised = msg.ballot
            if self.variant not in ("forget-promise", "article"):
                ctx.storage["promised"] = msg.ballot
            if src != self.id:  # our own acceptor just saw a rival's higher ballot
                self.preempted(ctx, msg.ballot)
        acc = self.accepted
        self._send(ctx, src, Promise(msg.ballot, acc[0], acc[1]) if acc else Promise(msg.ballot))

    def on_accept(self, ctx: Context, src: str, msg: Accept) -> None:
        """Phase 2b: accept, durably, unless a higher ballot was promised."""
        if msg.ballot < self.promised:
            self._send(ctx, src, Nack(msg.ballot, self.promised))
            return
        self.promised = msg.ballot
        self.accepted = (msg.ballot, msg.value)
        if self.variant != "article":  # the article's sketch keeps nothing durable
            if self.variant != "forget-promise":
                ctx.storage["promised"] = msg.ballot
            ctx.storage["accepted"] = self.accepted
        self._broadcast(ctx, Accepted(msg.ballot, msg.value))

    # --- learner -------------------------------------------------------------------------
    def on_accepted(self, ctx: Context, src: str, msg: Accepted) -> None:
        """Learn a value once a majority accepted it in the same ballot."""
        if self.has_learned:
            return
        votes = self.accepts.setdefault(msg.ballot, [])
        if src not in votes:
            votes.append(src)
        needed = 1 if self.variant in ("minority-learner", "article") else self.quorum
        if len(votes) >= needed:
            self.learned, self.has_learned = msg.value, True
            if self.variant != "article":
                ctx.storage["learned"] = msg.value
            self.phase = "done"
            ctx.cancel_timer("retry")
            for r in self.requests:
                ctx.reply(r, Ok(msg.value))
            self.requests = []

    # --- proposer --------------------------------------------------------------------------
    def start_ballot(self, ctx: Context) -> None:
        """Phase 1a: a fresh ballot above anything used or seen, made durable first."""
        self.attempts += 1
        if self.variant == "article":  # term += 1, and -= 1 after a failed round: the same bare number again
            self.round = self.round if self.ballot is not None else self.round + 1
            self.ballot = Ballot(self.round, "")
        else:
            self.round = max(self.round, self.highest_seen.round, self.promised.round) + 1
            ctx.storage["round"] = self.round
            self.ballot = Ballot(self.round, self.id)
        self.phase = "preparing"
        self.promises = {}
        ctx.set_timer("retry", self.config.retry)
        self._broadcast(ctx, Prepare(self.ballot))

    def on_promise(self, ctx: Context, src: str, msg: Promise) -> None:
        if self.phase != "preparing" or msg.ballot != self.ballot:
            return
        self.promises[src] = (msg.accepted_ballot, msg.accepted_value) if msg.accepted_ballot is not None else None
        if len(self.promises) < (1 if self.variant == "article" else self.quorum):
            return
        value = self.choose_value()
        self.phase = "accepting"
        self._broadcast(ctx, Accept(self.ballot, value))

    def choose_value(self) -> Any:
        """Phase 2a's rule: the value of the highest-ballot acceptance reported, else our own."""
        reported = [p for p in self.promises.values() if p is not None]
        if not reported or self.variant in ("ignore-accepted", "article"):
            return self.value
        if self.variant == "first-promise":
            return reported[0][1]
        return max(reported, key=lambda p: p[0])[1]

    def on_nack(self, ctx: Context, src: str, msg: Nack) -> None:
        if msg.ballot == self.ballot:
            self.preempted(ctx, msg.promised)

    def preempted(self, ctx: Context, higher: Ballot) -> None:
        """Someone runs a higher ballot: give up this one and try again above it."""
        if self.phase not in ("preparing", "accepting") or self.ballot is None or higher <= self.ballot:
            return
        self.highest_seen = max(self.highest_seen, higher)
        if not self.config.backoff:
            self.start_ballot(ctx)  # at once: two proposers can spoil each other for ever
            return
        self.phase = "backoff"
        wait = ctx.rng.uniform(0.0, self.config.backoff_base * 2 ** min(self.attempts, 6))
        ctx.set_timer("retry", wait)


# --- invariants -----------------------------------------------------------------------------


class _Observer:
    """Everything the invariants need, updated from the nodes' views after each event."""

    def __init__(self) -> None:
        self.watch = Watch(lambda n: (n.accepted, n.has_learned, n.proposal))
        self.votes: dict[Ballot, list[str]] = {}  # ballot -> acceptors that accepted in it
        self.value_of: dict[Ballot, Any] = {}
        self.last: dict[str, tuple[Ballot, Any] | None] = {}
        self.chosen: dict[Any, tuple[Ballot, float]] = {}  # value -> (first ballot, time)
        self.learned: dict[str, Any] = {}
        self.proposed: set[Any] = set()
        self.history_seen = 0
        self.problems: dict[str, str] = {}

    def update(self, world: World) -> None:
        hist = world.history
        for op in hist[self.history_seen:]:
            if op.type == "invoke" and op.f == "propose":
                self.proposed.add(op.value)
        self.history_seen = len(hist)
        quorum = majority(len(world.nodes))
        for nid, node in self.watch.changed(world):
            if node.proposal is not None:
                self.proposed.add(node.proposal)
            acc = node.accepted
            if acc is not None and acc != self.last.get(nid):
                self.last[nid] = acc
                b, v = acc
                if self.value_of.setdefault(b, v) != v:
                    self._problem("at most one value is chosen", f"ballot {b} carries two values")
                voters = self.votes.setdefault(b, [])
                if nid not in voters:
                    voters.append(nid)
                    if len(voters) == quorum:
                        self._chosen(v, b, voters, world.now)
        for nid, node in world.nodes.items():
            if node is not None and node.has_learned and nid not in self.learned:
                self.learned[nid] = node.learned
                if node.learned not in self.chosen:
                    self._problem("only a chosen value is learned", f"{nid} learned {node.learned!r}, which is not chosen")
            elif node is not None and node.has_learned and node.learned != self.learned[nid]:
                self._problem("a learner never learns two values", f"{nid} learned {self.learned[nid]!r}, then {node.learned!r}")

    def _chosen(self, value: Any, ballot: Ballot, voters: list[str], now: float) -> None:
        if value not in self.proposed:
            self._problem("a chosen value was proposed", f"{value!r} is chosen in {ballot} but nobody proposed it")
        for other, (b, _) in self.chosen.items():
            if other != value:
                self._problem(
                    "at most one value is chosen",
                    f"{other!r} was chosen in ballot {b}, then {value!r} in {ballot} (by {', '.join(sorted(voters))})",
                )
        self.chosen.setdefault(value, (ballot, now))

    def _problem(self, name: str, text: str) -> None:
        self.problems.setdefault(name, text)


INVARIANT_NAMES = (
    "at most one value is chosen",
    "a chosen value was proposed",
    "a learner never learns two values",
    "only a chosen value is learned",
)


def invariants(options: Mapping[str, Any] | None = None, variant: str = "correct") -> list[Invariant]:
    """Fresh invariants for one run (Paxos Made Simple's safety requirements), and a goal."""
    obs = _Observer()

    @goal("a value is chosen")
    def chosen(world: World) -> bool:
        return bool(obs.chosen)

    return [*observed_invariants(obs, INVARIANT_NAMES), chosen]


def ballots_tried(run: Any) -> int:
    """How many ballots the proposers started in a run (count of distinct ballots prepared)."""
    seen = set()
    for ev in run.trace:
        if ev.kind == "send" and ev.msg_type == "Prepare":
            b = ev.msg["ballot"] if isinstance(ev.msg, dict) else ev.msg.ballot
            seen.add(tuple(b))  # a Ballot, or the list a saved run reads back
    return len(seen)


# --- registration and stories -----------------------------------------------------------------


def make_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> Node:
    return PaxosNode(node_id, cluster, Config.from_options(options, cluster), variant)


VARIANTS = {
    "correct": "Paxos as in Paxos Made Simple, with randomized backoff",
    "forget-promise": "an acceptor keeps its promise only in memory: after a restart it breaks it",
    "ignore-accepted": "a proposer proposes its own value even when a promise reports an accepted one",
    "first-promise": "a proposer takes the value of the first promise, not of the highest ballot",
    "minority-learner": "a learner learns from a single Accepted",
    "article": "the article's sketch: one promise and one Accepted suffice, reused bare ballots, nothing durable",
}

SPECS = [
    ProtocolSpec(
        name="paxos",
        summary="single-decree Paxos: proposers, acceptors and learners agree on one value",
        make_node=make_node,
        variants=VARIANTS,
        invariants=invariants,
        workload=Workload(clients=2, keys=("v",), mix=(("propose", 1.0),), think=0.1, timeout=0.5, deadline=2.0),
        options=DEFAULTS,
        default_nodes=3,
        min_nodes=1,
        history_model=None,
        random_faults=("partition", "crash", "blip"),
        # harder blips, and at the start a pair of nodes that cannot hear each other: an
        # acceptor promises a higher ballot, crashes and comes back while its promise to
        # the lower ballot is on its way (what catches forget-promise)
        random_tuning={"blip_p": (0.3, 0.6), "blip_split": True},
    )
]
SPEC = SPECS[0]

_NET = NetworkConfig(latency=Latency.constant(0.01))
_QUIET = Workload(clients=0)


def _story(nodes: int = 3, duration: float = 1.0, nemesis: str = "none", **options: Any) -> Scenario:
    network = options.pop("network", _NET)
    opts = {"propose_at": 0.0, **options}
    return Scenario(protocol=SPEC.name, nodes=nodes, seed=1, duration=duration, network=network,
                    workload=_QUIET, nemesis=nemesis, options=opts)


#: The failure stories: proposers propose their own value ('v-n1', ...) at t=0.
STORIES: dict[str, Scenario] = {
    "one-proposer": _story(proposers=1),
    "duelling-livelock": _story(proposers=2, backoff=False),
    "duelling-backoff": _story(proposers=2, backoff=True),
    "minority-crashed": _story(nodes=5, nemesis="0 crash n4; 0 crash n5"),
    "majority-crashed": _story(nodes=5, duration=2.0, nemesis="0 crash n3; 0 crash n4; 0 crash n5; 1.0 restart n3"),
    "lost-and-duplicated": _story(duration=2.0, network=NetworkConfig(latency=Latency.uniform(0.005, 0.02), loss=0.3, duplicate=0.3)),
}

FAMILIES = ("nemesis", "blip")
_MIX = ("nemesis", "blip", "blip")  # the battery's mix of families, by seed


def random_scenario(seed: int, variant: str = "correct", family: str | None = None) -> Scenario:
    """One seeded random fault schedule for the batteries and the twin hunts.

    Two families (by default seeds 0, 3, 6, ... draw the first, the others the second):

    ``nemesis``  a random nemesis (partitions and crashes), loss and duplication,
                 clients or self-proposing proposers, 3 or 5 nodes;
    ``blip``     two proposers start at once and, while they duel, nodes crash right
                 after a step with a high probability and come back a few
                 milliseconds later (``strike``), on a network whose delays spread
                 from 1 to 30 ms: an acceptor can promise a higher ballot, crash and
                 come back while its promise to the lower ballot is still on its way --
                 the moment where durable promises matter.
    """
    family = family or _MIX[seed % len(_MIX)]
    rng = random.Random(f"paxos-battery:{family}:{seed}")
    if family == "blip":
        strike = f"0 strike {rng.uniform(0.3, 0.6):.3f} {rng.uniform(0.002, 0.006):.4f}; 0.3 strike 0"
        network = NetworkConfig(latency=Latency.uniform(0.001, 0.03))
        return Scenario(protocol=SPEC.name, nodes=3, seed=seed, duration=0.5, network=network, workload=Workload(clients=0),
                        nemesis=strike, variant=variant, options={"proposers": 2, "propose_at": 0.0, "retry": 0.05})
    if family != "nemesis":
        raise ValueError(f"unknown scenario family {family!r} (families: {', '.join(FAMILIES)})")
    nodes = rng.choice((3, 3, 5))
    latency = rng.choice((Latency.exponential(0.02, 0.002), Latency.uniform(0.005, 0.03)))
    network = NetworkConfig(latency=latency, loss=rng.choice((0.0, 0.1, 0.2, 0.3)), duplicate=rng.choice((0.0, 0.1)))
    options: dict[str, Any] = {"proposers": rng.choice((2, 2, 3)), "retry": 0.05}
    if rng.random() < 0.5:
        options["propose_at"] = 0.0
        workload = Workload(clients=0)
    else:
        workload = Workload(clients=rng.randint(2, 3), keys=("v",), mix=(("propose", 1.0),), think=0.05,
                            timeout=0.3, deadline=0.8)
    return Scenario(protocol=SPEC.name, nodes=nodes, seed=seed, duration=0.8, network=network, workload=workload,
                    nemesis=rng.choice(("random", "crash", "partition,crash")),
                    nemesis_interval=round(rng.uniform(0.05, 0.2), 3), variant=variant, options=options)


#: Each broken twin caught in the act (scripted, or a seed kept from the hunt
#: in ``random_scenario``); with ``variant="correct"`` each run is safe.
TWINS: dict[str, Scenario] = {
    # n2 never hears n1's Accepted, so it does not learn v-n1 and proposes at 0.1
    "ignore-accepted": _story(proposers=2, stagger=0.1, nemesis="0 cut n1>n2").replace(variant="ignore-accepted"),
    # n1 learns from its own acceptor's Accepted before anyone else has accepted
    "minority-learner": _story(proposers=1).replace(variant="minority-learner"),
    # kept seeds from the hunts over random_scenario (tests/test_paxos.py repeats the hunts)
    "forget-promise": random_scenario(73, "forget-promise"),
    "first-promise": random_scenario(28, "first-promise"),
    # no fault at all: each proposer's own acceptor promises and accepts, and that is enough
    "article": _story(proposers=2).replace(variant="article"),
}

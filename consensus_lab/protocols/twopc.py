"""Two-phase commit: many nodes commit a transaction together, or none does.

One *coordinator* (node ``n1``) runs each transaction; every other node is a
*participant* (a resource manager: a database, a queue, an index) that must
install the transaction's writes or drop them, all together.  The protocol
(Gray 1978; Bernstein, Hadzilacos and Goodman, *Concurrency Control and
Recovery in Database Systems*, 1987, chapter 7):

Phase 1, voting
    The coordinator sends ``Prepare(txid, writes)`` to every participant.  A
    participant runs its local checks (here: are the keys locked by another
    prepared transaction? does it refuse on purpose?) and votes.  To vote *yes*
    it first writes the vote and the writes to its durable log, then answers
    ``Vote(yes=True)``: from that moment it has promised to commit if told to,
    even after a crash.  A *no* vote aborts the transaction at once.

Phase 2, decision
    With a yes from everyone the coordinator decides *commit*; it writes the
    decision to its durable log (a forced write that takes ``log_delay``
    seconds) and only then sends ``Commit``.  Participants install the writes
    and ``Ack``; the coordinator re-sends ``Commit`` until every participant has
    acknowledged it.  Any no vote, or a vote that does not come within
    ``vote_timeout``, makes the decision *abort*.

Presumed abort (Mohan, Lindsay and Obermarck 1986)
    Abort decisions are never logged: a coordinator with no commit record for a
    transaction answers *abort* when asked.  After a restart it starts a new
    *epoch*; transactions are named ``client.seq@epoch``, so a transaction lost
    in a crash can never be committed later.

Timeouts and blocking (Bernstein et al., chapter 7, the termination protocol)
    A participant that has *not voted yes* may abort unilaterally at any time.
    A participant that *has* voted yes is *uncertain*: it may not decide alone,
    because the others may already have committed, or aborted.  After
    ``ask_timeout`` it asks the coordinator and every other participant
    (``DecisionRequest``): the *cooperative termination protocol*.  A node that
    knows the outcome answers with it; a participant that has not voted aborts
    and answers *abort*; an uncertain one cannot help.  If every participant
    is uncertain and the coordinator is down, they all wait, holding their
    locks, until it comes back: 2PC *blocks*.  :func:`blocking_times` measures
    how long, and ``STORIES['coordinator-crash-before-decision']`` shows it.

Invariants checked after every event: *atomicity* (no transaction committed at
one node and aborted at another), *validity* (a commit only if every
participant voted yes) and *decisions are final* (a node never changes a
decision, even after recovering from its log).

The broken twins (``variant=``), each a one-line change:

``no-decision-log``   the coordinator sends ``Commit`` without logging it; after
                      a crash it presumes abort for a committed transaction.
``no-vote-log``       a participant answers yes without logging its vote; after
                      a crash it presumes it never voted and aborts.
``timeout-commit``    the coordinator treats a missing vote as a yes.
``uncertain-abort``   an uncertain participant that times out aborts instead of
                      asking: it may abort what the others committed.
``article``           the course's source article's sketch, on this node contract:
                      a participant votes by coin flip (``ctx.rng``), takes no
                      lock past its vote and, on its own yes, commits at once; no
                      one logs; the coordinator does not broadcast an abort.

The probability model: a transaction commits when the voting phase succeeds
(every participant votes yes) and then the coordinator reaches its decision,
``P(commit) = P(prepare) * P(commit | prepare)``; see
:func:`commit_probability` and :func:`estimate_commit_probability`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
from ._ballot import message_log
from ._twopc_analysis import (
    Blocking,
    blocking_times,
    commit_probability,
    estimate_commit_probability,
    prepare_probability,
)
from ._twopc_invariants import ABORT, COMMIT, INVARIANT_NAMES, invariants

__all__ = [
    "Prepare", "Vote", "Commit", "Abort", "Ack", "DecisionRequest", "Coordinator",
    "Participant", "Blocking", "blocking_times", "prepare_probability", "commit_probability",
    "estimate_commit_probability", "INVARIANT_NAMES", "invariants", "message_log", "STORIES",
    "TWINS", "random_scenario", "SPEC", "SPECS",
]

# --- messages (named as in Bernstein et al., chapter 7) ---------------------------


@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1: "can you commit these writes?" (the VOTE-REQ)."""

    txid: str
    writes: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Vote:
    """A participant's answer: yes (logged, prepared) or no (aborted)."""

    txid: str
    yes: bool


@dataclass(frozen=True, slots=True)
class Commit:
    """Phase 2: the decision is commit (sent only once it is on the log)."""

    txid: str


@dataclass(frozen=True, slots=True)
class Abort:
    """The decision is abort (presumed: never logged by the coordinator)."""

    txid: str


@dataclass(frozen=True, slots=True)
class Ack:
    """A participant has installed a commit; the coordinator may stop re-sending."""

    txid: str


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """An uncertain participant asks: "do you know how ``txid`` ended?"."""

    txid: str


DEFAULTS: dict[str, Any] = {
    "vote_timeout": 0.3,  # coordinator: abort if a vote has not come by then
    "retry": 0.05,  # coordinator: re-send Prepare / Commit this often
    "ask_timeout": 0.15,  # uncertain participant: ask for the decision this often
    "log_delay": 0.005,  # coordinator: a forced log write takes this long
    "p_no": 0.0,  # participant: vote no with this probability (the probability model)
    "refuse": "",  # participants (comma-separated ids) that always vote no
}


@dataclass(frozen=True, slots=True)
class Config:
    """Immutable settings every node gets (the spec's options)."""

    vote_timeout: float = 0.3
    retry: float = 0.05
    ask_timeout: float = 0.15
    log_delay: float = 0.005
    p_no: float = 0.0
    refuse: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Config:
        o = {**DEFAULTS, **options}
        refuse = tuple(s.strip() for s in str(o["refuse"]).split(",") if s.strip())
        return cls(
            float(o["vote_timeout"]), float(o["retry"]), float(o["ask_timeout"]),
            float(o["log_delay"]), float(o["p_no"]), refuse,
        )


# --- the coordinator ----------------------------------------------------------------


@dataclass
class _Txn:
    """The coordinator's volatile record of one transaction."""

    txid: str
    client: str
    seq: int
    writes: tuple[tuple[str, Any], ...]
    deadline: float
    request: ClientRequest | None = None
    votes: dict[str, bool] = field(default_factory=dict)
    phase: str = "voting"  # voting -> logging -> committed -> done, or aborted
    acked: list[str] = field(default_factory=list)


class Coordinator(Node):
    """Node ``n1``: runs each client transaction through the two phases.

    Durable log: ``epoch`` (incremented at every boot) and one record
    ``decision:TXID = ("commit", client, seq)`` per committed transaction.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...], config: Config, variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.config = config
        self.variant = variant
        self.participants = tuple(p for p in cluster if p != node_id)
        self.epoch = 0
        self.txns: dict[str, _Txn] = {}
        self.by_op: dict[tuple[str, int], str] = {}  # (client, seq) -> txid
        self.outcomes: dict[str, str] = {}  # txid -> commit/abort
        self.ticking = False

    # read-only views for invariants, graders and widgets
    def decision(self, txid: str) -> str | None:
        return self.outcomes.get(txid)

    def decisions(self) -> dict[str, str]:
        return self.outcomes

    def votes(self) -> dict[str, bool]:
        return {}

    def state_view(self) -> dict[str, Any]:
        return {
            "role": "coordinator",
            "epoch": self.epoch,
            "decisions": dict(self.outcomes),
            "in_progress": {t.txid: t.phase for t in self.txns.values() if t.phase in ("voting", "logging")},
        }

    # recovery: read the log back
    def on_start(self, ctx: Context) -> None:
        self.epoch = ctx.storage.get("epoch", 0) + 1
        ctx.storage["epoch"] = self.epoch
        for key in sorted(ctx.storage):
            if key.startswith("decision:"):
                txid = key[len("decision:"):]
                _, client, seq = ctx.storage[key]
                self.outcomes[txid] = COMMIT
                self.by_op[(client, seq)] = txid
                # we do not know who acknowledged: re-send the decision to everyone
                self.txns[txid] = _Txn(txid, client, seq, (), ctx.now, phase="committed")
                ctx.broadcast(self.participants, Commit(txid))
        if self.txns:
            self._tick_soon(ctx)

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        if request.f != "txn":
            ctx.reply(request, Fail(f"two-phase commit runs transactions (f='txn'), not {request.f!r}"))
            return
        txid = self.by_op.get((request.client, request.seq))
        if txid is not None:  # a client retry of a transaction we know
            outcome = self.outcomes.get(txid)
            if outcome is not None:
                ctx.reply(request, Ok(request.value) if outcome == COMMIT else Fail("aborted"))
            else:
                self.txns[txid].request = request
            return
        txid = f"{request.client}.{request.seq}@{self.epoch}"
        writes = tuple(request.value or ())
        txn = _Txn(txid, request.client, request.seq, writes, ctx.now + self.config.vote_timeout, request)
        self.txns[txid] = txn
        self.by_op[(request.client, request.seq)] = txid
        ctx.broadcast(self.participants, Prepare(txid, writes))
        self._tick_soon(ctx)

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Vote):
            self.handle_vote(ctx, src, msg)
        elif isinstance(msg, Ack):
            txn = self.txns.get(msg.txid)
            if txn is not None and src not in txn.acked:
                txn.acked.append(src)
                if len(txn.acked) == len(self.participants):
                    txn.phase = "done"
        elif isinstance(msg, DecisionRequest):
            self.handle_decision_request(ctx, src, msg)

    def handle_vote(self, ctx: Context, src: str, msg: Vote) -> None:
        txn = self.txns.get(msg.txid)
        if txn is None:  # presumed abort: no record means abort
            if msg.txid not in self.outcomes:
                ctx.send(src, Abort(msg.txid))
            return
        if txn.phase == "aborted":
            if self.variant != "article":  # the article's sketch never sends an abort
                ctx.send(src, Abort(msg.txid))
            return
        if txn.phase != "voting":
            return
        txn.votes[src] = msg.yes
        if not msg.yes:
            self._abort(ctx, txn)
        elif len(txn.votes) == len(self.participants):
            self._start_commit(ctx, txn)

    def handle_decision_request(self, ctx: Context, src: str, msg: DecisionRequest) -> None:
        outcome = self.outcomes.get(msg.txid)
        if outcome == COMMIT:
            ctx.send(src, Commit(msg.txid))
        elif outcome == ABORT or msg.txid not in self.txns:
            self.outcomes[msg.txid] = ABORT  # presumed abort (not logged either)
            ctx.send(src, Abort(msg.txid))
        # else: still deciding; the participant will ask again

    def _start_commit(self, ctx: Context, txn: _Txn) -> None:
        txn.phase = "logging"
        if self.config.log_delay > 0:
            ctx.set_timer(f"log:{txn.txid}", self.config.log_delay, txn.txid)
        else:
            self._commit(ctx, txn)

    def _commit(self, ctx: Context, txn: _Txn) -> None:
        """The commit point: log the decision, then tell everyone."""
        if self.variant not in ("no-decision-log", "article"):
            ctx.storage[f"decision:{txn.txid}"] = (COMMIT, txn.client, txn.seq)
        self.outcomes[txn.txid] = COMMIT
        txn.phase = "committed"
        ctx.broadcast(self.participants, Commit(txn.txid))
        if txn.request is not None:
            ctx.reply(txn.request, Ok(txn.request.value))
        self._tick_soon(ctx)

    def _abort(self, ctx: Context, txn: _Txn) -> None:
        self.outcomes[txn.txid] = ABORT  # presumed abort: not logged
        txn.phase = "aborted"
        if self.variant != "article":  # the article's sketch tells nobody
            ctx.broadcast(self.participants, Abort(txn.txid))
        if txn.request is not None:
            ctx.reply(txn.request, Fail("aborted"))

    def _tick_soon(self, ctx: Context) -> None:
        if not self.ticking:
            self.ticking = True
            ctx.set_timer("retry", self.config.retry)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name.startswith("log:"):
            txn = self.txns.get(payload)
            if txn is not None and txn.phase == "logging":
                self._commit(ctx, txn)
            return
        if name != "retry":
            return
        self.ticking = False
        busy = False
        for txn in list(self.txns.values()):
            if txn.phase == "voting":
                if ctx.now >= txn.deadline - 1e-9:
                    if self.variant == "timeout-commit":
                        self._start_commit(ctx, txn)  # the bug: silence taken for a yes
                    else:
                        self._abort(ctx, txn)
                    continue
                missing = [p for p in self.participants if p not in txn.votes]
                ctx.broadcast(missing, Prepare(txn.txid, txn.writes))
                busy = True
            elif txn.phase == "committed":
                ctx.broadcast([p for p in self.participants if p not in txn.acked], Commit(txn.txid))
                busy = True
        if busy:
            self._tick_soon(ctx)


# --- a participant --------------------------------------------------------------------


class Participant(Node):
    """Nodes ``n2..nN``: vote, then install or drop the writes as decided.

    Durable log: ``vote:TXID = writes`` (a yes vote, written *before* the vote
    is sent), ``outcome:TXID`` (commit/abort) and ``data:KEY`` (the installed
    values).  Volatile: the locks, rebuilt from the prepared transactions.
    """

    def __init__(self, node_id: str, cluster: tuple[str, ...], config: Config, variant: str = "correct") -> None:
        super().__init__(node_id, cluster)
        self.config = config
        self.variant = variant
        self.coordinator = cluster[0]
        self.others = tuple(p for p in cluster[1:] if p != node_id)
        self.prepared: dict[str, tuple] = {}  # voted yes, outcome unknown: uncertain
        self.voted: dict[str, bool] = {}
        self.outcomes: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.locks: dict[str, str] = {}  # key -> txid holding it
        self.asking = False

    def decision(self, txid: str) -> str | None:
        return self.outcomes.get(txid)

    def decisions(self) -> dict[str, str]:
        return self.outcomes

    def votes(self) -> dict[str, bool]:
        return self.voted

    def uncertain(self) -> list[str]:
        """Transactions this participant voted yes on and still has no decision for."""
        return list(self.prepared)

    def state_view(self) -> dict[str, Any]:
        state = {t: ("committed" if o == COMMIT else "aborted") for t, o in self.outcomes.items()}
        state.update({t: "prepared" for t in self.prepared})
        return {"role": "participant", "state": state, "data": dict(sorted(self.data.items()))}

    def on_start(self, ctx: Context) -> None:
        for key in sorted(ctx.storage):
            kind, _, rest = key.partition(":")
            if kind == "vote":
                self.voted[rest] = True
                self.prepared[rest] = ctx.storage[key]
            elif kind == "outcome":
                self.outcomes[rest] = ctx.storage[key]
                if self.outcomes[rest] == ABORT:
                    self.voted.setdefault(rest, False)
            elif kind == "data":
                self.data[rest] = ctx.storage[key]
        for txid in list(self.prepared):
            if txid in self.outcomes:
                del self.prepared[txid]
            else:  # uncertain after a restart: keep the locks and ask at once
                for k, _ in self.prepared[txid]:
                    self.locks[k] = txid
                ctx.broadcast((self.coordinator, *self.others), DecisionRequest(txid))
        if self.prepared:
            self._ask_soon(ctx)

    def on_client_request(self, ctx: Context, request: ClientRequest) -> None:
        ctx.reply(request, Redirect(self.coordinator))

    def on_message(self, ctx: Context, src: str, msg: Any) -> None:
        if isinstance(msg, Prepare):
            self.handle_prepare(ctx, src, msg)
        elif isinstance(msg, Commit):
            self.handle_commit(ctx, src, msg)
        elif isinstance(msg, Abort):
            if msg.txid not in self.outcomes:
                self._decide(ctx, msg.txid, ABORT)
        elif isinstance(msg, DecisionRequest):
            self.handle_decision_request(ctx, src, msg)

    def handle_prepare(self, ctx: Context, src: str, msg: Prepare) -> None:
        txid = msg.txid
        if txid in self.prepared:  # a re-sent Prepare: repeat the yes
            ctx.send(src, Vote(txid, True))
            return
        if txid in self.outcomes:
            if self.outcomes[txid] == ABORT:
                ctx.send(src, Vote(txid, False))
            return
        if self.variant == "article":  # the sketch: a coin flip, then commit on one's own yes
            yes = ctx.rng.random() < 0.5
            self.voted[txid], self.prepared[txid] = yes, msg.writes
            ctx.send(src, Vote(txid, yes))
            self._decide(ctx, txid, COMMIT if yes else ABORT)
            return
        if self._local_check(ctx, msg):
            if self.variant != "no-vote-log":
                ctx.storage[f"vote:{txid}"] = msg.writes  # log the vote BEFORE saying yes
            self.voted[txid] = True
            self.prepared[txid] = msg.writes
            for k, _ in msg.writes:
                self.locks[k] = txid
            ctx.send(src, Vote(txid, True))
            self._ask_soon(ctx)
        else:
            self.voted[txid] = False
            self._decide(ctx, txid, ABORT)  # not voted yes: free to abort alone
            ctx.send(src, Vote(txid, False))

    def _local_check(self, ctx: Context, msg: Prepare) -> bool:
        """Can this participant promise to commit?  (locks, and the test knobs)."""
        if self.id in self.config.refuse:
            return False
        if self.config.p_no > 0 and ctx.rng.random() < self.config.p_no:
            return False
        return all(self.locks.get(k, msg.txid) == msg.txid for k, _ in msg.writes)

    def handle_commit(self, ctx: Context, src: str, msg: Commit) -> None:
        txid = msg.txid
        if txid in self.prepared:
            self._decide(ctx, txid, COMMIT)
        elif txid not in self.outcomes:
            # No vote on the log: under presumed abort this participant never
            # voted yes, so it can only have aborted (reached only by broken twins).
            self._decide(ctx, txid, ABORT)
        if self.outcomes.get(txid) == COMMIT:
            ctx.send(src, Ack(txid))

    def handle_decision_request(self, ctx: Context, src: str, msg: DecisionRequest) -> None:
        txid = msg.txid
        if txid in self.outcomes:
            ctx.send(src, Commit(txid) if self.outcomes[txid] == COMMIT else Abort(txid))
        elif txid not in self.prepared:
            # not voted: abort unilaterally (and vote no if the Prepare still comes)
            self.voted[txid] = False
            self._decide(ctx, txid, ABORT)
            ctx.send(src, Abort(txid))
        # else: uncertain too, cannot help

    def _decide(self, ctx: Context, txid: str, outcome: str) -> None:
        writes = self.prepared.pop(txid, ())
        ctx.storage[f"outcome:{txid}"] = outcome
        self.outcomes[txid] = outcome
        if outcome == COMMIT:
            for k, v in writes:
                ctx.storage[f"data:{k}"] = v
                self.data[k] = v
        for k, _ in writes:
            if self.locks.get(k) == txid:
                del self.locks[k]

    def _ask_soon(self, ctx: Context) -> None:
        if not self.asking:
            self.asking = True
            ctx.set_timer("ask", self.config.ask_timeout)

    def on_timer(self, ctx: Context, name: str, payload: Any) -> None:
        if name != "ask":
            return
        self.asking = False
        for txid in list(self.prepared):
            if self.variant == "uncertain-abort":
                self._decide(ctx, txid, ABORT)  # the bug: an uncertain participant decides alone
            else:
                ctx.broadcast((self.coordinator, *self.others), DecisionRequest(txid))
        if self.prepared:
            self._ask_soon(ctx)


# --- registration and the failure stories ------------------------------------------------------


def make_node(node_id: str, cluster: tuple[str, ...], options: Mapping[str, Any], variant: str) -> Node:
    config = Config.from_options(options)
    if node_id == cluster[0]:
        return Coordinator(node_id, cluster, config, variant)
    return Participant(node_id, cluster, config, variant)


VARIANTS = {
    "correct": "log the vote before yes, the decision before sending it; uncertain participants ask",
    "no-decision-log": "the coordinator sends Commit without logging it: after a crash it presumes abort",
    "no-vote-log": "a participant says yes without logging its vote: after a crash it presumes abort",
    "timeout-commit": "the coordinator takes a missing vote for a yes",
    "uncertain-abort": "an uncertain participant that times out aborts alone instead of asking",
    "article": "the article's sketch: coin-flip votes, commit on one's own yes, no log, no abort broadcast",
}

WORKLOAD = Workload(clients=2, keys=("a", "b", "c", "d"), mix=(("txn", 1.0),), think=0.05, timeout=0.5, deadline=1.5)

SPECS = [
    ProtocolSpec(
        name="twopc",
        summary="two-phase commit with presumed abort, recovery and cooperative termination",
        make_node=make_node,
        variants=VARIANTS,
        invariants=invariants,
        workload=WORKLOAD,
        options=DEFAULTS,
        default_nodes=3,
        min_nodes=2,
        history_model=None,
        random_faults=("partition", "crash", "blip"),
    )
]
SPEC = SPECS[0]

_STORY_NET = NetworkConfig(latency=Latency.constant(0.01))
_ONE_TXN = Workload(clients=1, keys=("a", "b"), mix=(("txn", 1.0),), max_ops=1, think=0.001, timeout=3.0, deadline=3.0)


def _story(nemesis: str = "none", duration: float = 1.0, **kw: Any) -> Scenario:
    options = {"log_delay": 0.05, **kw.pop("options", {})}
    base = {"network": _STORY_NET, "workload": _ONE_TXN}
    base.update(kw)
    return Scenario(protocol=SPEC.name, nodes=3, seed=1, duration=duration, nemesis=nemesis, options=options, **base)


#: The failure stories, as scripted scenarios (timings for 10 ms messages and a
#: 50 ms forced log write: the votes are in at about 0.023 s, the commit point
#: is about 0.073 s).
STORIES: dict[str, Scenario] = {
    "all-yes": _story(),
    "one-no": _story(options={"refuse": "n3"}),
    "participant-crash-before-voting": _story("0.005 crash n3; 0.6 restart n3"),
    "coordinator-crash-before-decision": _story("0.05 crash n1; 1.5 restart n1", duration=2.0),
    "coordinator-recovery": _story("0.08 crash n1; 0.5 restart n1"),
    "cooperative-termination": _story("0.04 cut n1>n3; 0.1 crash n1", duration=1.0),
    "message-loss": _story(
        duration=3.0,
        network=NetworkConfig(latency=Latency.constant(0.01), loss=0.3),
        workload=Workload(clients=2, keys=("a", "b", "c"), mix=(("txn", 1.0),), max_ops=3, think=0.1, timeout=1.0, deadline=2.5),
        options={"log_delay": 0.005},
    ),
}

#: Each broken twin caught in the act: a scripted scenario (same timings as
#: STORIES) whose run violates an invariant, while ``variant="correct"`` survives it.
TWINS: dict[str, Scenario] = {
    # the Commit to n3 is lost and n1 crashes; back without a log, n1 presumes abort
    "no-decision-log": _story("0.04 cut n1>n3; 0.1 crash n1; 0.12 heal; 0.13 restart n1", variant="no-decision-log"),
    # n3 votes yes and crashes; back without its vote, it takes the Commit for news of a
    # transaction it never voted for, and aborts it
    "no-vote-log": _story("0.015 crash n3; 0.03 restart n3", variant="no-vote-log"),
    # n3 is down and never votes; the coordinator commits anyway
    "timeout-commit": _story("0.005 crash n3; 0.6 restart n3", variant="timeout-commit"),
    # the Commit to n3 is lost; n3 gives up waiting and aborts what n2 committed
    "uncertain-abort": _story("0.04 cut n1>n3", variant="uncertain-abort"),
    # no fault at all: n2's coin says yes (it commits), n3's says no (it aborts)
    "article": _story(variant="article"),
}


def random_scenario(seed: int, variant: str = "correct") -> Scenario:
    """One seeded random fault schedule for the test batteries and the twin hunts.

    The seed draws the cluster size, the network (latency, loss, duplication),
    the nemesis, the clients and the protocol's timing options; the scenario's
    own seed drives everything else.  Same seed, same scenario, same run.
    """
    rng = random.Random(f"twopc-battery:{seed}")
    latency = rng.choice((Latency.uniform(0.005, 0.015), Latency.exponential(0.01, 0.002)))
    network = NetworkConfig(latency=latency, loss=rng.choice((0.0, 0.05, 0.1, 0.2, 0.3)),
                            duplicate=rng.choice((0.0, 0.0, 0.1)))
    workload = Workload(clients=rng.randint(1, 3), keys=("a", "b", "c", "d"), mix=(("txn", 1.0),),
                        think=0.05, timeout=0.5, deadline=1.0)
    options = {"log_delay": rng.choice((0.0, 0.005, 0.02)), "p_no": rng.choice((0.0, 0.0, 0.1))}
    return Scenario(
        protocol=SPEC.name, nodes=rng.choice((3, 3, 4, 5)), seed=seed, duration=1.5, network=network,
        workload=workload, nemesis=rng.choice(("random", "crash", "crash,loss", "partition,crash")),
        nemesis_interval=round(rng.uniform(0.1, 0.4), 3), variant=variant, options=options,
    )

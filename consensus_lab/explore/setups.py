"""What to explore for each protocol: the first stimuli, the timers, the bounds.

The simulator drives a protocol with a workload of clients and with time; the
explorer needs to be told which client operations exist at the start (a
transaction at the coordinator, a proposal at each proposer, ...), which
timers may fire, and how far to search by default.  A *setup function* per
protocol name answers that; register one with :func:`register_setup`::

    @register_setup("broadcast")
    def _broadcast(nodes, options, variant):
        return ExploreSetup(requests=(ClientOp("add", "s", 1, targets=("n1",)),), depth=8)

A protocol without a setup is explored with no client operations, every timer
allowed and the default bounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .world import ClientOp

__all__ = ["ExploreSetup", "register_setup", "get_setup", "setup_for", "SetupFn"]


@dataclass(frozen=True)
class ExploreSetup:
    """Per-protocol defaults for the explorer (every field can be overridden by the caller).

    ``requests``: client operations the explorer may deliver, in any order;
    ``timers``: names of timers that may fire (``None``: all of them);
    ``nodes``: how many nodes (``None``: the spec's ``default_nodes``);
    ``depth``, ``faults``, ``fault_kinds``, ``max_in_flight``, ``timer_limit``:
    the default bounds (see :class:`~consensus_lab.explore.Bounds`;
    ``fault_kinds=None``: every kind the network has);
    ``network``: ``"async"`` (every delivery is a choice) or ``"partitions"``
    (steps are stimuli and link cuts; the network settles in between -- see
    :mod:`consensus_lab.explore.world`);
    ``clock``: ``"frozen"`` (``ctx.now`` stays 0) or ``"timers"`` (per-node clocks
    moved forward by timers: for protocols that compare ``ctx.now`` with deadlines);
    ``mute``: message type names that are sent but never delivered (explores
    a subset of the behaviours, to reach deeper where those messages do not
    matter; a counterexample found is still real);
    ``options``: protocol options to explore with (overlaid by the caller's);
    ``note``: one sentence saying what this configuration is, for summaries.
    """

    requests: tuple[ClientOp, ...] = ()
    timers: tuple[str, ...] | None = None
    nodes: int | None = None
    depth: int = 10
    faults: int = 1
    fault_kinds: tuple[str, ...] | None = None
    max_in_flight: int | None = None
    timer_limit: int | None = None
    clock: str = "frozen"
    network: str = "async"
    mute: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


SetupFn = Callable[[int, Mapping[str, Any], str], ExploreSetup]
_SETUPS: dict[str, SetupFn] = {}
_DEFAULT_NODES: dict[str, int] = {}


def register_setup(name: str, *, nodes: int | None = None) -> Callable[[SetupFn], SetupFn]:
    """Decorator: ``fn(nodes, options, variant) -> ExploreSetup`` for protocol ``name``.

    ``nodes`` is the node count explored when the caller does not choose one.
    """

    def wrap(fn: SetupFn) -> SetupFn:
        _SETUPS[name] = fn
        if nodes is not None:
            _DEFAULT_NODES[name] = nodes
        return fn

    return wrap


def get_setup(name: str) -> SetupFn | None:
    return _SETUPS.get(name)


def default_nodes(name: str) -> int | None:
    return _DEFAULT_NODES.get(name)


def setup_for(name: str, nodes: int, options: Mapping[str, Any], variant: str) -> ExploreSetup:
    """The setup for protocol ``name`` (an empty one when none is registered)."""
    fn = get_setup(name)
    return fn(nodes, options, variant) if fn is not None else ExploreSetup()


# --- the course's protocols -------------------------------------------------------


@register_setup("broadcast", nodes=3)
def _broadcast(nodes, options, variant) -> ExploreSetup:
    # one client adds a value at n1; the retry and flush timers may fire at any moment
    return ExploreSetup(
        requests=(ClientOp("add", "s", 1, targets=("n1",)),),
        depth=8,
        faults=1,
        note="one add(1) at n1",
    )


@register_setup("twopc", nodes=3)
def _twopc(nodes, options, variant) -> ExploreSetup:
    # one transaction at the coordinator n1, writing one key at every participant.
    # Time matters here (a vote that does not come within vote_timeout aborts the
    # transaction), so each node keeps a clock that its timers move forward; with
    # vote_timeout equal to the retry period the first retry tick is the deadline,
    # and with log_delay 0 the decision is logged in the same step it is made.
    return ExploreSetup(
        requests=(ClientOp("txn", None, (("a", 1), ("b", 2)), targets=("n1",)),),
        clock="timers",
        options={"vote_timeout": 0.05, "retry": 0.05, "log_delay": 0.0},
        depth=10,
        faults=1,
        fault_kinds=("drop", "crash", "restart"),
        note="one transaction at n1",
    )


@register_setup("paxos", nodes=3)
def _paxos(nodes, options, variant) -> ExploreSetup:
    # Proposers n1 and n2 each propose their own value ('v-n1', 'v-n2') when their
    # 'propose' timer fires; any timer may fire at any moment, so retries and
    # back-off cover every timing of two duelling proposers -- each retry timer
    # fires at most once per node, or the proposers could start ballots for ever.
    base = {"options": {"propose_at": 0.0, "proposers": 2}, "timer_limit": 1, "note": "proposers n1 and n2"}
    if variant in ("ignore-accepted", "first-promise"):
        # a proposer's phase-2 choice: no faults needed, and learners play no part
        return ExploreSetup(depth=11, faults=0, mute=("Accepted",), **{**base, "note": "proposers n1 and n2, "
                            "learners not informed"})
    if variant == "forget-promise":
        # an acceptor that forgets its promise needs a crash and a restart
        return ExploreSetup(depth=10, faults=1, fault_kinds=("crash", "restart"), mute=("Accepted",),
                            **{**base, "note": "proposers n1 and n2, learners not informed"})
    return ExploreSetup(depth=9, faults=1, fault_kinds=("drop", "crash", "restart"), **base)


@register_setup("multi-paxos", nodes=3)
def _multipaxos(nodes, options, variant) -> ExploreSetup:
    # Elections only (a leader's heartbeats go out when it wins; their timer would
    # only repeat them).  Writes x=1 at n1 and x=2 at n2, the first nodes to lead.
    n2 = f"n{min(2, nodes)}"
    writes = (ClientOp("write", "x", 1, targets=("n1",)), ClientOp("write", "x", 2, targets=(n2,)))
    if variant == "minority-commit":
        # one leader, one write, one Accepted: no fault and no second leader needed
        return ExploreSetup(requests=writes[:1], timers=("election",), timer_limit=1, depth=6, faults=0,
                            note="one write at n1, elections only")
    # A second leader must not hear what the first one did: one cut link.  Over
    # single deliveries that is some 20 steps; in the network of partitions an
    # election or a command is one step.  The read (at n1) is for stale answers.
    return ExploreSetup(requests=(*writes, ClientOp("read", "x", targets=("n1",))), timers=("election",),
                        timer_limit=1, depth=6, faults=1, fault_kinds=("partition",), network="partitions",
                        note="writes x=1 at n1 and x=2 at n2, a read at n1, elections only")


@register_setup("raft", nodes=3)
def _raft(nodes, options, variant) -> ExploreSetup:
    # Election and heartbeat timers may fire at any moment (every timing of the
    # randomized timeouts), but each at most once per node: without that bound
    # the nodes can hold elections for ever.  One client write may go to any
    # node (a follower redirects; the client tries again, up to once per node).
    write = ClientOp("write", "x", 1, attempts=nodes)
    if variant in ("volatile-vote", "article"):
        # two elections in one term need only votes (and, for volatile-vote, a crash and a restart)
        return ExploreSetup(timers=("election",), timer_limit=1, depth=8, faults=1,
                            fault_kinds=("crash", "restart"), note="elections only")
    if variant in ("no-up-to-date-check", "stale-truncate"):
        # commit one entry, then elect a node that missed it (or lost it to a stale,
        # reordered AppendEntries)
        return ExploreSetup(requests=(write,), timers=("election",), timer_limit=1,
                            depth=9 if variant == "no-up-to-date-check" else 10, faults=0,
                            note="one write, elections only")
    if variant == "commit-previous-term":
        # Figure 8 needs two leaders with different entries, then a third and a
        # fourth election: about 20 message-level steps, beyond breadth-first
        # search.  In the network of partitions a step is a whole exchange (an
        # election, a replication), and one cut link (Jepsen's partition
        # nemesis) keeps the first leader's entry from spreading: 7 steps.  The
        # two writes go to the nodes that lead first.
        return ExploreSetup(requests=(ClientOp("write", "x", 1, targets=("n1",)),
                                      ClientOp("write", "x", 2, targets=(f"n{min(2, nodes)}",))),
                            timers=("election",), timer_limit=2, depth=8, faults=1, fault_kinds=("partition",),
                            network="partitions", note="writes x=1 at n1 and x=2 at n2, elections only")
    return ExploreSetup(requests=(write,), timer_limit=1, depth=8, faults=1,
                        fault_kinds=("drop", "crash", "restart"), note="one write")

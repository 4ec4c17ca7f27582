"""Monte Carlo counterparts of :mod:`consensus_lab.models`: the same questions, simulated.

Each *trial* runs the simulator once, for one seed, and answers yes or no
(did the transaction commit? did the write commit?) or returns what it
measured (commit latencies).  :func:`consensus_lab.models.estimate` runs a
trial over many seeds and gives a probability with its confidence interval,
to be put next to the formula.  Every random choice a trial makes (which nodes
fail, for how long) comes from a ``random.Random`` seeded by the trial's seed,
so the same seed gives the same run.

* :func:`twopc_trial` -- one transaction of two-phase commit
  (:mod:`consensus_lab.protocols.twopc`) with every node down at the start
  independently; optionally back after an exponential downtime (retries).
* :func:`majority_trial` -- one write to Raft (or one proposal to Paxos, one write to
  Multi-Paxos) with some nodes down at the start:
  a fixed number, each node independently, or whole racks cut off by a
  partition (correlated failures).
* :func:`commit_latencies` -- Raft commit latencies read off a run's trace, from
  the moment a request reaches the leader to the moment it answers; per-link
  latencies model leader placement.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .models import majority
from .runner import build, node_names, run
from .sim import Latency, NetworkConfig, Ok, Scenario, Workload

__all__ = [
    "RAFT_QUIET",
    "twopc_trial",
    "down_at_start",
    "majority_trial",
    "rack_layout",
    "commit_latencies",
    "region_links",
    "majority_acks",
]

#: Raft timing for latency measurements: heartbeats rare enough that a
#: heartbeat almost never carries an entry faster than its own AppendEntries.
RAFT_QUIET = {"election_min": 0.6, "election_max": 1.2, "heartbeat": 0.4}


def _rng(seed: int, what: str) -> random.Random:
    return random.Random(f"consensus_lab:{seed}:models_sim:{what}")


def down_at_start(seed: int, nodes: Sequence[str], p_down: float, what: str = "down") -> list[str]:
    """The nodes that are down at the start of trial ``seed``: each with ``p_down``, independently."""
    rng = _rng(seed, what)
    return [n for n in nodes if rng.random() < p_down]


def _one_op_commits(sc: Scenario, *, step: float = 0.05) -> bool:
    """Run a one-operation scenario until its operation completes; did it succeed?

    A trial measures an outcome, not safety (the test batteries check the
    invariants), so the invariants are left out and the run stops early.
    """
    sim, _, _ = build(sc)
    sim.invariants = []
    t = 0.0
    while t < sc.duration:
        t = min(sc.duration, t + step)
        sim.run_until(t)
        done = [op for op in sim.history if op.type != "invoke"]
        if done:
            return done[0].type == "ok"
    return False


# --- two-phase commit --------------------------------------------------------------


def twopc_trial(
    seed: int,
    *,
    participants: int = 3,
    p_down: float = 0.1,
    p_coordinator_down: float = 0.0,
    mean_downtime: float | None = None,
    vote_timeout: float = 0.3,
    duration: float = 3.0,
) -> bool:
    """Does one two-phase-commit transaction commit?

    Each participant is down at the start with ``p_down`` and the coordinator
    with ``p_coordinator_down``, independently.  With ``mean_downtime`` a node
    that is down restarts after an exponential time with that mean (the
    coordinator keeps re-sending ``Prepare`` until ``vote_timeout``); without
    it, a node that is down stays down.
    """
    nodes = node_names(participants + 1)
    down = down_at_start(seed, nodes[1:], p_down)
    if _rng(seed, "coordinator").random() < p_coordinator_down:
        down = [nodes[0], *down]
    script = []
    if down:
        rng = _rng(seed, "downtime")
        for n in down:
            script.append(f"0 crash {n}")
            if mean_downtime is not None:
                script.append(f"{round(rng.expovariate(1.0 / mean_downtime), 4)} restart {n}")
    sc = Scenario(
        protocol="twopc",
        nodes=participants + 1,
        seed=seed,
        duration=duration,
        nemesis="; ".join(script) or "none",
        options={"vote_timeout": vote_timeout, "log_delay": 0.0},
        # a client that finds a dead node moves on quickly, so the transaction starts at once
        workload=Workload(clients=1, keys=("a", "b"), mix=(("txn", 1.0),), max_ops=1, think=0.001,
                          timeout=0.02, deadline=duration - 0.1),
    )
    return _one_op_commits(sc)


# --- majorities ----------------------------------------------------------------------


def rack_layout(rack_sizes: Sequence[int]) -> list[tuple[str, ...]]:
    """Node names grouped by rack: ``rack_layout([2, 2, 1])`` -> ``[(n1, n2), (n3, n4), (n5,)]``."""
    out, i = [], 1
    for size in rack_sizes:
        out.append(tuple(f"n{j}" for j in range(i, i + size)))
        i += size
    return out


#: protocol -> (the one operation a majority trial runs, its key, the protocol's options)
_ONE_OP: dict[str, tuple[str, str, dict[str, Any]]] = {
    "raft": ("write", "x", {}),
    "multi-paxos": ("write", "x", {}),
    "paxos": ("propose", "v", {"proposers": 1_000}),  # every node proposes: any majority can decide
}


def majority_trial(
    seed: int,
    *,
    nodes: int = 5,
    down: int | None = None,
    p_down: float = 0.0,
    racks: Sequence[int] | None = None,
    p_rack_down: float = 0.0,
    deadline: float = 1.5,
    protocol: str = "raft",
) -> bool:
    """Does one write to a Raft cluster commit within ``deadline`` seconds?

    ``protocol="paxos"`` asks instead whether one client proposal is decided (every
    node a proposer), ``"multi-paxos"`` whether one write commits.

    Who is down from the start: exactly ``down`` nodes chosen at random; or
    each node with ``p_down``; and, with ``racks`` (node counts per rack, in
    node order), each rack with ``p_rack_down`` -- a failed rack is cut off
    from the others by a partition, as a broken top-of-rack switch would.
    """
    names = node_names(nodes)
    if racks is not None and sum(racks) != nodes:
        raise ValueError(f"racks {list(racks)} hold {sum(racks)} nodes, not {nodes}")
    if down is not None:
        if not 0 <= down <= nodes:
            raise ValueError(f"down must be between 0 and {nodes}, got {down}")
        crashed = sorted(_rng(seed, "k-down").sample(list(names), down))
    else:
        crashed = down_at_start(seed, names, p_down)
    script = [f"0 crash {n}" for n in crashed]
    if racks is not None and p_rack_down > 0:
        rng = _rng(seed, "racks")
        cut = [g for g in rack_layout(racks) if rng.random() < p_rack_down]
        if cut:
            # a dead top-of-rack switch: every node of the rack is an island (even from
            # its rack mates); the racks that work stay connected
            groups = [n for g in cut for n in g]
            rest = [n for n in names if n not in groups]
            if rest:
                groups.append(",".join(rest))
            if len(groups) > 1:
                script.append("0 partition " + "|".join(groups))
    if protocol not in _ONE_OP:
        raise ValueError(f"majority_trial runs {', '.join(_ONE_OP)}, not {protocol!r}")
    f, key, options = _ONE_OP[protocol]
    sc = Scenario(
        protocol=protocol,
        nodes=nodes,
        seed=seed,
        duration=deadline + 0.1,
        nemesis="; ".join(script) or "none",
        workload=Workload(clients=1, keys=(key,), mix=((f, 1.0),), max_ops=1, think=0.001,
                          timeout=0.1, deadline=deadline, sticky=False),
        options=options,
    )
    return _one_op_commits(sc)


# --- latency -----------------------------------------------------------------------------


def region_links(regions: Sequence[Sequence[str]], near: Latency, far: Latency) -> tuple[tuple[str, str, Latency], ...]:
    """Per-link latencies: ``near`` inside a region, ``far`` between regions."""
    where = {n: i for i, group in enumerate(regions) for n in group}
    return tuple(
        (a, b, near if where[a] == where[b] else far) for a in where for b in where if a != b
    )


def commit_latencies(
    seed: int,
    *,
    nodes: int = 5,
    latency: Latency | None = None,
    link_latency: tuple[tuple[str, str, Latency], ...] = (),
    ops: int = 30,
    think: float = 0.1,
    duration: float = 6.0,
) -> list[tuple[str, float]]:
    """``(leader, seconds)`` for every write a Raft leader committed, read off the trace.

    One client writes ``ops`` times, one write at a time, ``think`` seconds
    apart (long enough for every follower to answer before the next write).  A write's commit
    latency runs from the moment the request reaches the leader to the moment
    the leader answers it: client delays and redirects are left out, so what
    remains is the leader's wait for a majority of round trips.
    """
    net = NetworkConfig(latency=latency or Latency(), link_latency=link_latency)
    sc = Scenario(
        protocol="raft",
        nodes=nodes,
        seed=seed,
        duration=duration,
        network=net,
        options=RAFT_QUIET,
        workload=Workload(clients=1, keys=("x",), mix=(("write", 1.0),), max_ops=ops, think=think,
                          timeout=1.0, deadline=duration),
    )
    r = run(sc)
    arrived: dict[tuple[str, Any, int], float] = {}
    out: list[tuple[str, float]] = []
    for ev in r.trace:
        if ev.kind == "request":
            req = ev.msg
            arrived[(ev.node, ev.peer, req.seq)] = ev.time
        elif ev.kind == "reply" and isinstance(ev.info, Ok):
            # the latest request this node got from that client is the one answered
            keys = [k for k in arrived if k[0] == ev.node and k[1] == ev.peer]
            if keys:
                k = max(keys, key=lambda k: k[2])
                out.append((ev.node, ev.time - arrived.pop(k)))
    return out


def majority_acks(nodes: int) -> tuple[int, int]:
    """``(n, k)``: a leader of ``nodes`` waits for the ``k``-th fastest of ``n`` follower round trips."""
    return nodes - 1, majority(nodes) - 1

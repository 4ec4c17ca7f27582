"""Run a scenario: resolve its protocol, build the simulation, collect a Run.

>>> from consensus_lab import run
>>> r = run("broadcast", nodes=3, seed=1, duration=2.0)
>>> r.ok
True
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import protocols
from .sim import (
    FAULT_KINDS,
    NemesisError,
    ProtocolSpec,
    Run,
    Scenario,
    Simulation,
    parse_script,
    random_schedule,
)
from .sim.nemesis import Action

__all__ = ["run", "build", "replay", "resolve_spec", "node_names", "make_schedule", "ScenarioError"]


class ScenarioError(ValueError):
    """A scenario that cannot be run (unknown protocol, bad option, ...)."""


def node_names(n: int) -> tuple[str, ...]:
    return tuple(f"n{i}" for i in range(1, n + 1))


def resolve_spec(protocol: Any) -> ProtocolSpec:
    if isinstance(protocol, ProtocolSpec):
        return protocol
    try:
        return protocols.get(protocol)
    except KeyError as exc:
        raise ScenarioError(exc.args[0]) from None


def make_schedule(
    scenario: Scenario,
    nodes: tuple[str, ...],
    random_kinds: tuple[str, ...] = ("partition", "crash"),
    tuning: Mapping[str, Any] | None = None,
) -> list[tuple[float, Action]]:
    """Turn the scenario's nemesis setting into a fault timeline.

    ``none``; ``random`` (``random_kinds``: the protocol's ``random_faults``,
    partitions and crashes unless it says more, drawn with the protocol's
    ``random_tuning``); one or more fault kinds
    joined by commas (``crash``, ``partition,loss``); or a script such as
    ``"1 crash n1; 3 restart n1"``.
    """
    spec = scenario.nemesis.strip() if isinstance(scenario.nemesis, str) else scenario.nemesis
    if spec in ("", "none"):
        return []
    rng = random.Random(f"consensus_lab:{scenario.seed}:nemesis")
    base_loss = scenario.network.loss
    extra: Mapping[str, Any] = {}
    if spec == "random":
        kinds: tuple[str, ...] = tuple(random_kinds)
        extra = tuning or {}
    elif all(k.strip() in FAULT_KINDS for k in spec.split(",")):
        kinds = tuple(k.strip() for k in spec.split(","))
    elif any(ch.isdigit() for ch in spec.split()[0] if spec.split()):
        return parse_script(spec, nodes)
    else:
        raise NemesisError(
            f"unknown nemesis {spec!r}: use none, random, a fault kind ({', '.join(FAULT_KINDS)}), "
            "or a script like '1 crash n1; 2 restart n1'"
        )
    return random_schedule(
        nodes, scenario.duration, rng, kinds, interval=scenario.nemesis_interval, base_loss=base_loss, **extra
    )


def build(scenario: Scenario) -> tuple[Simulation, ProtocolSpec, list[tuple[float, Action]]]:
    """Make the :class:`Simulation` for a scenario without running it."""
    spec = resolve_spec(scenario.protocol)
    n = scenario.nodes if scenario.nodes is not None else spec.default_nodes
    if not spec.min_nodes <= n <= spec.max_nodes:
        raise ScenarioError(f"{spec.name} needs between {spec.min_nodes} and {spec.max_nodes} nodes, got {n}")
    if scenario.variant not in spec.variants:
        raise ScenarioError(f"{spec.name} has no variant {scenario.variant!r} (variants: {', '.join(spec.variants)})")
    try:
        options = spec.resolve_options(dict(scenario.options))
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    nodes = node_names(n)
    schedule = make_schedule(scenario, nodes, spec.random_faults, spec.random_tuning)
    variant = scenario.variant

    def make_node(nid: str, cluster: tuple[str, ...]):
        return spec.make_node(nid, cluster, options, variant)

    sim = Simulation(
        make_node,
        nodes,
        seed=scenario.seed,
        network=scenario.network,
        workload=scenario.workload if scenario.workload is not None else spec.workload,
        schedule=schedule,
        invariants=spec.invariants(options, variant),
    )
    return sim, spec, schedule


def run(
    scenario: Scenario | str | ProtocolSpec | None = None,
    /,
    *,
    progress: Callable[[float, float], None] | None = None,
    **changes: Any,
) -> Run:
    """Run a scenario to its end and return the :class:`Run`.

    ``run("raft", nodes=5, seed=3, nemesis="random")`` builds the scenario from
    keywords; ``run(scenario, seed=4)`` changes fields of an existing one.
    ``progress(now, duration)`` is called now and then on long runs.
    """
    if isinstance(scenario, Scenario):
        sc = scenario.replace(**changes) if changes else scenario
    elif scenario is None:
        if "protocol" not in changes:
            raise ScenarioError("run() needs a protocol: run('raft', ...) or run(Scenario(...))")
        sc = Scenario(**changes)
    else:
        sc = Scenario(protocol=scenario, **changes)
    sim, spec, schedule = build(sc)
    sim.run_until(sc.duration, (lambda now: progress(now, sc.duration)) if progress else None)
    sim.finish_clients()
    return collect(sim, sc, schedule)


def collect(sim: Simulation, scenario: Scenario, schedule: list[tuple[float, Action]]) -> Run:
    """Package a simulation's state as a :class:`Run`."""
    return Run(
        scenario=scenario,
        trace=sim.trace,
        history=list(sim.history),
        violations=list(sim.violations),
        stats=sim.summary_stats(),
        goals=dict(sim.goals),
        schedule=list(schedule),
        nodes=dict(sim.nodes),
        storage={n: s.snapshot() for n, s in sim.storage.items()},
    )


def replay(saved: Run | str | Path) -> tuple[Run, bool]:
    """Run a saved run's scenario again; return the new run and whether the traces match."""
    old = saved if isinstance(saved, Run) else Run.load(saved)
    new = run(old.scenario)
    return new, new.trace_hash == old.trace_hash

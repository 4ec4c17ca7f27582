"""Scenarios are data; a protocol spec says how to build the nodes.

A :class:`Scenario` names everything that decides a run -- protocol, node
count, seed, duration, network, workload, nemesis, variant and options -- so
that the same scenario always gives the same trace.  It prints as code you can
paste back (``Scenario(protocol='raft', nodes=5, seed=7, ...)``).

A :class:`ProtocolSpec` is what a protocol module registers: a node factory,
the variants (``correct`` first, then the broken twins), the invariants, and a
default workload and options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .clients import Workload
from .invariants import Invariant
from .network import NetworkConfig
from .node import Node

__all__ = ["Scenario", "ProtocolSpec"]


@dataclass(frozen=True)
class ProtocolSpec:
    """How to run one protocol in the simulator (and the explorer, and widgets).

    ``make_node(node_id, cluster, options, variant)`` builds a fresh node; it is
    called at boot and again on every restart.  ``invariants(options, variant)``
    returns fresh invariant objects for one run.
    """

    name: str
    summary: str
    make_node: Callable[[str, tuple[str, ...], Mapping[str, Any], str], Node]
    variants: Mapping[str, str] = field(default_factory=lambda: {"correct": "the protocol as specified"})
    invariants: Callable[[Mapping[str, Any], str], list[Invariant]] = lambda options, variant: []
    workload: Workload = field(default_factory=Workload)
    options: Mapping[str, Any] = field(default_factory=dict)
    default_nodes: int = 3
    min_nodes: int = 1
    max_nodes: int = 64
    history_model: str | None = "register"
    replica_state: Callable[[Node], Any] | None = None
    #: the fault kinds of this protocol's ``random`` nemesis (``blip`` adds quick
    #: crash-restarts right after steps, where a protocol's durability rules bite)
    random_faults: tuple[str, ...] = ("partition", "crash")
    #: settings of that nemesis (keywords of ``nemesis.random_schedule``: ``blip_p``,
    #: ``blip_split``), tuned so that it finds the protocol's broken twins
    random_tuning: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = list(self.variants)
        if not names or names[0] != "correct":
            raise ValueError(f"protocol {self.name!r}: the first variant must be 'correct'")

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``; unknown names and bad types raise ValueError."""
        out = dict(self.options)
        for k, v in given.items():
            if k not in self.options:
                known = ", ".join(sorted(self.options)) or "none"
                raise ValueError(f"protocol {self.name!r} has no option {k!r} (options: {known})")
            out[k] = coerce_option(k, v, self.options[k])
        return out


def coerce_option(name: str, value: Any, default: Any) -> Any:
    """Turn a command-line string into the type of the option's default."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    text = value.strip().lower()
    if isinstance(default, bool):
        if text in ("on", "true", "yes", "1"):
            return True
        if text in ("off", "false", "no", "0"):
            return False
        raise ValueError(f"option {name} takes on/off, got {value!r}")
    try:
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise ValueError(f"option {name} takes a {type(default).__name__}, got {value!r}") from None
    return value


@dataclass(frozen=True)
class Scenario:
    """Everything that decides a run.  Same scenario, same trace."""

    protocol: Any  # a registered name, or a ProtocolSpec
    nodes: int | None = None
    seed: int = 0
    duration: float = 10.0
    network: NetworkConfig = field(default_factory=NetworkConfig)
    workload: Workload | None = None
    nemesis: str = "none"
    nemesis_interval: float = 1.0
    variant: str = "correct"
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.options, Mapping):
            object.__setattr__(self, "options", tuple(sorted(self.options.items())))
        if self.nodes is not None and (not isinstance(self.nodes, int) or self.nodes < 1):
            raise ValueError(f"nodes must be a whole number >= 1, got {self.nodes!r}")
        if not (isinstance(self.duration, int | float) and self.duration > 0):
            raise ValueError(f"duration must be > 0 seconds, got {self.duration!r}")
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")

    @property
    def protocol_name(self) -> str:
        return self.protocol if isinstance(self.protocol, str) else self.protocol.name

    def replace(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        from .trace import to_jsonable

        return {
            "protocol": self.protocol_name,
            "nodes": self.nodes,
            "seed": self.seed,
            "duration": self.duration,
            "network": self.network.to_dict(),
            "workload": self.workload.to_dict() if self.workload is not None else None,
            "nemesis": self.nemesis,
            "nemesis_interval": self.nemesis_interval,
            "variant": self.variant,
            "options": {k: to_jsonable(v) for k, v in self.options},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scenario:
        return cls(
            protocol=d["protocol"],
            nodes=d.get("nodes"),
            seed=int(d.get("seed", 0)),
            duration=float(d.get("duration", 10.0)),
            network=NetworkConfig.from_dict(d.get("network", {})),
            workload=Workload.from_dict(d["workload"]) if d.get("workload") else None,
            nemesis=d.get("nemesis", "none"),
            nemesis_interval=float(d.get("nemesis_interval", 1.0)),
            variant=d.get("variant", "correct"),
            options=tuple(sorted((d.get("options") or {}).items())),
        )

    def __repr__(self) -> str:
        parts = [f"protocol={self.protocol_name!r}"]
        for f in dataclasses.fields(self)[1:]:
            v = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            if v != default:
                parts.append(f"{f.name}={v!r}")
        return f"Scenario({', '.join(parts)})"

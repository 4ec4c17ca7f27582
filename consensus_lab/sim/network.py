"""The network: latency, loss, duplication and partitions.

Every message gets its own random delay, so reordering follows from the delay
distribution.  A message is lost with probability ``loss`` and, if it gets
through, delivered a second time with probability ``duplicate``.  A partition
cuts links; a cut link drops every message that would cross it, both those
sent while it is cut and those still in flight when it is cut.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Latency", "NetworkConfig", "Links"]

_KINDS = ("constant", "uniform", "exponential")


@dataclass(frozen=True)
class Latency:
    """A one-way delay distribution in simulated seconds.

    * ``constant``: always ``mean``;
    * ``uniform``: between ``low`` and ``high``;
    * ``exponential``: ``low`` plus an exponential with mean ``mean - low``.
    """

    kind: str = "uniform"
    low: float = 0.005
    high: float = 0.015
    mean: float = 0.010

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"latency kind {self.kind!r} is not one of {', '.join(_KINDS)}")
        for name in ("low", "high", "mean"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValueError(f"latency {name} must be a finite number >= 0, got {v!r}")
        if self.kind == "uniform" and self.high < self.low:
            raise ValueError(f"uniform latency needs low <= high, got {self.low} > {self.high}")
        if self.kind == "exponential" and self.mean < self.low:
            raise ValueError(f"exponential latency needs mean >= low, got {self.mean} < {self.low}")

    @classmethod
    def constant(cls, value: float) -> Latency:
        return cls("constant", value, value, value)

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        return cls("uniform", low, high, (low + high) / 2)

    @classmethod
    def exponential(cls, mean: float, low: float = 0.0) -> Latency:
        return cls("exponential", low, max(mean, low), mean)

    def sampler(self, rng: random.Random):
        """A fast zero-argument function drawing one delay from ``rng``."""
        if self.kind == "constant":
            v = self.mean
            return lambda: v
        if self.kind == "uniform":
            lo, span = self.low, self.high - self.low
            r = rng.random
            return lambda: lo + span * r()
        lo, m = self.low, self.mean - self.low
        if m <= 0:
            return lambda: lo
        ex = rng.expovariate
        rate = 1.0 / m
        return lambda: lo + ex(rate)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "low": self.low, "high": self.high, "mean": self.mean}

    @classmethod
    def from_dict(cls, d: dict) -> Latency:
        return cls(**d)


@dataclass(frozen=True)
class NetworkConfig:
    """Settings for the whole network; ``link_latency`` overrides single links."""

    latency: Latency = field(default_factory=Latency)
    loss: float = 0.0
    duplicate: float = 0.0
    link_latency: tuple[tuple[str, str, Latency], ...] = ()
    client_latency: Latency = field(default_factory=lambda: Latency.constant(0.002))

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name} probability must be in [0, 1], got {v!r}")

    def to_dict(self) -> dict:
        return {
            "latency": self.latency.to_dict(),
            "loss": self.loss,
            "duplicate": self.duplicate,
            "link_latency": [[a, b, lat.to_dict()] for a, b, lat in self.link_latency],
            "client_latency": self.client_latency.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> NetworkConfig:
        return cls(
            latency=Latency.from_dict(d.get("latency", {})),
            loss=d.get("loss", 0.0),
            duplicate=d.get("duplicate", 0.0),
            link_latency=tuple((a, b, Latency.from_dict(x)) for a, b, x in d.get("link_latency", [])),
            client_latency=Latency.from_dict(d["client_latency"]) if "client_latency" in d else Latency.constant(0.002),
        )


class Links:
    """Which directed links are cut right now.

    ``partition([["n1", "n2"], ["n3"]])`` cuts every link between groups in both
    directions; nodes named in no group form one more group together.
    ``cut(a, b)`` cuts only a -> b (an asymmetric fault).  ``heal()`` restores all.
    """

    __slots__ = ("nodes", "blocked")

    def __init__(self, nodes: Sequence[str]) -> None:
        self.nodes = tuple(nodes)
        self.blocked: set[tuple[str, str]] = set()

    def partition(self, groups: Iterable[Iterable[str]]) -> list[list[str]]:
        groups = [list(g) for g in groups]
        seen: dict[str, int] = {}
        for i, g in enumerate(groups):
            for n in g:
                if n not in self.nodes:
                    raise ValueError(f"partition names unknown node {n!r} (nodes: {', '.join(self.nodes)})")
                if n in seen:
                    raise ValueError(f"partition puts node {n!r} in two groups")
                seen[n] = i
        rest = [n for n in self.nodes if n not in seen]
        if rest:
            for n in rest:
                seen[n] = len(groups)
            groups.append(rest)
        for a in self.nodes:
            for b in self.nodes:
                if seen[a] != seen[b]:
                    self.blocked.add((a, b))
        return groups

    def cut(self, src: str, dst: str) -> None:
        for n in (src, dst):
            if n not in self.nodes:
                raise ValueError(f"cut names unknown node {n!r}")
        self.blocked.add((src, dst))

    def heal(self) -> None:
        self.blocked.clear()

    def is_cut(self, src: str, dst: str) -> bool:
        return (src, dst) in self.blocked

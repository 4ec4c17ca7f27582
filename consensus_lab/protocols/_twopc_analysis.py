"""Measuring two-phase commit: how long participants block, how likely a commit is.

:func:`blocking_times` reads a run's trace: a participant is *uncertain* from
the moment it votes yes until it hears the decision; while it is, it holds its
locks and may not decide alone.  This is the price of 2PC's blocking.

The probability model: a transaction commits when the voting phase succeeds
and then the coordinator reaches its decision::

    P(commit) = P(prepare) * P(commit | prepare)

:func:`commit_probability` computes it; :func:`estimate_commit_probability`
measures it in the simulator, so a lesson can put the two side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Estimate

__all__ = ["Blocking", "blocking_times", "prepare_probability", "commit_probability", "estimate_commit_probability"]


@dataclass(frozen=True)
class Blocking:
    """One participant's time in doubt about one transaction."""

    participant: str
    txid: str
    since: float  # when it voted yes
    until: float  # when it learned the decision (or the end of the run)
    resolved: bool  # False: still uncertain when the run ended

    @property
    def seconds(self) -> float:
        return self.until - self.since

    def __str__(self) -> str:
        how = "then learned the decision" if self.resolved else "and was still waiting when the run ended"
        return f"{self.participant} was uncertain about {self.txid} for {self.seconds:.3f} s ({self.since:.3f} to {self.until:.3f}), {how}"


def _field(msg: Any, name: str) -> Any:
    return msg.get(name) if isinstance(msg, dict) else getattr(msg, name, None)


def _type(msg: Any) -> str:
    return str(msg.get("type")) if isinstance(msg, dict) else type(msg).__name__


def blocking_times(run: Any, *, coordinator: str = "n1") -> list[Blocking]:
    """How long each participant stayed uncertain, read off the run's trace.

    A participant is uncertain from the moment it sends a yes vote until a
    ``Commit`` or ``Abort`` for that transaction is delivered to it.  Works on a
    fresh or a loaded :class:`~consensus_lab.sim.Run`.
    """
    since: dict[tuple[str, str], float] = {}
    done: dict[tuple[str, str], float] = {}
    for ev in run.trace:
        if ev.kind == "send" and ev.node != coordinator and _type(ev.msg) == "Vote" and _field(ev.msg, "yes"):
            since.setdefault((ev.node, _field(ev.msg, "txid")), ev.time)
        elif ev.kind == "deliver" and ev.node != coordinator and _type(ev.msg) in ("Commit", "Abort"):
            key = (ev.node, _field(ev.msg, "txid"))
            if key in since and key not in done:
                done[key] = ev.time
    end = run.scenario.duration
    return [Blocking(p, t, s, done.get((p, t), end), (p, t) in done) for (p, t), s in since.items()]


def prepare_probability(participants: int | Iterable[float], p_yes: float = 1.0) -> float:
    """P(prepare): every participant votes yes.

    ``participants`` is a count (each votes yes with probability ``p_yes``,
    independently) or a list of per-participant probabilities.
    """
    probs = [p_yes] * participants if isinstance(participants, int) else list(participants)
    out = 1.0
    for p in probs:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probabilities must be in [0, 1], got {p!r}")
        out *= p
    return out


def commit_probability(participants: int | Iterable[float], p_yes: float = 1.0, p_decide: float = 1.0) -> float:
    """P(commit) = P(prepare) * P(commit | prepare).

    ``p_decide`` is P(commit | prepare): the chance that the coordinator, with
    every yes in hand, reaches its logged commit decision (does not crash or
    time out first).  In the simulator with ``p_no`` set and no faults,
    ``p_yes = 1 - p_no`` and ``p_decide = 1``.
    """
    if not 0.0 <= p_decide <= 1.0:
        raise ValueError(f"p_decide must be in [0, 1], got {p_decide!r}")
    return prepare_probability(participants, p_yes) * p_decide


def estimate_commit_probability(p_no: float, *, nodes: int = 3, runs: int = 200, seed: int = 0, **changes: Any) -> Estimate:
    """The fraction of single-transaction runs that commit, with ``p_no`` set, and its 95% interval.

    One client sends one transaction per run; ``runs`` runs with seeds
    ``seed, seed+1, ...``.  Compare with ``commit_probability(nodes - 1, 1 - p_no)``.
    Estimates meant to be compared with each other (one per ``p_no``) should use
    disjoint seed ranges: the same seeds draw the same coin flips, so their errors
    would all lean the same way.
    """
    from ..models import estimate
    from ..runner import run as run_scenario
    from ..sim import Scenario, Workload
    from .twopc import SPEC

    sc = Scenario(
        protocol=SPEC.name, nodes=nodes, duration=1.0, options={"p_no": p_no},
        workload=Workload(clients=1, keys=("a", "b"), mix=(("txn", 1.0),), max_ops=1, think=0.01),
    ).replace(**changes)
    return estimate(lambda s: any(op.type == "ok" for op in run_scenario(sc, seed=s).history), range(seed, seed + runs))

"""How often does a battery catch each broken twin?

Two hunts per protocol, over plain seeds ``0 .. N-1``:

``battery``  the protocol's default battery: the family of seeded scenarios
             that its correct version runs in the tests (for Raft, the lab
             scenarios; a seed counts when any of them catches the twin);
``cli``      what ``consensus-lab run P --variant V --nemesis random --seed S``
             runs: the protocol's defaults, the random nemesis, 10 simulated
             seconds.

A twin is *caught* on a seed when an invariant is violated (or, for twins
that only a history check can see, when that check fails).  ``catch_rate``
returns the fraction of seeds and the first catching seed; the script
``benchmarks/twin_catch_rates.py`` prints the table.  A rule with no twin because
no run can tell its breaking apart from the rule is in ``EQUIVALENT_RULES``, with
the reason.  What makes the command line's hunt find the twins is each protocol's
``random_faults`` and ``random_tuning`` (for Raft the ``snipe`` fault kind, for
Paxos and Raft a pair split during the opening blips), never pinned seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .runner import build, collect
from .sim import Run, Scenario

__all__ = ["HUNTS", "BATTERY_SEEDS", "EQUIVALENT_RULES", "Catch", "caught", "catch_rate", "battery_scenarios", "cli_scenario"]


def cli_scenario(protocol: str, seed: int, variant: str = "correct") -> Scenario:
    """The scenario ``consensus-lab run PROTOCOL --variant V --nemesis random --seed S`` runs."""
    return Scenario(protocol=protocol, seed=seed, nemesis="random", variant=variant)


def _twopc(seed: int, variant: str) -> list[Scenario]:
    from .protocols import twopc

    return [twopc.random_scenario(seed, variant)]


def _paxos(seed: int, variant: str) -> list[Scenario]:
    from .protocols import paxos

    return [paxos.random_scenario(seed, variant)]


def _multipaxos(seed: int, variant: str) -> list[Scenario]:
    from .protocols import multipaxos

    return [multipaxos.random_scenario(seed, variant)]


#: a battery: seed, variant -> the scenarios of that seed (Raft's are driven, see _raft_caught)
BATTERIES: dict[str, Callable[[int, str], list[Scenario]]] = {
    "twopc": _twopc,
    "paxos": _paxos,
    "multi-paxos": _multipaxos,
}

#: how many seeds each protocol's battery runs in ``make test``
BATTERY_SEEDS = {"twopc": 1000, "paxos": 1000, "multi-paxos": 1000, "raft": 100}

#: rules of a protocol with no broken twin of their own, and why no run can tell them apart
EQUIVALENT_RULES = {
    ("raft", "follower commit bound"): (
        "commitIndex = min(leaderCommit, index of last new entry): a twin bounded by the end of its "
        "log instead may commit sooner, but never a different entry.  The bounds differ only when the "
        "follower's log reaches past the last new entry, and every entry there up to leaderCommit is "
        "the leader's own: a leader's nextIndex for a follower never drops below the first index where "
        "their logs disagree (it starts past the leader's log, and the conflict hint -- the first index "
        "of the follower's conflicting term, or the leader's last entry of that term plus one -- lands "
        "exactly there), so an AppendEntries the follower accepts either starts at that index and "
        "truncates the stale tail, or meets no stale tail; and a leader never changes its own log.  "
        "Small batches (max_entries=1) make the bounds differ often, and the entries past the last new "
        "one are still always the leader's (tests/test_twin_hunt.py, "
        "test_the_follower_commit_bound_matters_only_for_the_leaders_entries)."
    ),
}

#: the twins a history check catches rather than an invariant (on the command line:
#: ``--check NAME``): (protocol, variant) -> check name
HISTORY_TWINS = {
    ("multi-paxos", "local-read"): "linearizable",
    ("primary-backup", "async"): "linearizable",
    ("primary-backup", "local-reads"): "linearizable",
    ("quorum", "no-version-read"): "linearizable",
    ("gossip", "overwrite-merge"): "no-lost-writes",
    ("sharded-txn", "read-locked"): "linearizable",
}


def _run(sc: Scenario) -> Run:
    sim, _spec, schedule = build(sc)
    sim.stop_on_violation = True
    sim.run_until(sc.duration)
    sim.finish_clients()
    return collect(sim, sc, schedule)


def caught(protocol: str, variant: str, r: Run) -> bool:
    """Whether a run shows the twin: a violation, or the failed history check it needs."""
    if r.violations:
        return True
    check = HISTORY_TWINS.get((protocol, variant))
    if check is None:
        return False
    from .properties import evaluate

    return bool(evaluate(check, r).violated)


def battery_scenarios(protocol: str, seed: int, variant: str) -> list[Scenario]:
    return BATTERIES[protocol](seed, variant)


def _raft_caught(seed: int, variant: str) -> bool:
    from .protocols.raft_scenarios import run_scenario, scenario_names

    return any(
        run_scenario(name, seed, variant=variant, check=False, stop_on_violation=True).violations
        for name in scenario_names()
    )


def caught_by_battery(protocol: str, seed: int, variant: str) -> bool:
    if protocol == "raft":
        return _raft_caught(seed, variant)
    return any(caught(protocol, variant, _run(sc)) for sc in battery_scenarios(protocol, seed, variant))


def caught_by_cli(protocol: str, seed: int, variant: str) -> bool:
    return caught(protocol, variant, _run(cli_scenario(protocol, seed, variant)))


HUNTS: dict[str, Callable[[str, int, str], bool]] = {"battery": caught_by_battery, "cli": caught_by_cli}


@dataclass(frozen=True)
class Catch:
    hunt: str
    protocol: str
    variant: str
    seeds: int
    found: tuple[int, ...]

    @property
    def rate(self) -> float:
        return len(self.found) / self.seeds if self.seeds else 0.0

    @property
    def first(self) -> int | None:
        return self.found[0] if self.found else None


def catch_rate(hunt: str, protocol: str, variant: str, seeds: Iterable[int]) -> Catch:
    """Run ``hunt`` for ``variant`` over ``seeds``; which seeds catch it."""
    seeds = list(seeds)
    found = tuple(s for s in seeds if HUNTS[hunt](protocol, s, variant))
    return Catch(hunt, protocol, variant, len(seeds), found)

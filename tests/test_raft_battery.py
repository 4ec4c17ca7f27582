"""The Raft battery: the well-known lab tests, seeded and simulated.

Every scenario runs ``battery_seeds(100, 10000)`` seeds (10,000 under ``make
stress``, split into chunks so that all cores share them).  Each run must be
safe -- no invariant violated at any event, a linearizable client history, and
the strict expectations (no leader and no progress without a majority, no
spurious election, every operation answered) -- and live: Raft promises
liveness only with high probability (split votes can repeat), so the liveness
expectations (a leader, progress, agreement, a snapshot installed) may miss on
at most 3% of the seeds.

Each broken twin is caught by the battery, and its kept seed replays the
failure from a plain, pasteable Scenario.
"""

from __future__ import annotations

import pytest

from consensus_lab import run
from consensus_lab.protocols.raft import VARIANTS
from consensus_lab.protocols.raft_scenarios import (
    BATTERY,
    KEPT_SEEDS,
    KEPT_VIOLATIONS,
    find_failure,
    run_failed,
    run_scenario,
    scenario_names,
)
from consensus_lab.testing import battery_seeds, stress_mode

SEEDS = battery_seeds(100, 10000)
CHUNKS = 40 if stress_mode() else 1
LIVENESS_TOLERANCE = 0.03
TWINS = [v for v in VARIANTS if v != "correct"]

LAB_TESTS = [
    "initial-election",
    "re-election",
    "many-elections",
    "basic-agree",
    "fail-agree",
    "fail-no-agree",
    "concurrent-starts",
    "rejoin",
    "backup",
    "persist",
    "figure-8",
    "figure-8-unreliable",
    "unreliable-churn",
    "snapshots",
]


def test_battery_has_the_lab_scenarios_in_order():
    assert scenario_names() == LAB_TESTS
    for sc in BATTERY.values():
        assert sc.lab_test.startswith("Test") and sc.about


@pytest.mark.parametrize("chunk", range(CHUNKS), ids=lambda c: f"chunk{c}")
@pytest.mark.parametrize("name", LAB_TESTS)
def test_battery_scenario(name, chunk):
    seeds = SEEDS[chunk::CHUNKS]
    unsafe, not_live = [], []
    for seed in seeds:
        r = run_scenario(name, seed)
        why = run_failed(r, liveness=False)
        if why:
            unsafe.append(f"run_scenario({name!r}, {seed}): {why}\n    replay: consensus_lab.run({r.scenario!r})")
        elif run_failed(r):
            not_live.append(f"run_scenario({name!r}, {seed}): {run_failed(r)}")
    assert not unsafe, "\n".join(unsafe)
    allowed = max(1, int(LIVENESS_TOLERANCE * len(seeds)))
    assert len(not_live) <= allowed, f"{len(not_live)} of {len(seeds)} runs not live:\n" + "\n".join(not_live)


def test_battery_run_replays_from_its_plain_scenario():
    r = run_scenario("backup", 3)
    assert "partition" in r.scenario.nemesis and r.scenario.nemesis != "none"
    again = run(r.scenario)
    assert again.trace_hash == r.trace_hash


@pytest.mark.parametrize("variant", TWINS)
def test_battery_catches_broken_twin_at_its_kept_seed(variant):
    found = find_failure(variant, range(100))
    assert found is not None, f"the battery does not catch {variant} in 100 seeds"
    name, seed, r = found
    assert (name, seed) == KEPT_SEEDS[variant]
    assert r.violations[0].invariant == KEPT_VIOLATIONS[variant]


@pytest.mark.parametrize("variant", TWINS)
def test_battery_kept_seed_replays_the_failure(variant):
    name, seed = KEPT_SEEDS[variant]
    r = run_scenario(name, seed, variant=variant, check=False)
    first = r.violations[0]
    assert first.invariant == KEPT_VIOLATIONS[variant]
    assert first.events, "a violation comes with the events that led to it"
    again = run(r.scenario)  # a plain Scenario: protocol, seed, faults as a script, variant
    assert again.trace_hash == r.trace_hash
    assert [v.invariant for v in again.violations] == [v.invariant for v in r.violations]
    # the same scenario with the correct protocol is safe
    fixed = run(r.scenario.replace(variant="correct"))
    assert fixed.ok, fixed.violations

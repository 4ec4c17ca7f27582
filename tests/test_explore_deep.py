"""The broken twins whose shortest counterexample is 10-11 steps deep.

Breadth-first search visits 150,000-250,000 states for each (one to two
minutes of CPU), so they live in a file of their own: ``make test`` runs the
test files in parallel, one file per worker.
"""

from __future__ import annotations

import pytest
from explore_twins import DEEP_TWINS, check_shortest_counterexample


@pytest.mark.slow
@pytest.mark.parametrize("module, variant, broken, length", DEEP_TWINS, ids=[f"{m}-{v}" for m, v, *_ in DEEP_TWINS])
def test_bfs_finds_the_shortest_counterexample_of_each_deep_twin(module, variant, broken, length):
    from consensus_lab.explore.kept import KEPT_PATHS

    r = check_shortest_counterexample(module, variant, broken, length)
    if (module, variant) in KEPT_PATHS:  # the path the lessons replay is still the one the search finds
        assert tuple(r.path) == KEPT_PATHS[(module, variant)]


@pytest.mark.parametrize("module, variant, broken, length", [t for t in DEEP_TWINS if t[0] == "paxos"],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_kept_paths_replay_to_the_violation_at_their_last_step(module, variant, broken, length):
    from consensus_lab.explore.kept import KEPT_PATHS, kept_counterexample

    assert len(KEPT_PATHS[(module, variant)]) == length
    assert not kept_counterexample(module, variant, upto=length - 1).violations
    assert kept_counterexample(module, variant).violations[0].invariant == broken


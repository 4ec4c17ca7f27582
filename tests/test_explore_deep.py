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
    check_shortest_counterexample(module, variant, broken, length)

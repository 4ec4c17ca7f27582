"""Shared test set-up: hypothesis profiles and the path to ../shared.

Hypothesis: ``make test`` runs fixed seeds (``derandomize``), so a green run is
repeatable; ``make stress`` (``CONSENSUS_LAB_STRESS``) runs random seeds and many
more examples.  A test that needs its own ``max_examples`` writes
``@settings(max_examples=examples(N))`` (``consensus_lab.testing``) and never sets
``derandomize`` itself, so the profile decides (``tests/test_suite_rules.py``
checks).  Every hypothesis test is also marked ``stress`` so ``make stress``
(``-k "battery or stress"``) selects it.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "stress",
    deadline=None,
    max_examples=5000,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=False,
)
settings.load_profile("stress" if os.environ.get("CONSENSUS_LAB_STRESS") else "default")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONSENSUS_LAB_SHARED", ROOT.parent / "shared"))


def pytest_collection_modifyitems(config, items):
    """Mark every hypothesis test ``stress`` so that ``make stress`` runs it with random seeds."""
    import pytest

    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.stress)

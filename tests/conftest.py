"""Shared test set-up: hypothesis profiles and the path to ../shared."""

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
settings.register_profile("stress", deadline=None, max_examples=5000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("stress" if os.environ.get("CONSENSUS_LAB_STRESS") else "default")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CONSENSUS_LAB_SHARED", ROOT.parent / "shared"))

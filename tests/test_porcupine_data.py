"""Every history Porcupine ships gets the verdict Porcupine's tests assert.

The data lives outside the repository, in ``../shared/data/porcupine`` (or under
``$CONSENSUS_LAB_SHARED``); see its README for where it comes from.  The list of
files and their verdicts is kept here too (``tests/data/porcupine_expected.json``),
so that each history is its own test whether or not the data is present: without
it each one skips, and in CI each one fails (``tests/shared_data.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared_data import require_shared

from consensus_lab.checkers import LINEARIZABLE, NOT_LINEARIZABLE, check_linearizable, load_history

EXPECTED: dict[str, bool] = json.loads((Path(__file__).parent / "data" / "porcupine_expected.json").read_text())


def model_for(name: str) -> str:
    return "cas-register" if name.startswith("etcd_") else "kv"


def test_the_kept_list_has_every_history():
    assert len(EXPECTED) == 108
    assert sum(EXPECTED.values()) == 26


def test_the_shared_data_matches_the_kept_list() -> None:
    folder = require_shared("porcupine", "expected.json")
    assert json.loads((folder / "expected.json").read_text()) == EXPECTED
    assert sorted(EXPECTED) == sorted(p.name for p in folder.iterdir() if p.suffix in (".log", ".txt"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expected_verdict(name: str) -> None:
    folder = require_shared("porcupine", name)
    result = check_linearizable(load_history(folder / name), model_for(name), timeout=60)
    assert result.verdict == (LINEARIZABLE if EXPECTED[name] else NOT_LINEARIZABLE), result.detail
    if not result.ok:
        assert result.unplaceable and result.longest_prefix is not None

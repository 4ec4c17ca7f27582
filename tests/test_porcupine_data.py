"""Every history Porcupine ships gets the verdict Porcupine's tests assert.

The data lives outside the repository, in ``../shared/data/porcupine`` (or under
``$CONSENSUS_LAB_SHARED``); see its README for where it comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensus_lab.checkers import (
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    check_linearizable,
    load_history,
    shared_data_dir,
)


def _porcupine() -> Path | None:
    data = shared_data_dir()
    folder = data / "porcupine" if data else None
    return folder if folder and (folder / "expected.json").is_file() else None


FOLDER = _porcupine()
EXPECTED: dict[str, bool] = json.loads((FOLDER / "expected.json").read_text()) if FOLDER else {}

pytestmark = pytest.mark.skipif(
    FOLDER is None,
    reason="shared data not found: put it at ../shared/data/porcupine or set CONSENSUS_LAB_SHARED",
)


def model_for(name: str) -> str:
    return "cas-register" if name.startswith("etcd_") else "kv"


def test_all_histories_are_listed() -> None:
    assert len(EXPECTED) == 108
    assert sum(EXPECTED.values()) == 26
    assert sorted(EXPECTED) == sorted(p.name for p in FOLDER.iterdir() if p.suffix in (".log", ".txt"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_expected_verdict(name: str) -> None:
    result = check_linearizable(load_history(FOLDER / name), model_for(name), timeout=60)
    assert result.verdict == (LINEARIZABLE if EXPECTED[name] else NOT_LINEARIZABLE), result.detail
    if not result.ok:
        assert result.unplaceable and result.longest_prefix is not None

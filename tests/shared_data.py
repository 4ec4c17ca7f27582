"""The shared data sets (``../shared/data`` or ``$CONSENSUS_LAB_SHARED``) in tests.

On a developer's machine a missing data folder skips the tests that need it,
one skip line per test.  In CI (``CI=true``, as every CI service sets it) or with
``CONSENSUS_LAB_REQUIRE_SHARED=1`` it is a failure: a green CI run must mean the
data was there and every verdict was checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from consensus_lab.checkers import shared_data_dir

_TRUE = ("1", "true", "yes", "on")


def shared_required() -> bool:
    """Whether a missing shared data set fails the run (CI, or asked for)."""
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("CI", "CONSENSUS_LAB_REQUIRE_SHARED"))


def shared_folder(name: str) -> Path | None:
    """``<shared data>/<name>`` if it exists, else ``None``."""
    data = shared_data_dir()
    folder = data / name if data is not None else None
    return folder if folder is not None and folder.is_dir() else None


def require_shared(name: str, marker: str | None = None) -> Path:
    """The shared folder ``name`` (holding ``marker`` if given); else skip -- or fail in CI."""
    folder = shared_folder(name)
    if folder is not None and (marker is None or (folder / marker).is_file()):
        return folder
    why = (f"shared data not found: put it at ../shared/data/{name} or set CONSENSUS_LAB_SHARED"
           f"{f' (needs {marker})' if marker else ''}")
    if shared_required():
        pytest.fail(why + " -- required here (CI=true or CONSENSUS_LAB_REQUIRE_SHARED=1)", pytrace=False)
    pytest.skip(why)

"""Figures under test: each lesson figure's structural fingerprint matches its golden file.

See ``tests/figures.py`` for what a fingerprint holds and why it does not depend on
fonts or rasterisation.  After an intended change to a figure, regenerate with
``CONSENSUS_LAB_REWRITE_FIGURES=1 pytest tests/test_figures.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from figures import CASES, draw

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "figures"
REWRITE = os.environ.get("CONSENSUS_LAB_REWRITE_FIGURES", "") not in ("", "0")


def _first_difference(a, b, path="figure"):
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'the drawing' if k in a else 'the golden file'}"
            d = _first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
    elif isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items drawn, {len(b)} in the golden file"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
    elif a != b:
        return f"{path}: drawn {a!r}, golden {b!r}"
    return None


def _golden(name: str) -> Path:
    return GOLDEN / f"{name}.json"


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_matches_its_golden_fingerprint(name):
    fp = json.loads(json.dumps(draw(name)))  # tuples -> lists, as read back
    path = _golden(name)
    if REWRITE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
    assert path.is_file(), f"no golden file {path.name}: run with CONSENSUS_LAB_REWRITE_FIGURES=1 and review it"
    diff = _first_difference(fp, json.loads(path.read_text()))
    assert diff is None, f"{name} changed: {diff} (intended? CONSENSUS_LAB_REWRITE_FIGURES=1 rewrites the golden file)"


def test_every_golden_file_has_its_figure():
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(CASES)


def test_every_figure_function_a_lesson_calls_is_covered():
    used = set()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                used |= set(re.findall(r"\b(plot_\w+)\(", "".join(cell["source"])))
    covered = set(re.findall(r"\b(plot_\w+)\(", (ROOT / "tests" / "figures.py").read_text()))
    assert used and used <= covered, f"lesson figures without a fingerprint case: {sorted(used - covered)}"


def test_a_one_line_change_in_a_plotting_function_is_caught(monkeypatch):
    """Colour one message type differently in the space-time diagram: the comparison fails."""
    import consensus_lab.viz.spacetime as st

    real = st.message_color
    monkeypatch.setattr(st, "message_color", lambda name: "#000000" if name == "Commit" else real(name))
    diff = _first_difference(json.loads(json.dumps(draw("spacetime-twopc"))),
                             json.loads(_golden("spacetime-twopc").read_text()))
    assert diff is not None and "#000000" in diff

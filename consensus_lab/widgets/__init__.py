"""Layer 5: the scenario lab, a dashboard that puts failures in the reader's hands.

::

    from consensus_lab.widgets import ScenarioLab
    lab = ScenarioLab("raft", nodes=5, seed=7, at=1.0)
    lab                      # choose settings, crash, partition, step, run, scrub through time
    lab.static_picture();    # the same scenario as a picture (for nbval, a rendered page, a PDF)

:class:`ScenarioLab` needs ipywidgets (``pip install consensus_lab[lab]``);
:class:`LabSession` (the model behind it: act on a running simulation, keep
snapshots, print the faults as a script) and the panels need only matplotlib.
"""

from __future__ import annotations

from typing import Any

from .panels import (
    GenericPanel,
    Panel,
    PaxosPanel,
    RaftPanel,
    TwoPCPanel,
    panel_for,
    register_panel,
)
from .session import LabError, LabSession, Snapshot

__all__ = [
    "GenericPanel",
    "LabError",
    "LabSession",
    "Panel",
    "PaxosPanel",
    "RaftPanel",
    "ScenarioLab",
    "Snapshot",
    "TwoPCPanel",
    "panel_for",
    "register_panel",
]


def __getattr__(name: str) -> Any:
    if name == "ScenarioLab":
        try:
            from .lab import ScenarioLab
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] == "ipywidgets":
                raise ImportError(
                    "the scenario lab needs ipywidgets: pip install 'consensus_lab[lab]' (or make lab)"
                ) from None
            raise
        return ScenarioLab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

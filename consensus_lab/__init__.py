"""consensus_lab: learn how distributed systems keep data consistent.

The layers (see ARCHITECTURE.md): :mod:`consensus_lab.sim` (the simulated
world), :mod:`consensus_lab.protocols`, :mod:`consensus_lab.checkers`,
:mod:`consensus_lab.explore`, :mod:`consensus_lab.viz` and
:mod:`consensus_lab.widgets`, :mod:`consensus_lab.grading`, and the
``consensus-lab`` command.

Start with :func:`run`::

    from consensus_lab import run
    r = run("broadcast", nodes=3, seed=1, nemesis="random")
    print(r.summary())
"""

from .runner import ScenarioError, build, replay, run
from .sim import Latency, NetworkConfig, Run, Scenario, Workload

__version__ = "0.1.0"

__all__ = [
    "Latency",
    "NetworkConfig",
    "Run",
    "Scenario",
    "ScenarioError",
    "Workload",
    "build",
    "replay",
    "run",
    "__version__",
]

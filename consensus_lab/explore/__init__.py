"""Layer 4: search over schedules for the shortest counterexample.

The simulator runs a protocol under *one* schedule, chosen by time and a seed.
The explorer runs the same node code but chooses every event itself -- which
message arrives next, which is lost or duplicated, which timer fires, which
node crashes or restarts -- and tries them all within bounds you set::

    from consensus_lab.explore import explore
    result = explore("broadcast", variant="ack-before-store", depth=6, faults=1)
    result.verdict                # 'violation'
    print(result.summary())       # the shortest schedule that breaks an invariant
    plot_spacetime(result.counterexample)

States are fingerprinted canonically (:mod:`.state`), so a state reached by
two schedules is explored once; breadth-first search therefore finds a
counterexample of minimal length.  Per-protocol client operations and bounds
live in :mod:`.setups`.

Two networks: ``network="async"`` (the default) makes every delivery a step,
so messages arrive in any order; ``network="partitions"`` makes a step a
stimulus or a link cut and lets the messages settle in between -- coarser,
but deep enough for Raft's figure 8::

    explore("raft", variant="commit-previous-term")   # 7 steps, one cut link

Reductions that keep the answer exact: ``reduction="sleep-sets"`` (skip the
second order of two independent steps) and ``reduction="symmetry"`` (states
that differ by a renaming of the nodes a protocol declares interchangeable
count once; see :mod:`.symmetry`), or both.
"""

from .progress import ProgressInfo, TextProgress, WidgetProgress
from .search import (
    REDUCTIONS,
    STRATEGIES,
    VERDICTS,
    ExploreResult,
    explore,
    make_world,
    replay,
    shrink,
)
from .setups import ExploreSetup, get_setup, register_setup, setup_for
from .state import StateEncodingError, clone, digest, encode
from .symmetry import Symmetry, declare_symmetry
from .world import (
    FAULT_KINDS,
    HANDLER_ERROR,
    NETWORK_FAULTS,
    NETWORKS,
    Bounds,
    ClientOp,
    ExploreWorld,
    State,
    Step,
)

__all__ = [
    "Bounds",
    "ClientOp",
    "ExploreResult",
    "ExploreSetup",
    "ExploreWorld",
    "FAULT_KINDS",
    "HANDLER_ERROR",
    "NETWORKS",
    "NETWORK_FAULTS",
    "ProgressInfo",
    "STRATEGIES",
    "REDUCTIONS",
    "State",
    "StateEncodingError",
    "Step",
    "Symmetry",
    "TextProgress",
    "VERDICTS",
    "WidgetProgress",
    "clone",
    "declare_symmetry",
    "digest",
    "encode",
    "explore",
    "get_setup",
    "make_world",
    "register_setup",
    "replay",
    "setup_for",
    "shrink",
]

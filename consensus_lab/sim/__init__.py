"""Layer 1: the simulated world -- time, randomness, the network and failures.

Nodes (see :class:`Node`) react to messages, timers and client requests and act
only through their :class:`Context`.  A :class:`Simulation` drives them under a
:class:`NetworkConfig`, a :class:`Workload` of clients and a nemesis schedule,
checking :class:`Invariant` s after every event, and a :class:`Run` holds what
happened.
"""

from .clients import ClientRequest, Fail, Ok, Redirect, Workload
from .invariants import Invariant, Violation, World, goal, invariant
from .nemesis import (
    FAULT_KINDS,
    ClockSkew,
    Crash,
    Cut,
    Heal,
    NemesisError,
    Partition,
    Restart,
    SetLoss,
    Snipe,
    Strike,
    parse_script,
    random_schedule,
    schedule_to_script,
)
from .network import Latency, NetworkConfig
from .node import CancelTimer, Context, Node, Reply, Send, SetTimer, Storage
from .run import Run, RunFileError
from .scenario import ProtocolSpec, Scenario
from .simulation import NodeError, Simulation, SimulationError
from .trace import Trace, TraceEvent, to_jsonable

__all__ = [
    "CancelTimer",
    "ClientRequest",
    "ClockSkew",
    "Context",
    "Crash",
    "Cut",
    "FAULT_KINDS",
    "Fail",
    "Heal",
    "Invariant",
    "Latency",
    "NemesisError",
    "NetworkConfig",
    "Node",
    "NodeError",
    "Ok",
    "Partition",
    "ProtocolSpec",
    "Redirect",
    "Reply",
    "Restart",
    "Run",
    "RunFileError",
    "Scenario",
    "Send",
    "SetLoss",
    "Snipe",
    "Strike",
    "SetTimer",
    "Simulation",
    "SimulationError",
    "Storage",
    "Trace",
    "TraceEvent",
    "Violation",
    "Workload",
    "World",
    "goal",
    "invariant",
    "parse_script",
    "random_schedule",
    "schedule_to_script",
    "to_jsonable",
]

"""Judges of histories: is what the clients saw consistent?

Every checker is a pure function from data to a verdict with an explanation:

* :func:`check_linearizable` -- strong consistency (Herlihy and Wing), with a
  witness order or the place where it breaks;
* :func:`check_sequential` -- sequential consistency (Lamport), for small histories;
* :func:`check_read_your_writes`, :func:`check_monotonic_reads`,
  :func:`check_monotonic_writes`, :func:`check_writes_follow_reads` -- the
  session guarantees of Terry et al.;
* :func:`check_convergence`, :func:`check_no_lost_writes` -- eventual consistency;
* :func:`check_causal` -- causal consistency (causal memory, causal convergence,
  weak causal consistency; Bouajjani et al. 2017);
* :func:`check_isolation` -- transactional isolation, Elle-style (read committed,
  snapshot isolation, serializable, strict serializable) with the anomaly's cycle;
* :func:`check_consistency` -- any of the above by name (what ``consensus-lab
  check --consistency`` runs).

The sequential objects they compare against are the models in
:mod:`consensus_lab.checkers.models`; histories come from the simulator or from
files (:func:`load_history`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .brute import brute_force_causal, brute_force_linearizable, brute_force_serializable
from .causal import CausalResult, check_causal
from .convergence import ConvergenceResult, check_convergence, check_no_lost_writes, lost_writes
from .elle import ISOLATION_LEVELS, IsolationResult, check_isolation
from .formats import (
    FORMATS,
    HistoryFormatError,
    detect_format,
    history_from_text,
    load_history,
    parse_history,
)
from .independent import unwrap_independent
from .levels import CONSISTENCY_LEVELS, Verdict, check_consistency
from .linearizability import (
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    UNKNOWN,
    LinearizabilityResult,
    check_linearizable,
    linearization_points,
)
from .models import (
    MODELS,
    CASRegisterModel,
    KVModel,
    ListAppendModel,
    Model,
    MultiRegisterModel,
    MutexModel,
    RegisterModel,
    SetModel,
    get_model,
)
from .sequential import HistoryTooLargeError, SequentialResult, check_sequential
from .sessions import (
    SESSION_GUARANTEES,
    SessionResult,
    SessionViolation,
    check_monotonic_reads,
    check_monotonic_writes,
    check_read_your_writes,
    check_session_guarantees,
    check_writes_follow_reads,
)

__all__ = [
    "CONSISTENCY_LEVELS",
    "CASRegisterModel",
    "CausalResult",
    "ISOLATION_LEVELS",
    "IsolationResult",
    "MultiRegisterModel",
    "MutexModel",
    "Verdict",
    "brute_force_causal",
    "brute_force_serializable",
    "check_causal",
    "check_consistency",
    "check_isolation",
    "unwrap_independent",
    "ConvergenceResult",
    "FORMATS",
    "HistoryFormatError",
    "HistoryTooLargeError",
    "KVModel",
    "LINEARIZABLE",
    "LinearizabilityResult",
    "ListAppendModel",
    "MODELS",
    "Model",
    "NOT_LINEARIZABLE",
    "RegisterModel",
    "SESSION_GUARANTEES",
    "SequentialResult",
    "SessionResult",
    "SessionViolation",
    "SetModel",
    "UNKNOWN",
    "brute_force_linearizable",
    "check_convergence",
    "check_linearizable",
    "check_monotonic_reads",
    "check_monotonic_writes",
    "check_no_lost_writes",
    "check_read_your_writes",
    "check_sequential",
    "check_session_guarantees",
    "check_writes_follow_reads",
    "detect_format",
    "get_model",
    "history_from_text",
    "linearization_points",
    "load_history",
    "lost_writes",
    "parse_history",
    "shared_data_dir",
]


def shared_data_dir() -> Path | None:
    """Where the course's shared data sets live, or ``None`` if absent.

    ``$CONSENSUS_LAB_SHARED`` wins (the folder that holds ``data/``, or
    ``data/`` itself); otherwise ``../shared/data`` next to the repository.
    """
    env = os.environ.get("CONSENSUS_LAB_SHARED")
    candidates = []
    if env:
        base = Path(env).expanduser()
        candidates += [base / "data", base]
    repo = Path(__file__).resolve().parents[2]
    candidates.append(repo.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None

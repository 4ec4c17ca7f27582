"""Exercise 10: how likely is it to work? Quorums and 2PC under failures (lesson 08).

Write three functions; each returns a probability (a float in [0, 1]).

* ``p_majority(n, p_up)`` -- each of ``n`` nodes is up with probability
  ``p_up``, independently; the probability that a majority (``n // 2 + 1``)
  is up -- what Paxos and Raft need to make progress.
* ``p_majority_racks(rack_sizes, p_rack_down, p_node_down)`` -- the nodes sit
  in racks (``rack_sizes[i]`` nodes in rack ``i``); each rack fails with
  probability ``p_rack_down`` and takes all its nodes with it; a node in a
  working rack fails on its own with ``p_node_down``; all independently.  The
  probability that a majority of all the nodes is up.
* ``p_2pc_commit(participants, p_up, p_back)`` -- two-phase commit with a
  coordinator that never fails and keeps re-sending ``Prepare`` until its vote
  timeout.  Each participant is up when the transaction starts with
  probability ``p_up``; a participant that is down comes back before the
  timeout with probability ``p_back`` (and then votes yes).  The probability
  that every participant votes yes in time, so the transaction commits.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INTERFACE", "PREAMBLE"]

INTERFACE = ("p_majority", "p_majority_racks", "p_2pc_commit")
PREAMBLE = "from consensus_lab.grading.exercises.ex10 import *\n"
MESSAGES = ()


def call(answers: dict[str, Any], name: str, args: list) -> Any:
    """Call one of the three functions; the grader gets a plain float back."""
    if name not in INTERFACE:
        raise ValueError(f"unknown call {name!r}")
    result = answers[name](*args)
    if isinstance(result, bool) or not isinstance(result, int | float):
        raise TypeError(f"{name} returned {type(result).__name__}, not a probability (a float)")
    return float(result)

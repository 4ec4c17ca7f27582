"""Exercise 13 judged (capstone B): linearizable reads that never enter the log.

Part A's rules (one answer per operation, a linearizable history), and: no
``get`` is ever appended to a log.  The schedules cut the leader off with its
clients still talking to it, so a leader that answers reads from its own state
without confirming that it still leads serves stale values -- and the history
is no longer linearizable.  The rules are part A's :class:`~.ex12.KVRules`
(:class:`ReadIndexRules`): its search check judges the history so far after
every step, so a stale read is reported at the step that answers it.
"""

from __future__ import annotations

from typing import Any

from ..checks import Check, Violation
from ..hosting import _ABSENT
from .ex12 import SLOW, KVJudge, KVRules
from .ex12 import Spec as PartA


class ReadIndexRules(KVRules):
    reads_in_log = False  # a retried read is a new read: it may see newer writes
    suspects = ("a write applied twice, a read answered by a leader that no longer leads, or one answered "
                "before the leader knew what was committed?")

    def log_changed(self, nid: str, old: Any, new: Any, now: float) -> None:
        old = () if old is _ABSENT else old
        for entry in new[len(old):] if type(new) is tuple else ():
            command = getattr(entry, "command", None)
            if getattr(command, "f", None) == "get":
                raise Violation("reads without a log entry", f"{nid} appended {command.client}'s get "
                                f"#{command.seq} to its log; a read must be answered by read index", now)


class ReadIndexJudge(KVJudge):
    rules_class = ReadIndexRules


MIX = [["put", 0.25], ["append", 0.25], ["get", 0.5]]


class Spec(PartA):
    id = "ex13"
    title = "capstone B: linearizable reads without a log entry"
    notebook = "ex13_capstone_b_read_index.ipynb"
    judge_class = ReadIndexJudge
    defaults = {**PartA.defaults, "workload": {**PartA.defaults["workload"], "mix": MIX}}
    hints = {
        **PartA.hints,
        "reads without a log entry": "A get is never proposed: the leader queues it, confirms a ReadProbe round "
        "with a majority and answers from its state once last_applied >= its read index.",
        "linearizability": "A read must see every write that completed before it began: answer it only after a "
        "majority acknowledged a ReadProbe round sent after the read arrived (a cut-off leader never gets "
        "one), and only once an entry of the leader's own term has committed.",
    }
    checks = (
        Check("reads and writes, no faults", 2, hint="A get is answered by the leader from its state, never "
              "proposed: confirm the read's round with a majority and wait until last_applied >= read_index.",
              params={"seeds": [1], "expect": {"min_ok": 30}}),
        Check("a cut-off leader serves no stale read", 4, hint="Before answering, the leader must hear ReadAck "
              "from a majority for a round it sent after the read arrived; a leader cut off from the majority "
              "never does, so its clients time out and find the new leader.",
              params={"seeds": [2, 15], "nemesis": "partition", "nemesis_interval": 0.3,
                      # five clients that pick a node at random reach the cut-off leader often
                      "workload": {"timeout": 0.2, "clients": 5, "sticky": False}, "expect": {"min_ok": 5}}),
        Check("a new leader waits for its no-op", 2, hint="A new leader's commit_index may lag behind what its "
              "predecessor committed: answer reads only once an entry of its own term is committed.",
              params={"seeds": [6], "nemesis": "partition", "nemesis_interval": 0.3,
                      "workload": {"timeout": 0.2}, "expect": {"min_ok": 5}}),
        Check("writes still run once", 2, hint="put and append go through the log exactly once, as in part A.",
              params={"seeds": [5], "network": {"latency": SLOW, "duplicate": 0.2}, "workload": {"timeout": 0.1},
                      "expect": {"min_ok": 10}}),
    )


SPEC = Spec()

"""Exercise 12 judged (capstone A): a linearizable key-value service on Raft, exactly once.

Per call: every answer the service gives to one client operation ``(client,
seq)`` is the same answer -- an operation runs once, however often its request
arrives.  At the end: enough operations succeeded, and the clients' history is
linearizable (the library's checker, key-value model with ``put``/``append``/
``get``: an ``append`` run twice shows up in every later read).
"""

from __future__ import annotations

from typing import Any

from ...sim.clients import Fail, Ok, Redirect
from ..checks import Check, Judge, NodeSpec, Violation
from ._histories import linearizability_problem

# a slow network: many commits take longer than a client waits, so clients retry operations that run
SLOW = {"kind": "uniform", "low": 0.02, "high": 0.1}


class KVJudge(Judge):
    reads_once = True  # a get goes through the log too: a retried one must get the first answer
    suspects = "an operation applied twice, or answered before it was committed?"

    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.answers: dict[tuple[str, int], tuple[Any, str, float]] = {}

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        for eff in effects:
            if eff[0] != "reply" or isinstance(eff[2], Redirect):
                continue
            request, result = eff[1], eff[2]
            if isinstance(result, Fail):
                raise Violation("no failures", f"{node.id} answered Fail for {request.f}({request.key!r}) of "
                                f"{request.client}#{request.seq}; a service that cannot tell should not answer "
                                f"(the client retries)", now)
            if request.f == "get" and not self.reads_once:
                continue
            value = result.value if isinstance(result, Ok) else result
            key = (request.client, request.seq)
            first = self.answers.setdefault(key, (value, node.id, now))
            if first[0] != value:
                raise Violation("exactly once", f"{request.client}'s operation #{request.seq} "
                                f"({request.f} {request.key!r}) was answered {first[0]!r} by {first[1]} at "
                                f"t={first[2]:.3f} and {value!r} by {node.id}: it ran twice", now)

    def final(self) -> str | None:

        assert self.sim is not None
        expect = self.params.get("expect", {})
        ok = sum(1 for op in self.sim.history if op.type == "ok")
        if ok < int(expect.get("min_ok", 0)):
            return f"only {ok} operations succeeded; expected at least {expect['min_ok']}"
        return linearizability_problem(self.sim.history, "kv", says="linearizability: the clients' history is",
                                       more=f" -- {self.suspects}")


class Spec(NodeSpec):
    id = "ex12"
    title = "capstone A: a key-value service on Raft, exactly once"
    notebook = "ex12_capstone_a_kv_service.ipynb"
    judge_class = KVJudge
    defaults = {
        "nodes": 3,
        "duration": 4.0,
        "quiet": 0.35,
        "workload": {"clients": 3, "keys": ["x", "y"], "mix": [["put", 0.25], ["append", 0.35], ["get", 0.4]],
                     "think": 0.05, "timeout": 0.3, "deadline": 3.0, "stop": 3.0},
    }
    checks = (
        Check("puts, appends and gets, no faults", 2, hint="Propose a Command on the leader and answer in apply, "
              "when its entry is committed; any other node answers Redirect(self.leader_id).",
              params={"seeds": [1], "expect": {"min_ok": 30}}),
        Check("retried requests run once", 3, hint="Keep, per client, the last seq applied and its result, in "
              "the state apply builds; a Command whose seq is not newer is answered with that result, not run.",
              params={"seeds": [2, 3], "network": {"latency": SLOW, "duplicate": 0.2},
                      "workload": {"timeout": 0.1}, "expect": {"min_ok": 10}}),
        Check("leader changes", 3, hint="A client whose leader was cut off retries elsewhere with the same seq: "
              "the new leader may find that Command in its log already -- apply must still run it once.",
              params={"seeds": [2, 3], "nemesis": "partition", "nemesis_interval": 0.4, "network": {"loss": 0.1},
                      "workload": {"timeout": 0.15}, "expect": {"min_ok": 10}}),
        Check("crashes and restarts", 2, hint="After a restart the service is rebuilt by applying the log from "
              "index 1: start it empty in on_start, and keep the duplicate table in what apply builds.",
              params={"seeds": [2], "nodes": 5, "nemesis": "crash,partition", "nemesis_interval": 0.3,
                      "network": {"loss": 0.1}, "workload": {"timeout": 0.15}, "expect": {"min_ok": 10}}),
    )


SPEC = Spec()

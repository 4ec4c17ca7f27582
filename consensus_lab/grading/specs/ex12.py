"""Exercise 12 judged (capstone A): a linearizable key-value service on Raft, exactly once.

Per call (:class:`KVRules`, the moment a rule breaks, with the node and the operation):

* exactly once -- every answer the service gives to one client operation
  ``(client, seq)`` is the same answer: an operation runs once, however often
  its request arrives;
* answer only committed operations -- an operation is answered only once its
  command is in the answering node's log and a majority of the nodes store that
  entry (a committed entry is stored by a majority);
* answers agree with the log -- a ``get`` answers what the log up to its
  command's first entry gives when every operation runs once (an operation run
  twice, or not at all, shows here at the moment of the answer).

At the end: enough operations succeeded, and the clients' history is
linearizable (the library's checker, key-value model with ``put``/``append``/
``get``: an ``append`` run twice shows up in every later read).  A search check
(:class:`SearchRules`) feeds the same rules what the stepped nodes stored and
answered, and judges the history so far after every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...checkers.models import KVModel
from ...history import Operation
from ...sim.clients import Fail, Ok, Redirect
from ..checks import Check, Judge, NodeSpec, Violation
from ._histories import judged_once, linearizability_problem
from ._judged_steps import JudgedSteps, seen

# a slow network: many commits take longer than a client waits, so clients retry operations that run
SLOW = {"kind": "uniform", "low": 0.02, "high": 0.1}
_MODEL = KVModel()


def _operation(command: Any, output: Any = None) -> Operation:
    return Operation(0, 0, command.f, command.key, command.value, output, "ok", 0.0, 0.0)


class KVRules:
    """The rules of a run, one observation at a time, with what they remember (plain data): the
    judge of a seeded run and a search check's :class:`SearchRules` feed them alike."""

    reads_in_log = True  # a get goes through the log too: a retried one must get the first answer
    suspects = "an operation applied twice, or answered before it was committed?"

    def __init__(self) -> None:
        self.answers: dict[tuple[str, int], tuple[Any, str, float]] = {}

    def log_changed(self, nid: str, old: Any, new: Any, now: float) -> None:
        """``nid`` stored its log ``new`` in place of ``old`` (``_ABSENT`` if it had none)."""

    def answered(self, nid: str, request: Any, result: Any, logs: Mapping[str, Any] | None, now: float) -> None:
        """``nid`` answered ``request`` with ``result``; ``logs``: every node's stored log (None: not judged)."""
        if isinstance(result, Redirect):
            return
        if isinstance(result, Fail):
            raise Violation("no failures", f"{nid} answered Fail for {request.f}({request.key!r}) of "
                            f"{request.client}#{request.seq}; a service that cannot tell should not answer "
                            f"(the client retries)", now)
        if request.f == "get" and not self.reads_in_log:
            return
        value = result.value if isinstance(result, Ok) else result
        key = (request.client, request.seq)
        first = self.answers.setdefault(key, (value, nid, now))
        if first[0] != value:
            raise Violation("exactly once", f"{request.client}'s operation #{request.seq} "
                            f"({request.f} {request.key!r}) was answered {first[0]!r} by {first[1]} at "
                            f"t={first[2]:.3f} and {value!r} by {nid}: it ran twice", now)
        if logs is not None and type(logs.get(nid)) is tuple:
            self._from_the_log(nid, request, value, logs, now)

    def _from_the_log(self, nid: str, request: Any, value: Any, logs: Mapping[str, Any], now: float) -> None:
        log = logs[nid]
        op = (request.client, request.seq)
        what = f"{request.client}'s {request.f} #{request.seq} of {request.key!r}"
        at = next((i for i, e in enumerate(log) if _client_op(e) == op), None)
        if at is None:
            raise Violation("answer only committed operations", f"{nid} answered {what}, but its log holds no "
                            f"command of that operation: it answered someone else's entry, or none", now)
        holders = sum(1 for other in logs.values() if type(other) is tuple and len(other) > at and other[at] == log[at])
        if holders <= len(logs) // 2:
            raise Violation("answer only committed operations", f"{nid} answered {what} when only {holders} of "
                            f"{len(logs)} nodes stored its entry {at + 1}: it was not committed yet", now)
        if request.f != "get":
            return
        state: dict[Any, Any] = {}
        last: dict[str, int] = {}
        for entry in log[:at]:
            command = getattr(entry, "command", None)
            if _client_op(entry) is None or command.f not in ("put", "append"):
                continue
            if last.get(command.client, command.seq - 1) >= command.seq:
                continue  # a retry of an operation that ran: it runs once
            last[command.client] = command.seq
            state[command.key] = _MODEL.step(state.get(command.key), _operation(command))[1]
        if last.get(request.client, request.seq - 1) >= request.seq:
            return  # an old retry of a client that has moved on: nobody waits for its answer
        expected = state.get(request.key)
        if not _MODEL.step(expected, _operation(log[at].command, value))[0]:
            raise Violation("answers agree with the log", f"{nid} answered {what} with {value!r}, but the "
                            f"committed log up to its entry {at + 1}, each operation run once, gives {expected!r}: "
                            f"an operation ran twice, or not as the brief says", now)

    @classmethod
    def judge_history(cls, history: list) -> str | None:
        """:meth:`history_problem` by a fresh rules object (what a search check judges, once per history)."""
        return cls().history_problem(history)

    def history_problem(self, history: list, suspects: str | None = None) -> str | None:
        return linearizability_problem(history, "kv", says="linearizability: the clients' history is",
                                       more=f" -- {suspects or self.suspects}")


def _client_op(entry: Any) -> tuple[str, int] | None:
    command = getattr(entry, "command", None)
    if command is None or not hasattr(command, "client") or not hasattr(command, "seq"):
        return None
    return command.client, command.seq


class KVJudge(Judge):
    rules_class = KVRules
    judges_log = True  # the stored log starts at index 1 (part C's snapshots move it: it turns this off)

    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.rules = self.rules_class()

    @property
    def suspects(self) -> str:
        return self.rules.suspects

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        if "log" in before:
            self.rules.log_changed(node.id, before["log"], self.store(node.id).get("log", ()), now)
        logs = None
        for eff in effects:
            if eff[0] != "reply":
                continue
            if logs is None and self.judges_log:
                logs = {n: self.store(n).get("log", ()) for n in self.nodes}
            self.rules.answered(node.id, eff[1], eff[2], logs, now)

    def final(self) -> str | None:

        assert self.sim is not None
        expect = self.params.get("expect", {})
        ok = sum(1 for op in self.sim.history if op.type == "ok")
        if ok < int(expect.get("min_ok", 0)):
            return f"only {ok} operations succeeded; expected at least {expect['min_ok']}"
        return self.rules.history_problem(self.sim.history, self.suspects)


class SearchRules(JudgedSteps):
    """The judge's rules in a search check: what every node stored and each node was seen to answer
    (:meth:`Spec.observe`) go through the same :class:`KVRules`, and after every step the history
    so far must be linearizable (the final rule of a seeded run, judged at once)."""

    watched = None

    def __init__(self, rules: KVRules) -> None:
        super().__init__()
        self.rules = rules

    def storage_changed(self, before, store, world, node_id) -> None:
        if "log" in before:
            self.rules.log_changed(node_id, before["log"], store.get("log", ()), world.now)

    def observed(self, node_id, facts, store, world) -> None:
        logs = {n: self.store_seen.get(n, {}).get("log", ()) for n in world.storage}
        for request, result in facts.get("answers", ()):
            self.rules.answered(node_id, request, result, logs, world.now)

    def check(self, world: Any) -> str | None:
        problem = super().check(world)
        if problem is None:
            problem = (judged_once(type(self.rules).judge_history, world.history)
                       if any(op.type == "ok" for op in world.history) else None)
            if problem is not None:
                self.name = "linearizability"
        return problem


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
    hints = {
        "exactly once": "Keep, per client, the last seq applied and its result in the state apply builds; a "
        "Command whose seq is not newer is answered with that result, not run again.",
        "answer only committed operations": "Answer a request in apply, when the entry at the index propose "
        "returned is applied -- and only if that entry is the request's own Command (client and seq): a new "
        "leader may have put another command at that index.",
        "answers agree with the log": "apply runs each (client, seq) once: a Command already in the duplicate "
        "table is answered with its first result and changes nothing; append adds to the current value.",
        "linearizability": "Every answer must come from applying the committed log in order, each operation "
        "once: no answer before the commit, no operation run twice.",
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

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """What a stepped node was seen to answer, for :class:`SearchRules`: ``facts["answers"]``,
        (request, result) of every answer, each once, in the order first seen."""
        return seen(facts, answers=[(e[1], e[2]) for e in effects if e[0] == "reply"])

    def search_invariants(self) -> list:
        return [SearchRules(self.judge_class.rules_class())]


SPEC = Spec()

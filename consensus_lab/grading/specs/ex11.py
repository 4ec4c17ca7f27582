"""Exercise 11 judged: fencing tokens at the storage, and the clients' history.

Per call (the moment a rule breaks, with the node and the token):

* fencing -- the storage never accepts a write whose token is lower than one it
  accepted before (a paused or slow client's stale write must be refused), and
  never forgets the highest token across a restart;
* use the token you were granted -- a client writes only with a token the lock
  service granted to it;
* verdicts are final, and a client answers what the storage decided.

At the end: the history of writes and reads is linearizable (the library's
checker, key-value model), and enough writes went through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...sim.clients import Fail, Ok
from ..checks import Check, Judge, NodeSpec, Violation
from ..exercises.ex11 import LOCK_SERVER, STORAGE
from ..hosting import _ABSENT
from ._histories import linearizability_problem
from ._judged_steps import JudgedSteps, seen

# A client's writes to the storage crawl (a GC pause, a slow network): its lease expires in flight.
SLOW_N3 = [["n3", STORAGE, {"kind": "uniform", "low": 0.3, "high": 0.6}]]
# The storage restarts again and again: a stale write is bound to arrive just after one of them.
RESTARTS = "; ".join(f"{t:.2f} crash {STORAGE}; {t + 0.02:.2f} restart {STORAGE}" for t in
                     [0.3 + 0.15 * i for i in range(12)])


class FencingRules:
    """The rules of a run, one observation at a time, with what they remember (plain data): the
    judge of a seeded run and a search check's :class:`SearchRules` feed them alike."""

    def __init__(self) -> None:
        self.granted: dict[int, str] = {}  # token -> client node it was granted to
        self.written: set[tuple] = set()  # (token, key, value) some client sent in a Write
        self.highest = 0  # the highest token the storage has accepted, as the grader saw it
        self.refused = 0

    def sent_write(self, nid: str, msg: Any, now: float) -> None:
        if self.granted.get(msg.token) != nid:
            raise Violation("use the token you were granted",
                            f"{nid} wrote {msg.value!r} with token {msg.token!r}, which the lock service "
                            f"granted to {self.granted.get(msg.token, 'nobody')}", now)
        self.written.add((msg.token, msg.key, msg.value))

    def answered_write(self, nid: str, value: Any, result: Any, st: Mapping[str, Any], now: float) -> None:
        verdict = st.get(f"write:{value}")
        if isinstance(result, Fail):
            if verdict is not False:
                raise Violation("answer what the storage decided",
                                f"{nid} answered Fail for write({value!r}) but the storage's "
                                f"verdict is {verdict!r}", now)
        elif isinstance(result, Ok) and verdict is not True:
            raise Violation("answer what the storage decided",
                            f"{nid} answered Ok for write({value!r}) but the storage's verdict "
                            f"is {verdict!r}" + (" -- it refused the stale token" if verdict is False else ""),
                            now)

    def storage_changed(self, before: Mapping[str, Any], st: Mapping[str, Any], now: float) -> None:
        for key, old in before.items():
            new = st.get(key, _ABSENT)
            if key.startswith("write:"):
                if old is not _ABSENT and new != old:
                    raise Violation("verdicts are final", f"the storage changed {key} from {old!r} to {new!r}", now)
                if new is False and old is _ABSENT:
                    self.refused += 1
            elif key.startswith("data:"):
                if type(new) is not tuple or len(new) != 2:
                    raise Violation("the storage's format", f"storage[{key!r}] = {new!r}; it must be "
                                    f"(token, value)", now)
                token, value = new
                if (token, key[5:], value) not in self.written and not any(
                        t == token and v == value and str(k) == key[5:] for t, k, v in self.written):
                    raise Violation("validity", f"the storage holds {value!r} with token {token!r} under "
                                    f"{key!r}, but no client wrote that", now)
                if type(token) is not int or token < self.highest:
                    raise Violation("fencing", f"the storage accepted write({value!r}) with token {token} after "
                                    f"it had accepted token {self.highest}: a stale write from a client whose "
                                    f"lease had expired (paused or slow) overwrote newer data", now)
                self.highest = token


class FencingJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.rules = FencingRules()

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        if nid == LOCK_SERVER:
            for eff in effects:
                if eff[0] == "send" and type(eff[2]).__name__ == "Grant":
                    self.rules.granted[eff[2].token] = eff[1]
            return
        if nid == STORAGE:
            self.rules.storage_changed(before, self.store(STORAGE), now)
            return
        for eff in effects:
            if eff[0] == "send" and type(eff[2]).__name__ == "Write":
                self.rules.sent_write(nid, eff[2], now)
            elif eff[0] == "reply" and eff[1].f == "write":
                self.rules.answered_write(nid, eff[1].value, eff[2], self.store(STORAGE), now)

    def final(self) -> str | None:

        assert self.sim is not None
        expect = self.params.get("expect", {})
        writes = sum(1 for op in self.sim.history if op.type == "ok" and op.f == "write")
        if writes < int(expect.get("min_writes", 0)):
            return f"only {writes} writes succeeded; expected at least {expect['min_writes']}"
        if self.rules.refused < int(expect.get("min_refused", 0)):
            return (f"the storage refused {self.rules.refused} stale writes; this run has a slow client whose lease "
                    f"expires in flight, so at least {expect['min_refused']} must be refused")
        return linearizability_problem(self.sim.history, "kv", says="linearizability: the clients' history is")


class SearchRules(JudgedSteps):
    """The judge's rules in a search check: the grants the lock service was seen to send, what the
    storage wrote and what each client was seen to write and answer (:meth:`Spec.observe`) go
    through the same :class:`FencingRules`."""

    watched = STORAGE

    def __init__(self) -> None:
        super().__init__()
        self.rules = FencingRules()

    def storage_changed(self, before, store, world, node_id) -> None:
        self.rules.storage_changed(before, store, world.now)

    def observed(self, node_id, facts, store, world) -> None:
        for token, client in facts.get("grants", ()):
            self.rules.granted.setdefault(token, client)
        for msg in facts.get("writes", ()):
            self.rules.sent_write(node_id, msg, world.now)
        for value, result in facts.get("answers", ()):
            self.rules.answered_write(node_id, value, result, store, world.now)


class Spec(NodeSpec):
    id = "ex11"
    title = "a lock with fencing tokens, and storage that refuses stale ones"
    notebook = "ex11_fencing_tokens.ipynb"
    judge_class = FencingJudge
    defaults = {
        "nodes": 4,
        "duration": 3.0,
        "quiet": 0.3,
        "workload": {"clients": 3, "keys": ["x", "y"], "mix": [["write", 0.6], ["read", 0.4]], "think": 0.05,
                     "timeout": 0.8, "deadline": 2.0, "stop": 2.2, "sticky": False},
    }
    checks = (
        Check("writes under the lock, no faults", 2, hint="Acquire, write with the granted token, release; "
              "answer Ok() when the storage accepted the write.",
              params={"seeds": [1], "expect": {"min_writes": 8}}),
        Check("a paused client's stale write is refused", 4, hint="The storage refuses a Write whose token is "
              "lower than the highest it has accepted, and the client answers Fail('stale token').",
              params={"seeds": [2, 3], "network": {"link_latency": SLOW_N3},
                      "expect": {"min_writes": 4, "min_refused": 1}}),
        Check("lost and duplicated messages", 2, hint="Retry Acquire, Write and Read every RETRY seconds; the "
              "storage answers a retried Write with its first verdict (storage['write:...']).",
              params={"seeds": [4], "network": {"loss": 0.15, "duplicate": 0.2}, "expect": {"min_writes": 4}}),
        Check("the storage restarts", 2, hint="The highest accepted token is durable: read it back in "
              "on_start, or a stale write gets in after a restart.",
              params={"seeds": [5, 6], "nodes": 5, "network": {"link_latency": SLOW_N3},
                      "nemesis": RESTARTS, "expect": {"min_writes": 2}}),
    )

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """What a stepped node was seen to do, for :class:`SearchRules`: the lock service's grants
        (token, client), a client's Writes and its answers to writes (value, result); each once."""
        if node_id == LOCK_SERVER:
            return seen(facts, grants=[(e[2].token, e[1]) for e in effects
                                       if e[0] == "send" and type(e[2]).__name__ == "Grant"])
        if node_id == STORAGE:
            return facts
        return seen(facts, writes=[e[2] for e in effects if e[0] == "send" and type(e[2]).__name__ == "Write"],
                    answers=[(e[1].value, e[2]) for e in effects if e[0] == "reply" and e[1].f == "write"])

    def search_invariants(self) -> list:
        return [SearchRules()]

    def validate_check(self, check: Check) -> None:
        super().validate_check(check)
        if int(self.scenario(check.params).get("nodes", 4)) < 3:
            raise ValueError(f"check {check.name!r}: needs at least 3 nodes (lock service, storage, a client)")


SPEC = Spec()

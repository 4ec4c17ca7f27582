"""Exercise 7 judged: single-decree Paxos.

The grader watches every acceptor's durable state: a promise never goes
down, an acceptance is never below the promise, and once a value is *chosen*
(accepted by a majority in one ballot) every later acceptance carries that
value (P2).  Promises and acceptances are announced only after they are
stored; every decision and every client answer is the chosen value, which
some client proposed.
"""

from __future__ import annotations

from typing import Any

from ...sim.clients import Ok
from ..checks import Check, Judge, NodeSpec, Violation
from ..hosting import _ABSENT

NO_BALLOT = (0, "")


def _ballot(b: Any) -> bool:
    return type(b) is tuple and len(b) == 2 and type(b[0]) is int and type(b[1]) is str


class PaxosJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.chosen: tuple | None = None  # (ballot, value)
        self.acceptors: dict[tuple, set[str]] = {}  # (ballot, value) -> every node that ever accepted it

    def _proposed(self) -> set:
        return {op.value for op in self.sim.history if op.type == "invoke"}

    def _check_value(self, who: str, what: str, v: Any, now: float) -> None:
        if self.chosen is None:
            raise Violation("only a chosen value is decided", f"{who} {what} {v!r} before any value was chosen "
                            "(accepted by a majority in one ballot)", now)
        if v != self.chosen[1]:
            raise Violation("agreement", f"{who} {what} {v!r} but {self.chosen[1]!r} was chosen", now)

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        st = self.store(nid)
        promised = st.get("promised", NO_BALLOT)
        if "promised" in before:
            old = before["promised"]
            if not _ballot(promised):
                raise Violation("ballots", f"{nid} stored promised = {promised!r}; a ballot is (round, node id)", now)
            if old is not _ABSENT and _ballot(old) and promised < old:
                raise Violation("promises only go up", f"{nid} lowered its promise from {old} to {promised}", now)
        if "accepted" in before:
            acc = st.get("accepted", _ABSENT)
            if acc is _ABSENT or not (type(acc) is tuple and len(acc) == 2 and _ballot(acc[0])):
                raise Violation("the log", f"{nid} stored accepted = {acc!r}; it must be (ballot, value)", now)
            b, v = acc
            prior = before["promised"] if "promised" in before else promised
            if prior is not _ABSENT and _ballot(prior) and b < prior:
                raise Violation("keep your promise", f"{nid} accepted ballot {b} after promising {prior}", now)
            if self.chosen is not None and b >= self.chosen[0] and v != self.chosen[1]:
                raise Violation("P2: a chosen value stays chosen", f"{nid} accepted {v!r} in ballot {b} after "
                                f"{self.chosen[1]!r} was chosen in ballot {self.chosen[0]}", now)
            try:
                who = self.acceptors.setdefault((b, v), set())
            except TypeError:
                raise Violation("values", f"{nid} accepted an unhashable value {v!r}", now) from None
            who.add(nid)
            if len(who) >= self.majority:
                if self.chosen is None:
                    if v not in self._proposed():
                        raise Violation("validity", f"{v!r} was chosen but no client proposed it", now)
                    self.chosen = (b, v)
                elif self.chosen[1] != v:
                    raise Violation("agreement", f"{v!r} was chosen in ballot {b} after {self.chosen[1]!r} "
                                    f"in ballot {self.chosen[0]}", now)
        if "decided" in before and st.get("decided") is not None:
            self._check_value(nid, "decided", st.get("decided"), now)
        if view_changed and node.hosted_view.get("decided") is not None:
            self._check_value(nid, "decided", node.hosted_view["decided"], now)
        for eff in effects:
            if eff[0] == "send":
                msg = eff[2]
                name = type(msg).__name__
                if name == "Promise":
                    if promised != msg.ballot:
                        raise Violation("store the promise before you send it",
                                        f"{nid} sent Promise({msg.ballot}) but has promised {promised}", now)
                    acc = st.get("accepted", (NO_BALLOT, None))
                    if (msg.accepted_ballot, msg.accepted_value) != tuple(acc):
                        raise Violation("a promise reports what was accepted",
                                        f"{nid} promised with accepted {msg.accepted_ballot}/{msg.accepted_value!r} "
                                        f"but has accepted {acc}", now)
                elif name == "Accepted":
                    if st.get("accepted") != (msg.ballot, msg.value):
                        raise Violation("store before you answer Accepted",
                                        f"{nid} sent Accepted({msg.ballot}, {msg.value!r}) but stores "
                                        f"{st.get('accepted')!r}", now)
                elif name == "Decided":
                    self._check_value(nid, "announced", msg.value, now)
            elif eff[0] == "reply":
                result = eff[2]
                value = result.value if isinstance(result, Ok) else result
                self._check_value(nid, "answered a client with", value, now)

    def final(self) -> str | None:
        expect = self.params.get("expect", {})
        ok = sum(1 for op in self.sim.history if op.type == "ok")
        if ok < int(expect.get("min_ok", 0)):
            return f"only {ok} proposals got an answer; expected at least {expect['min_ok']}"
        if expect.get("decided", True) and self.chosen is None:
            return "no value was chosen"
        if expect.get("all_learn", False):
            for nid, n in sorted(self.sim.nodes.items()):
                if n is not None and n.hosted_view.get("decided") is None:
                    return f"at the end {nid} has not learned the chosen value"
        return None


class Spec(NodeSpec):
    id = "ex07"
    title = "a Paxos acceptor and proposer"
    notebook = "ex07_paxos.ipynb"
    judge_class = PaxosJudge
    defaults = {
        "nodes": 3,
        "duration": 1.5,
        "quiet": 0.4,
        "workload": {"clients": 2, "keys": ["p"], "mix": [["propose", 1.0]], "think": 0.2, "timeout": 0.5,
                     "deadline": 2.0, "sticky": False},
    }
    checks = (
        Check("one value is chosen, no faults", 3, hint="Phase 1 collects promises from a majority; propose "
              "the value of the highest-ballot acceptance among them, or your own if there is none.",
              params={"seeds": [1, 2], "expect": {"min_ok": 5, "all_learn": True}}),
        Check("duelling proposers", 3, hint="When a round stalls, retry with a higher ballot after a random "
              "delay from ctx.rng; an acceptor refuses ballots below its promise.",
              params={"seeds": [3], "nodes": 5, "workload": {"clients": 4, "think": 0.05},
                      "expect": {"min_ok": 5}}),
        Check("acceptors crash and restart", 2, hint="An acceptor's promise and acceptance live in "
              "ctx.storage; read them back in on_start.",
              params={"seeds": [4, 6], "nodes": 5, "nemesis": "0.012 crash n2; 0.02 crash n3; 0.05 restart n2; "
                      "0.06 crash n1; 0.09 restart n3; 0.12 restart n1; 0.15 crash n4; 0.3 restart n4",
                      "workload": {"clients": 3, "think": 0.05}}),
        Check("partitions and lost messages", 2, hint="Only a majority can choose; retry until one answers.",
              params={"seeds": [5], "nodes": 5, "nemesis": "partition", "network": {"loss": 0.1}}),
    )

    def lab_invariants(self, view: Any = None, answered: Any = None) -> list:
        """Agreement over what nodes say they decided (``view``) and, in a search check, the values
        they were seen answering clients with (``answered``): a node cannot hide a decision."""
        from ...sim import invariant

        view = view or self.module.view

        @invariant("agreement")
        def agreement(world) -> str | None:
            decided: dict[str, Any] = {}
            for nid, store in world.storage.items():
                node = world.nodes.get(nid)
                values = [view(node).get("decided"), *(answered(node) if answered else ())] if node is not None \
                    else [store.get("decided")]
                for value in values:
                    if value is not None:
                        first = decided.setdefault(nid, value)
                        if repr(first) != repr(value):
                            return f"{nid} decided {first!r} and answered {value!r}"
            if len(set(map(repr, decided.values()))) > 1:
                return f"nodes decided different values: {decided}"
            return None

        return [agreement]

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        told = {e[2].value for e in effects if e[0] == "reply" and type(e[2]).__name__ == "Ok"}
        if not told or told <= set(facts.get("answered", ())):
            return facts
        return {**facts, "answered": tuple(sorted(told | set(facts.get("answered", ())), key=repr))}

    def search_invariants(self) -> list:
        return self.lab_invariants(view=lambda node: node.view, answered=lambda node: node.facts.get("answered", ()))

    def validate_view(self, view: Any) -> str | None:
        if type(view) is not dict or set(view) != {"decided"}:
            return "its view is not {'decided': ...}"
        return None


SPEC = Spec()

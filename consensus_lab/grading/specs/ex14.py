"""Exercise 14 judged: retries that are safe, and answers that are never guesses.

Per call (the moment a rule breaks, with the value and the request id):

* exactly once -- the store's ledger never holds a value twice, however often
  its ``Apply`` arrives (duplicates, retries, a client that retried at another
  gateway, a store that restarted);
* one request id per operation -- every ``Apply`` or ``Cancel`` of one client
  operation carries the same id, at every gateway;
* the ledger only grows, holds only values clients appended, and a verdict
  (``rid:...``) once recorded never changes;
* an answer is never a guess -- ``Ok`` only once the store has applied the
  value, ``Fail`` only once the store has recorded the request as cancelled (so
  the value can never be applied after the client was told it failed).

At the end: enough operations got a definite answer, and (where the schedule
makes gateways give up) enough of them were cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...sim.clients import Fail, Ok
from ..checks import Check, Judge, NodeSpec, Violation
from ..exercises.ex14 import STORE
from ..hosting import _ABSENT
from ._judged_steps import JudgedSteps, seen

# The gateways' messages to the store crawl: Apply and Cancel overtake each other, answers come
# after the gateway has given up.
SLOW = {"kind": "uniform", "low": 0.02, "high": 0.2}
# The store is cut off from the gateways twice, longer than GIVE_UP: the requests of the moment are
# cancelled, and the first message to reach the store after the heal is a Cancel.
# The store restarts again and again, while answers are lost: a retried Apply meets a restarted store.
RESTARTS = "; ".join(f"{t:.2f} crash {STORE}; {t + 0.03:.2f} restart {STORE}" for t in
                     [0.3 + 0.2 * i for i in range(9)]) + "; 1.2 crash n2; 1.5 restart n2"
CUT_OFF = "0.5 partition n1|n2,n3; 1.1 heal; 1.5 partition n1|n2,n3; 2.0 heal"


class LedgerRules:
    """The rules of a run, judged one observation at a time, with what they remember (plain data).

    The judge of a seeded run feeds them every handler call; a search check's
    :class:`SearchRules` feeds them what each state adds -- the same rules.
    """

    def __init__(self) -> None:
        self.rid_of: dict[Any, tuple[Any, str, float]] = {}  # value -> (rid, gateway, when first sent)
        self.value_of: dict[Any, Any] = {}  # rid -> value
        self.applied_at: dict[Any, float] = {}  # value -> when the store applied it
        self.failed: dict[Any, tuple[str, float]] = {}  # value -> (gateway, when it answered Fail)
        self.cancelled = 0

    def sent_apply(self, nid: str, rid: Any, value: Any, now: float) -> None:
        first = self.rid_of.setdefault(value, (rid, nid, now))
        if first[0] != rid:
            raise Violation("one request id per operation",
                            f"{nid} sent Apply({rid!r}, {value!r}), but the same operation went out as "
                            f"request {first[0]!r} from {first[1]} at t={first[2]:.3f}: a retry with a new "
                            f"id is a new request, and the store applies it again", now)
        self.value_of.setdefault(rid, value)

    def answered(self, nid: str, client: Any, value: Any, result: Any, store: Mapping[str, Any],
                 now: float) -> None:
        """A gateway answered ``append(value)`` of ``client`` with ``result``; ``store``: the store's storage."""
        ledger = store.get("ledger", ())
        rid = self.rid_of.get(value, (None,))[0]
        verdict = store.get(f"rid:{rid}", _ABSENT) if rid is not None else _ABSENT
        if isinstance(result, Ok):
            if value not in ledger:
                raise Violation("Ok only once applied",
                                f"{nid} answered Ok to append({value!r}) of {client}, but the "
                                f"store has not applied it (its ledger is {ledger!r}) -- silence is "
                                f"not success: answer from the store's Outcome", now)
        elif isinstance(result, Fail):
            if value in ledger:
                raise Violation("Fail only once cancelled",
                                f"{nid} answered Fail to append({value!r}) of {client}, but the "
                                f"store applied it at t={self.applied_at.get(value, now):.3f} (the "
                                f"answer was lost, not the request)", now)
            if verdict is not False:
                raise Violation("Fail only once cancelled",
                                f"{nid} answered Fail to append({value!r}) of {client} before the "
                                f"store had cancelled request {rid!r} (its verdict: "
                                f"{'none yet' if verdict is _ABSENT else repr(verdict)}) -- an Apply "
                                f"still on its way could be applied after the client heard 'failed'", now)
            self.failed.setdefault(value, (nid, now))
        else:
            raise Violation("answer Ok or Fail", f"{nid} answered append({value!r}) with {result!r}; "
                            f"a gateway answers Ok() or Fail(...)", now)

    def store_changed(self, before: Mapping[str, Any], store: Mapping[str, Any], appended: Callable[[], set],
                      now: float) -> None:
        """The store wrote the keys of ``before`` (their old values); ``store``: its storage now;
        ``appended()``: the values clients appended so far."""
        for key, old in before.items():
            new = store.get(key, _ABSENT)
            if key == "ledger":
                self._ledger_change(() if old is _ABSENT else old, new, appended, now)
            elif isinstance(key, str) and key.startswith("rid:"):
                if old is not _ABSENT and new != old:
                    raise Violation("verdicts are final", f"the store changed {key} from {old!r} to {new!r}", now)
                if new is False and old is _ABSENT:
                    self.cancelled += 1
                if new not in (True, False):
                    raise Violation("the store's format", f"storage[{key!r}] = {new!r}; a verdict is True "
                                    f"(applied) or False (cancelled)", now)

    def _ledger_change(self, old: Any, new: Any, appended: Callable[[], set], now: float) -> None:
        if type(new) is not tuple:
            raise Violation("the ledger only grows", f"the store replaced storage['ledger'] by {new!r} (it must "
                            f"stay a tuple that only grows)", now)
        if new[:len(old)] != old:
            lost = [v for v in old if v not in new]
            raise Violation("the ledger only grows", f"the store rewrote its ledger {old!r} as {new!r}"
                            + (f": {lost[0]!r} is lost" if lost else ""), now)
        seen, added = set(old), appended()
        for v in new[len(old):]:
            if v in seen:
                rid = self.rid_of.get(v, (None,))[0]
                raise Violation("exactly once", f"the store applied append({v!r}) a second time (first at "
                                f"t={self.applied_at.get(v, 0.0):.3f}; request {rid!r}): its ledger is now "
                                f"{new!r} -- a retried Apply must be answered, not applied again", now)
            if v not in added:
                raise Violation("validity", f"the store applied {v!r}, which no client appended", now)
            if v in self.failed:
                gw, t = self.failed[v]
                raise Violation("Fail only once cancelled", f"the store applied append({v!r}) now, but {gw} had "
                                f"told the client at t={t:.3f} that it failed: a cancelled request must never "
                                f"be applied", now)
            seen.add(v)
            self.applied_at[v] = now


def appended_values(history: Sequence[Any]) -> set:
    return {op.value for op in history if op.type == "invoke" and op.f == "append"}


class LedgerJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.rules = LedgerRules()

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        assert self.sim is not None
        if node.id == STORE:
            history = self.sim.history
            self.rules.store_changed(before, self.store(STORE), lambda: appended_values(history), now)
            return
        for eff in effects:
            if eff[0] == "send" and type(eff[2]).__name__ == "Apply":
                self.rules.sent_apply(node.id, eff[2].rid, eff[2].value, now)
            elif eff[0] == "reply" and eff[1].f == "append":
                self.rules.answered(node.id, eff[1].client, eff[1].value, eff[2], self.store(STORE), now)

    def final(self) -> str | None:
        assert self.sim is not None
        expect = self.params.get("expect", {})
        ok = sum(1 for op in self.sim.history if op.type == "ok" and op.f == "append")
        fail = sum(1 for op in self.sim.history if op.type == "fail" and op.f == "append")
        if ok < int(expect.get("min_ok", 0)):
            return (f"only {ok} appends were answered Ok; expected at least {expect['min_ok']} -- are lost "
                    f"messages retried every RETRY seconds?")
        if fail < int(expect.get("min_fail", 0)):
            return (f"only {fail} appends were answered Fail; in this run the store is slow, so a gateway that "
                    f"gives up after GIVE_UP seconds and cancels must answer Fail at least {expect['min_fail']} "
                    f"times (it answered Ok {ok} times)")
        return None


class SearchRules(JudgedSteps):
    """The judge's rules in a search check: what the store wrote and what each gateway was seen
    to send and answer (:meth:`Spec.observe`) go through the same :class:`LedgerRules`."""

    watched = STORE

    def __init__(self) -> None:
        super().__init__()
        self.rules = LedgerRules()

    def storage_changed(self, before, store, world, node_id) -> None:
        self.rules.store_changed(before, store, lambda: appended_values(world.history), world.now)

    def observed(self, node_id, facts, store, world) -> None:
        for rid, value in facts.get("applies", ()):
            self.rules.sent_apply(node_id, rid, value, world.now)
        for client, value, result in facts.get("answers", ()):
            self.rules.answered(node_id, client, value, result, store, world.now)


class Spec(NodeSpec):
    id = "ex14"
    title = "retries that are safe: request ids, and the answer after a timeout"
    notebook = "ex14_safe_retries.ipynb"
    judge_class = LedgerJudge
    defaults = {
        "nodes": 3,
        "duration": 3.0,
        "quiet": 0.4,
        "workload": {"clients": 3, "keys": ["ledger"], "mix": [["append", 1.0]], "think": 0.05,
                     "timeout": 0.8, "deadline": 2.0, "stop": 2.2, "sticky": False},
    }
    checks = (
        Check("appends, no faults", 2, hint="Send Apply(rid, value) to the store and answer Ok() when its "
              "Outcome says applied; the store appends the value and records rid:... = True.",
              params={"seeds": [1], "expect": {"min_ok": 20}}),
        Check("lost and duplicated messages", 3, hint="Retry with the same rid every RETRY seconds; the store "
              "answers an Apply whose rid already has a verdict with that verdict, and applies nothing.",
              params={"seeds": [2, 3], "network": {"loss": 0.3, "duplicate": 0.3}, "expect": {"min_ok": 8}}),
        Check("a slow store: give up, then ask", 3, hint="After GIVE_UP seconds send Cancel(rid) instead of "
              "Apply, and answer only from the Outcome: Fail() if the store cancelled it, Ok() if the Apply "
              "got there first.",
              params={"seeds": [4, 5], "network": {"latency": SLOW, "loss": 0.1}, "nemesis": CUT_OFF,
                      "expect": {"min_ok": 4, "min_fail": 1}}),
        Check("the store crashes and restarts", 2, hint="The ledger and every verdict are durable: a store "
              "that forgets a rid after a restart applies its retried Apply again.",
              params={"seeds": [6], "nodes": 4, "network": {"loss": 0.3}, "nemesis": RESTARTS,
                      "expect": {"min_ok": 6}}),
    )

    hints = {
        "exactly once": "The store applied one operation twice. Every retry of an operation must carry the "
        "same rid (built from request.client and request.seq), and the store must answer an Apply whose rid "
        "already has a durable verdict with that verdict instead of applying it again.",
        "one request id per operation": "Build the rid from what the client sends -- f\"{request.client}:"
        "{request.seq}\" -- so that a retry, at this gateway or at another one, is recognised as the same "
        "operation.",
        "Fail only once cancelled": "A timeout says nothing about what happened. After GIVE_UP seconds, ask: "
        "send Cancel(rid) until an Outcome comes, and answer Fail() only if it says not applied; the store "
        "records the cancel durably and never applies that rid afterwards.",
        "Ok only once applied": "Answer Ok() only when an Outcome(rid, True) has come from the store.",
        "verdicts are final": "A verdict (storage['rid:...']) is written once; an Apply or Cancel of a rid "
        "that has one is answered with it and changes nothing -- also after the store restarted.",
    }

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """What a stepped gateway was seen to do, for :class:`SearchRules`: ``facts["applies"]``, the
        (rid, value) of every Apply it sent, and ``facts["answers"]``, (client, value, result) of
        every answer to an append -- each once, in the order first seen (the store is judged by its storage)."""
        if node_id == STORE:
            return facts
        return seen(facts, applies=[(e[2].rid, e[2].value) for e in effects
                                    if e[0] == "send" and type(e[2]).__name__ == "Apply"],
                    answers=[(e[1].client, e[1].value, e[2]) for e in effects
                             if e[0] == "reply" and e[1].f == "append"])

    def search_invariants(self) -> list:
        return [SearchRules()]

    def validate_check(self, check: Check) -> None:
        super().validate_check(check)
        if int(self.scenario(check.params).get("nodes", 3)) < 2:
            raise ValueError(f"check {check.name!r}: needs at least 2 nodes (the store and a gateway)")


SPEC = Spec()

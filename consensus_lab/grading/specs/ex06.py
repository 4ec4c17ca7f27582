"""Exercise 6 judged: atomic commitment, durable votes and decisions, recovery.

Rules (from the durable log the exercise prescribes): a participant votes yes
only if it can, and only after logging ``prepared``; the coordinator commits
only if every participant voted yes and logged it; a decision, once logged,
never changes, and a prepared participant follows the coordinator's decision
and never its own; messages that announce a vote, a decision or an ack are
sent only after the log says so; a restarted coordinator re-sends, on its
own (not only as an answer to ``Inquire``), every logged decision that a
participant is still prepared for, within two ``RESEND`` periods; and at the
end of a run whose faults have healed, nobody is left in doubt.
"""

from __future__ import annotations

from typing import Any

from ...sim.clients import Ok, Redirect
from ..checks import Check, Judge, NodeSpec, Violation
from ..exercises.ex06 import RESEND, will_vote_yes
from ..hosting import _ABSENT

FINAL = ("commit", "abort")


class TwoPCJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.coordinator = self.nodes[0]
        self.participants = self.nodes[1:]
        # after a coordinator restart: (txid, participant) pairs it owes a Decision, and by when
        self.owed: set[tuple[str, str]] = set()
        self.owed_by: float | None = None
        self.owed_incarnation: Any = None

    def _decision(self, txid: Any) -> Any:
        return self.store(self.coordinator).get(f"decision:{txid}")

    def _check_resent(self, now: float) -> None:
        if not self.owed or self.owed_by is None or now <= self.owed_by:
            return
        node = self.sim.nodes.get(self.coordinator)
        if node is None or getattr(node, "incarnation", None) != self.owed_incarnation:
            self.owed.clear()  # it crashed again: the next start owes them anew
            return
        txid, p = min(self.owed)
        raise Violation("a restarted coordinator re-sends its decisions",
                        f"the coordinator restarted at t={self.owed_by - 2 * RESEND:.3f} with decision:{txid} in its "
                        f"log while {p} was still prepared, and sent it no Decision for {txid} by itself within "
                        f"2 x RESEND = {2 * RESEND} s (answering Inquire is not enough)", now,
                        nodes=(self.coordinator, p))

    def _answering_inquire(self) -> bool:
        rows = self.sim._rows
        return bool(rows) and rows[-1][1] == "deliver" and type(rows[-1][5]).__name__ == "Inquire"

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        st = self.store(nid)
        self._check_resent(now)
        if nid == self.coordinator and handler == "on_start":
            self.owed = {(key.split(":", 1)[1], p) for key in st if key.startswith("decision:")
                         for p in self.participants if self.store(p).get(f"txn:{key.split(':', 1)[1]}") == "prepared"}
            self.owed_by, self.owed_incarnation = now + 2 * RESEND, getattr(node, "incarnation", None)
        if nid == self.coordinator and self.owed and not self._answering_inquire():
            for eff in effects:
                if eff[0] == "send" and type(eff[2]).__name__ == "Decision":
                    self.owed.discard((str(eff[2].txid), eff[1]))
        for key, old in before.items():
            new = st.get(key, _ABSENT)
            if key.startswith("decision:"):
                if nid != self.coordinator:
                    raise Violation("the log", f"participant {nid} wrote {key!r}; only the coordinator logs decisions", now)
                if new not in FINAL:
                    raise Violation("the log", f"{nid} logged {key} = {new!r}; a decision is 'commit' or 'abort'", now)
                if old is not _ABSENT and old != new:
                    raise Violation("decisions are final", f"the coordinator changed {key} from {old!r} to {new!r}", now)
                if new == "commit":
                    txid = key.split(":", 1)[1]
                    for p in self.participants:
                        if not will_vote_yes(p, int(txid) if txid.lstrip("-").isdigit() else 0):
                            raise Violation("validity", f"transaction {txid} committed although {p} votes no", now)
                        if self.store(p).get(f"txn:{txid}") not in ("prepared", "commit"):
                            raise Violation("commit needs every yes vote logged",
                                            f"the coordinator committed {txid} before {p} had logged 'prepared'", now)
            elif key.startswith("txn:"):
                if nid == self.coordinator:
                    continue
                if new not in ("prepared", "commit", "abort"):
                    raise Violation("the log", f"{nid} logged {key} = {new!r}", now)
                txid = key.split(":", 1)[1]
                if old in FINAL and new != old:
                    raise Violation("outcomes are final", f"{nid} changed {key} from {old!r} to {new!r}", now)
                if new == "commit" and old is _ABSENT:
                    raise Violation("commit needs a yes vote", f"{nid} committed {txid} without having prepared it", now)
                if new in FINAL and old == "prepared" and self._decision(txid) != new:
                    raise Violation("a prepared participant waits for the coordinator",
                                    f"{nid} voted yes for {txid}, then decided {new!r} while the coordinator's log "
                                    f"says {self._decision(txid)!r}", now)
        for eff in effects:
            if eff[0] == "send":
                msg = eff[2]
                name = type(msg).__name__
                if name == "Vote" and msg.yes:
                    if not will_vote_yes(nid, msg.txid):
                        raise Violation("votes", f"{nid} voted yes for {msg.txid} but will_vote_yes says no", now)
                    if st.get(f"txn:{msg.txid}") not in ("prepared", "commit"):
                        raise Violation("log before you vote", f"{nid} voted yes for {msg.txid} before logging 'prepared'", now)
                elif name == "Decision":
                    want = "commit" if msg.commit else "abort"
                    if nid != self.coordinator or self._decision(msg.txid) != want:
                        raise Violation("log the decision before sending it",
                                        f"{nid} sent Decision({msg.txid}, {want}) but the log says "
                                        f"{self._decision(msg.txid)!r}", now)
                elif name == "Ack":
                    if st.get(f"txn:{msg.txid}") not in FINAL:
                        raise Violation("log before you acknowledge", f"{nid} acknowledged {msg.txid} before logging "
                                        "the outcome", now)
            elif eff[0] == "reply":
                request, result = eff[1], eff[2]
                if isinstance(result, Redirect):
                    continue
                if nid != self.coordinator:
                    raise Violation("only the coordinator answers", f"participant {nid} answered {result!r}", now)
                value = result.value if isinstance(result, Ok) else result
                logged = self._decision(request.value)
                if value not in FINAL or logged != value:
                    raise Violation("answer what the log says", f"the coordinator answered {value!r} for transaction "
                                    f"{request.value} while its log says {logged!r}", now)

    def final(self) -> str | None:
        self._check_resent(self.sim.now)
        expect = self.params.get("expect", {})
        ok = sum(1 for op in self.sim.history if op.type == "ok")
        if ok < int(expect.get("min_ok", 0)):
            raise Violation("progress", f"only {ok} transactions got an answer; expected at least {expect['min_ok']}",
                            self.sim.now, nodes=(self.coordinator,))
        decided = sum(1 for key in self.store(self.coordinator) if key.startswith("decision:"))
        if decided < int(expect.get("min_decisions", 0)):
            raise Violation("progress", f"the coordinator logged {decided} decisions; expected at least "
                            f"{expect['min_decisions']}", self.sim.now, nodes=(self.coordinator,))
        if expect.get("no_doubt", True):
            for p in self.participants:
                st = self.store(p)
                for key in sorted(st):
                    if key.startswith("txn:") and st[key] == "prepared":
                        raise Violation("nobody stays in doubt", f"at the end {p} is still in doubt about transaction "
                                        f"{key[4:]} (prepared, no decision) although every fault had healed",
                                        self.sim.now, nodes=(self.coordinator, p))
        return None


class Spec(NodeSpec):
    id = "ex06"
    title = "two-phase commit with recovery from the durable log"
    notebook = "ex06_two_phase_commit.ipynb"
    judge_class = TwoPCJudge
    defaults = {
        "nodes": 3,
        "duration": 4.0,
        "quiet": 0.4,
        "workload": {"clients": 2, "keys": ["t"], "mix": [["commit", 1.0]], "think": 0.1, "timeout": 1.0,
                     "deadline": 3.0, "stop": 2.5},
    }
    checks = (
        Check("commit and abort, no faults", 3, hint="Commit only when every participant voted yes; log "
              "the decision before you answer the client or tell anyone.",
              params={"seeds": [1, 2], "expect": {"min_ok": 15}}),
        Check("participants vote after logging", 2, hint="A yes vote is a promise: write "
              "ctx.storage[f'txn:{txid}'] = 'prepared' in the same handler, before the Vote goes out.",
              params={"seeds": [3], "nodes": 4, "expect": {"min_ok": 10},
                      # reordering and duplicates: a late Prepare must not change a logged outcome
                      "network": {"latency": {"kind": "exponential", "low": 0.001, "mean": 0.02},
                                  "duplicate": 0.1}}),
        Check("a participant crashes", 3, hint="A restarted participant that finds 'prepared' in its log "
              "must ask the coordinator (Inquire) until it learns the decision.",
              params={"seeds": [4], "nemesis": "0.7 crash n2; 1.6 restart n2", "expect": {"min_ok": 5}}),
        Check("the coordinator crashes", 2, hint="A restarted coordinator re-sends the decisions in its log "
              "and answers Inquire about an unknown transaction with abort (and logs it).",
              params={"seeds": [5], "nemesis": "0.8 crash n1; 1.5 restart n1", "expect": {"min_ok": 5}}),
    )

    hints = {
        "outcomes are final": "Handle a duplicate or late Prepare or Decision by looking at the log first: "
        "once txn:<id> holds an outcome (or 'prepared'), a Prepare only repeats the vote it logged.",
        "decisions are final": "The coordinator's decision:<id> is written once; a late vote or Inquire never "
        "changes it.",
        "log before you vote": "Write ctx.storage[f'txn:{txid}'] = 'prepared' in the same handler, before the "
        "yes Vote goes out.",
        "log the decision before sending it": "Write decision:<id> to ctx.storage before any Decision or answer "
        "leaves the coordinator.",
        "answer what the log says": "Answer the client only with the decision that is in the log.",
        "validity": "Commit only when every participant voted yes; a missing vote after VOTE_TIMEOUT means abort.",
        "commit needs every yes vote logged": "Commit only after a yes Vote from every participant of this "
        "transaction; an Inquire about a transaction you have no decision for is answered with abort.",
        "a prepared participant waits for the coordinator": "A participant that voted yes never decides on its "
        "own: it keeps sending Inquire until a Decision comes.",
        "a restarted coordinator re-sends its decisions": "In on_start, read every decision:<id> back from the "
        "log and keep sending Decision to the participants every RESEND seconds until they Ack; waiting for "
        "their Inquire is not enough.",
        "nobody stays in doubt": "Two paths end a doubt: the coordinator re-sends logged decisions, and answers "
        "Inquire -- with abort (logged) when it has no decision and the transaction is not in progress.",
        "progress": "Answer every client: resend Prepare/Decision after losses and decide abort at VOTE_TIMEOUT.",
    }

    def lab_invariants(self, view: Any = None) -> list:
        from ...sim import invariant

        @invariant("atomic commitment")
        def agreement(world) -> str | None:
            outcome: dict[str, tuple[str, str]] = {}
            for nid, store in world.storage.items():
                for key in store:
                    if key.startswith(("decision:", "txn:")) and store[key] in FINAL:
                        txid = key.split(":", 1)[1]
                        first = outcome.setdefault(txid, (nid, store[key]))
                        if first[1] != store[key]:
                            return f"transaction {txid}: {first[0]} says {first[1]}, {nid} says {store[key]}"
            return None

        return [agreement]

    def validate_view(self, view: Any) -> str | None:
        return None if type(view) is dict else "its view is not a dict"


SPEC = Spec()

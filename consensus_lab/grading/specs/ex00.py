"""Exercise 0 judged: reliable broadcast under loss, duplication and crashes.

The lesson's invariants, on the durable storage the grader holds:

* validity -- a node delivers only values some client added;
* no duplicates -- each value is delivered at most once per node, whatever
  arrives twice (duplicated messages, retries, a client retrying elsewhere);
* durability -- an add is answered only once the value is delivered (stored),
  and a delivered value is never lost;
* agreement -- once every fault has healed, every node has delivered every
  value any node delivered (every acknowledged add among them), and the
  retries have stopped.
"""

from __future__ import annotations

from typing import Any

from ...sim.clients import Ok
from ..checks import Check, Judge, NodeSpec, Violation
from ..hosting import _ABSENT

KEY = "delivered"
QUIET_WINDOW = 0.3  # the last seconds of a run: every peer has acknowledged, nobody retries


class BroadcastJudge(Judge):
    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.last_gossip: tuple[float, str, Any] | None = None
        self.restarts: dict[str, float] = {}  # node -> when it last came back from a crash

    def _added(self) -> set:
        assert self.sim is not None
        return {op.value for op in self.sim.history if op.type == "invoke" and op.f == "add"}

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        st = self.store(nid)
        if handler == "on_start" and now > 0:
            self.restarts[nid] = now
        if KEY in before:
            old, new = before[KEY], st.get(KEY, _ABSENT)
            old = () if old is _ABSENT else old
            if type(new) is not tuple:
                raise Violation("durability", f"{nid} replaced storage['delivered'] by {new!r} "
                                f"(it must stay a tuple that only grows)", now)
            if new[:len(old)] != old:
                lost = [v for v in old if v not in new]
                raise Violation("durability", f"{nid} rewrote its delivered values {old!r} as {new!r}"
                                + (f": {lost[0]!r} is lost" if lost else " (a delivered value moved)"), now)
            seen: set = set()
            for v in new:
                if v in seen:
                    raise Violation("no duplicates", f"{nid} delivered {v!r} twice (storage['delivered'] = "
                                    f"{new!r}) in {handler}", now)
                seen.add(v)
            extra = [v for v in new[len(old):] if v not in self._added()]
            if extra:
                raise Violation("validity", f"{nid} delivered {extra[0]!r}, which no client added", now)
        delivered = st.get(KEY, ())
        for eff in effects:
            if eff[0] == "send":
                name = type(eff[2]).__name__
                value = eff[2].value
                if name == "Gossip":
                    self.last_gossip = (now, nid, value)
                if value not in delivered:
                    raise Violation("validity" if name == "Gossip" else "durability",
                                    f"{nid} sent {name}({value!r}) to {eff[1]} without having delivered "
                                    f"{value!r} (it is not in its storage['delivered'])", now)
            elif eff[0] == "reply":
                request, result = eff[1], eff[2]
                value = result.value if isinstance(result, Ok) else result
                if request.f == "add":
                    if request.value not in delivered:
                        raise Violation("durability", f"{nid} answered add({request.value!r}) before "
                                        f"delivering it (not in its storage['delivered'])", now)
                elif type(value) not in (tuple, list) or sorted(value, key=repr) != sorted(delivered, key=repr):
                    raise Violation("read what you delivered", f"{nid} answered read with {value!r}; "
                                    f"it has delivered {tuple(sorted(delivered, key=repr))!r}", now)

    def final(self) -> str | None:
        assert self.sim is not None
        expect = self.params.get("expect", {})
        acked = [op.value for op in self.sim.history if op.type == "ok" and op.f == "add"]
        if len(acked) < int(expect.get("min_ok", 0)):
            return f"only {len(acked)} adds got an answer; expected at least {expect['min_ok']}"
        everything: set = set(acked)
        for nid in self.nodes:
            everything.update(self.store(nid).get(KEY, ()))
        for nid in self.nodes:
            missing = sorted(everything - set(self.store(nid).get(KEY, ())), key=repr)
            if missing:
                holders = [n for n in self.nodes if missing[0] in self.store(n).get(KEY, ())]
                restarts = ", ".join(f"{n} at t={t:.3f}" for n, t in sorted(self.restarts.items()))
                return (f"agreement: at the end {nid} has not delivered {missing[0]!r} ({len(missing)} values "
                        f"missing; {', '.join(holders) or 'a client'} had it) although every fault had healed "
                        f"-- was a lost Gossip never retried, or did a crash forget whom to retry?"
                        + (f" (restarts: {restarts})" if restarts else ""))
        end = float(self.params.get("duration", 3.0))
        if self.last_gossip is not None and self.last_gossip[0] > end - QUIET_WINDOW:
            t, nid, value = self.last_gossip
            return (f"retries stop: {nid} still sent Gossip({value!r}) at t={t:.3f}, when every node had "
                    f"delivered everything -- stop retrying a peer once it has acknowledged")
        return None


class Spec(NodeSpec):
    id = "ex00"
    title = "reliable broadcast: retries and de-duplication"
    notebook = "ex00_reliable_broadcast.ipynb"
    judge_class = BroadcastJudge
    defaults = {
        "nodes": 3,
        "duration": 3.0,
        "quiet": 0.35,
        "workload": {"clients": 2, "keys": ["s"], "mix": [["add", 0.7], ["read", 0.3]], "think": 0.1,
                     "timeout": 0.3, "deadline": 1.0, "stop": 1.8, "sticky": False},
    }
    checks = (
        Check("adds reach every node, no faults", 2, hint="Deliver (append to storage['delivered']) before "
              "you answer Ok(), then send Gossip to every peer; a peer delivers and answers GossipAck.",
              params={"seeds": [1], "expect": {"min_ok": 8}}),
        Check("lost messages are retried", 3, hint="Keep, per value, the peers that have not acknowledged yet; "
              "every RETRY seconds send Gossip to each of them again, and stop once all have acknowledged.",
              params={"seeds": [2, 3], "network": {"loss": 0.25}, "expect": {"min_ok": 5}}),
        Check("duplicates are delivered once", 2, hint="A value that is already in storage['delivered'] is not "
              "appended again -- but the Gossip is still acknowledged (the first ack may have been lost).",
              params={"seeds": [4], "network": {"duplicate": 0.4, "loss": 0.1}, "expect": {"min_ok": 5}}),
        Check("nodes crash and restart", 3, hint="Who still has to hear of a value is durable state: "
              "store it, and in on_start read it back and start the retry timer again.",
              params={"seeds": [5], "nodes": 4, "network": {"loss": 0.1},
                      "nemesis": "0.5 crash n2; 0.9 restart n2; 1.2 crash n3; 1.25 partition n3|n1,n2,n4; "
                                 "1.7 crash n1; 1.8 restart n1; 1.9 heal; 1.95 restart n3",
                      "expect": {"min_ok": 4}}),
    )

    def lab_invariants(self, view: Any = None) -> list:
        """The rules a bounded search can judge in every state (storage and client history only)."""
        from ...sim import invariant

        @invariant("no duplicates")
        def no_duplicates(world) -> str | None:
            for nid, store in world.storage.items():
                got = store.get(KEY, ())
                if len(set(got)) != len(got):
                    return f"{nid} delivered a value twice: {got!r}"
            return None

        @invariant("validity")
        def validity(world) -> str | None:
            added = {op.value for op in world.history if op.type == "invoke" and op.f == "add"}
            for nid, store in world.storage.items():
                extra = [v for v in store.get(KEY, ()) if v not in added]
                if extra:
                    return f"{nid} delivered {extra[0]!r}, which no client added"
            return None

        return [no_duplicates, validity]

    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """The adds a stepped node was seen to answer (``facts["acked"]``), for the search's durability rule."""
        acked = [e[1].value for e in effects if e[0] == "reply" and e[1].f == "add"]
        if not acked:
            return facts
        return {**facts, "acked": tuple(facts.get("acked", ())) + tuple(acked)}

    def search_invariants(self) -> list:
        from ...sim import invariant

        @invariant("durability")
        def acked_is_stored(world) -> str | None:
            for nid, node in world.nodes.items():
                delivered = world.storage[nid].get(KEY, ())
                for v in getattr(node, "facts", {}).get("acked", ()) if node is not None else ():
                    if v not in delivered:
                        return (f"{nid} answered add({v!r}) but {v!r} is not in its storage['delivered'] -- "
                                f"deliver (and store) before you answer")
            return None

        return [*self.lab_invariants(), acked_is_stored]


SPEC = Spec()

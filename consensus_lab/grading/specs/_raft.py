"""Rules shared by the two Raft exercises: terms, votes and leaders."""

from __future__ import annotations

from typing import Any

from ..checks import Judge, Violation
from ..hosting import _ABSENT

ROLES = ("follower", "candidate", "leader")


def election_view_problem(view: Any, cluster_size: int | None = None) -> str | None:
    if type(view) is not dict:
        return "its view is not a dict"
    if view.get("role") not in ROLES:
        return f"role must be one of {', '.join(ROLES)}, not {view.get('role')!r}"
    if type(view.get("current_term")) is not int or view["current_term"] < 0:
        return f"current_term must be an int >= 0, not {view.get('current_term')!r}"
    if view.get("voted_for") is not None and type(view.get("voted_for")) is not str:
        return f"voted_for must be a node id or None, not {view.get('voted_for')!r}"
    return None


HINTS = {
    "election safety": "Two leaders in one term: grant one vote per term (persisted), and count a Vote only "
    "if it is granted for the very term you are a candidate in -- a late Vote of an older term counts nothing.",
    "a leader needs a majority": "Become leader only with granted Votes of your current term from a majority "
    "(yourself included); check the term of every Vote reply.",
    "one vote per term": "Grant a vote only if voted_for is None or already that candidate, for this term.",
    "persist the term and the vote": "Write current_term and voted_for to ctx.storage whenever they change, "
    "and read them back in on_start.",
    "persist the vote before replying": "Persist voted_for before the granting Vote is sent.",
    "terms never go back": "A term only grows: adopt a higher term you see, never a lower one.",
}


class ElectionJudge(Judge):
    """Election safety, one vote per term, votes and terms persisted before they are used."""

    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.leaders: dict[int, str] = {}  # term -> the node that led it
        self.granted: dict[tuple[int, str], str] = {}  # (term, voter) -> candidate
        self.first_leader_at: float | None = None
        self.roles: dict[str, tuple[str, int]] = {}

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        st = self.store(nid)
        term = st.get("current_term", 0)
        vote = st.get("voted_for")
        if "current_term" in before:
            old = before["current_term"]
            if type(term) is not int:
                raise Violation("terms", f"{nid} stored current_term = {term!r}", now)
            if old is not _ABSENT and type(old) is int and term < old:
                raise Violation("terms never go back", f"{nid} stored term {term} after term {old}", now)
        if vote is not None:
            prev = self.granted.setdefault((term, nid), vote)
            if prev != vote:
                raise Violation("one vote per term", f"{nid} voted for {prev} and then for {vote} in term {term}", now)
        view = node.hosted_view
        if view.get("current_term") != term or view.get("voted_for") != vote:
            raise Violation("persist the term and the vote", f"{nid} has current_term={view.get('current_term')} "
                            f"voted_for={view.get('voted_for')!r} but its storage says current_term={term} "
                            f"voted_for={vote!r}", now)
        for eff in effects:
            if eff[0] != "send":
                continue
            msg = eff[2]
            if type(msg).__name__ == "Vote" and msg.granted:
                cand = eff[1]
                if msg.term != term or vote != cand:
                    raise Violation("persist the vote before replying",
                                    f"{nid} granted its vote to {cand} in term {msg.term} while its storage says "
                                    f"current_term={term} voted_for={vote!r}", now)
        if view_changed:
            role = view["role"]
            was = self.roles.get(nid)
            self.roles[nid] = (role, view["current_term"])
            if role == "leader" and was != ("leader", view["current_term"]):
                t = view["current_term"]
                other = self.leaders.get(t)
                if other is not None and other != nid:
                    raise Violation("election safety", f"{other} and {nid} both became leader of term {t}", now)
                voters = {v for (vt, v), c in self.granted.items() if vt == t and c == nid}
                if len(voters) < self.majority:
                    raise Violation("a leader needs a majority", f"{nid} became leader of term {t} with votes from "
                                    f"{sorted(voters) or 'nobody'}; it needs {self.majority}", now)
                self.leaders[t] = nid
                if self.first_leader_at is None:
                    self.first_leader_at = now
                self.became_leader(nid, t, view, now)

    def became_leader(self, nid: str, term: int, view: dict, now: float) -> None:
        pass

    def final(self) -> str | None:
        expect = self.params.get("expect", {})
        if "leader_by" in expect:
            if self.first_leader_at is None or self.first_leader_at > float(expect["leader_by"]):
                when = "never" if self.first_leader_at is None else f"only at t={self.first_leader_at:.3f}"
                return f"no leader by t={expect['leader_by']} ({when})"
        if "max_leader_terms" in expect and len(self.leaders) > int(expect["max_leader_terms"]):
            return (f"{len(self.leaders)} terms had a leader (terms {sorted(self.leaders)}); with no faults "
                    f"at most {expect['max_leader_terms']} should: do heartbeats reset the election timer?")
        if expect.get("leader_at_end", False):
            views = self.live_views()
            if not views:
                return "no node is up at the end"
            top = max(v["current_term"] for v in views.values())
            leaders = [n for n, v in views.items() if v["role"] == "leader" and v["current_term"] == top]
            if len(leaders) != 1:
                roles = ", ".join(f"{n}={v['role']}/{v['current_term']}" for n, v in sorted(views.items()))
                return (f"at the end, after every fault had healed, there is no leader of the newest term {top} "
                        f"(role/term: {roles})")
        return None


def one_leader_per_term(view, led=None):
    """A stateless invariant for the explorer: no two live nodes lead the same term.

    A node leads the terms its ``view`` says it leads and, with ``led(node)``, every term in
    which it was *seen* sending AppendEntries as the leader (a search check's facts): a node
    that reports itself a follower while it acts as a leader is still counted."""
    from ...sim import invariant

    @invariant("election safety")
    def check(world) -> str | None:
        seen: dict[int, str] = {}
        for node in world.live():
            v = view(node)
            terms = {v.get("current_term")} if v.get("role") == "leader" else set()
            terms.update(led(node) if led is not None else ())
            for term in sorted(terms, key=repr):
                other = seen.setdefault(term, node.id)
                if other != node.id:
                    return f"{other} and {node.id} both lead term {term}"
        return None

    return check


def observe_leadership(node_id: str, effects: list[tuple], facts: dict) -> dict:
    """The terms in which a stepped node sent AppendEntries as the leader (``facts["led"]``)."""
    led = {e[2].term for e in effects
           if e[0] == "send" and type(e[2]).__name__ == "AppendEntries" and e[2].leader == node_id}
    if not led or led <= set(facts.get("led", ())):
        return facts
    return {**facts, "led": tuple(sorted(led | set(facts.get("led", ()))))}


class RaftSearch:
    """Search-check hooks shared by the Raft exercises: leadership is also judged by what a node does."""

    def observe(self, node_id: str, effects: list[tuple], facts: dict) -> dict:
        return observe_leadership(node_id, effects, facts)

    def search_invariants(self) -> list:
        return [one_leader_per_term(lambda node: node.view, led=lambda node: node.facts.get("led", ()))]

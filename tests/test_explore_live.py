"""The invariants' memory kept live between states (consensus_lab.explore.live).

The explorer used to put a parent's memory back into the invariant objects for
every successor; now it keeps it installed and copies back only what a check
changed.  Both ways must judge every state alike: the same states, transitions,
verdicts, goals and shortest counterexamples, on the course's protocols and on
toys whose invariants remember in awkward ways (a node object in a tuple, in a
set, two attributes sharing one list, a list root).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from consensus_lab.explore import ClientOp, ExploreSetup, explore
from consensus_lab.explore.world import ExploreWorld
from consensus_lab.sim import Invariant, Node, ProtocolSpec, goal


class OldWorld(ExploreWorld):
    """The explorer before: the parent's memory installed again for every successor."""

    _keep_memory_live = False


def _pair(**kw):
    live = explore(progress=False, time_budget=None, **kw)
    old = explore(progress=False, time_budget=None, world_class=OldWorld, **kw)
    return live, old


def _same(live, old):
    assert (live.states, live.transitions, live.depth) == (old.states, old.transitions, old.depth)
    assert live.verdict == old.verdict
    assert live.counterexample_length == old.counterexample_length
    assert (live.violation.invariant if live.violation else None) == (old.violation.invariant if old.violation else None)
    assert live.goals == old.goals


# (protocol, variant, depth): correct protocols to a depth, broken twins to their first counterexample
CASES = [
    ("twopc", "correct", 6),
    ("twopc", "no-vote-log", None),
    ("paxos", "correct", 6),
    ("paxos", "ignore-accepted", None),
    ("raft", "correct", 5),
    ("raft", "volatile-vote", None),
]


@pytest.mark.parametrize("protocol,variant,depth", [*CASES, ("multi-paxos", "minority-commit", None)])
def test_live_memory_judges_as_the_old_way(protocol, variant, depth):
    live, old = _pair(protocol=protocol, variant=variant, depth=depth)
    _same(live, old)
    mem = live._world._livemem
    assert mem is not None and mem.kept > 0  # the live path was taken, not only the old way
    assert old._world._livemem is None


# --- toys whose invariants remember in awkward ways ----------------------------------------


@dataclass(frozen=True)
class Add:
    k: int


class Tally(Node):
    """Counts the client adds it gets and tells the next node once (a ring of 3)."""

    def on_start(self, ctx):
        self.n = ctx.storage.get("n", 0)

    def on_client_request(self, ctx, request):
        self.n += 1
        ctx.storage["n"] = self.n
        if self.n == 1:
            nxt = {"n1": "n2", "n2": "n3", "n3": "n1"}[self.id]
            ctx.send(nxt, Add(request.value))
        ctx.reply(request, None)

    def on_message(self, ctx, src, msg):
        self.n += msg.k
        ctx.storage["n"] = self.n


class Remembers(Invariant):
    """Memory in awkward places: node objects in tuples and in a set, one list under two
    names, and a verdict that depends on node identity (as Watch's does)."""

    kind = "always"

    def __init__(self, name: str, in_set: bool) -> None:
        self.name = name
        self.in_set = in_set
        self.last: dict[str, tuple] = {}  # nid -> (node object, n)
        self.log: list[str] = []
        self.alias = self.log  # shared: copied together
        self.bag: set = set()
        self.identity_changes = 0

    def check(self, world):
        for nid, node in world.nodes.items():
            if node is None:
                continue
            old = self.last.get(nid)
            if old is None or old[0] is not node:
                self.identity_changes += 1  # counts restarts only, if nodes are followed right
            if old is None or old[1] != node.n:
                self.last[nid] = (node, node.n)
                self.log.append(f"{nid}={node.n}")
                if self.in_set:
                    self.bag.add(node)
        if self.identity_changes > 3 + len(world.nodes):
            return f"node identity changed {self.identity_changes} times"
        if sum(n.n for n in world.nodes.values() if n is not None) > 4:
            return "more than 4 counted"
        return None


def tally_spec(in_set: bool) -> ProtocolSpec:
    def invs(options, variant):
        rem = Remembers("at most 4 counted", in_set)
        seen: list[int] = []

        @goal("somebody counted 2")
        def two(world):
            seen.append(1)  # a list root that grows with every check
            return any(n is not None and n.n >= 2 for n in world.nodes.values())

        return [rem, two]

    return ProtocolSpec(name="tally", summary="toy", make_node=lambda nid, c, o, v: Tally(nid, c), invariants=invs)


@pytest.mark.parametrize("in_set", [False, True])
def test_awkward_memory_is_judged_as_the_old_way(in_set):
    setup = ExploreSetup(requests=(ClientOp("add", None, 1), ClientOp("add", None, 2)), depth=7, faults=1,
                         fault_kinds=("crash", "restart", "drop"))
    live, old = _pair(protocol=tally_spec(in_set), nodes=3, setup=setup)
    _same(live, old)
    assert live.states > 50
    mem = live._world._livemem
    if in_set:  # a node in a set cannot be swapped for its copy: the old way, every time
        assert mem.fallbacks > 0
    else:
        assert mem.kept > 0 and mem.fallbacks == 0
        assert any(len(g) > 1 for g in mem.group.values())  # log and alias share a list


# --- sleep sets (reduction="sleep-sets") ----------------------------------------------------


@pytest.mark.parametrize("protocol,variant,depth", [*CASES, ("broadcast", "correct", 7),
                                                     ("broadcast", "ack-before-store", None)])
def test_sleep_sets_agree_with_the_full_search(protocol, variant, depth):
    """Every verdict, shortest counterexample (its very steps), goal depth and state count agree;
    only transitions are saved."""
    full = explore(protocol, variant=variant, depth=depth, progress=False, time_budget=None)
    slept = explore(protocol, variant=variant, depth=depth, progress=False, time_budget=None,
                    reduction="sleep-sets")
    assert (slept.states, slept.depth, slept.verdict, slept.goals) == (full.states, full.depth, full.verdict, full.goals)
    assert slept.counterexample_length == full.counterexample_length
    assert [str(s) for s in slept.path] == [str(s) for s in full.path]
    assert slept.transitions + slept.transitions_avoided == full.transitions
    assert slept.reduction == "sleep-sets" and full.transitions_avoided == 0


def test_sleep_sets_skip_commuting_deliveries():
    """Three independent pings (n1 to n2, n3, n4; no memory, no history): both orders of two
    deliveries reach the same state, so one order of each pair is skipped."""
    from consensus_lab.sim import ProtocolSpec

    class Fan(Node):
        def on_start(self, ctx):
            self.got = 0
            if self.id == "n1":
                for dst in ("n2", "n3", "n4"):
                    ctx.send(dst, Add(1))

        def on_message(self, ctx, src, msg):
            self.got += msg.k

    spec = ProtocolSpec(name="fan", summary="toy", make_node=lambda nid, c, o, v: Fan(nid, c))
    setup = ExploreSetup(depth=5, faults=0)
    full = explore(spec, nodes=4, setup=setup, progress=False)
    slept = explore(spec, nodes=4, setup=setup, progress=False, reduction="sleep-sets")
    # states: which of the 3 messages arrived, 2**3 = 8; full transitions: 3 + 6 + 3 = 12.
    # Sleep sets (a < b < c the deliveries to n2, n3, n4): level 1 takes a, b, c; at b a sleeps,
    # at c a and b sleep: level 2 takes ab, ac, bc; at ac b sleeps (it was taken before c at a),
    # and sleep sets are not inherited further (purity is only known where a step was taken),
    # so level 3 takes c at ab and a at bc: 3 + 3 + 2 = 8 transitions, 4 avoided.
    assert full.states == slept.states == 8
    assert full.transitions == 12
    assert slept.transitions == 8
    assert slept.transitions_avoided == 4


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="unknown reduction"):
        explore("paxos", reduction="partial-order", progress=False)


def test_cli_reduction():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "explore", "paxos", "--variant",
                          "ignore-accepted", "--reduction", "sleep-sets", "--json", "-"],
                         capture_output=True, text=True)
    assert out.returncode == 1, out.stderr
    got = json.loads(out.stdout)
    full = explore("paxos", variant="ignore-accepted", progress=False)
    assert got["reduction"] == "sleep-sets"
    assert (got["states"], got["counterexample_length"]) == (full.states, full.counterexample_length)
    bad = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "explore", "paxos", "--reduction", "partial-order"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown reduction 'partial-order'" in bad.stderr
    assert bad.stderr.count("\n") == 1

"""The schedule explorer on toys whose state spaces are known by hand.

Each toy's reachable state count is derived in its test's docstring and
compared with what breadth-first search counts, so the fingerprints are known
to merge exactly the states that are equal (too few distinct states would
mean two different states share a fingerprint; too many, that equal states
do not).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from consensus_lab.explore import (
    HANDLER_ERROR,
    ClientOp,
    ExploreSetup,
    ProgressInfo,
    TextProgress,
    clone,
    digest,
    encode,
    explore,
    make_world,
    replay,
)
from consensus_lab.explore.naive import NaiveWorld
from consensus_lab.protocols.broadcast import SPECS as BROADCAST
from consensus_lab.sim import Invariant, Node, ProtocolSpec, Run, goal, invariant

ROOT = Path(__file__).resolve().parents[1]

# --- toys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ping:
    n: int = 0


class Pinger(Node):
    """n1 sends one Ping to n2 at start; n2 counts the pings it receives (in memory)."""

    def on_start(self, ctx):
        self.got = 0
        if self.id == "n1":
            ctx.send("n2", Ping())

    def on_message(self, ctx, src, msg):
        self.got += 1


def pinger_spec(*, at_most_one: bool = False) -> ProtocolSpec:
    def invs(options, variant):
        @invariant("n2 gets at most one ping")
        def one(world):
            n2 = world.nodes["n2"]
            return f"n2 got {n2.got} pings" if n2 is not None and n2.got > 1 else None

        @goal("n2 got a ping")
        def got(world):
            n2 = world.nodes["n2"]
            return n2 is not None and n2.got >= 1

        return [one, got] if at_most_one else [got]

    return ProtocolSpec(name="pinger", summary="toy", make_node=lambda nid, c, o, v: Pinger(nid, c), invariants=invs)


class Counter(Node):
    """Counts to K with a timer; the count is durable, so a restart goes on from it."""

    K = 3

    def on_start(self, ctx):
        self.c = ctx.storage.get("c", 0)
        if self.c < self.K:
            ctx.set_timer("tick", 1.0)

    def on_timer(self, ctx, name, payload):
        self.c += 1
        ctx.storage["c"] = self.c
        if self.c < self.K:
            ctx.set_timer("tick", 1.0)


def counter_spec() -> ProtocolSpec:
    return ProtocolSpec(name="counter", summary="toy", make_node=lambda nid, c, o, v: Counter(nid, c))


def toy_setup(**kw) -> ExploreSetup:
    return ExploreSetup(**{"depth": 60, "faults": 0, **kw})


# --- state counts known by hand -----------------------------------------------------------


def pinger_states(F: int) -> int:
    """Reachable states of the pinger with at most F drops and duplicates.

    A state is (c, g, f): c copies of Ping in flight, g pings counted by n2,
    f faults used.  A schedule that made d duplicates, r drops and g
    deliveries ends in c = 1 + d - r - g >= 0 with f = d + r.  From (c, g, f)
    one recovers d - r = c + g - 1 and d + r = f, so different (d, r, g) give
    different states, and every (d, r, g) with d + r <= F and g <= 1 + d - r
    is reachable (duplicate first, then deliver and drop).  So the count is
    the sum over d + r <= F, r <= d + 1 of (2 + d - r) choices of g:
    F=0: 2; F=1: 2+3+1 = 6; F=2: 6+4+2 = 12; F=3: 12+5+3+1 = 21.
    """
    return sum(2 + d - r for d in range(F + 1) for r in range(F + 1 - d) if r <= d + 1)


@pytest.mark.parametrize("F,expected", [(0, 2), (1, 6), (2, 12), (3, 21)])
def test_pinger_state_count_matches_the_hand_count(F, expected):
    assert pinger_states(F) == expected
    r = explore(pinger_spec(), nodes=2, setup=toy_setup(faults=F, fault_kinds=("drop", "duplicate")),
                progress=False)
    assert r.verdict == "no violation" and r.complete
    assert r.states == expected
    assert r.frontier_left == 0  # the whole space, not a depth cut


@pytest.mark.parametrize("F", [0, 1, 2])
@pytest.mark.parametrize("clock", ["frozen", "timers"])
def test_counter_with_crashes_state_count(F, clock):
    """One counter node counting to K=3 with at most F crashes (restarts are free).

    Up: the node holds c (0..K) with c durable and a tick armed iff c < K, and f
    crashes used (0..F): (K+1)(F+1) states.  Down: storage holds c, f >= 1:
    (K+1)F states.  Total (K+1)(2F+1): 4, 12, 20.  With per-node clocks the
    clock equals c (each tick moves it by its delay, 1), so nothing changes.
    """
    r = explore(counter_spec(), nodes=1, clock=clock,
                setup=toy_setup(faults=F, fault_kinds=("crash", "restart")), progress=False)
    assert r.states == (Counter.K + 1) * (2 * F + 1)
    assert r.verdict == "no violation"


def test_fast_and_naive_state_handling_agree():
    """Deep copies and printed states (the benchmark's baseline) count the same states."""
    spec = BROADCAST[0]
    fast = explore(spec, depth=7, faults=1, progress=False)
    naive = explore(spec, depth=7, faults=1, progress=False, world_class=NaiveWorld)
    assert (fast.states, fast.transitions) == (naive.states, naive.transitions)
    bad = explore(spec, variant="ack-before-store", progress=False, world_class=NaiveWorld)
    assert bad.counterexample_length == 2


# --- shortest counterexamples ----------------------------------------------------------------


def test_bfs_finds_the_shortest_counterexample():
    """n2 may get two pings only if Ping is duplicated and both copies arrive: 3 steps."""
    spec = pinger_spec(at_most_one=True)
    r = explore(spec, nodes=2, setup=toy_setup(faults=2, fault_kinds=("drop", "duplicate")), progress=False)
    assert r.verdict == "violation"
    assert r.violation.invariant == "n2 gets at most one ping"
    assert [s.kind for s in r.path] == ["duplicate", "deliver", "deliver"]
    assert r.counterexample_length == 3
    for strategy in ("dfs", "random"):
        other = explore(spec, nodes=2, strategy=strategy, seed=3,
                        setup=toy_setup(faults=2, fault_kinds=("drop", "duplicate")), progress=False)
        assert other.verdict == "violation"
        assert other.counterexample_length >= r.counterexample_length
    unshrunk = explore(spec, nodes=2, strategy="dfs", shrink_counterexample=False,
                       setup=toy_setup(faults=2, fault_kinds=("drop", "duplicate")), progress=False)
    assert unshrunk.counterexample_length >= 3


def test_counterexample_is_an_ordinary_run():
    r = explore(BROADCAST[0], variant="ack-before-store", progress=False)
    run = r.counterexample
    assert isinstance(run, Run)
    assert r.verdict == "violation" and not r.ok
    assert [str(s) for s in r.path] == ["client c0 sends add('s', 1) to n1", "crash n1"]
    assert run.violations[0].invariant == "durability"
    kinds = [e.kind for e in run.trace]
    assert kinds == ["start", "start", "start", "invoke", "request", "reply", "complete", "crash"]
    times = [e.time for e in run.trace]
    assert times == sorted(times) and times[-1] == pytest.approx(0.02)
    assert [(op.type, op.f, op.value) for op in run.history] == [("invoke", "add", 1), ("ok", "add", 1)]
    assert run.violations[0].events[-1]["kind"] == "crash"
    assert run.storage["n1"] == {}


def test_counterexample_draws_saves_and_replays(tmp_path):
    from consensus_lab.viz.spacetime import plot_spacetime

    spec = BROADCAST[0]
    r = explore(spec, variant="no-retry", depth=6, faults=1, fault_kinds=("drop",),
                requests=[ClientOp("add", "s", 1, targets=("n1",)), ClientOp("read", "s", targets=("n2",))],
                progress=False)
    assert r.verdict == "no violation"  # no-retry is only a liveness bug
    bad = explore(spec, variant="ack-before-store", progress=False)
    fig = plot_spacetime(bad.counterexample, title="ack-before-store")
    assert fig is not None
    path = bad.counterexample.save(tmp_path / "cx.json")
    loaded = Run.load(path)
    assert loaded.trace_hash == bad.counterexample.trace_hash
    again = replay(spec, bad.path, variant="ack-before-store")
    assert again.trace_hash == bad.counterexample.trace_hash
    with pytest.raises(ValueError, match="not possible"):
        replay(spec, bad.path[::-1], variant="ack-before-store")  # n1 is down: no request


def test_messages_in_a_counterexample_have_send_and_deliver_rows():
    spec = pinger_spec(at_most_one=True)
    r = explore(spec, nodes=2, setup=toy_setup(faults=2, fault_kinds=("drop", "duplicate")), progress=False)
    rows = [(e.kind, e.node, e.peer, e.msg_id) for e in r.counterexample.trace]
    assert rows == [
        ("start", "n1", None, None),
        ("send", "n1", "n2", 1),
        ("start", "n2", None, None),
        ("duplicate", "n1", "n2", 1),
        ("deliver", "n2", "n1", 1),
        ("deliver", "n2", "n1", 1),
    ]


# --- goals, budgets, progress ---------------------------------------------------------------------


def test_goal_witness_is_shortest():
    r = explore(BROADCAST[0], goal="all nodes agree", progress=False)
    assert r.goals["all nodes agree"] == 3  # the add, then one Gossip to each peer
    w = r.witness("all nodes agree")
    assert w.goals["all nodes agree"] is not None
    assert [s.kind for s in r.witness_path("all nodes agree")] == ["request", "deliver", "deliver"]
    with pytest.raises(KeyError):
        r.witness("no such goal")
    with pytest.raises(ValueError, match="no goal"):
        explore(BROADCAST[0], goal="nope", progress=False)


def test_budgets_give_budget_exhausted():
    r = explore(BROADCAST[0], depth=12, faults=2, max_states=50, progress=False)
    assert r.verdict == "budget exhausted" and not r.complete and r.states == 50
    r = explore(BROADCAST[0], depth=30, faults=3, time_budget=0.05, progress=False)
    assert r.verdict == "budget exhausted"
    assert "no verdict" in r.summary()


def test_progress_reports_and_final_line():
    seen: list[ProgressInfo] = []
    r = explore(BROADCAST[0], depth=6, progress=seen.append)
    assert seen and seen[-1].verdict == "no violation" and seen[-1].states == r.states
    buf = io.StringIO()
    reporter = TextProgress(buf, delay=0.0, final=True)
    explore(BROADCAST[0], depth=5, progress=reporter)
    out = buf.getvalue()
    assert "states" in out and "depth" in out and out.endswith("no violation\n")


def test_summary_and_json_shape():
    r = explore(BROADCAST[0], variant="ack-before-store", progress=False)
    d = r.to_dict()
    for key in ("verdict", "states", "depth", "counterexample_length", "seconds"):
        assert key in d
    assert d["verdict"] == "violation" and d["counterexample_length"] == 2
    json.dumps(d)
    text = r.summary()
    assert "VIOLATION of 'durability' after 2 steps" in text and "states/s" not in text
    assert "states/s" in r.summary(timing=True)


# --- the state: fingerprints, copies, memory ---------------------------------------------------------


def test_encoding_is_order_independent_and_typed():
    a, b = {3, 1, 2}, set()
    for x in (2, 3, 1):
        b.add(x)
    assert encode(a) == encode(b)
    d1, d2 = {"x": 1, "y": [1, 2]}, {}
    d2["y"] = [1, 2]
    d2["x"] = 1
    assert digest(encode(d1)) == digest(encode(d2))
    assert encode([1, 2]) != encode([2, 1])  # order is part of a list's value
    assert digest(encode({1: None})) != digest(encode({True: None}))
    assert digest(encode({None, 1})) == digest(encode({1, None}))  # mixed types still sort


def test_clone_copies_mutable_parts_and_shares_values():
    p = Ping(1)
    state = {"log": [p, [1, 2]], "seen": {1, 2}, "t": (1, 2)}
    c = clone(state)
    assert c == state and c is not state
    assert c["log"] is not state["log"] and c["log"][1] is not state["log"][1]
    assert c["log"][0] is p and c["t"] is state["t"]
    c["seen"].add(3)
    assert state["seen"] == {1, 2}


def test_fingerprints_do_not_depend_on_hash_seed():
    code = (
        "from consensus_lab.explore import explore;"
        "from consensus_lab.protocols.broadcast import SPECS;"
        "r = explore(SPECS[0], depth=6, progress=False);"
        "b = explore(SPECS[0], variant='ack-before-store', progress=False);"
        "print(r.states, r.transitions, b.counterexample.trace_hash)"
    )
    outs = set()
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
        outs.add(p.stdout)
    assert len(outs) == 1


class MaxSeen(Invariant):
    """Remembers the largest count seen: "the count never goes down"."""

    name = "count never goes down"

    def __init__(self):
        self.best = 0

    def check(self, world):
        n = world.nodes["n1"]
        if n is None:
            return None
        if n.c < self.best:
            return f"count went from {self.best} down to {n.c}"
        self.best = n.c
        return None


class VolatileCounter(Counter):
    def on_start(self, ctx):
        self.c = 0
        ctx.set_timer("tick", 1.0)

    def on_timer(self, ctx, name, payload):
        self.c += 1
        if self.c < self.K:
            ctx.set_timer("tick", 1.0)


def test_invariants_that_remember_travel_with_the_state():
    """A counter in memory only goes back to 0 after a restart: tick, crash, restart (3 steps).

    The invariant's memory ("best so far") belongs to the path: without it in
    the state, the restarted node at 0 would look like the initial state.
    """
    spec = ProtocolSpec(name="vcounter", summary="toy", make_node=lambda nid, c, o, v: VolatileCounter(nid, c),
                        invariants=lambda o, v: [MaxSeen()])
    r = explore(spec, nodes=1, setup=toy_setup(faults=1, fault_kinds=("crash", "restart")), progress=False)
    assert r.verdict == "violation"
    assert [s.kind for s in r.path] == ["timer", "crash", "restart"]
    # the durable counter never goes down, whatever the schedule
    ok = ProtocolSpec(name="dcounter", summary="toy", make_node=lambda nid, c, o, v: Counter(nid, c),
                      invariants=lambda o, v: [MaxSeen()])
    r = explore(ok, nodes=1, setup=toy_setup(faults=2, fault_kinds=("crash", "restart")), progress=False)
    assert r.verdict == "no violation" and r.states == 20


def test_goals_closing_over_shared_memory_are_judged_with_it():
    class Observer:
        def __init__(self):
            self.peak = 0

    def invs(options, variant):
        obs = Observer()

        class Track(Invariant):
            name = "track"

            def check(self, world):
                n = world.nodes["n1"]
                if n is not None:
                    obs.peak = max(obs.peak, n.c)
                return None

        @goal("reached two")
        def two(world):
            return obs.peak >= 2

        return [Track(), two]

    spec = ProtocolSpec(name="obs", summary="toy", make_node=lambda nid, c, o, v: VolatileCounter(nid, c),
                        invariants=invs)
    r = explore(spec, nodes=1, setup=toy_setup(faults=1, fault_kinds=("crash", "restart")), progress=False)
    assert r.goals["reached two"] == 2
    # memory is part of the state: (c, peak, crashes) with peak >= c
    assert r.states > 4


class Crashy(Node):
    def on_message(self, ctx, src, msg):
        raise RuntimeError("boom")

    def on_start(self, ctx):
        if self.id == "n1":
            ctx.send("n2", Ping())


def test_a_handler_that_raises_is_a_counterexample():
    spec = ProtocolSpec(name="crashy", summary="toy", make_node=lambda nid, c, o, v: Crashy(nid, c))
    r = explore(spec, nodes=2, setup=toy_setup(), progress=False)
    assert r.verdict == "violation" and r.violation.invariant == HANDLER_ERROR
    assert "RuntimeError in on_message(Ping from n1): boom" in r.violation.message
    assert r.counterexample.trace[-1].kind == "error"


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="unknown strategy"):
        explore(BROADCAST[0], strategy="astar", progress=False)
    with pytest.raises(ValueError, match="no variant"):
        explore(BROADCAST[0], variant="nope", progress=False)
    with pytest.raises(ValueError, match="depth"):
        explore(BROADCAST[0], depth=-1, progress=False)
    with pytest.raises(ValueError, match="unknown fault kind"):
        explore(BROADCAST[0], fault_kinds=("meteor",), progress=False)
    with pytest.raises(ValueError, match="unknown protocol"):
        explore("no-such-protocol", progress=False)
    with pytest.raises(ValueError, match="targets unknown node"):
        make_world(BROADCAST[0], requests=[ClientOp("add", "s", 1, targets=("n9",))])


def test_random_walks_are_reproducible():
    a = explore(BROADCAST[0], strategy="random", walks=30, depth=10, seed=4, progress=False)
    b = explore(BROADCAST[0], strategy="random", walks=30, depth=10, seed=4, progress=False)
    assert (a.states, a.transitions) == (b.states, b.transitions)
    assert a.verdict == "no violation" and "prove nothing" in a.summary()


def test_public_surface():
    import consensus_lab.explore as ex

    for name in ex.__all__:
        assert hasattr(ex, name), name


# --- the command line --------------------------------------------------------------------------------------


def run_cli(capsys, *argv):
    from consensus_lab.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_explore_contract(capsys):
    code, out, err = run_cli(capsys, "explore", "broadcast", "--variant", "ack-before-store", "--json", "-")
    assert code == 1
    d = json.loads(out)
    assert d["verdict"] == "violation" and d["counterexample_length"] == 2
    assert set(d) >= {"verdict", "states", "depth", "counterexample_length", "seconds"}
    code, out, err = run_cli(capsys, "explore", "broadcast", "--depth", "5", "--json", "-")
    assert code == 0 and json.loads(out)["verdict"] == "no violation"
    assert json.loads(out)["counterexample_length"] is None
    code, out, err = run_cli(capsys, "explore", "broadcast", "--variant", "ack-before-store")
    assert code == 1 and "VIOLATION of 'durability'" in out and "crash n1" in out


def test_cli_explore_plot_and_goal(capsys, tmp_path):
    png = tmp_path / "cx.png"
    code, out, err = run_cli(capsys, "explore", "broadcast", "--variant", "ack-before-store", "--plot", str(png))
    assert code == 1 and png.stat().st_size > 1000
    code, out, err = run_cli(capsys, "explore", "broadcast", "--goal", "all nodes agree")
    assert code == 0 and "witness for goal" in out


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["explore", "nope"], "unknown protocol"),
        (["explore", "broadcast", "--variant", "nope"], "no variant"),
        (["explore", "broadcast", "--depth", "x"], "--depth must be a whole number"),
        (["explore", "broadcast", "--depth", "-2"], "--depth must be at least 0"),
        (["explore", "broadcast", "--timer-limit", "x"], "--timer-limit must be a whole number"),
        (["explore", "broadcast", "--strategy", "astar"], "unknown strategy"),
        (["explore", "broadcast", "--fault-kinds", "meteor"], "unknown fault kind"),
        (["explore", "broadcast", "--set", "nokey"], "--set takes KEY=VALUE"),
        (["explore", "broadcast", "--time-budget", "0"], "--time-budget must be > 0"),
        (["explore", "broadcast", "--plot", "x.svg"], "PNG"),
        (["explore", "broadcast", "--workers", "0"], "--workers must be at least 1"),
        (["explore", "broadcast", "--workers", "2", "--strategy", "dfs"], "breadth-first"),
        (["explore"], "protocol"),
    ],
)
def test_cli_explore_bad_input(capsys, argv, fragment):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and fragment in err and "Traceback" not in err


def test_an_interrupted_search_returns_what_it_has(monkeypatch):
    """Ctrl-C (or the notebook's stop button) ends the search with a result, not a traceback."""
    from consensus_lab.explore.world import ExploreWorld

    real_step = ExploreWorld.step
    calls = {"n": 0}

    def step(self, s, a, rec=None):
        calls["n"] += 1
        if calls["n"] == 200:
            raise KeyboardInterrupt
        return real_step(self, s, a, rec)

    monkeypatch.setattr(ExploreWorld, "step", step)
    r = explore("twopc", depth=8, progress=False)
    assert r.interrupted and r.verdict == "budget exhausted" and not r.complete
    assert 0 < r.states < 200
    assert "interrupted before the bounded space was covered" in r.summary()
    assert r.to_dict()["interrupted"] is True


def test_a_search_ends_by_itself_and_says_how_far_it_got():
    import inspect

    from consensus_lab.explore.search import DEFAULT_TIME_BUDGET

    assert inspect.signature(explore).parameters["time_budget"].default == DEFAULT_TIME_BUDGET
    r = explore("paxos", time_budget=0.3, progress=False)
    assert r.verdict == "budget exhausted" and not r.complete
    assert r.depth_complete is not None and 0 < r.depth_complete < r.bounds.depth
    assert "time budget of 0.3 s exhausted" in r.summary()
    assert f"every schedule of up to {r.depth_complete} steps" in r.summary()
    assert r.to_dict()["depth_complete"] == r.depth_complete
    whole = explore("broadcast", progress=False)  # a small space, covered: the whole depth is complete
    assert whole.verdict == "no violation" and whole.depth_complete == whole.depth


def test_explore_command_has_a_default_budget_and_takes_none():
    from consensus_lab.cli import build_parser

    args = build_parser().parse_args(["explore", "paxos"])
    assert float(args.time_budget) > 0
    out = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "explore", "paxos", "--time-budget", "none",
                          "--max-states", "20", "--json", "-"], capture_output=True, text=True)
    assert out.returncode == 0 and json.loads(out.stdout)["time_budget"] is None
    bad = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "explore", "paxos", "--time-budget", "-1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "or none" in bad.stderr

"""Crash and restart with durable storage; the nemesis; invariants; clients."""

from __future__ import annotations

import pytest
from _toys import Hello, Ticker, chatter_spec, ticker_spec

from consensus_lab import Latency, NetworkConfig, Scenario, run
from consensus_lab.history import pair_operations
from consensus_lab.sim import (
    Crash,
    Cut,
    Heal,
    NemesisError,
    Node,
    Ok,
    Partition,
    ProtocolSpec,
    Redirect,
    Restart,
    Simulation,
    Snipe,
    Storage,
    Strike,
    Workload,
    invariant,
    parse_script,
    random_schedule,
    schedule_to_script,
)
from consensus_lab.sim.node import freeze_message


def _sim(**kw):
    return Simulation(lambda nid, cl: Ticker(nid, cl), ("n1", "n2", "n3"), **kw)


def test_crash_loses_volatile_state_and_timers_but_keeps_storage():
    sim = _sim()
    sim.run_until(1.05)
    before = sim.nodes["n2"]
    assert before.ticks == 10 and sim.storage["n2"]["ticks"] == 10
    sim.crash("n2")
    sim.run_until(2.0)
    assert sim.nodes["n2"] is None
    assert sim.storage["n2"]["ticks"] == 10  # no timer fired while down
    sim.restart("n2")
    after = sim.nodes["n2"]
    assert after is not before and after.ticks == 0 and after.durable_at_start == 10
    sim.run_until(2.55)
    assert after.ticks == 5 and sim.storage["n2"]["ticks"] == 15


def test_messages_in_flight_to_a_crashed_node_are_dropped_even_after_restart():
    sim = Simulation(lambda nid, cl: chatter_spec(2).make_node(nid, cl, {}, "correct"), ("n1", "n2"),
                     network=NetworkConfig(latency=Latency.constant(0.5)))
    sim.start()
    sim.run_until(0.1)
    sim.crash("n2")
    sim.run_until(0.2)
    sim.restart("n2")
    sim.run_until(2.0)
    assert sim.nodes["n2"].received == []
    assert [e.info for e in sim.trace if e.kind == "drop"] == ["crashed", "crashed"]
    assert len(sim.nodes["n1"].received) == 2  # n2 sent before crashing; n1 got them


def test_crash_of_a_crashed_node_and_restart_of_a_live_node_are_no_ops():
    sim = _sim()
    sim.start()
    sim.restart("n1")
    sim.crash("n1")
    sim.crash("n1")
    assert [e.kind for e in sim.trace].count("crash") == 1
    assert sim.stats["restarts"] == 0


def test_storage_copies_values_in_and_out():
    s = Storage()
    log = [1, 2]
    s["log"] = log
    log.append(3)
    assert s["log"] == [1, 2]
    got = s["log"]
    got.append(9)
    assert s["log"] == [1, 2]


def test_messages_must_be_frozen_dataclasses_and_are_private_copies():
    from dataclasses import dataclass

    @dataclass
    class Loose:
        x: int

    @dataclass(frozen=True)
    class WithList:
        items: list

    with pytest.raises(TypeError, match="frozen dataclasses"):
        freeze_message(Loose(1))
    with pytest.raises(TypeError):
        freeze_message({"x": 1})
    m = WithList([1])
    copy = freeze_message(m)
    assert copy == m and copy.items is not m.items
    h = Hello(3)
    assert freeze_message(h) is h  # immutable: shared safely


def test_timer_rearm_replaces_and_cancel_stops():
    class T(Node):
        def on_start(self, ctx):
            self.fired = []
            ctx.set_timer("a", 0.5)
            ctx.set_timer("a", 0.2)  # replaces
            ctx.set_timer("b", 0.3)
            ctx.cancel_timer("b")

        def on_timer(self, ctx, name, payload):
            self.fired.append((name, round(ctx.now, 6)))

    sim = Simulation(lambda nid, cl: T(nid, cl), ("n1",))
    sim.run_until(1.0)
    assert sim.nodes["n1"].fired == [("a", 0.2)]


# --- nemesis ------------------------------------------------------------------------


def test_parse_script_round_trip():
    text = "0.5 crash n1; 1 restart n1; 2 partition n1,n2|n3; 2.5 cut n2>n3; 3 heal; 4 loss 0.25; 5 skew n2 -0.5 0.01"
    sched = parse_script(text, ["n1", "n2", "n3"])
    assert [type(a).__name__ for _, a in sched] == [
        "Crash", "Restart", "Partition", "Cut", "Heal", "SetLoss", "ClockSkew"]
    assert parse_script(schedule_to_script(sched)) == sched
    strikes = parse_script("0 strike 0.25 0.01; 1 strike 0")
    assert strikes == [(0.0, Strike(0.25, 0.01)), (1.0, Strike(0.0))]
    assert parse_script(schedule_to_script(strikes)) == strikes
    snipes = parse_script("0.5 snipe 0.8 0.3; 2 snipe 0")
    assert snipes == [(0.5, Snipe(0.8, 0.3)), (2.0, Snipe(0.0))]
    assert parse_script(schedule_to_script(snipes)) == snipes


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("crash n1", "bad time"),
        ("1", "needs 'TIME ACTION'"),
        ("x crash n1", "bad time"),
        ("-1 crash n1", "negative time"),
        ("1 explode n1", "unknown nemesis action"),
        ("1 crash n9", "unknown node 'n9'"),
        ("1 partition n1,n2", "groups like"),
        ("1 partition n1|n1,n2", "two groups"),
        ("1 cut n1", "SRC>DST"),
        ("1 loss 3", "in [0, 1]"),
        ("1 loss nan", "bad probability"),
        ("1 heal now", "no arguments"),
        ("1 skew n1", "OFFSET"),
        ("1 strike", "P \\[DOWN\\]"),
        ("1 strike 2 0.1", "P in \\[0, 1\\]"),
        ("1 strike 0.5 -1", "DOWN >= 0"),
        ("1 snipe", "P \\[DOWN\\]"),
        ("1 snipe 1.5 0.1", "P in \\[0, 1\\]"),
    ],
)
def test_bad_scripts_name_the_problem(text, fragment):
    pattern = fragment if "\\" in fragment else fragment.replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(NemesisError, match=pattern):
        parse_script(text, ["n1", "n2", "n3"])


def test_random_schedule_is_deterministic_and_keeps_a_majority_up():
    import random

    nodes = [f"n{i}" for i in range(1, 6)]
    for seed in range(50):
        a = random_schedule(nodes, 20, random.Random(seed), ("crash", "partition", "loss", "cut"))
        b = random_schedule(nodes, 20, random.Random(seed), ("crash", "partition", "loss", "cut"))
        assert a == b
        down: set[str] = set()
        for t, action in a:
            if isinstance(action, Crash):
                down.add(action.node)
            elif isinstance(action, Restart):
                down.discard(action.node)
            assert len(down) <= 2
            assert t <= 16.0 + 1e-9  # quiet last 20%
        assert not down  # everything restarted at the end


def test_random_schedule_rejects_unknown_kinds():
    import random

    with pytest.raises(NemesisError, match="unknown fault kind"):
        random_schedule(["n1"], 5, random.Random(0), ("meteor",))


def test_blip_phases_strike_from_the_start_and_stop():
    import random

    nodes = ["n1", "n2", "n3"]
    for seed in range(30):
        sched = random_schedule(nodes, 10, random.Random(seed), ("crash", "blip"))
        strikes = [(t, a) for t, a in sched if isinstance(a, Strike)]
        assert strikes[0][0] == 0 and strikes[0][1].p > 0  # the first moments are struck
        assert strikes[-1][1].p == 0 and strikes[-1][0] <= 8.0 + 1e-9  # and the quiet end is not
        assert all(0 < a.down <= 0.01 for _, a in strikes if a.p)


def test_blip_tuning_sets_the_strike_range_and_splits_a_pair_at_the_start():
    import random

    nodes = ["n1", "n2", "n3"]
    for seed in range(30):
        sched = random_schedule(nodes, 10, random.Random(seed), ("crash", "blip"), blip_p=(0.3, 0.6), blip_split=True)
        assert all(0.3 <= a.p <= 0.6 for _, a in sched if isinstance(a, Strike) and a.p)
        cuts = [a for t, a in sched if isinstance(a, Cut)]
        assert [t for t, a in sched if isinstance(a, Cut)] == [0.0, 0.0]
        assert (cuts[0].src, cuts[0].dst) == (cuts[1].dst, cuts[1].src)  # one pair, both ways
        first_stop = next(t for t, a in sched if isinstance(a, Strike) and not a.p)
        assert (first_stop, Heal()) in sched  # healed when the opening blips stop
        plain = random_schedule(nodes, 10, random.Random(seed), ("crash", "blip"))
        assert not any(isinstance(a, Cut) for _, a in plain)


def test_a_snipe_cuts_a_leader_off_right_after_it_takes_a_command():
    """``snipe``: right after a node takes a client request it does not answer at once (a Raft
    leader appending a command), it is cut off, so what it sent in that step is lost; followers
    that redirect are never sniped, and at most a minority is cut off at once."""
    sc = Scenario(protocol="raft", nodes=5, seed=2, duration=4.0, nemesis="0.5 snipe 0.9 0.3; 3 snipe 0")
    r = run(sc)
    rows = list(r.trace)
    snipes = [i for i, e in enumerate(rows) if e.kind == "partition"]
    assert len(snipes) >= 3
    cut_short = 0
    for i in snipes:
        alone = [g[0] for g in rows[i].info if len(g) == 1]
        assert 1 <= len(alone) <= 2  # a minority of five
        j = next(j for j in range(i - 1, -1, -1) if rows[j].kind in ("request", "reply", "deliver", "timer"))
        step = rows[j]
        assert step.kind == "request" and step.time == rows[i].time and step.node in alone
        sent = [e for e in rows[j:i] if e.kind == "send"]
        assert all(
            any(d.kind == "drop" and d.msg_id == s.msg_id and d.info == "partition" for d in rows[i:]) for s in sent
        )  # what it sent in that step (its AppendEntries) never arrives
        cut_short += bool(sent)
    assert cut_short >= 2
    heals = [e.time for e in rows if e.kind == "heal"]
    assert heals and max(heals) <= 3.0 + 0.3 + 1e-9 and not r.violations
    assert run(sc).trace_hash == r.trace_hash  # the snipes are drawn from the seed
    assert not any(e.kind == "partition" for e in run(sc.replace(nemesis="0.5 snipe 0 0.3")).trace)


def test_a_strike_crashes_a_node_right_after_a_step_and_restarts_it_soon():
    sc = Scenario(protocol=ticker_spec(), nodes=3, seed=3, duration=2.0, nemesis="0 strike 0.3 0.01; 1 strike 0")
    r = run(sc)
    rows = list(r.trace)
    crashes = [i for i, e in enumerate(rows) if e.kind == "crash"]
    assert crashes and all(rows[i].time < 1.0 for i in crashes)
    for i in crashes:
        step = next(e for e in reversed(rows[:i]) if e.kind in ("deliver", "timer", "request") and e.node == rows[i].node)
        assert step.time == rows[i].time  # right after its step, at the same moment
        back = next(e for e in rows[i:] if e.kind in ("restart", "start") and e.node == rows[i].node)
        assert 0 < back.time - rows[i].time <= 0.01 + 1e-9
    assert run(sc).trace_hash == r.trace_hash  # the strikes are drawn from the seed
    assert run(sc.replace(nemesis="0 strike 0 0.01")).stats["crashes"] == 0


def test_scripted_nemesis_runs_in_the_simulation():
    r = run(Scenario(protocol=ticker_spec(), nodes=3, duration=3.0,
                     nemesis="0.5 crash n2; 1.0 partition n1|n2,n3; 1.5 restart n2; 2 heal"))
    kinds = [(round(e.time, 3), e.kind, e.node) for e in r.trace if e.kind in ("crash", "restart", "partition", "heal")]
    assert kinds == [(0.5, "crash", "n2"), (1.0, "partition", None), (1.5, "restart", "n2"), (2.0, "heal", None)]


# --- invariants -----------------------------------------------------------------------


def test_invariant_violation_reports_time_and_events():
    @invariant("fewer than 5 ticks")
    def few(world):
        for n in world.live():
            if n.ticks >= 5:
                return f"{n.id} ticked {n.ticks} times"
        return None

    spec = ProtocolSpec("ticker", "toy", lambda nid, cl, o, v: Ticker(nid, cl), invariants=lambda o, v: [few])
    r = run(Scenario(protocol=spec, nodes=2, duration=2.0))
    assert len(r.violations) == 1
    v = r.violations[0]
    assert v.invariant == "fewer than 5 ticks" and abs(v.time - 0.5) < 1e-9
    assert "ticked 5 times" in v.message
    assert v.events and v.events[-1]["kind"] == "timer" and v.events[-1]["t"] == v.time


# --- clients ----------------------------------------------------------------------------


class EchoRegister(Node):
    """A single-node register (for client tests): n1 serves, others redirect."""

    def on_start(self, ctx):
        self.value = ctx.storage.get("value")

    def on_client_request(self, ctx, req):
        if self.id != "n1":
            ctx.reply(req, Redirect("n1"))
            return
        if req.f == "read":
            ctx.reply(req, Ok(self.value))
        else:
            self.value = req.value
            ctx.storage["value"] = req.value
            ctx.reply(req, Ok())


def _register_run(**kw):
    spec = ProtocolSpec("echo", "toy", lambda nid, cl, o, v: EchoRegister(nid, cl),
                        workload=Workload(clients=3, think=0.05, timeout=0.2, deadline=0.5))
    return run(Scenario(protocol=spec, nodes=3, duration=3.0, **kw))


def test_clients_follow_redirects_and_record_a_wellformed_history():
    r = _register_run(seed=4)
    ops = pair_operations(r.history)
    assert len(ops) > 50
    assert all(o.status == "ok" for o in ops)
    last_write = None
    for ev in r.history:
        if ev.type == "ok" and ev.f == "write":
            last_write = ev.value
        elif ev.type == "ok" and ev.f == "read":
            assert ev.value == last_write or ev.value is None or isinstance(ev.value, int)


def test_clients_give_up_with_info_and_take_a_fresh_process_id():
    r = _register_run(seed=1, nemesis="0.5 crash n1; 2.0 restart n1")
    infos = [e for e in r.history if e.type == "info"]
    assert infos, "operations against a crashed server must end as info"
    procs = {e.process for e in r.history}
    assert any(p >= 3 for p in procs)  # the crashed process was replaced
    for p in {e.process for e in infos}:
        assert not any(e.process == p and e.time > max(i.time for i in infos if i.process == p) for e in r.history)
    pair_operations(r.history)  # well-formed: raises otherwise


def test_partition_marks_in_trace_are_replayable():
    r = run(Scenario(protocol=chatter_spec(2), nodes=3, nemesis="0 partition n1|n2,n3"))
    assert r.nodes["n1"].received == []
    assert any(e.kind == "partition" and e.info == [["n1"], ["n2", "n3"]] for e in r.trace)
    assert isinstance(Partition((("n1",),)), Partition)

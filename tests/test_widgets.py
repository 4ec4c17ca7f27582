"""The scenario lab, driven from Python as a reader's clicks would drive it (no browser)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402,F401 - the lab extra is part of the dev extra: missing means a broken set-up
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from consensus_lab import Scenario, protocols, run  # noqa: E402
from consensus_lab import widgets as lab_widgets  # noqa: E402
from consensus_lab.sim import Node, ProtocolSpec, invariant  # noqa: E402
from consensus_lab.widgets import (  # noqa: E402
    GenericPanel,
    LabError,
    LabSession,
    Panel,
    RaftPanel,
    ScenarioLab,
    TwoPCPanel,
    panel_for,
    register_panel,
)

ALL = protocols.names()


def status(lab: ScenarioLab) -> str:
    return lab.w_status.value


def assert_no_error(lab: ScenarioLab) -> None:
    assert "cl-error" not in status(lab), status(lab)


def click(lab: ScenarioLab, label: str) -> None:
    lab.buttons[label].click()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_public_names():
    assert sorted(lab_widgets.__all__) == [
        "GenericPanel", "LabError", "LabSession", "Panel", "PaxosPanel", "RaftPanel", "ScenarioLab",
        "Snapshot", "TwoPCPanel", "panel_for", "register_panel",
    ]
    for name in lab_widgets.__all__:
        assert getattr(lab_widgets, name) is not None


def test_buttons_have_short_fixed_labels():
    lab = ScenarioLab("broadcast", seed=1)
    for label in ("Step", "Run", "Crash", "Restart", "Partition", "Heal", "Reset", "Drop"):
        assert lab.buttons[label].description == label


@pytest.mark.parametrize("protocol", ALL)
def test_every_protocol_can_be_acted_on(protocol):
    lab = ScenarioLab(protocol, seed=1, at=0.3)
    assert_no_error(lab)
    picture, state = lab.w_picture.value, lab.w_state.value
    assert picture[:4] == b"\x89PNG"

    lab.w_node.value = lab.session.node_ids[-1]
    click(lab, "Crash")
    assert_no_error(lab)
    assert lab.session.sim.nodes[lab.session.node_ids[-1]] is None
    assert lab.w_picture.value != picture
    assert lab.w_state.value != state and "down" in lab.w_state.value

    picture, state = lab.w_picture.value, lab.w_state.value
    click(lab, "Partition")
    assert_no_error(lab)
    assert lab.session.partition_groups() is not None
    assert lab.w_picture.value != picture and lab.w_state.value != state

    before = len(lab.session.rows)
    click(lab, "Step")
    assert_no_error(lab)
    assert len(lab.session.rows) > before

    for label in ("Run", "Heal", "Restart", "Drop", "Run"):
        click(lab, label)
        assert_no_error(lab)
    assert lab.session.now > 0.8
    click(lab, "Reset")
    assert_no_error(lab)
    assert lab.session.now == pytest.approx(0.3) and not lab.session.manual


# seeds at which n2 is up when the reader crashes it (raft's random nemesis blips: at seed 5
# a blip has just taken n2 down, and crashing a crashed node does nothing)
@pytest.mark.parametrize("protocol, seed", [("broadcast", 4), ("raft", 0), ("twopc", 4)])
def test_faults_by_hand_replay_exactly(protocol, seed):
    lab = ScenarioLab(protocol, seed=seed, duration=3.0, nemesis="random")
    for _ in range(5):
        click(lab, "Step")
    lab.w_amount.value = 0.1
    click(lab, "Run")
    lab.w_node.value = "n2"
    click(lab, "Crash")
    click(lab, "Step")
    click(lab, "Partition")
    click(lab, "Run")
    click(lab, "Heal")
    click(lab, "Restart")
    lab.w_amount.value = -1.0  # to the end
    click(lab, "Run")
    assert_no_error(lab)
    assert lab.session.finished
    assert "crash n2" in lab.script() and "restart n2" in lab.script()
    again = run(lab.replay_scenario())
    mine = lab.session.to_run()
    assert again.trace_hash == mine.trace_hash
    assert again.stats == mine.stats
    # the script shows in the log, ready to paste
    assert "crash n2" in lab.w_log.value and "replay it" in lab.w_log.value


def test_actions_after_the_end_are_refused_politely():
    lab = ScenarioLab("broadcast", seed=1, duration=0.5)
    lab.run()
    assert lab.session.finished
    assert lab.buttons["Crash"].disabled and not lab.buttons["Reset"].disabled
    with pytest.raises(LabError, match="Reset"):
        lab.session.crash("n1")


def test_impossible_actions_warn_instead_of_failing():
    lab = ScenarioLab("broadcast", seed=1, at=0.2)
    click(lab, "Heal")
    assert "cl-warn" in status(lab) and "nothing to heal" in status(lab)
    click(lab, "Restart")
    assert "cl-warn" in status(lab) and "running" in status(lab)
    click(lab, "Crash")
    click(lab, "Crash")
    assert "already down" in status(lab)


def test_session_rejects_bad_requests():
    s = LabSession(Scenario(protocol="broadcast", nodes=3, seed=1, duration=2.0))
    with pytest.raises(LabError, match="unknown node"):
        s.crash("n9")
    with pytest.raises(LabError, match="two groups"):
        s.partition("n1,n2|n2,n3")
    with pytest.raises(LabError, match="at least two groups"):
        s.partition("n1,n2,n3")
    with pytest.raises(LabError, match="positive"):
        s.advance(0)
    t = s.partition("n1|n2")  # n3 left out: a group of its own
    assert s.partition_groups() == (("n1",), ("n2",), ("n3",))
    assert t == 0.0


def test_step_processes_one_visible_event():
    s = LabSession(Scenario(protocol="raft", nodes=3, seed=1, duration=2.0))
    n0 = len(s.rows)
    ev = s.step()
    assert ev is not None and len(s.rows) == n0 + 1 and ev.time == s.now


def test_scrubber_shows_earlier_states():
    lab = ScenarioLab("raft", nodes=3, seed=2, duration=3.0)
    lab.run(0.05)
    early = lab.state_at(0.05)
    assert all(v["role"] != "leader" for v in early.values() if v is not None)
    lab.w_node.value = "n1"
    lab.run(1.0)
    leaders = [n for n, v in lab.state_at().items() if v and v["role"] == "leader"]
    assert len(leaders) == 1
    live_state, live_picture = lab.w_state.value, lab.w_picture.value

    lab.scrubber.slider.value = 0.05  # as a reader dragging the slider
    assert lab._view_t == pytest.approx(0.05)
    assert lab.w_state.value != live_state and lab.w_picture.value != live_picture
    assert "leader" not in lab.w_state.value.split("log (")[0].replace("leader</th>", "")
    assert "viewing t = 0.050" in lab.scrubber.mode.value
    assert not lab.scrubber.live_button.disabled

    lab.scrubber.live_button.click()
    assert lab._view_t is None and lab.w_state.value == live_state

    lab.view_at(0.5)
    click(lab, "Step")  # acting returns to the present
    assert lab._view_t is None


def test_violation_turns_a_light_red_and_pauses_the_run():
    lab = ScenarioLab("broadcast", nodes=3, seed=2, duration=5.0, nemesis="crash", variant="ack-before-store")
    lab.w_amount.value = -1.0
    click(lab, "Run")
    assert "paused: durability violated" in status(lab)
    assert not lab.session.finished
    assert "cl-light-bad" in lab.w_lights.value and "durability" in lab.w_lights.value
    assert "acknowledged" in lab.w_lights.value
    v = lab.session.sim.violations[0]
    lab.view_at(v.time - 0.01)  # before it: green again
    assert "cl-light-bad" not in lab.w_lights.value
    click(lab, "Run")
    assert lab.session.finished


def test_history_verdicts():
    lab = ScenarioLab("raft", nodes=3, seed=1, at=1.0)
    assert "✔ linearizable" in lab.w_history.value
    lab = ScenarioLab("broadcast", nodes=3, seed=1, at=1.0)  # reads of a set can miss an add
    assert "linearizable" in lab.w_history.value
    lab = ScenarioLab("twopc", seed=1, at=0.5)
    assert "no linearizability check" in lab.w_history.value


def test_settings_apply_on_reset():
    lab = ScenarioLab("broadcast", nodes=3, seed=1, at=0.2)
    lab.w_seed.value = 9
    lab.w_nodes.value = 4
    lab.w_loss.value = 0.2
    click(lab, "Reset")
    assert_no_error(lab)
    sc = lab.scenario
    assert (sc.seed, sc.nodes, sc.network.loss) == (9, 4, 0.2)
    assert list(lab.w_node.options) == ["n1", "n2", "n3", "n4"]

    lab.w_protocol.value = "raft"
    assert list(lab.w_variant.options)[0] == "correct" and "volatile-vote" in lab.w_variant.options
    lab.w_variant.value = "volatile-vote"
    lab.w_latency.value = 20.0
    click(lab, "Reset")
    assert_no_error(lab)
    sc = lab.scenario
    assert sc.protocol_name == "raft" and sc.variant == "volatile-vote"
    assert sc.network.latency.mean == pytest.approx(0.02)
    assert isinstance(lab.panel, RaftPanel)

    lab.w_nemesis.value = "0.1 crash n9"
    click(lab, "Reset")
    assert "cl-warn" in status(lab) and "n9" in status(lab)
    lab.w_nemesis.value = "none"
    lab.w_options.value = "nonsense"
    click(lab, "Reset")
    assert "key=value" in status(lab)


def test_reset_from_python_replays_a_seed():
    lab = ScenarioLab("broadcast", seed=1, at=0.5)
    first = lab.session.to_run().trace_hash
    lab.reset(seed=2)
    assert lab.scenario.seed == 2 and lab.session.to_run().trace_hash != first
    lab.reset(seed=1)
    assert lab.session.to_run().trace_hash == first
    lab.reset(colour="blue")
    assert "reset() takes" in status(lab)


def test_scenario_objects_are_accepted():
    story = protocols.get("twopc")  # a spec works, and so does a whole Scenario
    lab = ScenarioLab(story, seed=3, at=0.2)
    assert lab.scenario.protocol_name == "twopc"
    sc = Scenario(protocol="paxos", nodes=5, seed=2, duration=2.0, nemesis="0.3 crash n1")
    lab = ScenarioLab(sc, at=0.5)
    assert lab.scenario == sc and lab.session.sim.nodes["n1"] is None


def test_static_picture_is_the_same_scenario_and_leaves_the_lab_alone():
    lab = ScenarioLab("raft", nodes=3, seed=2, duration=3.0, at=0.6)
    lab.crash("n1")
    now, rows = lab.session.now, len(lab.session.rows)
    fig = lab.static_picture()
    assert len(fig.axes) == 3
    fig2 = lab.static_picture(t=2.0)  # further than the lab went: replayed elsewhere
    assert (lab.session.now, len(lab.session.rows)) == (now, rows)
    title = fig2.axes[0].get_title(loc="left")
    assert "raft" in title and "t = 2.000" in title
    fresh = ScenarioLab("raft", nodes=3, seed=2, duration=3.0)
    assert "t = 3.000" in fresh.static_picture().axes[0].get_title(loc="left")


def test_text_fallback_is_stable():
    lab = ScenarioLab("broadcast", nodes=3, seed=1)
    bundle = lab._repr_mimebundle_()
    assert bundle["text/plain"].startswith("ScenarioLab: broadcast (correct), 3 nodes, seed 1, at t = 0 s")
    assert "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize("protocol", ALL)
def test_panels_render_every_protocol(protocol):
    panel = panel_for(protocol)
    s = LabSession(Scenario(protocol=protocol, seed=1, duration=2.0, nemesis="0.3 crash n2"),
                   down_view=panel.down_view)
    s.run_to(0.8)
    snap = s.snapshot_at()
    html = panel.html(snap, s.node_ids)
    assert "n1" in html and "down" in html
    fig, ax = plt.subplots()
    panel.draw(ax, snap, s.node_ids)


def test_raft_panel_colours_the_log_by_term_and_remembers_a_down_node():
    s = LabSession(Scenario(protocol="raft", nodes=3, seed=5, duration=3.0), down_view=RaftPanel().down_view)
    s.run_to(1.0)
    s.crash("n1")
    s.run_to(2.0)
    html = RaftPanel().html(s.snapshot_at(), s.node_ids)
    assert "term&nbsp;1" in html or "term&nbsp;2" in html
    assert "solid = known committed" in html and "on disk: log to index" in html
    down = s.snapshot_at().down["n1"]
    assert down["term"] >= 1 and down["log_end"] >= 1


def test_twopc_panel_shows_decisions_and_participants():
    s = LabSession(Scenario(protocol="twopc", seed=1, duration=1.0))
    s.run_to(0.5)
    html = TwoPCPanel().html(s.snapshot_at(), s.node_ids)
    assert "coordinator: decision" in html and "participant" in html
    assert "committed" in html or "aborted" in html


def test_generic_panel_and_registry():
    assert type(panel_for("broadcast")) is GenericPanel
    assert type(panel_for("no-such-protocol")) is GenericPanel

    class Mine(Panel):
        name = "mine"

    register_panel("chatter-mine", Mine)
    assert type(panel_for("chatter-mine")) is Mine
    with pytest.raises(TypeError):
        register_panel("x", object)  # type: ignore[arg-type]


class _Exploder(Node):
    def on_start(self, ctx):
        ctx.set_timer("boom", 0.2)

    def on_timer(self, ctx, name, payload):
        raise ZeroDivisionError("a bug in the student's node")

    def state_view(self):
        return {"alive": True}


def test_a_protocol_bug_shows_in_the_lab_instead_of_vanishing():
    @invariant("never")
    def never(world):
        return None

    spec = ProtocolSpec(name="exploder", summary="raises on its first timer",
                        make_node=lambda nid, cluster, options, variant: _Exploder(nid, cluster),
                        invariants=lambda o, v: [never], history_model=None)
    lab = ScenarioLab(spec, nodes=2, seed=1, duration=1.0)
    lab.run(0.5)
    assert "cl-error" in status(lab)
    assert "ZeroDivisionError" in status(lab) and "boom" in status(lab)
    assert lab.w_picture.value[:4] == b"\x89PNG"  # still drawn

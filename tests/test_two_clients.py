"""Lesson 01's two-clients story and its lab: each trouble shows, and a client concludes only from what it saw."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab.testing import examples
from consensus_lab.two_clients import PutAck, two_clients

DELAYS = st.integers(min_value=0, max_value=300).filter(lambda ms: ms != 100)  # 100 ms: a tie, in event order


@settings(max_examples=examples(40), deadline=None)
@given(ms=DELAYS)
def test_a_read_after_an_acknowledged_write_is_stale_exactly_when_the_replicas_are_far(ms):
    s = two_clients(delay=ms / 1000)
    assert s.write.result == "ok" and s.write.ret < s.read.call  # acknowledged before the read began
    assert s.stale == (ms > 100)
    assert s.read.value == (None if ms > 100 else 1)
    assert s.final == {"n1": {"x": 1}, "n2": {"x": 1}}  # it converges anyway


@settings(max_examples=examples(30), deadline=None)
@given(ms=DELAYS, concurrent=st.booleans())
def test_a_client_concludes_only_from_what_it_received(ms, concurrent):
    lost = two_clients(delay=ms / 1000, lose_reply=True, concurrent=concurrent)
    assert lost.indeterminate and lost.happened  # n1 applied it; only the answer was lost
    assert not lost.stale  # nothing was acknowledged to A, so B's nil is no stale read
    # A saw the same silence whatever happened elsewhere: its conclusion cannot depend on it
    assert lost.conclusions["A"] == two_clients(lose_reply=True).conclusions["A"]
    assert "cannot tell" in lost.conclusions["A"]
    if not concurrent:
        assert (lost.read.value == 1) == (ms < 100)


def test_concurrent_writes_under_last_writer_wins_keep_one_and_tell_nobody():
    s = two_clients(concurrent=True)
    assert [o.result for o in s.ops["A"] + s.ops["B"]] == ["ok", "ok", "ok"]
    assert s.final == {"n1": {"x": 2}, "n2": {"x": 2}}
    assert [(o.client, o.value) for o in s.overwritten] == [("A", 1)]
    assert "knows x=1 took effect" in s.conclusions["A"]  # ...and nobody tells it otherwise
    assert any("is gone" in f for f in s.facts)


def test_the_lost_answer_is_one_dropped_message_in_the_trace():
    s = two_clients(lose_reply=True)
    drops = [e for e in s.trace if e.kind == "drop"]
    assert len(drops) == 1 and isinstance(drops[0].msg, PutAck) and drops[0].info == "dropped by hand"
    assert two_clients().trace.hash() == two_clients().trace.hash()


@pytest.mark.parametrize("kw, match", [({"delay": -0.1}, "delay"), ({"timeout": 0}, "timeout"),
                                       ({"end": 0.3}, "end must")])
def test_bad_settings_are_one_line_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        two_clients(**kw)


def test_message_captions_label_the_arrows():
    from consensus_lab.viz.spacetime import _msg_label

    s = two_clients(delay=0.15)
    labels = {_msg_label(e.msg, type(e.msg).__name__) for e in s.trace if e.kind == "deliver"}
    assert {"Put x=1", "PutAck OK", "Get", "GetReply x=nil", "Replicate x=1"} <= labels


def test_lab_runs_reports_and_redraws_only_a_new_story():
    from consensus_lab.widgets.two_clients_lab import TwoClientsLab

    lab = TwoClientsLab()
    assert lab.story is None and not lab.w_picture.value
    lab.set(lose_reply=True).run()
    assert "cl-ok" in lab.w_status.value and "A gave up on its write, which did happen" in lab.w_status.value
    assert "cannot tell" in lab.w_result.value and lab.w_picture.value
    png = lab.w_picture.value
    lab.set(delay=200)
    assert lab.w_picture.value is png  # a knob alone does not redraw the last run
    lab.run()
    assert lab.w_picture.value != png and len(lab.stories) == 2 and lab.story.delay == 0.2
    lab.set(delay=7.5)
    assert "cl-warn" in lab.w_status.value and "delay is a whole number from 0 to 300" in lab.w_status.value
    lab.set(colour="red")
    assert "set() takes delay" in lab.w_status.value
    lab.set(lose_reply="yes")
    assert "lose_reply is True or False" in lab.w_status.value and lab.w_lose.value is True  # unchanged
    lab.buttons["Run"].click()
    assert len(lab.stories) == 3


def test_drop_next_message_can_pick_which_message():
    from consensus_lab.sim import Latency, NetworkConfig, Node, Simulation

    class Pinger(Node):
        def on_start(self, ctx):
            if self.id == "a":
                ctx.send("b", PutAck("x", 1))
                ctx.send("c", PutAck("x", 2))

    sim = Simulation(lambda n, c: Pinger(n, c), ("a", "b", "c"), network=NetworkConfig(latency=Latency.constant(0.01)))
    sim.start()
    picked = sim.drop_next_message(lambda m: m.msg.value == 2)
    assert picked is not None and picked.msg.value == 2
    assert sim.drop_next_message(lambda m: False) is None
    sim.run_until(1.0)
    assert [(e.kind, e.msg.value) for e in sim.trace if e.kind in ("deliver", "drop")] == [("deliver", 1), ("drop", 2)]

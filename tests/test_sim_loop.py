"""The event loop's fast paths: effects applied in the order a handler made them, however it
made them, and the garbage collector paused while the loop runs and restored after."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import pytest

from consensus_lab.sim import Node, NodeError, Send, Simulation


@dataclass(frozen=True)
class M:
    n: int


class Mixer(Node):
    """n1 sends by ``send``, ``broadcast`` and a hand-made ``Send`` (as the grader's host does),
    with a timer in between; every node notes whether the collector is on in its handlers."""

    seen: list[bool] = []

    def on_start(self, ctx):
        Mixer.seen.append(gc.isenabled())
        if self.id != "n1":
            return
        ctx.send("n2", M(1))
        ctx.broadcast(self.peers, M(2))
        ctx.set_timer("t", 0.5)
        ctx.outbox.append(Send("n3", M(3)))
        ctx.send("n3", M(4))

    def on_message(self, ctx, src, msg):
        Mixer.seen.append(gc.isenabled())
        if msg == M(99):
            raise ValueError("boom")


def _sim():
    Mixer.seen = []
    return Simulation(lambda nid, cl: Mixer(nid, cl), ("n1", "n2", "n3"), seed=3)


def test_sends_of_every_form_and_timers_keep_their_order():
    sim = _sim()
    sim.run_until(1.0)
    sends = [(e.msg_id, e.peer, e.msg) for e in sim.trace if e.kind == "send"]
    assert sends == [(1, "n2", M(1)), (2, "n2", M(2)), (3, "n3", M(2)), (4, "n3", M(3)), (5, "n3", M(4))]
    delivered = sorted(e.msg_id for e in sim.trace if e.kind == "deliver")
    assert delivered == [1, 2, 3, 4, 5]
    # the timer was scheduled between the broadcast and the hand-made send: sequence numbers
    # (the heap's tie-breaker) follow the order of the effects
    timer = [e for e in sim.trace if e.kind == "timer"]
    assert [e.node for e in timer] == ["n1"]
    assert sim.stats["sent"] == 5 and sim.stats["delivered"] == 5


def test_a_send_to_an_unknown_node_names_it_whichever_way_it_was_made():
    class Stray(Node):
        def on_start(self, ctx):
            if self.id == "n1":
                ctx.broadcast(["n2", "n9"], M(1))

    sim = Simulation(lambda nid, cl: Stray(nid, cl), ("n1", "n2"))
    with pytest.raises(NodeError, match="unknown node 'n9'"):
        sim.start()


def test_the_loop_pauses_the_collector_and_turns_it_back_on():
    assert gc.isenabled()
    sim = _sim()
    sim.start()  # on_start runs outside the loop, with the collector as it was
    sim.run_until(1.0)
    assert Mixer.seen[:3] == [True, True, True]
    assert Mixer.seen[3:] and not any(Mixer.seen[3:])  # every delivery ran with it paused
    assert gc.isenabled()


def test_the_collector_is_restored_after_a_handler_raises_and_left_off_if_it_was_off():
    sim = _sim()
    sim.run_until(1.0)
    sim._push(1.5, 0, "n1", "n2", M(99), 0, sim._incarnation["n2"])  # a delivery whose handler raises
    with pytest.raises(NodeError, match="boom"):
        sim.run_until(2.0)
    assert gc.isenabled()
    gc.disable()
    try:
        _sim().run_until(1.0)
        assert not gc.isenabled()
    finally:
        gc.enable()

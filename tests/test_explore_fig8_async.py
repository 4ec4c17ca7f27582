"""Raft's figure 8 over single deliveries: the hand-written path (explore.kept.FIGURE8_ASYNC).

It is not a search result (breadth-first search does not get that deep here);
these tests pin what it shows: 20 single steps in the asynchronous network
lead to a leader of term 4 that lacks an entry counted committed in term 3,
with the broken twin only, and not one step earlier.
"""

from __future__ import annotations

import pytest

from consensus_lab.explore import replay
from consensus_lab.explore.kept import FIGURE8_ASYNC, FIGURE8_ASYNC_CONFIG, figure8_async


def test_the_path_breaks_leader_completeness_at_its_last_step_only():
    assert len(FIGURE8_ASYNC) == 20
    assert {s.kind for s in FIGURE8_ASYNC} == {"timer", "deliver", "request"}  # no fault, single deliveries
    assert not figure8_async(upto=19).violations
    run = figure8_async()
    assert [v.invariant for v in run.violations] == ["leader completeness"]
    assert "n2 is leader of term 4" in run.violations[0].message


def test_the_correct_raft_refuses_the_commit_so_the_path_breaks_off():
    # the correct protocol does not commit n1's term-1 entry in term 3, so the path still
    # replays (every message is sent alike) but no invariant breaks
    run = replay("raft", FIGURE8_ASYNC, variant="correct", **FIGURE8_ASYNC_CONFIG)
    assert not run.violations


def test_a_step_that_is_not_enabled_is_refused():
    with pytest.raises(ValueError, match="not possible"):
        replay("raft", FIGURE8_ASYNC[1:], variant="commit-previous-term", **FIGURE8_ASYNC_CONFIG)


def test_the_path_is_drawn_as_numbered_steps_with_the_logs_after_the_last():
    import matplotlib

    matplotlib.use("Agg")
    from consensus_lab.explore.kept import figure8_async_path
    from consensus_lab.viz import plot_counterexample
    from consensus_lab.viz.counterexample import counterexample_steps

    hand = figure8_async_path()
    assert hand.verdict == "violation" and len(hand.path) == 20
    steps = counterexample_steps(hand)
    assert [s.step for s in steps] == list(FIGURE8_ASYNC)
    last = steps[-1].views
    # the new leader of term 4 holds only its own term-2 entry; n1 counted its term-1 entry committed
    assert (last["n2"]["role"], last["n2"]["term"], last["n2"]["log_terms"]) == ("leader", 4, [2])
    assert (last["n1"]["log_terms"], last["n1"]["commit_index"]) == ([1], 1)
    fig = plot_counterexample(hand, log_panels="last")
    assert [a.get_title(loc="left") for a in fig.axes if a.get_title(loc="left").startswith("logs")] == [
        "logs after step 20"]
    assert any(t.get_text().startswith("the logs after the last step drawn:") for t in fig.texts)

"""Figures that tell one story: highlight, violation marks, log boxes, lost messages, step numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from consensus_lab import run  # noqa: E402
from consensus_lab.protocols import twopc  # noqa: E402
from consensus_lab.viz import message_color, plot_spacetime  # noqa: E402
from consensus_lab.viz.colors import DIM, FAULT_COLORS  # noqa: E402
from consensus_lab.viz.labels import op_label  # noqa: E402


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _arrow_colors(fig) -> list[str]:
    return [to_hex(t.arrow_patch.get_edgecolor()) for t in fig.axes[0].texts if getattr(t, "arrow_patch", None)]


@pytest.fixture(scope="module")
def all_yes():
    return run(twopc.STORIES["all-yes"])


def test_highlight_dims_the_rest_and_labels_what_is_picked(all_yes):
    fig = plot_spacetime(all_yes, end=0.12, highlight=["Commit"])
    cols = _arrow_colors(fig)
    assert cols.count(message_color("Commit")) == 2
    assert all(c in (message_color("Commit"), DIM) for c in cols) and DIM in cols
    labels = [t for t in _texts(fig) if t in ("Commit", "Prepare", "Vote")]
    assert labels.count("Commit") == 2 and "Prepare" not in labels
    plain = plot_spacetime(all_yes, end=0.12)
    assert DIM not in _arrow_colors(plain)
    one = plot_spacetime(all_yes, end=0.12, highlight=["Commit n1>n3"])
    assert _arrow_colors(one).count(message_color("Commit")) == 1
    plt.close("all")


def test_highlight_an_operation(all_yes):
    fig = plot_spacetime(all_yes, end=0.12, highlight=[("op", 0)])
    assert any("txn a=10 b=11" == t for t in _texts(fig))
    with pytest.raises(ValueError, match="highlight takes"):
        plot_spacetime(all_yes, highlight=[3.5])
    plt.close("all")


def test_violation_marked_with_the_invariant_name():
    r = run(twopc.TWINS["no-decision-log"])
    assert r.violations
    fig = plot_spacetime(r, end=0.25)
    name = r.violations[0].invariant
    assert any(name in t for t in _texts(fig))
    lines = [ln for ln in fig.axes[0].lines if to_hex(ln.get_color()) == FAULT_COLORS["violation"]]
    assert lines and lines[0].get_xdata()[0] == pytest.approx(r.violations[0].time)
    quiet = plot_spacetime(r, end=0.25, show_violations=False)
    assert not any(name in t for t in _texts(quiet))
    plt.close("all")


def test_forced_log_write_is_a_box_on_the_coordinator_lane(all_yes):
    fig = plot_spacetime(all_yes, end=0.12)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_width() > 0.04]
    assert len(boxes) == 1
    assert boxes[0].get_width() == pytest.approx(dict(all_yes.scenario.options)["log_delay"])
    assert "log" in _texts(fig)
    plt.close("all")


def test_lost_message_ends_with_a_cross_at_its_destination():
    r = run(twopc.STORIES["message-loss"])
    fig = plot_spacetime(r, end=0.6, label_messages=False)
    ax = fig.axes[0]
    lanes = {lab.get_text(): y for lab, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    crosses = [ln for ln in ax.lines if ln.get_marker() == "x"]
    assert crosses
    assert all(ln.get_ydata()[0] in {lanes[n] for n in ("n1", "n2", "n3")} for ln in crosses)
    plt.close("all")


def test_transaction_labels_are_readable():
    assert op_label("txn", None, (("a", 10), ("b", 11))) == "txn a=10 b=11"
    assert op_label("read", "x") == "read(x)"
    assert op_label("write", "x", 1) == "write(x, 1)"
    assert "(('a'" not in "".join(_texts(plot_spacetime(run(twopc.STORIES["all-yes"]), end=0.12)))
    plt.close("all")


def test_counterexample_steps_are_numbered():
    from consensus_lab.explore import explore
    from consensus_lab.viz import counterexample_steps, plot_counterexample

    r = explore("twopc", variant="uncertain-abort", progress=False)
    steps = counterexample_steps(r)
    assert [s.number for s in steps] == list(range(1, len(r.path) + 1))
    fig = plot_counterexample(r, steps=steps)
    texts = _texts(fig)
    for s in steps:
        assert str(s.number) in texts and any(t.startswith(f"{s.number}. ") for t in texts)
    assert any(r.violation.invariant in t for t in texts)
    part = plot_counterexample(r, steps=steps, upto=2, side_list=False, legend=False)
    numbers = [t for t in _texts(part) if t.isdigit()]
    assert numbers == ["1", "2"]
    plt.close("all")


@pytest.mark.slow  # a Raft search: ~5 s idle, much more on a busy machine
def test_raft_counterexample_has_a_log_panel_per_step():
    from consensus_lab.explore import explore
    from consensus_lab.viz import plot_counterexample

    r = explore("raft", variant="volatile-vote", progress=False, depth=8)
    assert r.verdict == "violation"
    fig = plot_counterexample(r)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert sum(t.startswith("logs after step") for t in titles) == len(r.path)
    plt.close("all")

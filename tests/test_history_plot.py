"""plot_history: the bars a lesson points at can be annotated."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest


def test_plot_history_annotates_the_bars_the_text_points_at():
    from consensus_lab.checkers import history_from_text
    from consensus_lab.viz import plot_history

    h = history_from_text('''
        0 invoke write 1
        0 ok     write 1
        1 invoke read  nil
        1 ok     read  nil
    ''')
    ax = plot_history(h, annotate={0: "the write", 1: None}, labels=False)
    notes = [t.get_text() for t in ax.texts]
    assert "the write" in notes and any("nil" in n or "r" in n for n in notes if n != "the write")
    thick = [p for p in ax.patches if p.get_linewidth() == 2.0]
    assert len(thick) == 2
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="annotate names operation 5"):
        plot_history(h, annotate={5: "nothing"})


def test_a_message_to_oneself_is_a_loop_not_a_line_along_the_lane():
    from matplotlib.text import Annotation

    from consensus_lab import run
    from consensus_lab.viz import plot_spacetime

    r = run("sharded-txn", seed=1, duration=1.0)
    fig = plot_spacetime(r, start=0.715, end=0.80, msg_types=["Prepare", "Vote"], nodes=["n1", "n2", "n3", "n7", "n8"])
    arrows = [a for ax in fig.axes for a in ax.get_children() if isinstance(a, Annotation) and a.arrow_patch]
    self_sent = [a for a in arrows if a.xy[1] == a.xyann[1] and a.xy[0] != a.xyann[0]]
    others = [a for a in arrows if a.xy[1] != a.xyann[1]]
    assert self_sent and others  # the coordinator sends Prepare and Vote to itself in this window
    assert all(a.arrow_patch.get_connectionstyle().rad == -0.5 for a in self_sent)
    assert all(a.arrow_patch.get_connectionstyle().rad == 0 for a in others)
    plt.close(fig)

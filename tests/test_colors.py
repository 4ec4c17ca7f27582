"""One colour per name for the whole course, shared by every figure and the lab."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from matplotlib.colors import to_hex  # noqa: E402

from consensus_lab import run  # noqa: E402
from consensus_lab.protocols import paxos, twopc  # noqa: E402
from consensus_lab.viz import (  # noqa: E402
    fault_color,
    legend_handles,
    legend_html,
    message_color,
    op_color,
    plot_spacetime,
    role_color,
)
from consensus_lab.viz.colors import MESSAGE_COLORS  # noqa: E402


def _arrow_colors(fig) -> dict[str, str]:
    """Message type -> colour, read back from a figure's legend."""
    leg = fig.axes[0].get_legend()
    return {t.get_text(): to_hex(h.get_color()) for t, h in zip(leg.get_texts(), leg.legend_handles, strict=True)
            if t.get_text() in MESSAGE_COLORS}


def test_two_figures_give_a_message_type_the_same_colour():
    a = plot_spacetime(run(twopc.STORIES["all-yes"]), end=0.12)
    b = plot_spacetime(run(paxos.STORIES["one-proposer"]), end=0.05)
    ca, cb = _arrow_colors(a), _arrow_colors(b)
    assert "Prepare" in ca and "Prepare" in cb
    assert ca["Prepare"] == cb["Prepare"] == message_color("Prepare")
    # in a figure with fewer types (by index, sorted names would shift): still the same colour
    c = plot_spacetime(run(twopc.STORIES["all-yes"]), end=0.12, msg_types=["Commit", "Prepare"])
    assert _arrow_colors(c)["Prepare"] == ca["Prepare"]
    assert _arrow_colors(c)["Commit"] == ca["Commit"]


def test_lab_uses_the_same_colours():
    from consensus_lab.widgets.draw import ColorBook

    book = ColorBook()
    book["Vote"]
    assert book["Prepare"] == message_color("Prepare")


def test_no_two_types_of_one_protocol_share_a_colour():
    from consensus_lab import protocols
    from consensus_lab.viz.spacetime import _msg_type

    for name in ("twopc", "paxos", "raft", "sharded-txn", "quorum", "primary-backup", "multi-paxos"):
        r = run(protocols.get(name).name, seed=1, duration=1.0)
        types = sorted({_msg_type(e.msg) for e in r.trace if e.kind == "send"})
        cols = [message_color(t) for t in types]
        assert len(set(cols)) == len(cols), (name, dict(zip(types, cols, strict=True)))


def test_unknown_names_hash_stably():
    assert message_color("SomethingNew") == message_color("SomethingNew")
    assert message_color("SomethingNew").startswith("#")
    assert op_color("ok") != op_color("fail")
    assert role_color("leader") != role_color("follower")
    assert fault_color("crash") and fault_color("lost") == "#d62728"


def test_legend_helpers():
    hs = legend_handles(messages=["Prepare", "Vote"], faults=["crash"])
    assert [h.get_label() for h in hs] == ["Prepare", "Vote", "crash"]
    assert message_color("Prepare") in legend_html(messages=["Prepare"])
    import pytest

    with pytest.raises(ValueError):
        legend_handles(colours=["x"])

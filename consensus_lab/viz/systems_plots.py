"""Pictures for lesson 10 (what real systems choose).

* :func:`plot_lock_story` -- a ZooKeeper lock over time: when ZooKeeper says
  each client holds it, when each client believes it does, and the writes the
  protected storage accepted or refused;
* :func:`plot_tradeoffs` -- one row per setting: how often a run was
  linearizable, how many operations succeeded, how long they took.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = ["plot_lock_story", "plot_tradeoffs"]


def plot_lock_story(story: Any, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Two lanes per client: ZooKeeper's view (who holds the lock) and the client's belief, with
    each client's pause (hatched) drawn on its belief lane."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 2.9), layout="constrained")
    clients = sorted(story.holds)
    y = 0
    ticks, labels = [], []
    colors = {"A": "#1f77b4", "B": "#ff7f0e"}
    for who in clients:
        for kind, intervals, alpha in (("ZooKeeper: holds", story.holds[who], 0.9), ("believes it holds", story.believes[who], 0.35)):
            for a, b in intervals:
                ax.barh(y, b - a, left=a, height=0.6, color=colors.get(who, "#777"), alpha=alpha,
                        edgecolor=colors.get(who, "#777"))
            ticks.append(y)
            labels.append(f"{who}: {kind}")
            y += 1
    for who, (a, b) in getattr(story, "pauses", {}).items():
        row = clients.index(who) * 2 + 1
        ax.barh(row, b - a, left=a, height=0.6, facecolor="white", edgecolor="#444444", hatch="///",
                linewidth=0.8, zorder=3)
        ax.text((a + b) / 2, row, f"{who} paused (a long GC): no heartbeats", ha="center", va="center",
                fontsize=8, zorder=5, bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    for t, who, token, ok in story.writes:
        row = clients.index(who) * 2 + 1
        ax.scatter([t], [row], marker="o" if ok else "X", s=90, zorder=4,
                   color="#2ca02c" if ok else "#d62728", edgecolor="black", linewidth=0.6)
        ax.annotate(f"write, token {token}", (t, row), textcoords="offset points", xytext=(0, 12),
                    ha="center", fontsize=8)
    for a, b in story.believes.get("A", []):
        for c, d in story.believes.get("B", []):
            lo, hi = max(a, c), min(b, d)
            if hi > lo:
                ax.axvspan(lo, hi, color="#d62728", alpha=0.08)
    ax.set_yticks(ticks, labels)
    ax.set_ylim(y - 0.4, -0.7)
    ax.set_xlim(0, story.end)
    ax.set_xlabel("time (s)")
    handles = [
        Patch(color="#d62728", alpha=0.15, label="both believe they hold the lock"),
        Patch(facecolor="white", edgecolor="#444444", hatch="///", label="paused: frozen, sends nothing"),
        Line2D([], [], marker="o", linestyle="", color="#2ca02c", markeredgecolor="black", label="write accepted"),
        Line2D([], [], marker="X", linestyle="", color="#d62728", markeredgecolor="black", label="write refused"),
    ]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or ("with fencing tokens" if story.fencing else "without fencing tokens"), fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def plot_tradeoffs(
    groups: dict[str, Sequence[Any]],
    *,
    title: str | None = None,
) -> Any:
    """What each setting bought and paid: one row per setting, three panels.

    ``groups`` maps a system's name to its tallies
    (:class:`~consensus_lab.systems.Tally`).  Panels: the share of runs whose
    history is linearizable; the share of operations that completed ``ok``
    (availability); the median read and write latencies.
    """
    rows = [(name, t) for name, tallies in groups.items() for t in tallies]
    fig, axes = plt.subplots(1, 3, figsize=(10, 0.42 * len(rows) + 1.4), sharey=True, layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1.3]})
    ys = list(range(len(rows)))
    labels = [t.setting for _, t in rows]
    lin = [t.linearizable / t.runs if t.runs else 0.0 for _, t in rows]
    colors = ["#2ca02c" if v == 1 else "#d62728" if v == 0 else "#ff7f0e" for v in lin]
    axes[0].barh(ys, lin, color=colors, height=0.6)
    for y, (_, t) in zip(ys, rows, strict=True):
        axes[0].text(1.02, y, f"{t.linearizable}/{t.runs}", va="center", fontsize=8)
    axes[0].set_xlim(0, 1.25)
    axes[0].set_xlabel("runs linearizable")
    axes[1].barh(ys, [100 * t.ok_fraction for _, t in rows], color="#7f7f7f", height=0.6)
    axes[1].set_xlim(0, 105)
    axes[1].set_xlabel("operations ok (%)")
    h = 0.35
    axes[2].barh([y - h / 2 for y in ys], [t.read_p50_ms or 0 for _, t in rows], height=h, color="#1f77b4", label="read")
    axes[2].barh([y + h / 2 for y in ys], [t.write_p50_ms or 0 for _, t in rows], height=h, color="#ff7f0e", label="write")
    axes[2].set_xlabel("median latency (ms)")
    axes[2].legend(fontsize=8, loc="lower right")
    axes[0].set_yticks(ys, labels, fontsize=8.5)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)
    # a line between systems, and the system's name
    start = 0
    for name, tallies in groups.items():
        end = start + len(tallies)
        for ax in axes:
            if start:
                ax.axhline(start - 0.5, color="black", linewidth=0.6)
            ax.grid(axis="x", alpha=0.3)
        axes[0].text(-0.02, start - 0.45, name, transform=axes[0].get_yaxis_transform(), ha="right",
                     va="top", fontsize=8.5, fontweight="bold")
        start = end
    if title:
        fig.suptitle(title, fontsize=11)
    return fig

"""Pictures for the capstone (lesson 11): blocking and availability of a sharded store.

* :func:`plot_locked_keys` -- how many keys each shard holds locked for
  in-doubt transactions, over time, with the coordinator's crash and restart;
* :func:`plot_commits_after_crash` -- for each node crashed for good, how many
  transactions still committed afterwards, variant by variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["plot_locked_keys", "plot_commits_after_crash"]

_SHARD_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]


def plot_locked_keys(
    times: Sequence[float],
    locked: Mapping[int, Sequence[int]],
    *,
    crash_at: float | None = None,
    restart_at: float | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Keys locked by in-doubt transactions, one step line per shard (stacked slightly apart)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 2.6), layout="constrained")
    shards = sorted(locked)
    for i, g in enumerate(shards):
        offset = 0.06 * (i - (len(shards) - 1) / 2)
        ax.step(times, [v + offset for v in locked[g]], where="post", color=_SHARD_COLORS[i % len(_SHARD_COLORS)],
                linewidth=1.8, label=f"shard {g}")
    top = max([max(v) for v in locked.values()] + [1])
    if crash_at is not None:
        ax.axvline(crash_at, color="black", linestyle="--", linewidth=1)
        ax.text(crash_at, top + 0.35, " coordinator crashes", fontsize=8, va="bottom")
    if restart_at is not None:
        ax.axvline(restart_at, color="#2ca02c", linestyle="--", linewidth=1)
        ax.text(restart_at, top + 0.35, " restarts", fontsize=8, va="bottom", color="#2ca02c")
    ax.set_ylim(-0.3, top + 0.9)
    ax.set_xlim(times[0], times[-1])
    ax.set_yticks(range(top + 1))
    ax.set_ylabel("keys locked")
    ax.set_xlabel("time (s)")
    ax.legend(fontsize=8, loc="upper right")
    if title:
        ax.set_title(title, fontsize=10.5, loc="left")
    ax.grid(alpha=0.3)
    return ax


def plot_commits_after_crash(
    results: Mapping[str, Mapping[str, int]],
    *,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """``results[variant][node]``: transactions committed after ``node`` crashed; grouped bars."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2), layout="constrained")
    variants = list(results)
    nodes = list(next(iter(results.values())))
    width = 0.8 / len(variants)
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
    for i, v in enumerate(variants):
        xs = [j + (i - (len(variants) - 1) / 2) * width for j in range(len(nodes))]
        ax.bar(xs, [results[v][n] for n in nodes], width=width, label=v, color=palette[i % len(palette)])
    ax.set_xticks(range(len(nodes)), [f"crash {n}" for n in nodes], fontsize=8.5)
    ax.set_ylabel("transactions committed\nafter the crash")
    ax.legend(fontsize=8.5)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)
    return ax

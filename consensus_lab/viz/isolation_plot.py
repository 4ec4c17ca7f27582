"""The cycle behind a transactional anomaly (lesson 11): :func:`plot_anomaly`.

Draws the witness of an :class:`~consensus_lab.checkers.elle.IsolationResult`:
the transactions of the cycle on a circle, each with its micro-operations, and
the dependency edges between them, coloured and labelled by kind (``ww``,
``wr``, ``rw``, ``rt``; one colour per kind for the whole course).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["EDGE_COLORS", "plot_anomaly"]

#: one colour per dependency kind
EDGE_COLORS = {"ww": "#d62728", "wr": "#1f77b4", "rw": "#ff7f0e", "rt": "#7f7f7f"}


def _txn_label(op: Any) -> str:
    value = op.output if op.status == "ok" else op.value
    parts = []
    for f, k, v in value or ():
        if f == "append":
            parts.append(f"append {k} {v}")
        elif f in ("r", "read"):
            shown = "[" + " ".join(map(str, v)) + "]" if isinstance(v, tuple) else ("nil" if v is None else v)
            parts.append(f"r {k} {shown}")
        else:
            parts.append(f"w {k} {v}")
    return "\n".join(parts)


def plot_anomaly(result: Any, *, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw the first forbidden anomaly of ``result`` (its cycle), or say there is none."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 5.2), layout="constrained")
    ax.set_axis_off()
    anomaly = result.witness
    if anomaly is None or not anomaly.cycle:
        text = result.detail if anomaly is None else f"{anomaly.name}: {anomaly.explanation}"
        ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
        ax.set_title(title or result.verdict)
        return ax
    nodes = [a for a, _, _ in anomaly.cycle]
    n = len(nodes)
    pos = {t: (1.5 * math.cos(math.pi / 2 - 2 * math.pi * i / n), math.sin(math.pi / 2 - 2 * math.pi * i / n))
           for i, t in enumerate(nodes)}
    for a, kind, b in anomaly.cycle:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        color = EDGE_COLORS.get(kind, "black")
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.2, "shrinkA": 44, "shrinkB": 44,
                                "connectionstyle": f"arc3,rad={0.18 if n > 1 else 0.9}"})
        # the label sits beside the middle of the arc (matplotlib's arc3 bends towards (dy, -dx))
        rad = 0.18 if n > 1 else 0.9
        mx = (x1 + x2) / 2 + 0.9 * rad * (y2 - y1)
        my = (y1 + y2) / 2 - 0.9 * rad * (x2 - x1)
        ax.text(mx, my, kind, color=color, fontsize=12, fontweight="bold", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    for t, (x, y) in pos.items():
        op = result.transactions.get(t)
        ax.text(x, y, f"T{t}" + (f" (process {op.process})\n{_txn_label(op)}" if op is not None else ""),
                ha="center", va="center", fontsize=9, family="monospace",
                bbox={"boxstyle": "round,pad=0.4", "facecolor": "#f7f7f7", "edgecolor": "#444444"})
    ax.set_xlim(-2.3, 2.3)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.set_title(title or f"{anomaly.name}: {result.verdict}", fontsize=12)
    return ax

"""Lesson 01's picture: the two-clients story as a space-time diagram with what each client saw.

:func:`plot_two_clients` draws :func:`consensus_lab.two_clients.two_clients`
with :func:`~consensus_lab.viz.plot_spacetime` (the course's colours; a lost
answer ends in a red cross at the client) and marks on each client's lane
where each of its operations ended: answered (green) or given up (grey, a
question mark: the client cannot tell); each replica's lane ends with the
value it holds.
"""

from __future__ import annotations

from typing import Any

from .colors import OP_COLORS
from .spacetime import plot_spacetime

__all__ = ["plot_two_clients", "WINDOW"]

#: the time window drawn: the story's operations all start and end inside it
WINDOW = (0.08, 0.5)


def plot_two_clients(story: Any, *, ax: Any = None, title: str | None = None, highlight: Any = None) -> Any:
    """Draw one run of the story; returns the Figure."""
    lanes = list(story.node_ids)
    if title is None:
        title = (f"replicas {1000 * story.delay:.0f} ms apart"
                 + (", n1's answer to A lost" if story.lose_reply else "")
                 + (", B writes at the same time" if story.concurrent else ""))
    fig = plot_spacetime(story, start=WINDOW[0], end=WINDOW[1], ax=ax, title=title, highlight=highlight)
    ax = fig.axes[0] if ax is None else ax
    y_of = {n: i for i, n in enumerate(reversed(lanes))}
    for client, ops in story.ops.items():
        y = y_of[client]
        up = 0.28 if y > 0 else -0.28
        for op in ops:
            if op.ret is None:
                continue
            if op.result == "ok":
                what = "OK" if op.f == "write" else f"read x={'nil' if op.value is None else op.value}"
                if op.f == "read" and story.stale:
                    what += " (stale)"
                color, mark = OP_COLORS["ok"], "o"
            else:
                what, color, mark = f"gives up: did x={op.value} happen?", OP_COLORS["info"], "$?$"
            ax.plot([op.ret], [y], marker=mark, color=color, ms=7 if mark == "o" else 10, zorder=6)
            ax.text(op.ret, y + up, f"{client}: {what}", fontsize=7.5, color="#333333", ha="center",
                    va="bottom" if up > 0 else "top", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=color, lw=0.6))
    for n, held in story.final.items():  # what each replica holds at the end, inside the right edge
        ax.text(WINDOW[1] - 0.003, y_of[n] + 0.08, f"{n} ends with x={held.get('x', 'nil')}", fontsize=7.5,
                ha="right", va="bottom", color="#333333", zorder=6)
    return fig

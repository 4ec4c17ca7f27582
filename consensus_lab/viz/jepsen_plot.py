"""A real run at a glance: the client history on the wall-clock axis, with the faults shaded."""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib.pyplot as plt

from .colors import fault_color
from .history_plot import plot_history

__all__ = ["plot_jepsen"]

# fault -> (the fault that ends it, the course's colour for it)
_SPANS = {"kill": ("start", fault_color("crash")), "pause": ("resume", fault_color("pause")),
          "partition": ("heal", fault_color("partition"))}


def _spans(faults: list[dict[str, Any]], end: float) -> list[tuple[float, float, str, str]]:
    """``(start, end, label, colour)`` for every fault, closed by its undo (or the end)."""
    out: list[tuple[float, float, str, str]] = []
    open_: dict[str, tuple[float, str, str]] = {}
    for f in faults:
        kind = f["f"]
        if kind in _SPANS:
            value = f["value"]
            label = (" | ".join(",".join(g) for g in value) if kind == "partition"
                     else f"{kind} {','.join(value)}")
            open_[_SPANS[kind][0]] = (f["time"], label, _SPANS[kind][1])
        elif kind in open_:
            t0, label, colour = open_.pop(kind)
            out.append((t0, f["time"], label, colour))
    out += [(t0, end, label, colour) for t0, label, colour in open_.values()]
    return out


def plot_jepsen(result: Any, *, ax: Any = None, title: str | None = None, window: float = 0.8) -> Any:
    """Draw a :class:`~consensus_lab.net.jepsen.JepsenResult`: bars per client process
    on the real time axis (seconds since the cluster started), each fault a shaded span.

    When the nodes recorded their messages (``record_messages=True``) and no ``ax`` is
    given, a space-time diagram of ``window`` seconds around the first fault is drawn below.
    """
    trace = getattr(result, "trace", None)
    below = None
    if ax is None:
        if trace is not None and len(trace):
            _, (ax, below) = plt.subplots(2, 1, figsize=(11, 7.4), dpi=100,
                                          gridspec_kw={"height_ratios": [1, 1.1], "hspace": 0.45})
        else:
            _, ax = plt.subplots(figsize=(11, 3.6), dpi=100)
    plot_history(result.history, ax=ax, use_time=True, labels=False,
                 title=title or f"{result.protocol} ({result.variant}) on {result.nodes} processes: "
                                f"history {result.verdict}")
    end = max((op.time for op in result.history), default=1.0)
    top = ax.get_xaxis_transform()  # x in seconds, y as a fraction of the axes' height
    spans = _spans(list(result.faults), end)
    for i, (t0, t1, label, colour) in enumerate(spans):
        ax.axvspan(t0, t1, color=colour, alpha=0.18, lw=0, zorder=0)
        ax.text(t0, 1.01 + 0.055 * (i % 2), label, fontsize=7, color="#333333", va="bottom",
                transform=top, clip_on=False)
    if spans:
        ax.set_title(ax.get_title(), pad=24)
    ax.set_xlabel("seconds since the cluster started (real time)")
    if below is not None:
        from .spacetime import plot_spacetime

        first = spans[0][0] if spans else (result.history[0].time if result.history else 0.0)
        with warnings.catch_warnings():  # it tidies its own axes; the grid above is ours
            warnings.filterwarnings("ignore", message=".*tight_layout.*")
            plot_spacetime(trace, start=first - 0.2 * window, end=first + 0.8 * window, ax=below,
                           max_messages=300,
                           title=f"messages around {spans[0][2] if spans else 'the start'}")
        below.set_xlabel("seconds since the cluster started (real time)")
    return ax.figure

"""Pictures of client histories: who did what, when, and where it took effect.

:func:`plot_history` draws one row per client process and each operation as a
bar from its invocation to its completion.  Given a checker's result it also
marks a linearization point on each operation (a dot, joined in order by a thin
line) and paints the operations the checker could not place in red.

The map of consistency models is :func:`consensus_lab.viz.consistency_map.plot_consistency_map`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from consensus_lab.checkers.linearizability import LinearizabilityResult, linearization_points
from consensus_lab.checkers.models import Model, get_model
from consensus_lab.history import Op, Operation, pair_operations

__all__ = ["plot_history"]

_OK = "#4C72B0"
_INFO = "#DD8452"
_FAIL = "#BBBBBB"
_BAD = "#C44E52"
_POINT = "#222222"


def _operations(history: Sequence[Op] | Sequence[Operation], use_time: bool) -> list[Operation]:
    if history and all(isinstance(x, Operation) for x in history):
        return list(history)  # type: ignore[arg-type]
    return pair_operations(list(history), use_time=use_time)  # type: ignore[arg-type]


def plot_history(
    history: Sequence[Op] | Sequence[Operation],
    result: LinearizabilityResult | None = None,
    *,
    model: Model | str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    use_time: bool = False,
    labels: bool = True,
    annotate: Mapping[int, str | None] | None = None,
) -> Axes:
    """Draw a history as bars, one row per process.

    ``history`` is a list of events or paired operations; the horizontal axis
    is event position (or ``Op.time`` with ``use_time=True``).  ``result``, from
    :func:`~consensus_lab.checkers.check_linearizable` on the same history,
    adds linearization points (the witness, or the longest linearizable prefix)
    and highlights the operations that cannot be placed.  Indeterminate
    operations (``info``) are hatched and run off to the right; failed ones
    are grey outlines.  ``annotate`` maps operation indices to a label drawn
    above the bar with an arrow and a thick outline (``None``: the operation's
    own description), for the bars the text points at, however short.
    """
    ops = _operations(history, use_time)
    if result is not None and len(result.operations) != len(ops):
        raise ValueError("result was computed on a different history (operation counts differ)")
    mdl = get_model(model) if model is not None else (result.model if result is not None else Model())
    if ax is None:
        rows = len({op.process for op in ops})
        _, ax = plt.subplots(figsize=(9, 0.55 * rows + 1.3))
    procs = sorted({op.process for op in ops}, key=lambda p: (str(type(p)), p))
    row = {p: i for i, p in enumerate(procs)}
    finite = [t for op in ops for t in (op.call, op.ret) if t != float("inf")]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    span = max(hi - lo, 1e-9)
    end = hi + 0.06 * span
    bad = set(result.unplaceable) if result is not None else set()
    points = linearization_points(result, end=end) if result is not None else {}
    height = 0.5

    for op in ops:
        y = row[op.process]
        right = end if op.ret == float("inf") else op.ret
        color = _BAD if op.index in bad else {"ok": _OK, "info": _INFO, "fail": _FAIL}[op.status]
        if op.status == "fail":
            patch = Rectangle((op.call, y - height / 2), right - op.call, height, fill=False,
                              edgecolor=color, linestyle="--", linewidth=1.2)
        else:
            patch = Rectangle((op.call, y - height / 2), right - op.call, height, facecolor=color,
                              edgecolor="white" if op.status == "ok" else color, alpha=0.85,
                              hatch="//" if op.status == "info" else None, linewidth=0.8)
        ax.add_patch(patch)
        text = mdl.describe(op)
        if labels and (right - op.call) >= len(text) * span / 110:  # only where it fits
            ax.text(op.call + 0.01 * span, y, text, va="center", ha="left", fontsize=8,
                    color="white" if op.status == "ok" else "#333333", clip_on=True)

    for i, note in sorted((annotate or {}).items()):
        if not 0 <= i < len(ops):
            raise ValueError(f"annotate names operation {i}, but the history has {len(ops)} operations")
        op = ops[i]
        right = end if op.ret == float("inf") else op.ret
        y = row[op.process]
        ax.add_patch(Rectangle((op.call, y - height / 2), right - op.call, height, fill=False,
                               edgecolor=_POINT, linewidth=2.0, zorder=4))
        ax.annotate(note if note is not None else mdl.describe(op), xy=((op.call + right) / 2, y - height / 2),
                    xytext=(0, 14), textcoords="offset points", ha="center", va="bottom", fontsize=8,
                    color=_POINT, zorder=6, arrowprops={"arrowstyle": "-|>", "color": _POINT, "linewidth": 0.8},
                    bbox={"facecolor": "white", "edgecolor": _POINT, "linewidth": 0.6, "pad": 1.5})

    for i in sorted(bad):  # make thin offending bars easy to spot
        op = ops[i]
        right = end if op.ret == float("inf") else op.ret
        ax.scatter([(op.call + right) / 2], [row[op.process] - height], marker="v", s=60,
                   color=_BAD, zorder=5, clip_on=False)

    if result is not None and points:
        groups = list(result.witness.values()) if result.witness else [result.longest_prefix]
        for order in groups:
            xs = [points[i] for i in order]
            ys = [row[ops[i].process] for i in order]
            ax.plot(xs, ys, color=_POINT, linewidth=0.7, alpha=0.5, zorder=3)
            ax.scatter(xs, ys, s=22, color=_POINT, zorder=4)

    ax.set_yticks(range(len(procs)))
    ax.set_yticklabels([f"process {p}" for p in procs])
    ax.set_ylim(len(procs) - 0.4, -0.6)
    ax.set_xlim(lo - 0.02 * span, end + 0.02 * span)
    ax.set_xlabel("time" if use_time else "event position (real-time order)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title is None and result is not None:
        title = result.verdict if result.ok else result.detail
    if title:
        ax.set_title(_wrap(title), fontsize=10, loc="left")
    _legend(ax, ops, bool(points), bool(bad))
    return ax


def _wrap(text: str, width: int = 95) -> str:
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width)
    cut = width if cut < 0 else cut
    return text[:cut] + "\n" + _wrap(text[cut + 1 :], width)


def _legend(ax: Axes, ops: Sequence[Operation], points: bool, bad: bool) -> None:
    handles: list[Any] = [Rectangle((0, 0), 1, 1, facecolor=_OK, label="ok")]
    if any(op.status == "info" for op in ops):
        handles.append(Rectangle((0, 0), 1, 1, facecolor=_INFO, hatch="//", label="info (may or may not happen)"))
    if any(op.status == "fail" for op in ops):
        handles.append(Rectangle((0, 0), 1, 1, fill=False, edgecolor=_FAIL, linestyle="--", label="fail (did not happen)"))
    if bad:
        handles.append(Rectangle((0, 0), 1, 1, facecolor=_BAD, label="cannot be placed"))
    if points:
        handles.append(plt.Line2D([], [], color=_POINT, marker="o", markersize=4, linewidth=0.7,
                                  label="linearization points, in order"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

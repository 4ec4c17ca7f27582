"""Pictures of Raft logs: one row per node, one cell per entry, coloured by term.

Each cell is a log entry; its colour and number are the term in which a leader
created it.  Entries a node knows to be committed are solid; entries it holds
but does not know committed are pale with a dashed edge; entries compacted into
a snapshot are grey.  A black bar after a row's last committed entry marks its
commit index.  The label on the left gives the node, its role and its term; a
crashed node shows the log it still has on disk.

``plot_logs`` takes what you have:

* a :class:`~consensus_lab.sim.Run` -- its final nodes, or with ``at=`` the
  nodes at those times (the run is replayed), one panel per time;
* a mapping ``{node id: RaftNode or state_view() dict or None}``;
* a mapping ``{time: {node id: view}}`` as returned by
  :func:`consensus_lab.protocols.raft_scenarios.states_at`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

__all__ = ["plot_logs", "term_colors", "log_views"]

_TERM_PALETTE = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1",
    "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#8cd17d",
    "#86bcb6", "#d37295", "#a0cbe8", "#ffbe7d", "#499894",
]
_SNAPSHOT = "#bdbdbd"


def term_colors(terms: Sequence[int]) -> dict[int, str]:
    """A colour per term: term t gets palette entry t (cycling), so pictures agree."""
    return {t: _TERM_PALETTE[(t - 1) % len(_TERM_PALETTE)] for t in sorted(set(terms)) if t is not None}


def _view(node: Any) -> dict[str, Any] | None:
    if node is None:
        return None
    if isinstance(node, Mapping):
        return dict(node)
    return node.state_view()


def log_views(obj: Any, at: float | Sequence[float] | None = None) -> dict[Any, dict[str, dict | None]]:
    """Normalize the inputs of :func:`plot_logs` to ``{label: {node: view}}``."""
    from ..sim import Run

    if isinstance(obj, Run):
        if at is not None:
            from ..protocols.raft_scenarios import states_at

            times = [at] if isinstance(at, int | float) else list(at)
            return {f"t = {t:.3f} s": views for t, views in states_at(obj, times).items()}
        from ..protocols.raft import durable_view

        views = {}
        for n in obj.node_ids:
            node = obj.nodes.get(n)
            views[n] = _view(node) if node is not None else durable_view(obj.storage.get(n, {}))
        return {f"end of run (t = {obj.scenario.duration:g} s)": views}
    if not isinstance(obj, Mapping):
        raise TypeError(f"plot_logs takes a Run or a mapping of nodes, got {type(obj).__name__}")
    first = next(iter(obj.values()), None)
    if isinstance(first, Mapping) and "log_terms" not in first:  # {time: {node: view}}
        return {
            (f"t = {k:.3f} s" if isinstance(k, int | float) else str(k)): {n: _view(x) for n, x in v.items()}
            for k, v in obj.items()
        }
    return {"": {n: _view(x) for n, x in obj.items()}}


def plot_logs(
    run_or_nodes: Any,
    *,
    at: float | Sequence[float] | None = None,
    title: str | None = None,
    mark_index: int | None = None,
    first_index: int | None = None,
    max_entries: int = 40,
    ax: Any = None,
    width: float | None = None,
):
    """Draw each node's log coloured by term, with its commit index; returns the Figure.

    ``at`` picks moments of a run (one panel each); ``mark_index`` outlines one
    index in every row (the entry a story is about); logs longer than
    ``max_entries`` show their last ``max_entries`` entries unless
    ``first_index`` says where to start.
    """
    panels = log_views(run_or_nodes, at)
    if not panels:
        raise ValueError("nothing to draw")
    if ax is not None and len(panels) != 1:
        raise ValueError("ax= draws one panel; pass a single time in at=")
    windows = []
    for views in panels.values():  # each panel shows the end of its own longest log
        longest = max((len(v["log_terms"]) for v in views.values() if v), default=0)
        lo = first_index if first_index is not None else max(1, longest - max_entries + 1)
        windows.append((lo, max(lo, min(longest, lo + max_entries - 1))))
    all_terms = [t for p in panels.values() for v in p.values() if v for t in v["log_terms"] if t is not None]
    colors = term_colors(all_terms)
    n_rows = max(len(p) for p in panels.values())
    if ax is None:
        cols = max(hi - lo + 1 for lo, hi in windows)
        fig_w = width or min(13.0, 2.6 + 0.32 * cols)
        fig, axes = plt.subplots(
            len(panels), 1, figsize=(fig_w, 0.5 + len(panels) * (0.42 * n_rows + 0.55)), dpi=100, squeeze=False
        )
        axes = [a[0] for a in axes]
    else:
        fig, axes = ax.figure, [ax]
    cols = max(hi - lo + 1 for lo, hi in windows)  # the same cell width in every panel
    for a, (label, views), (lo, hi) in zip(axes, panels.items(), windows, strict=True):
        _draw_panel(a, views, lo, hi, colors, mark_index, cols)
        if lo > 1:  # say so when the panel leaves the start of the logs out
            label = f"{label}  (log indexes {lo}-{hi}; entries 1-{lo - 1} not drawn)".lstrip()
        if label:
            a.set_title(label, fontsize=9, loc="left")
    handles = [Patch(facecolor=colors[t], edgecolor="black", label=f"term {t}") for t in sorted(colors)]
    handles.append(Patch(facecolor="white", edgecolor="#555555", linestyle="--", label="not known committed"))
    if any(v and v.get("snapshot_index") for p in panels.values() for v in p.values()):
        handles.append(Patch(facecolor=_SNAPSHOT, edgecolor="#888888", label="in snapshot"))
    axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _draw_panel(
    ax: Any, views: Mapping[str, dict | None], lo: int, hi: int, colors: dict, mark: int | None, cols: int
) -> None:
    names = list(views)
    labels = []
    for row, n in enumerate(names):
        y = len(names) - 1 - row
        v = views[n]
        if v is None:
            labels.append(f"{n}  (down)")
            continue
        role = v.get("role", "?")
        labels.append(f"{n}  {role}, term {v.get('term', '?')}")
        terms = v["log_terms"]
        commit = v.get("commit_index") or 0
        down = role == "down"
        snap = min(v.get("snapshot_index") or 0, hi)
        if snap >= lo:  # the compacted prefix: one grey block
            ax.add_patch(Rectangle((0, y + 0.1), snap - lo + 0.92, 0.8, facecolor=_SNAPSHOT, edgecolor="#888888", lw=0.6))
            ax.text((snap - lo + 0.92) / 2, y + 0.5, f"snapshot (to {v['snapshot_index']})", ha="center",
                    va="center", fontsize=7.5)
        for i in range(max(lo, snap + 1), min(hi, len(terms)) + 1):
            t = terms[i - 1]
            x = i - lo
            if t is None:
                continue
            committed = i <= commit
            ax.add_patch(
                Rectangle(
                    (x, y + 0.1),
                    0.92,
                    0.8,
                    facecolor=colors[t],
                    alpha=1.0 if committed else 0.35,
                    edgecolor="black" if committed else "#555555",
                    linestyle="-" if committed else "--",
                    lw=0.7,
                )
            )
            ax.text(x + 0.46, y + 0.5, str(t), ha="center", va="center", fontsize=7.5,
                    color="white" if committed and not down else "black")
        if lo <= commit <= hi + 1 and commit >= lo - 1 and commit > 0 and not down:
            xc = commit - lo + 0.96
            ax.plot([xc, xc], [y + 0.02, y + 0.98], color="black", lw=2.2, solid_capstyle="butt")
        if down:
            ax.axhspan(y + 0.05, y + 0.95, color="#000000", alpha=0.06, lw=0)
    if mark is not None and lo <= mark <= hi:
        x = mark - lo
        ax.add_patch(Rectangle((x - 0.06, -0.02), 1.04, len(names) + 0.04, fill=False, edgecolor="#d62728", lw=1.8))
    ax.set_xlim(-0.2, max(cols, hi - lo + 1) + 0.1)
    ax.set_ylim(-0.1, len(names) + 0.05)
    ax.set_yticks([len(names) - 1 - r + 0.5 for r in range(len(names))])
    ax.set_yticklabels(labels, fontsize=8.5)
    step = 1 if hi - lo < 20 else 5
    ticks = [i for i in range(lo, hi + 1) if i % step == 0 or (i == lo and (step == 1 or (-lo) % step >= 2))]
    ax.set_xticks([i - lo + 0.46 for i in ticks])
    ax.set_xticklabels([str(i) for i in ticks], fontsize=7.5)
    ax.set_xlabel("log index", fontsize=8)
    ax.tick_params(length=0)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)

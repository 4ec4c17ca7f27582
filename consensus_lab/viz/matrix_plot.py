"""A picture of the consistency matrix: green holds, red violated (with the
seed of the counterexample), grey unknown; one block of columns per property,
one column per fault setting inside it."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

__all__ = ["plot_matrix"]

_FILL = {"holds": "#a6d96a", "violated": "#f46d43", "unknown": "#d9d9d9"}
_SHORT_FAULT = {"none": "-", "partition": "P", "crash": "C", "clock-skew": "S", "random": "R"}
_SHORT_PROP = {
    "linearizable": "linearizable",
    "sequential": "sequential",
    "read-your-writes": "read your\nwrites",
    "monotonic-reads": "monotonic\nreads",
    "monotonic-writes": "monotonic\nwrites",
    "writes-follow-reads": "writes follow\nreads",
    "convergent": "convergent",
    "no-lost-writes": "no lost\nwrites",
}


def plot_matrix(matrix: Any, *, ax: Any = None, title: str | None = None, seeds: bool = True):
    """Draw a :class:`consensus_lab.matrix.ConsistencyMatrix`; returns the Figure."""
    stores, faults, props = matrix.stores, matrix.faults, matrix.properties
    nf = len(faults)
    gap = 0.35
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 + 0.42 * nf * len(props) + 2.6, 0.9 + 0.36 * len(stores)))
    else:
        fig = ax.figure
    for j, p in enumerate(props):
        x0 = j * (nf + gap)
        for k, f in enumerate(faults):
            for i, s in enumerate(stores):
                c = matrix.cell(s.label, f, p)
                ax.add_patch(Rectangle((x0 + k, i), 0.94, 0.9, color=_FILL[c.status], lw=0))
                if seeds and c.status == "violated":
                    ax.text(x0 + k + 0.47, i + 0.47, str(c.seed), ha="center", va="center", fontsize=7)
                elif c.status == "unknown":
                    ax.text(x0 + k + 0.47, i + 0.47, "?", ha="center", va="center", fontsize=7)
        ax.text(x0 + nf / 2, -0.25, _SHORT_PROP.get(p, p), ha="center", va="bottom", fontsize=8)
        for k, f in enumerate(faults):
            ax.text(x0 + k + 0.47, len(stores) + 0.05, _SHORT_FAULT.get(f, f[:1]), ha="center", va="top", fontsize=7,
                    color="#555555")
    ax.set_xlim(-0.2, len(props) * (nf + gap))
    ax.set_ylim(len(stores) + 0.5, -1.4)
    ax.set_yticks([i + 0.45 for i in range(len(stores))])
    ax.set_yticklabels([s.label for s in stores], fontsize=8)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(left=False)
    legend = [Patch(color=_FILL["holds"], label="holds in every seed"),
              Patch(color=_FILL["violated"], label="violated (number: seed)"),
              Patch(color=_FILL["unknown"], label="undecided")]
    fault_key = ", ".join(f"{_SHORT_FAULT.get(f, f[:1])} = {f}" for f in faults)
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(0.0, -0.02), ncol=3, fontsize=8, frameon=False,
              title=f"columns in each block: {fault_key}; {len(matrix.seeds)} seeds each", title_fontsize=8)
    ax.set_title(title or "what each store guarantees, computed from runs", fontsize=10)
    fig.tight_layout()
    return fig

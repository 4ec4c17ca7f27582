"""The map of consistency models, in the shape of Jepsen's (jepsen.io/consistency).

Safety models form one hierarchy: an arrow from *x* down to *y* means every
history that satisfies *x* also satisfies *y* (after Bailis et al., 2014, and
Viotti and Vukolić, 2016).  Each model is coloured by how available it can be
while the network is partitioned:

* **unavailable** -- some node cut off from the others must refuse (or stall);
* **sticky available** -- every node on either side can serve a client that
  keeps talking to the same node;
* **totally available** -- every node that has not crashed can serve every
  request, whatever the partition.

Eventual consistency (*convergence*: once writes stop, the replicas reach the
same state) is not a box in this hierarchy.  It is a liveness property, a
promise that something good happens eventually, while the models above are
safety properties, promises that nothing bad is ever observed.  A store can keep
causal consistency and never converge, or converge and keep no session
guarantee; it sits beside the hierarchy as a separate promise.

:data:`CONSISTENCY_MODELS` holds the data, :func:`implies` reads it, and
:func:`plot_consistency_map` draws it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

__all__ = ["ModelInfo", "CONSISTENCY_MODELS", "AVAILABILITY", "implies", "plot_consistency_map"]


@dataclass(frozen=True)
class ModelInfo:
    """One model of the map: its availability class, the models it directly
    implies, and where the map draws it (x, y in axes fractions)."""

    availability: str  # "unavailable", "sticky", "total"
    implies: tuple[str, ...]
    x: float
    y: float
    note: str = ""


AVAILABILITY = {
    "unavailable": ("#E8A3A3", "unavailable: a node cut off from the majority must refuse or wait"),
    "sticky": ("#F3D68B", "sticky available: each side serves clients that stay on one node"),
    "total": ("#A9CBEA", "totally available: every live node serves every request"),
}

CONSISTENCY_MODELS: dict[str, ModelInfo] = {
    "strict serializable": ModelInfo("unavailable", ("serializable", "linearizable"), 0.36, 0.93,
                                     "transactions, real time"),
    "serializable": ModelInfo("unavailable", (), 0.13, 0.76, "transactions, some order"),
    "linearizable": ModelInfo("unavailable", ("sequential",), 0.50, 0.76, "one order, in real time"),
    "sequential": ModelInfo("unavailable", ("causal",), 0.50, 0.59, "one order, per process"),
    "causal": ModelInfo("sticky", ("PRAM", "writes follow reads"), 0.50, 0.42, "causes before effects"),
    "PRAM": ModelInfo("sticky", ("monotonic reads", "monotonic writes", "read your writes"), 0.36, 0.25,
                      "each writer's order kept"),
    "writes follow reads": ModelInfo("total", (), 0.66, 0.25),
    "monotonic reads": ModelInfo("total", (), 0.13, 0.07),
    "monotonic writes": ModelInfo("total", (), 0.36, 0.07),
    "read your writes": ModelInfo("sticky", (), 0.59, 0.07),
}

_W, _H = 0.21, 0.105


def implies(stronger: str, weaker: str) -> bool:
    """Whether every history of ``stronger`` is also one of ``weaker`` (by the map's arrows)."""
    for name in (stronger, weaker):
        if name not in CONSISTENCY_MODELS:
            raise ValueError(f"unknown model {name!r}; the map has: {', '.join(CONSISTENCY_MODELS)}")
    seen: set[str] = set()
    todo = [stronger]
    while todo:
        m = todo.pop()
        if m == weaker:
            return True
        if m not in seen:
            seen.add(m)
            todo.extend(CONSISTENCY_MODELS[m].implies)
    return False


def plot_consistency_map(ax: Axes | None = None, *, highlight: Iterable[str] = (),
                         highlight_label: str = "highlighted", title: str | None = None) -> Axes:
    """Draw the hierarchy of safety models, coloured by availability under a
    partition, with convergence (eventual consistency) as a separate property.

    ``highlight`` names models to draw with a thick outline (the ones a lesson
    checks, say; ``"convergence"`` may be among them), and the legend names them
    ``highlight_label``.
    """
    highlight = set(highlight)
    unknown = highlight - set(CONSISTENCY_MODELS) - {"convergence"}
    if unknown:
        raise ValueError(f"cannot highlight {sorted(unknown)}: not on the map "
                         f"(models: {', '.join(CONSISTENCY_MODELS)}, convergence)")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 6))

    def box(x: float, y: float, name: str, note: str, colour: str, *, dashed: bool = False,
            w: float = _W, h: float = _H) -> None:
        strong = name in highlight
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.004,rounding_size=0.015",
                                    facecolor=colour, edgecolor="#222222" if strong else "#666666",
                                    linewidth=2.2 if strong else 0.8, linestyle="--" if dashed else "-"))
        ax.text(x, y + (0.015 if note else 0), name, ha="center", va="center", fontsize=9.5,
                fontweight="bold" if strong else "normal")
        if note:
            ax.text(x, y - 0.027, note, ha="center", va="center", fontsize=7, color="#333333")

    for info in CONSISTENCY_MODELS.values():
        for target in info.implies:
            t = CONSISTENCY_MODELS[target]
            ax.add_patch(FancyArrowPatch((info.x, info.y - _H / 2), (t.x, t.y + _H / 2), arrowstyle="-|>",
                                         mutation_scale=10, color="#555555", linewidth=0.9,
                                         shrinkA=1, shrinkB=1))
    for name, info in CONSISTENCY_MODELS.items():
        box(info.x, info.y, name, info.note, AVAILABILITY[info.availability][0])

    # the liveness property, apart from the hierarchy
    ax.plot([0.78, 0.78], [0.02, 0.98], color="#999999", linewidth=0.8, linestyle=":")
    ax.text(0.89, 0.93, "liveness, not in the hierarchy", ha="center", va="center", fontsize=8,
            style="italic", color="#444444")
    box(0.89, 0.76, "convergence", "= eventual consistency", AVAILABILITY["total"][0], dashed=True, w=0.2)
    ax.text(0.89, 0.60, "once writes stop, replicas\nreach the same state.\nImplied by no box on the left,\n"
            "and implies none of them", ha="center", va="top", fontsize=7.5, color="#333333")
    ax.text(0.36, -0.015, "an arrow x → y: every history that satisfies x also satisfies y",
            ha="center", va="top", fontsize=7.5, color="#444444")
    handles = [Patch(facecolor=c, edgecolor="#666666", label=label) for c, label in AVAILABILITY.values()]
    if highlight:
        handles.append(Patch(facecolor="white", edgecolor="#222222", linewidth=2.2, label=f"thick outline: {highlight_label}"))
    ax.legend(handles=handles,
              loc="upper left", bbox_to_anchor=(0.0, -0.05), fontsize=8, frameon=False, ncol=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    ax.set_title(title or "Safety models, strongest at the top, coloured by availability under a partition",
                 fontsize=10, loc="left")
    return ax

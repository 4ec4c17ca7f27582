"""Pictures that put a formula next to a simulation of the same thing.

* :func:`plot_model_vs_sim` -- curves from formulas, and simulated points
  with their 95% confidence intervals as error bars, over one parameter;
* :func:`plot_estimate_bars` -- one bar per setting (simulated, with its
  interval), formulas as markers on the bars;
* :func:`plot_latency_samples` -- measured latencies as histograms, with the
  expected value of a formula and the measured mean as vertical lines.

The simulated values are :class:`~consensus_lab.models.Estimate` or
:class:`~consensus_lab.models.MeanEstimate` objects (anything with
``p``/``mean``, ``lo`` and ``hi``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

__all__ = ["plot_model_vs_sim", "plot_estimate_bars", "plot_latency_samples"]

_FORMULA_STYLES = [
    {"color": "#1f77b4", "linestyle": "-"},
    {"color": "#7f7f7f", "linestyle": "--"},
    {"color": "#9467bd", "linestyle": "-."},
    {"color": "#8c564b", "linestyle": ":"},
]
_SIM_COLORS = ["#d62728", "#2ca02c", "#ff7f0e", "#17becf"]


def _centre(e: Any) -> float:
    return e.p if hasattr(e, "p") else e.mean


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        fig, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def plot_model_vs_sim(
    x: Sequence[float],
    *,
    formulas: Mapping[str, Sequence[float]] | None = None,
    simulated: Mapping[str, Sequence[Any]] | None = None,
    sim_x: Sequence[float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    scale: float = 1.0,
    ylim: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Formula curves over ``x``; simulated estimates at ``sim_x`` (default ``x``) with error bars.

    ``scale`` multiplies every y value (1000 to show seconds as milliseconds).
    """
    ax = _axes(ax, (6.4, 3.8))
    for i, (name, ys) in enumerate((formulas or {}).items()):
        style = _FORMULA_STYLES[i % len(_FORMULA_STYLES)]
        ax.plot(list(x), [y * scale for y in ys], label=name, linewidth=1.8, **style)
    xs = list(sim_x if sim_x is not None else x)
    sims = list((simulated or {}).items())
    width = (max(xs) - min(xs)) if len(xs) > 1 else 1.0
    for i, (name, ests) in enumerate(sims):
        shift = (i - (len(sims) - 1) / 2) * width * 0.012
        ys = [_centre(e) * scale for e in ests]
        lo = [(_centre(e) - e.lo) * scale for e in ests]
        hi = [(e.hi - _centre(e)) * scale for e in ests]
        ax.errorbar([v + shift for v in xs], ys, yerr=[lo, hi], fmt="o", capsize=3, markersize=5,
                    color=_SIM_COLORS[i % len(_SIM_COLORS)], label=name, zorder=3, clip_on=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8.5, loc="best")
    return ax


def plot_estimate_bars(
    labels: Sequence[str],
    simulated: Sequence[Any],
    *,
    formulas: Mapping[str, Sequence[float]] | None = None,
    sim_label: str = "simulated (95% CI)",
    ylabel: str = "",
    title: str | None = None,
    scale: float = 1.0,
    ylim: tuple[float, float] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One bar per setting with its interval; each formula is a marker on every bar."""
    ax = _axes(ax, (6.4, 3.6))
    pos = list(range(len(labels)))
    ys = [_centre(e) * scale for e in simulated]
    err = [[(_centre(e) - e.lo) * scale for e in simulated], [(e.hi - _centre(e)) * scale for e in simulated]]
    ax.bar(pos, ys, yerr=err, capsize=4, color="#f4b6b6", edgecolor="#d62728", width=0.55, label=sim_label)
    markers = ["D", "s", "^", "v"]
    for i, (name, values) in enumerate((formulas or {}).items()):
        style = _FORMULA_STYLES[i % len(_FORMULA_STYLES)]
        ax.scatter(pos, [v * scale for v in values], marker=markers[i % len(markers)], s=60,
                   color=style["color"], zorder=3, label=name, clip_on=False)
    ax.set_xticks(pos, list(labels))
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title, fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # never over a bar
    return ax


def plot_latency_samples(
    samples: Mapping[str, Sequence[float]],
    *,
    expected: Mapping[str, float] | None = None,
    bins: int = 30,
    scale: float = 1000.0,
    unit: str = "ms",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histograms of measured latencies; dashed lines at their means, solid at ``expected``.

    The axis starts at zero; the formula's line is drawn wide and pale under the measured
    mean's dashed line, so both stay visible when they coincide.
    """
    ax = _axes(ax, (6.4, 3.6))
    all_values = [v * scale for vs in samples.values() for v in vs]
    lo, hi = (min(all_values), max(all_values)) if all_values else (0.0, 1.0)
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)] if hi > lo else bins
    for i, (name, vs) in enumerate(samples.items()):
        color = _SIM_COLORS[i % len(_SIM_COLORS)]
        values = [v * scale for v in vs]
        ax.hist(values, bins=edges, alpha=0.45, color=color, label=f"{name} (n={len(values)})")
        if values:
            mean = sum(values) / len(values)
            ax.axvline(mean, color=color, linestyle="--", linewidth=1.6, zorder=4,
                       label=f"{name}: measured mean {mean:.1f} {unit}")
    for i, (name, v) in enumerate((expected or {}).items()):
        style = _FORMULA_STYLES[i % len(_FORMULA_STYLES)]
        ax.axvline(v * scale, color=style["color"], linewidth=5, alpha=0.45, zorder=3,
                   label=f"{name}: {v * scale:.1f} {unit}")
    ax.set_xlim(left=0)
    ax.set_xlabel(f"latency ({unit})")
    ax.set_ylabel("writes")
    if title:
        ax.set_title(title, fontsize=11)
    ax.set_ylim(top=ax.get_ylim()[1] * 1.35)  # room for the legend above the bars
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return ax

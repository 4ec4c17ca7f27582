"""An explorer's counterexample as numbered steps, the way the Raft paper draws figure 8.

``plot_counterexample(result)`` draws the space-time diagram of the shortest
schedule with the number of each step on the arrow (or the lane) it acts on,
the list of steps beside it, the violation's moment marked with the
invariant's name, and -- for Raft -- the nodes' logs after every step (one
small panel per step: entries coloured by term, the commit index as a bar).
``upto=k`` draws the first ``k`` steps only (the explorer lab steps through
a counterexample this way).  :func:`counterexample_steps` gives the same
steps as data: number, time, what happened, every node's state after it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .colors import DIM, FAULT_COLORS, message_color

__all__ = ["CounterexampleStep", "counterexample_steps", "plot_counterexample", "step_text"]


@dataclass(frozen=True)
class CounterexampleStep:
    """Step ``number`` (1-based) of a counterexample, at simulated ``time``; ``views`` after it."""

    number: int
    time: float
    step: Any
    text: str
    views: Mapping[str, Any]


def step_text(step: Any) -> str:
    """One short line for a step (``deliver Vote n2 → n1``, ``timer election at n1``...)."""
    k = step.kind
    if k in ("deliver", "drop", "duplicate"):
        return f"{k} {type(step.msg).__name__} {step.peer} → {step.node}"
    if k == "timer":
        return f"timer {step.detail} at {step.node}"
    if k == "request":
        from .labels import op_label

        f, _, rest = str(step.detail).partition("(")
        what = op_label(f, None, rest[:-1]) if f == "txn" and rest else str(step.detail)
        return f"{step.peer} asks {step.node}: {what}"
    if k in ("cut", "heal"):
        return f"{k} {step.node} – {step.peer}"
    return str(step)


def counterexample_steps(result: Any) -> list[CounterexampleStep]:
    """The steps of ``result`` (an :class:`~consensus_lab.explore.ExploreResult` with a violation)."""
    from ..explore.world import _Recorder

    world = getattr(result, "_world", None)
    if world is None or not result.path:
        raise ValueError("this result has no counterexample to draw (verdict: "
                         f"{getattr(result, 'verdict', '?')})")
    rec = _Recorder()
    s = world.initial(rec)
    out = []
    for i, st in enumerate(result.path, 1):
        a = world.action_of(st, s)
        rec.tick()
        t = rec.t
        s = world.step(s, a, rec)
        views = {n: (node.state_view() if node is not None else None)
                 for n, node in zip(world.ids, s.nodes, strict=True)}
        out.append(CounterexampleStep(i, t, st, step_text(st), views))
    return out


def _lane_of(step: Any) -> tuple[str | None, str | None]:
    """(node whose lane carries the number, colour of the number's ring)."""
    k = step.kind
    if k in ("deliver", "drop", "duplicate"):
        return step.node, message_color(type(step.msg).__name__)
    if k in ("cut", "heal"):
        return None, FAULT_COLORS["partition"]
    if k in ("crash", "restart"):
        return step.node, FAULT_COLORS[k]
    return step.node, "#444444"


def plot_counterexample(result: Any, *, upto: int | None = None, title: str | None = None,
                        logs: bool | None = None, width: float = 12.0, steps: list | None = None,
                        log_panels: str = "every", side_list: bool = True, legend: bool = True):
    """Draw a counterexample as numbered steps (and, for Raft, a log panel per step); returns the Figure.

    ``upto``: draw steps 1..upto only (the rest of the schedule is not shown).
    ``logs``: the per-step log panels (default: when the protocol is Raft).
    ``steps``: the result of :func:`counterexample_steps`, when you have it already.
    ``log_panels``: ``"every"`` step (the paper's figure 8) or only the ``"last"`` one drawn.
    ``side_list``/``legend``: draw the list of steps and the key (a lab shows them as HTML instead).
    """
    import matplotlib.pyplot as plt

    from .raft_logs import _draw_panel, term_colors
    from .spacetime import plot_spacetime

    steps = steps if steps is not None else counterexample_steps(result)
    n = len(steps) if upto is None else max(0, min(int(upto), len(steps)))
    shown = steps[:n]
    run = result.counterexample
    raft = logs if logs is not None else all(
        v is None or "log_terms" in v for s in steps for v in s.views.values())
    tick = steps[1].time - steps[0].time if len(steps) > 1 else 0.01
    full = max(run.trace[-1].time if len(run.trace) else 0, steps[-1].time) + tick * 0.8
    end = (steps[n].time - tick * 0.5) if n < len(steps) else full
    if log_panels not in ("every", "last"):
        raise ValueError(f"log_panels is 'every' or 'last', not {log_panels!r}")
    panels = (shown if log_panels == "every" else shown[-1:]) if raft else []
    per_row = 4
    log_rows = (len(panels) + per_row - 1) // per_row
    n_nodes = len(run.node_ids)
    h_top = 2.4 + 0.55 * n_nodes + 0.5
    h_log = 0.3 * n_nodes + 0.8
    height = h_top + log_rows * h_log
    fig = plt.figure(figsize=(width, height), dpi=100)
    outer = fig.add_gridspec(2 if log_rows else 1, 1, height_ratios=[h_top, log_rows * h_log] if log_rows else [1],
                             hspace=0.4)
    top = outer[0].subgridspec(1, 2 if side_list else 1, width_ratios=[3.0, 1.2] if side_list else [1.0],
                               wspace=0.05)
    ax = fig.add_subplot(top[0])
    v = run.violations[0] if run.violations else None
    ttl = title or (f"{result.protocol} {result.variant}: {len(steps)} steps to '{v.invariant}'" if v else None)
    plot_spacetime(run, end=max(end, tick), ax=ax, title=ttl, show_timers=True, label_messages=False,
                   show_violations=n == len(steps))
    if end < full:  # the same axis at every step; what has not happened yet is greyed
        ax.set_xlim(0, full)
        ax.axvspan(end, full, color="#f2f2f2", lw=0, zorder=0)
    leg = ax.get_legend()
    key: tuple[list, list] | None = None
    if leg is not None:  # the step list takes the right-hand side: the key goes under it (or below)
        key = (leg.legend_handles, [t.get_text() for t in leg.get_texts()])
        leg.remove()
    if key is not None and legend and not side_list:
        ax.legend(*key, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=min(6, len(key[1])), fontsize=7.5,
                  frameon=False)
    ys = {lab.get_text(): y for lab, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    for s in shown:
        node, ring = _lane_of(s.step)
        y = ys.get(node, -0.45) if node is not None else -0.45
        ax.annotate(str(s.number), (s.time, y), xytext=(0, 9), textcoords="offset points", ha="center",
                    va="center", fontsize=8, fontweight="bold", zorder=9,
                    bbox=dict(boxstyle="circle,pad=0.18", fc="white", ec=ring, lw=1.4))
    if side_list:
        side = fig.add_subplot(top[1])
        below = _draw_step_list(side, steps, n, v if n == len(steps) else None)
        if key is not None and legend:  # under the list (never over it); under the diagram when room is short
            if below - 0.065 * ((len(key[1]) + 1) // 2) >= -0.05:
                side.legend(*key, loc="upper left", bbox_to_anchor=(0.0, below - 0.02), ncol=2, fontsize=7,
                            frameon=False, borderaxespad=0.0)
            else:
                ax.legend(*key, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=min(6, len(key[1])),
                          fontsize=7, frameon=False, borderaxespad=0.0)
                outer.update(hspace=0.75)
    if panels:
        grid = outer[1].subgridspec(log_rows, per_row, wspace=0.45, hspace=0.9)
        terms = [t for s in panels for vw in s.views.values() if vw for t in vw["log_terms"] if t is not None]
        colors = term_colors(terms)
        cols = max([len(vw["log_terms"]) for s in panels for vw in s.views.values() if vw] + [4])
        first = None
        for i, s in enumerate(panels):
            a = fig.add_subplot(grid[divmod(i, per_row)])
            first = first or a
            _draw_panel(a, s.views, 1, cols, colors, None, cols)
            a.set_yticklabels([f"{nid} " + ("down" if vw is None else f"{vw.get('role', '?')}, t{vw.get('term', '?')}")
                               for nid, vw in s.views.items()], fontsize=7)
            a.set_xlabel("")
            a.set_title(f"logs after step {s.number}", fontsize=8.5, loc="left")
    fig.subplots_adjust(left=0.1 if panels else 0.07, right=0.99, top=1 - 0.35 / height,
                        bottom=(0.3 if panels else 1.0 if legend and not side_list else 0.5) / height)
    if panels and first is not None:
        which = "after each step" if log_panels == "every" else "after the last step drawn"
        fig.text(0.01, first.get_position().y1 + 0.32 / height, f"the logs {which}: a cell per entry, its "
                 "term written in it (tN = term N); solid = known committed, black bar = commit index",
                 fontsize=7.5, color="#555555")
    return fig


def _draw_step_list(side: Any, steps: list[CounterexampleStep], n: int, violation: Any) -> float:
    """The numbered steps beside the diagram (those not reached yet dimmed), then the violation; returns
    the height (axes fraction) where the text ends."""
    side.set_axis_off()
    y = 1.0
    side.text(0, y, "the steps", fontsize=9, fontweight="bold", va="top", transform=side.transAxes)
    y -= 0.09
    for s in steps:
        text = textwrap.fill(f"{s.number}. {s.text}", 38, subsequent_indent="    ")
        side.text(0, y, text, fontsize=7.8, va="top", color="#222222" if s.number <= n else DIM,
                  transform=side.transAxes, family="monospace")
        y -= 0.075 * (text.count("\n") + 1)
    if violation is not None:
        text = textwrap.fill(f"✘ {violation.invariant}: {violation.message}", 44)
        side.text(0, y - 0.03, text, fontsize=7.5, va="top", color=FAULT_COLORS["violation"],
                  transform=side.transAxes)
        y -= 0.03 + 0.062 * (text.count("\n") + 1)
    return y

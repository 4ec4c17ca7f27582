"""Lesson 09's lab: pick a broken twin, let breadth-first search find its bug, step through it.

::

    from consensus_lab.widgets.explorer_lab import ExplorerLab
    ExplorerLab()                                   # pick a twin, Search, then Next / Prev
    ExplorerLab().choose("twopc uncertain-abort").search().last()

**Search** runs :func:`consensus_lab.explore.explore` (breadth-first: the
shortest counterexample) with a progress bar; the counterexample is then
drawn step by step (:func:`consensus_lab.viz.counterexample.plot_counterexample`):
the step numbers on the arrows, the list of steps beside them, the
violation marked at the last step, and for Raft the logs after the step.
"""

from __future__ import annotations

import html
from types import SimpleNamespace
from typing import Any

import ipywidgets as W

from ..viz.colors import legend_html
from .minilab import MiniLab
from .panels import panel_for

__all__ = ["ExplorerLab", "TWINS"]

#: the twins offered: label -> (protocol, variant); figure 8 takes tens of seconds on a busy machine
TWINS: dict[str, tuple[str, str]] = {
    "twopc uncertain-abort": ("twopc", "uncertain-abort"),
    "twopc timeout-commit": ("twopc", "timeout-commit"),
    "twopc no-vote-log": ("twopc", "no-vote-log"),
    "twopc no-decision-log": ("twopc", "no-decision-log"),
    "paxos ignore-accepted": ("paxos", "ignore-accepted"),
    "raft volatile-vote": ("raft", "volatile-vote"),
    "raft commit-previous-term (figure 8)": ("raft", "commit-previous-term"),
}


class ExplorerLab(MiniLab):
    """Search a twin's schedules, then read its shortest counterexample one step at a time."""

    title = "Explorer lab"
    summary = ("Pick a broken twin and press Search: breadth-first search tries every schedule, shortest "
               "first, until one breaks an invariant. Then step through what it found.")

    def __init__(self, *, time_budget: float = 120.0, challenge: Any = None) -> None:
        self.time_budget = time_budget
        self.result: Any = None
        self.steps: list[Any] = []
        self.position = 0  # steps shown (0: none yet)
        self._pngs: dict[int, bytes] = {}
        super().__init__(challenge=challenge)

    def _build(self) -> list[Any]:
        self.w_twin = W.Dropdown(options=list(TWINS), value="twopc uncertain-abort", description="twin",
                                 layout=W.Layout(width="330px"))
        self.w_twin.add_class("cl-twin")
        self.w_bar = W.FloatProgress(value=0.0, min=0.0, max=1.0, description="BFS", bar_style="info",
                                     layout=W.Layout(width="260px"))
        self.w_bar.add_class("cl-progress")
        self.w_progress = W.Label(value="")
        controls = W.VBox([
            W.HBox([self.w_twin, self._button("Search", "breadth-first search for the shortest counterexample",
                                              self._search, "primary"), self.w_bar, self.w_progress],
                   layout=W.Layout(flex_flow="row wrap", align_items="center")),
            W.HBox([self._button("First", "back to the first step", lambda: self._goto(1)),
                    self._button("Prev", "one step back", lambda: self._goto(self.position - 1)),
                    self._button("Next", "one step further", lambda: self._goto(self.position + 1), "info"),
                    self._button("Last", "the step that breaks the invariant", lambda: self._goto(len(self.steps)))],
                   layout=W.Layout(align_items="center")),
        ])
        self.w_picture = W.Image(format="png", layout=W.Layout(width="auto", max_width="70%"))
        self.w_picture.add_class("cl-picture")
        self.w_summary = W.HTML()
        self.w_summary.add_class("cl-summary")
        self.w_steps = W.HTML(layout=W.Layout(width="30%", min_width="240px"))
        self.w_steps.add_class("cl-steps")
        self.w_legend = W.HTML()
        self.w_state = W.HTML()
        self.w_state.add_class("cl-state")
        return [controls, self.w_summary, W.HBox([self.w_picture, self.w_steps]), self.w_legend, self.w_state]

    # --- actions ------------------------------------------------------------------------------

    def _choose(self, label: str) -> str:
        if label not in TWINS:
            raise ValueError(f"no twin {label!r} (twins: {', '.join(TWINS)})")
        self.w_twin.value = label
        return f"picked {label}"

    def _progress(self, info: Any) -> None:
        self.w_bar.value = info.fraction
        self.w_progress.value = info.line()

    def _search(self) -> str:
        from ..explore import explore
        from ..viz.counterexample import counterexample_steps

        protocol, variant = TWINS[self.w_twin.value]
        self.w_bar.bar_style = "info"
        res = explore(protocol, variant=variant, time_budget=self.time_budget, progress=self._progress)
        self.w_bar.value = 1.0 if res.verdict != "budget exhausted" else self.w_bar.value
        self.w_bar.bar_style = "danger" if res.verdict == "violation" else "success"
        self.result, self._pngs = res, {}
        self.steps = counterexample_steps(res) if res.verdict == "violation" else []
        self.position = 1 if self.steps else 0
        if not self.steps:
            return f"{res.verdict} after {res.states:,} states"
        return (f"{res.verdict}: '{res.violation.invariant}' after {len(self.steps)} steps "
                f"({res.states:,} states in {res.seconds:.1f} s)")

    def _goto(self, k: int) -> str:
        if not self.steps:
            raise ValueError("nothing to step through yet: press Search")
        self.position = max(1, min(k, len(self.steps)))
        s = self.steps[self.position - 1]
        last = " — the invariant breaks here" if self.position == len(self.steps) else ""
        return f"step {s.number} of {len(self.steps)}: {s.text}{last}"

    def choose(self, label: str) -> ExplorerLab:
        """Pick a twin (a key of :data:`TWINS`)."""
        return self._do("Twin", lambda: self._choose(label))

    def search(self) -> ExplorerLab:
        return self._do("Search", self._search)

    def first(self) -> ExplorerLab:
        return self._do("First", lambda: self._goto(1))

    def prev(self) -> ExplorerLab:
        return self._do("Prev", lambda: self._goto(self.position - 1))

    def next(self) -> ExplorerLab:
        return self._do("Next", lambda: self._goto(self.position + 1))

    def last(self) -> ExplorerLab:
        return self._do("Last", lambda: self._goto(len(self.steps)))

    @property
    def at_violation(self) -> bool:
        """Is the step shown the one that breaks the invariant?"""
        return bool(self.steps) and self.position == len(self.steps)

    # --- views --------------------------------------------------------------------------------

    def refresh(self) -> None:
        res = self.result
        if res is None:
            self.w_summary.value = '<div style="color:#666;font-size:12.5px">pick a twin and press Search</div>'
            self.w_picture.value = b""
            self.w_steps.value = self.w_legend.value = self.w_state.value = ""
            return
        twin = f"{res.protocol} {res.variant}"
        if not self.steps:
            self.w_summary.value = (f'<div style="font-size:12.5px">{html.escape(twin)}: {html.escape(res.verdict)} '
                                    f"({res.states:,} states)</div>")
            self.w_picture.value = b""
            self.w_steps.value = self.w_legend.value = self.w_state.value = ""
            return
        v = res.violation
        self.w_summary.value = (f'<div style="font-size:12.5px"><b>{html.escape(twin)}</b>: the shortest schedule that '
                                f"breaks <b>{html.escape(v.invariant)}</b> has {len(self.steps)} steps "
                                f"({res.states:,} states searched).</div>")
        png = self._pngs.get(self.position)
        if png is None:
            import matplotlib.pyplot as plt

            from ..viz.counterexample import plot_counterexample
            from .minilab import figure_png

            fig = plot_counterexample(res, upto=self.position, steps=self.steps, logs=False, side_list=False,
                                      legend=False, width=9.5)
            try:
                png = self._pngs[self.position] = figure_png(fig)
            finally:
                plt.close(fig)
        self.w_picture.value = png
        items = []
        for s in self.steps:
            style = ("font-weight:700;background:#ede7f6" if s.number == self.position else
                     "color:#bbb" if s.number > self.position else "")
            items.append(f'<li style="{style}">{html.escape(s.text)}</li>')
        end = (f'<div style="color:#c62828;font-size:12px;margin-top:3px">✘ {html.escape(v.invariant)}: '
               f"{html.escape(v.message)}</div>" if self.at_violation else "")
        self.w_steps.value = (f'<div style="font-weight:600;font-size:12.5px">the steps</div>'
                              f'<ol style="font-size:12px;font-family:monospace;padding-left:22px;margin:2px 0">'
                              f'{"".join(items)}</ol>{end}')
        types = sorted({t for t in self._types()})
        self.w_legend.value = legend_html(messages=types)
        snap = SimpleNamespace(views=dict(self.steps[self.position - 1].views), down={},
                               time=self.steps[self.position - 1].time, partition=None, goals={})
        panel = panel_for(res.protocol)
        self.w_state.value = (f'<div style="font-weight:600;font-size:12.5px;margin-top:4px">{html.escape(panel.title)} '
                              f"after step {self.position}</div>" + panel.html(snap, list(snap.views)))

    def _types(self) -> list[str]:
        rows = self.result.counterexample.trace
        return [type(e.msg).__name__ if not isinstance(e.msg, dict) else str(e.msg.get("type"))
                for e in rows if e.kind == "send"]

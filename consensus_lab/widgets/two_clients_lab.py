"""Lesson 01's lab: latency, a lost answer and a concurrent writer, and what each client can conclude.

::

    from consensus_lab.widgets.two_clients_lab import TwoClientsLab
    TwoClientsLab()                                      # move the knobs, then Run
    TwoClientsLab().set(lose_reply=True).run()           # A gives up; did its write happen?

Client A writes ``x = 1`` at replica n1; client B reads ``x`` at replica n2
(:func:`consensus_lab.two_clients.two_clients`).  Three knobs, one per
trouble of the lesson: how far apart the replicas are (latency), whether
n1's answer to A is lost (partial failure), and whether B writes ``x = 2``
at the same moment (concurrency).  Each Run shows the space-time diagram,
what each client can conclude from the messages it received, and what
really happened.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..two_clients import two_clients
from .minilab import MiniLab, figure_png, new_figure

__all__ = ["TwoClientsLab"]


class TwoClientsLab(MiniLab):
    """Two clients, two replicas, three knobs."""

    title = "Two clients lab"
    summary = ("A writes x=1 at replica n1 at t=0.1 s; B reads x at replica n2 at t=0.2 s. Move the replicas "
               "apart, lose n1's answer to A, let B write x=2 at the same moment as A, then Run: what can each "
               "client conclude?")

    def __init__(self, *, challenge: Any = None) -> None:
        self.stories: list[Any] = []  # every run, in order
        self._drawn: Any = None  # the story the picture shows (moving a knob does not redraw it)
        super().__init__(challenge=challenge)

    def _build(self) -> list[Any]:
        small = {"description_width": "initial"}
        self.w_delay = W.IntSlider(value=50, min=0, max=300, step=10, description="replicas apart (ms)",
                                   style=small, continuous_update=False)
        self.w_lose = W.Checkbox(value=False, description="lose n1's answer to A", indent=False)
        self.w_concurrent = W.Checkbox(value=False, description="B writes x=2 at the same time", indent=False)
        for w, cls in ((self.w_delay, "cl-delay"), (self.w_lose, "cl-lose-reply"), (self.w_concurrent, "cl-concurrent")):
            w.add_class(cls)
        controls = W.HBox([self.w_delay, self.w_lose, self.w_concurrent,
                           self._button("Run", "play the story with these settings", self._run, "primary")],
                          layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.w_picture = W.Image(format="png", layout=W.Layout(width="auto", max_width="100%"))
        self.w_result = W.HTML()
        self.w_result.add_class("cl-result")
        return [controls, self.w_result, self.w_picture]

    def _run(self) -> str:
        story = two_clients(delay=self.w_delay.value / 1000, lose_reply=self.w_lose.value,
                            concurrent=self.w_concurrent.value)
        self.stories.append(story)
        return self._headline(story)

    @staticmethod
    def _headline(story: Any) -> str:
        if story.indeterminate:
            return "A gave up on its write" + (", which did happen" if story.happened else "")
        if story.stale:
            return "B read an old value after A's write was acknowledged"
        if story.overwritten:
            return f"an acknowledged write was replaced: x={story.final['n1'].get('x')} everywhere"
        return "both clients got answers that agree"

    @property
    def story(self) -> Any:
        """The last run (None before the first Run)."""
        return self.stories[-1] if self.stories else None

    def set(self, **settings: Any) -> TwoClientsLab:
        """Move the knobs: ``delay`` (ms between the replicas), ``lose_reply`` and ``concurrent`` (bools)."""
        return self._set_knobs(settings, {"delay": self.w_delay, "lose_reply": self.w_lose,
                                          "concurrent": self.w_concurrent})

    def run(self) -> TwoClientsLab:
        """Press Run."""
        return self._do("Run", self._run)

    def refresh(self) -> None:
        story = self.story
        if story is None:
            self.w_result.value = '<div style="color:#666;font-size:12.5px">move the knobs and press Run</div>'
            self.w_picture.value = b""
            return
        rows = "".join(f'<tr><td style="padding:1px 8px"><b>{c}</b></td><td style="padding:1px 8px">'
                       f"{html.escape(text)}</td></tr>" for c, text in story.conclusions.items())
        facts = "".join(f"<li>{html.escape(f)}</li>" for f in story.facts)
        self.w_result.value = (
            '<div style="font-size:12.5px"><div style="color:#555">what each client can conclude from the '
            f'messages it received:</div><table class="cl-conclusions">{rows}</table>'
            f'<div style="color:#555;margin-top:3px">what really happened (seen from outside):</div>'
            f'<ul style="margin:0" class="cl-facts">{facts}</ul></div>')
        if self._drawn is story:
            return
        from ..viz.two_clients_plot import plot_two_clients

        self._drawn = story
        fig = new_figure(8.5, 3.0)
        ax = fig.add_subplot()
        plot_two_clients(story, ax=ax)
        fig.subplots_adjust(left=0.06, right=0.84, top=0.88, bottom=0.16)
        self.w_picture.value = figure_png(fig)

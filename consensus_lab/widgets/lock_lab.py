"""Lesson 10's lab: a ZooKeeper lock, a client that pauses, and fencing tokens.

::

    from consensus_lab.widgets.lock_lab import LockLab
    LockLab()                                  # choose the pause and the fencing, then Run story
    LockLab().set(pause=3.5).run().set(fencing=True).run()

Client A holds the lock (an ephemeral znode) and pauses -- a long garbage
collection -- without heartbeats; ZooKeeper expires its session, B takes
the lock, and A wakes up still believing it holds it
(:func:`consensus_lab.systems.lock_story`).  With fencing, the storage
refuses a write whose token (the lock's zxid) is older than one it has seen.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..systems import lock_story
from .minilab import MiniLab, figure_png, new_figure

__all__ = ["LockLab"]

_START = 1.0  # A pauses at this time


class LockLab(MiniLab):
    """The lock story with its knobs: how long A pauses, the session timeout, fencing on or off."""

    title = "Lock lab"
    summary = ("A holds a ZooKeeper lock and pauses; its session expires, B takes the lock, A wakes up and "
               "writes. Does the storage accept A's write?")

    def __init__(self, *, challenge: Any = None) -> None:
        self.stories: list[Any] = []  # every story run, in order
        super().__init__(challenge=challenge)

    def _build(self) -> list[Any]:
        small = {"description_width": "initial"}
        self.w_pause = W.FloatSlider(value=1.0, min=0.5, max=4.5, step=0.5, description="A pauses for (s)",
                                     style=small, continuous_update=False, readout_format=".1f")
        self.w_timeout = W.FloatSlider(value=2.0, min=1.0, max=3.0, step=0.5, description="session timeout (s)",
                                       style=small, continuous_update=False, readout_format=".1f")
        self.w_fencing = W.Checkbox(value=False, description="fencing tokens", indent=False)
        for w, cls in ((self.w_pause, "cl-pause"), (self.w_timeout, "cl-timeout"), (self.w_fencing, "cl-fencing")):
            w.add_class(cls)
        controls = W.HBox([self.w_pause, self.w_timeout, self.w_fencing,
                           self._button("Fencing", "turn fencing tokens on or off", self._toggle_fencing),
                           self._button("Run story", "play the story with these settings", self._run, "primary")],
                          layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.w_picture = W.Image(format="png", layout=W.Layout(width="auto", max_width="100%"))
        self.w_result = W.HTML()
        self.w_result.add_class("cl-result")
        return [controls, self.w_result, self.w_picture]

    def _toggle_fencing(self) -> str:
        self.w_fencing.value = not self.w_fencing.value
        return f"fencing {'on' if self.w_fencing.value else 'off'}"

    def _run(self) -> str:
        pause = self.w_pause.value
        story = lock_story(session_timeout=self.w_timeout.value, pause=(_START, _START + pause),
                           fencing=self.w_fencing.value)
        self.stories.append(story)
        return self._describe(story)

    @staticmethod
    def _describe(story: Any) -> str:
        refused = [w for w in story.writes if not w[3]]
        if story.unsafe_writes:
            t, who, token = story.unsafe_writes[0]
            return f"the storage ACCEPTED {who}'s write at t={t:.2f} (token {token}) after {who} had lost the lock"
        if refused:
            t, who, token, _ = refused[0]
            return f"the storage refused {who}'s stale write at t={t:.2f} (token {token})"
        return "no stale write: A woke up before anyone else held the lock"

    def set(self, **settings: Any) -> LockLab:
        """Move the knobs: ``pause`` (s), ``timeout`` (s), ``fencing`` (bool)."""
        return self._set_knobs(settings, {"pause": self.w_pause, "timeout": self.w_timeout,
                                          "fencing": self.w_fencing})

    def run(self) -> LockLab:
        """Press Run story."""
        return self._do("Run story", self._run)

    def refresh(self) -> None:
        if not self.stories:
            self.w_result.value = '<div style="color:#666;font-size:12.5px">choose the knobs and press Run story</div>'
            self.w_picture.value = b""
            return
        story = self.stories[-1]
        lines = "\n".join(html.escape(line) for line in story.table().splitlines())
        bad = bool(story.unsafe_writes)
        color = "#c62828" if bad else "#2e7d32"
        self.w_result.value = (f'<div style="font-size:13px;color:{color}"><b>{html.escape(self._describe(story))}</b>'
                               f" · fencing {'on' if story.fencing else 'off'} · both believed they held the lock for "
                               f"{story.overlap:.2f} s</div>"
                               f'<pre style="font-size:11px;max-height:10em;overflow:auto">{lines}</pre>')
        from ..viz.systems_plots import plot_lock_story

        fig = new_figure(8, 2.9)
        ax = fig.add_subplot()
        plot_lock_story(story, ax=ax)
        fig.subplots_adjust(left=0.2, right=0.98, top=0.88, bottom=0.17)  # tight_layout would draw it twice
        self.w_picture.value = figure_png(fig)

"""The time scrubber: a slider over the part of the run that has happened.

Dragging it shows every node's state at that moment, from the snapshots the
:class:`~consensus_lab.widgets.session.LabSession` kept as the run went (no
simulation runs again); the diagram shows the window that ends there, with the
messages that were in the air at that moment drawn dotted.  At its right end
the lab is *live*: actions happen at the current simulated time.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as W

__all__ = ["TimeScrubber"]


class TimeScrubber:
    """A slider from 0 to the current time; ``on_change(t)`` is called when the reader moves it."""

    def __init__(self, on_change: Callable[[float], None], *, step: float = 0.05) -> None:
        self._on_change = on_change
        self._quiet = False
        self.slider = W.FloatSlider(
            value=0.0, min=0.0, max=step, step=step, description="time (s)", readout_format=".3f",
            continuous_update=False, layout=W.Layout(width="62%"),
            style={"description_width": "70px"},
            tooltip="drag to any moment of the run so far: every node's state then",
        )
        self.slider.add_class("cl-scrubber")
        self.live_button = W.Button(description="Live", tooltip="back to the current moment",
                                    layout=W.Layout(width="auto"))
        self.live_button.add_class("cl-live")
        self.mode = W.HTML()
        self.slider.observe(self._moved, names="value")
        self.live_button.on_click(lambda _b: self._on_change(self.slider.max))
        self.box = W.HBox([self.slider, self.live_button, self.mode], layout=W.Layout(align_items="center"))

    def _moved(self, change) -> None:
        if not self._quiet:
            self._on_change(float(change["new"]))

    def update(self, now: float, t: float) -> None:
        """Show the range [0, now] with the handle at ``t`` (without calling back)."""
        self._quiet = True
        try:
            s = self.slider
            top = max(now, s.step)
            if s.value > top:
                s.value = top
            s.max = top
            s.value = min(t, top)
        finally:
            self._quiet = False
        live = t >= now - 1e-9
        self.live_button.disabled = live
        self.mode.value = (
            '<span style="color:#1565c0">● live</span>' if live else
            f'<span style="color:#6a1b9a">viewing t = {t:.3f} s (the run is at {now:.3f} s; '
            "press Live, or act, to come back)</span>"
        )

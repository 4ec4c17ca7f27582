"""Progress while the explorer searches: a bar in notebooks, a line on the terminal.

The search calls ``update(info)`` a few times a second and ``close(info)`` at
the end.  Nothing is shown for a search that finishes within ``delay`` seconds,
so quick searches leave no trace in a notebook's outputs (and in nbval).

The bar measures depth: breadth-first search finishes one depth level at a
time, so "depth 6 of 10" is an honest (if uneven: deeper levels hold more
states) measure of the way still to go.  With a time budget, the bar shows the
larger of the two fractions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["ProgressInfo", "TextProgress", "WidgetProgress", "make_progress"]


@dataclass
class ProgressInfo:
    """What the search reports about itself."""

    strategy: str
    states: int
    transitions: int
    depth: int
    max_depth: int
    frontier: int
    elapsed: float
    time_budget: float | None = None
    verdict: str | None = None  # set by the final report

    @property
    def rate(self) -> float:
        return self.states / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def fraction(self) -> float:
        f = self.depth / self.max_depth if self.max_depth else 1.0
        if self.time_budget:
            f = max(f, self.elapsed / self.time_budget)
        return min(1.0, f)

    def line(self) -> str:
        text = (
            f"{self.strategy}: {self.states:,} states ({self.rate:,.0f}/s), depth {self.depth}/{self.max_depth}, "
            f"frontier {self.frontier:,}, {self.elapsed:.1f}s"
        )
        if self.time_budget:
            text += f" of {self.time_budget:g}s"
        if self.verdict:
            text += f" -- {self.verdict}"
        return text


class TextProgress:
    """A progress bar on one terminal line (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, delay: float = 0.5, width: int = 20, final: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.width = width
        self.final = final
        self._shown = False

    def _draw(self, info: ProgressInfo) -> None:
        filled = int(round(info.fraction * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r\033[K[{bar}] {info.line()}")
        self.stream.flush()
        self._shown = True

    def update(self, info: ProgressInfo) -> None:
        if self._shown or info.elapsed >= self.delay:
            self._draw(info)

    def close(self, info: ProgressInfo) -> None:
        if self.final:
            self._draw(info)
            self.stream.write("\n")
        elif self._shown:
            self.stream.write("\r\033[K")
        self.stream.flush()


class WidgetProgress:
    """An ipywidgets bar with a label, displayed once the search has run ``delay`` seconds."""

    def __init__(self, *, delay: float = 0.5) -> None:
        import ipywidgets as widgets

        self.delay = delay
        self._bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="exploring",
                                          bar_style="info", layout=widgets.Layout(width="260px"))
        self._label = widgets.Label(value="")
        self._box = widgets.HBox([self._bar, self._label])
        self._shown = False

    def _show(self) -> None:
        if not self._shown:
            from IPython.display import display

            display(self._box)
            self._shown = True

    def update(self, info: ProgressInfo) -> None:
        if self._shown or info.elapsed >= self.delay:
            self._show()
            self._bar.value = info.fraction
            self._label.value = info.line()

    def close(self, info: ProgressInfo) -> None:
        if not self._shown:
            return
        self._bar.value = 1.0 if info.verdict != "budget exhausted" else info.fraction
        self._bar.bar_style = "danger" if info.verdict == "violation" else "success"
        self._label.value = info.line()


class _CallbackProgress:
    def __init__(self, fn: Callable[[ProgressInfo], Any]) -> None:
        self.fn = fn

    def update(self, info: ProgressInfo) -> None:
        self.fn(info)

    def close(self, info: ProgressInfo) -> None:
        self.fn(info)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def make_progress(progress: Any):
    """Turn the ``progress=`` argument into a reporter (or None).

    ``"auto"`` (the default): a widget in a notebook, a line on stderr when it
    is a terminal, nothing otherwise; ``True`` or ``"text"``: a line on stderr;
    ``"widget"``: the notebook bar; ``False``/``None``: nothing; a callable:
    called with a :class:`ProgressInfo` now and then and at the end; or any
    object with ``update(info)`` and ``close(info)``.
    """
    if progress is None or progress is False:
        return None
    if progress is True or progress == "text":
        return TextProgress(delay=0.0)
    if progress == "widget":
        return WidgetProgress(delay=0.0)
    if progress == "auto":
        if _in_notebook():
            try:
                return WidgetProgress()
            except ImportError:  # no ipywidgets (the optional lab extra): text instead
                return TextProgress(sys.stdout)
        if getattr(sys.stderr, "isatty", lambda: False)():
            return TextProgress()
        return None
    if hasattr(progress, "update") and hasattr(progress, "close"):
        return progress
    if callable(progress):
        return _CallbackProgress(progress)
    raise ValueError(f"progress must be 'auto', True, False, 'text', 'widget' or a callable, got {progress!r}")


def now() -> float:
    return time.perf_counter()

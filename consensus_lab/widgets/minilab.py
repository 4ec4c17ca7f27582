"""What the small labs share: buttons that act, report and redraw, a picture, a challenge.

A :class:`MiniLab` subclass builds its controls in ``_build()`` (returning the
rows to show) and brings its views up to date in ``refresh()``.  Every
button goes through :meth:`MiniLab._do`, which times the action, turns a
``ValueError`` into a one-line message under the controls (and any other
error into a visible traceback: an exception inside a button never
disappears), redraws, and lets the challenge (if any) check the lab.
Everything a button does is also a method, so a challenge's script and the
tests act exactly as a student's clicks do.
"""

from __future__ import annotations

import html
import io
import time
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as W
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .challenge_box import ChallengeHost

__all__ = ["MiniLab", "figure_png", "new_figure"]


def new_figure(width: float, height: float, dpi: int = 96) -> Figure:
    """A figure outside pyplot (no global state, cheaper to make and to throw away)."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


class MiniLab(ChallengeHost):
    """Base of the small labs (lessons 02, 04, 08, 09, 10)."""

    title = "lab"
    summary = ""

    def __init__(self, *, challenge: Any = None) -> None:
        self.last_action_ms: float | None = None
        self.buttons: dict[str, W.Button] = {}
        self.w_status = W.HTML()
        self.w_status.add_class("cl-status")
        rows = self._build()
        head = W.HTML(f'<div style="font-size:15px"><b>{html.escape(self.title)}</b></div>'
                      f'<div style="font-size:11.5px;color:#666">{html.escape(self.summary)}</div>')
        self.widget = W.VBox([head, *rows[:1], self.w_status, *rows[1:]],
                             layout=W.Layout(border="1px solid #d0d0d0", padding="6px 10px"))
        self.widget.add_class("cl-minilab")  # not "cl-lab": that is the scenario lab (its buttons differ)
        self.refresh()
        self._attach_challenge(challenge)

    # --- for subclasses ---------------------------------------------------------------------

    def _build(self) -> list[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def refresh(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _button(self, label: str, tip: str, handler: Callable[[], str | None], style: str = "") -> W.Button:
        b = W.Button(description=label, tooltip=tip, button_style=style, layout=W.Layout(width="auto"))
        b.add_class("cl-btn-" + "-".join(label.lower().split()))
        b.on_click(lambda _b: self._do(label, handler))
        self.buttons[label] = b
        return b

    def _do(self, label: str, handler: Callable[[], str | None]) -> Any:
        """Run one action; report what happened (or why not), redraw, check the challenge."""
        t0 = time.perf_counter()
        kind, message, detail = "ok", "", ""
        try:
            message = handler() or ""
        except ValueError as exc:
            kind, message = "warn", str(exc)
        except Exception as exc:  # a bug: show it, never lose it
            kind, message, detail = "error", f"{type(exc).__name__}: {exc}", traceback.format_exc()
        try:
            self.refresh()
        except Exception as exc:
            kind, message, detail = "error", f"could not draw: {type(exc).__name__}: {exc}", traceback.format_exc()
        if kind != "error":
            self._challenge_after_action()
        self.last_action_ms = (time.perf_counter() - t0) * 1000
        color = {"ok": "#333", "warn": "#e65100", "error": "#c62828"}[kind]
        extra = (f'<pre style="font-size:11px;color:#c62828;white-space:pre-wrap">{html.escape(detail)}</pre>'
                 if detail else "")
        self.w_status.value = (f'<div class="cl-{kind}" style="color:{color};font-size:12.5px"><b>{html.escape(label)}'
                               f"</b>: {html.escape(message)}<span style='color:#999'> · {self.last_action_ms:.0f} ms"
                               f"</span></div>{extra}")
        return self

    def _set_knobs(self, settings: dict[str, Any], knobs: dict[str, Any]) -> Any:
        """Move named knobs as the student would, as one reported action: an unknown name, a checkbox
        given something else than True/False or a slider value out of its range is a one-line warning."""
        def go() -> str:
            bad = sorted(set(settings) - set(knobs))
            if bad:
                raise ValueError(f"set() takes {', '.join(knobs)}; not {', '.join(bad)}")
            for k, v in settings.items():
                w = knobs[k]
                if isinstance(w, W.Checkbox):
                    if not isinstance(v, bool):
                        raise ValueError(f"{k} is True or False, not {v!r}")
                elif isinstance(v, bool) or not isinstance(v, (int, float)) or not w.min <= v <= w.max or (
                        isinstance(w, W.IntSlider) and not isinstance(v, int)):
                    whole = "a whole number " if isinstance(w, W.IntSlider) else ""
                    raise ValueError(f"{k} is {whole}from {w.min} to {w.max}, not {v!r}")
                w.value = v
            return ", ".join(f"{k}={v}" for k, v in settings.items())

        return self._do("Settings", go)

    # --- display ----------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["text/plain"] = (self._plain_challenge()
                              + f"{self.title} (an interactive lab: run this notebook in Jupyter to use it)")
        return data

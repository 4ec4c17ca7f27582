"""Lesson 02's lab: build a history by hand and watch each consistency verdict change.

::

    from consensus_lab.widgets.history_lab import HistoryLab
    HistoryLab()                       # pick a process and an operation, Invoke, Complete, ...
    HistoryLab().invoke(0, "write", 1).complete(0).invoke(1, "read").complete(1, None)

Each click adds one event (an invocation or a completion) to a register's
history; the lab re-checks it against linearizability, sequential
consistency and the four session guarantees, and draws it as bars.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..checkers import check_linearizable, check_sequential, check_session_guarantees
from ..history import Op
from .minilab import MiniLab, figure_png, new_figure

__all__ = ["HistoryLab"]

_OK, _BAD = "#2e7d32", "#c62828"


def _parse(text: str) -> Any:
    text = text.strip()
    if text in ("", "nil", "None"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"a value is a whole number or nil, not {text!r}") from None


class HistoryLab(MiniLab):
    """A register's history, one event per click, with every verdict beside it."""

    title = "History lab"
    summary = ("Build a history of reads and writes on one register, event by event; each verdict is "
               "recomputed after every click.")

    def __init__(self, processes: int = 3, *, challenge: Any = None) -> None:
        self.processes = processes
        self.ops: list[Op] = []
        super().__init__(challenge=challenge)

    def _build(self) -> list[Any]:
        small = {"description_width": "initial"}
        self.w_process = W.Dropdown(options=[(f"p{i}", i) for i in range(self.processes)], value=0,
                                    description="process", style=small, layout=W.Layout(width="130px"))
        self.w_f = W.Dropdown(options=["write", "read"], value="write", description="operation", style=small,
                              layout=W.Layout(width="170px"))
        self.w_value = W.Text(value="1", description="value", placeholder="1, 2, … or nil", style=small,
                              layout=W.Layout(width="150px"))
        for w, cls in ((self.w_process, "cl-process"), (self.w_f, "cl-f"), (self.w_value, "cl-value")):
            w.add_class(cls)
        controls = W.HBox([
            self.w_process, self.w_f, self.w_value,
            self._button("Invoke", "the process starts this operation (a write of the value, or a read)",
                         lambda: self._invoke(self.w_process.value, self.w_f.value, self.w_value.value), "info"),
            self._button("Complete", "the process's open operation returns (a read returns the value box)",
                         lambda: self._complete(self.w_process.value, self.w_value.value), "success"),
            self._button("Undo", "take back the last event", self._undo),
            self._button("Clear", "start from an empty history", self._clear, "warning"),
        ], layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.w_picture = W.Image(format="png", layout=W.Layout(width="auto", max_width="100%"))
        self.w_verdicts = W.HTML()
        self.w_verdicts.add_class("cl-verdicts")
        self.w_text = W.HTML()
        return [controls, W.HBox([self.w_picture, self.w_verdicts]), self.w_text]

    # --- actions ----------------------------------------------------------------------------

    def _open(self, process: int) -> Op | None:
        opened: dict[int, Op] = {}
        for op in self.ops:
            if op.type == "invoke":
                opened[op.process] = op
            else:
                opened.pop(op.process, None)
        return opened.get(process)

    def _open_any(self) -> bool:
        """Is some operation still waiting for its completion?"""
        return any(self._open(p) is not None for p in range(self.processes))

    def _invoke(self, process: int, f: str, value: Any) -> str:
        if f not in ("read", "write"):
            raise ValueError(f"operations are read and write, not {f!r}")
        if self._open(process) is not None:
            raise ValueError(f"p{process} already has an operation open: Complete it first")
        v = _parse(value) if f == "write" and isinstance(value, str) else (value if f == "write" else None)
        if f == "write" and v is None:
            raise ValueError("write what? put a number in the value box")
        self.ops.append(Op(process, "invoke", f, None, v, float(len(self.ops))))
        return f"p{process} invokes {f}({'' if v is None else v})"

    def _complete(self, process: int, value: Any = None) -> str:
        inv = self._open(process)
        if inv is None:
            raise ValueError(f"p{process} has no open operation: Invoke first")
        v = inv.value if inv.f == "write" else (_parse(value) if isinstance(value, str) else value)
        self.ops.append(Op(process, "ok", inv.f, None, v, float(len(self.ops))))
        return f"p{process}'s {inv.f} returns" + ("" if inv.f == "write" else f" {'nil' if v is None else v}")

    def _undo(self) -> str:
        if not self.ops:
            raise ValueError("the history is already empty")
        self.ops.pop()
        return "took back the last event"

    def _clear(self) -> str:
        self.ops.clear()
        return "empty history"

    def invoke(self, process: int, f: str, value: Any = None) -> HistoryLab:
        """Process ``process`` starts ``f`` (``"write"`` with ``value``, or ``"read"``)."""
        return self._do("Invoke", lambda: self._invoke(process, f, value))

    def complete(self, process: int, value: Any = None) -> HistoryLab:
        """The open operation of ``process`` returns (a read returns ``value``; None is nil)."""
        return self._do("Complete", lambda: self._complete(process, value))

    def undo(self) -> HistoryLab:
        return self._do("Undo", self._undo)

    def clear(self) -> HistoryLab:
        return self._do("Clear", self._clear)

    # --- verdicts ---------------------------------------------------------------------------

    def verdicts(self) -> dict[str, tuple[bool, str]]:
        """``{promise: (holds, detail)}`` for the history so far."""
        if not self.ops:
            return {}
        out: dict[str, tuple[bool, str]] = {}
        lin = check_linearizable(self.ops, "register", timeout=1.0)
        out["linearizable"] = (lin.verdict == "linearizable", lin.detail)
        seq = check_sequential(self.ops, "register", timeout=1.0)
        out["sequential"] = (bool(seq.holds), seq.detail)
        for name, res in check_session_guarantees(self.ops).items():
            out[name] = (bool(res.holds), res.detail)
        return out

    def refresh(self) -> None:
        verdicts = self.verdicts()
        self._last = verdicts
        if verdicts:
            rows = "".join(
                f'<tr class="cl-verdict-{"ok" if ok else "bad"}"><td style="padding:1px 6px;color:{_OK if ok else _BAD}">'
                f'{"✔" if ok else "✘"} {html.escape(name)}</td><td style="padding:1px 6px;font-size:11.5px;color:#555">'
                f"{html.escape(detail)}</td></tr>" for name, (ok, detail) in verdicts.items())
            self.w_verdicts.value = f'<table style="font-size:12.5px">{rows}</table>'
        else:
            self.w_verdicts.value = '<div style="color:#666;font-size:12.5px">no event yet: Invoke something</div>'
        fig = new_figure(6.2, 0.9 + 0.45 * self.processes)
        ax = fig.add_subplot()
        if self.ops:
            from ..viz.history_plot import plot_history

            plot_history(self.ops, model="register", ax=ax, title="the history (positions, not seconds)")
        else:
            ax.set_axis_off()
        fig.subplots_adjust(left=0.17, right=0.8, top=0.85, bottom=0.25)  # tight_layout would draw it twice
        self.w_picture.value = figure_png(fig)
        def event(op: Op) -> str:
            shown = op.f == "write" or op.type != "invoke"  # a read's value is known only when it returns
            return f"p{op.process} {op.type} {op.f}" + (f" {'nil' if op.value is None else op.value}" if shown else "")

        lines = " · ".join(event(op) for op in self.ops)
        self.w_text.value = f'<div style="font-size:11.5px;color:#444"><b>events:</b> {html.escape(lines) or "none"}</div>'

    def holds(self, promise: str) -> bool | None:
        """Does the history keep ``promise`` (None while it is empty)?"""
        v = getattr(self, "_last", None) or self.verdicts()
        return v[promise][0] if promise in v else None

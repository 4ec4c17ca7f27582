"""Lesson 08's lab: sliders for n, p, racks and latency; the formula and the simulator side by side.

::

    from consensus_lab.widgets.model_lab import ModelLab
    ModelLab()                       # move the sliders: the formulas follow at once
    ModelLab().set(n=7, p_down=0.1).simulate()

The formulas (:mod:`consensus_lab.models`) update on every slider move;
**Simulate** runs the simulator over ``seeds`` seeds for the current settings
(:mod:`consensus_lab.models_sim`) and puts each estimate, with its 95%
interval, beside its formula.  A simulation made for other settings is shown
greyed out until the next **Simulate**.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..models import (
    estimate,
    estimate_mean,
    expected_kth_round_trip,
    p_commit_2pc,
    p_majority,
    p_majority_racks,
)
from ..models_sim import commit_latencies, majority_acks, majority_trial, twopc_trial
from ..sim import Latency
from .minilab import MiniLab

__all__ = ["ModelLab"]

_RACKS = {"one node per rack": 1, "racks of 2": 2, "racks of 3": 3}


def _racks(n: int, size: int) -> list[int]:
    out = [size] * (n // size)
    if n % size:
        out.append(n % size)
    return out


class ModelLab(MiniLab):
    """Availability and latency: what the formulas say, and what the simulator measures."""

    title = "Model lab"
    summary = ("P(commit) for 2PC (every participant up) and for a majority quorum (Raft), with nodes failing "
               "alone or with their racks; the commit latency of a majority. Formulas follow the sliders; "
               "Simulate measures.")

    def __init__(self, *, seeds: int = 30, challenge: Any = None) -> None:
        self.seeds = seeds
        self.sim: dict[str, Any] | None = None  # the last simulation, with the settings it was made for
        super().__init__(challenge=challenge)

    def _build(self) -> list[Any]:
        small = {"description_width": "initial"}
        self.w_n = W.IntSlider(value=5, min=1, max=9, description="nodes n", style=small, continuous_update=False)
        self.w_p = W.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.05, description="P(node down) p",
                                 style=small, continuous_update=False, readout_format=".2f")
        self.w_racks = W.Dropdown(options=list(_RACKS), value="one node per rack", description="racks",
                                  style=small, layout=W.Layout(width="250px"))
        self.w_rack_p = W.FloatSlider(value=0.0, min=0.0, max=0.5, step=0.05, description="P(rack down)",
                                      style=small, continuous_update=False, readout_format=".2f")
        self.w_lat = W.FloatSlider(value=10.0, min=1.0, max=50.0, step=1.0, description="one-way latency (ms)",
                                   style=small, continuous_update=False, readout_format=".0f")
        for w, cls in ((self.w_n, "cl-n"), (self.w_p, "cl-p"), (self.w_racks, "cl-racks"),
                       (self.w_rack_p, "cl-rack-p"), (self.w_lat, "cl-latency")):
            w.add_class(cls)
            w.observe(lambda _c: self._do("Settings", lambda: "formulas updated"), names="value")
        sim = self._button("Simulate", "run the simulator for these settings (a few hundred ms)", self._simulate,
                           "primary")
        self.w_table = W.HTML()
        self.w_table.add_class("cl-table")
        return [W.VBox([W.HBox([self.w_n, self.w_p, self.w_lat], layout=W.Layout(flex_flow="row wrap")),
                        W.HBox([self.w_racks, self.w_rack_p, sim], layout=W.Layout(flex_flow="row wrap"))]),
                self.w_table]

    # --- settings and actions -----------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        return {"n": self.w_n.value, "p_down": round(self.w_p.value, 4), "rack_size": _RACKS[self.w_racks.value],
                "p_rack_down": round(self.w_rack_p.value, 4), "latency_ms": self.w_lat.value}

    def set(self, **settings: Any) -> ModelLab:
        """Move sliders from Python: ``n``, ``p_down``, ``rack_size`` (1, 2, 3), ``p_rack_down``, ``latency_ms``."""
        def go() -> str:
            known = {"n", "p_down", "rack_size", "p_rack_down", "latency_ms"}
            bad = sorted(set(settings) - known)
            if bad:
                raise ValueError(f"set() takes {', '.join(sorted(known))}; not {', '.join(bad)}")
            with self.widget.hold_trait_notifications():
                for k, v in settings.items():
                    if k == "rack_size":
                        names = [name for name, size in _RACKS.items() if size == v]
                        if not names:
                            raise ValueError(f"rack_size is 1, 2 or 3, not {v!r}")
                        self._quiet(self.w_racks, names[0])
                    else:
                        w = {"n": self.w_n, "p_down": self.w_p, "p_rack_down": self.w_rack_p,
                             "latency_ms": self.w_lat}[k]
                        if not w.min <= v <= w.max:
                            raise ValueError(f"{k} goes from {w.min} to {w.max}, not {v!r}")
                        self._quiet(w, v)
            return ", ".join(f"{k}={v}" for k, v in settings.items())

        return self._do("Settings", go)

    def _quiet(self, w: Any, value: Any) -> None:
        self._muted = True
        try:
            w.value = value
        finally:
            self._muted = False

    def _do(self, label: str, handler: Any) -> Any:
        if getattr(self, "_muted", False):
            return self
        return super()._do(label, handler)

    def _simulate(self) -> str:
        s = self.settings()
        n, p = s["n"], s["p_down"]
        racks = _racks(n, s["rack_size"]) if s["p_rack_down"] > 0 else None
        seeds = range(self.seeds)
        maj = estimate(lambda k: majority_trial(k, nodes=n, p_down=p, racks=racks, p_rack_down=s["p_rack_down"]),
                       seeds)
        two = estimate(lambda k: twopc_trial(k, participants=n, p_down=p), seeds)
        lat = self._latency(s)
        lats = [x for k in range(2) for _, x in commit_latencies(k, nodes=max(n, 1), latency=lat, ops=8)]
        self.sim = {"settings": s, "majority": maj, "2pc": two, "latency": estimate_mean(lats) if lats else None}
        return f"simulated {self.seeds} seeds for n={n}, p={p}"

    def simulate(self) -> ModelLab:
        """Press Simulate."""
        return self._do("Simulate", self._simulate)

    @staticmethod
    def _latency(s: dict[str, Any]) -> Latency:
        m = s["latency_ms"] / 1000
        return Latency.uniform(m * 0.5, m * 1.5)

    # --- the numbers --------------------------------------------------------------------------

    def formulas(self) -> dict[str, float | None]:
        s = self.settings()
        n, up = s["n"], 1 - s["p_down"]
        out: dict[str, float | None] = {"2pc": p_commit_2pc(n, up), "majority": p_majority(n, up)}
        if s["p_rack_down"] > 0:
            out["majority"] = p_majority_racks(_racks(n, s["rack_size"]), s["p_rack_down"], s["p_down"])
        out["latency"] = expected_kth_round_trip(*majority_acks(n), self._latency(s)) if n > 1 else None
        return out

    def simulated(self) -> dict[str, Any] | None:
        """The last simulation, if it was made for the current settings."""
        return self.sim if self.sim is not None and self.sim["settings"] == self.settings() else None

    def refresh(self) -> None:
        f = self.formulas()
        sim = self.sim
        fresh = self.simulated() is not None
        style = "" if fresh else "color:#aaa"

        def est(key: str, scale: float = 1.0, unit: str = "") -> str:
            if sim is None or sim.get(key) is None:
                return '<span style="color:#999">press Simulate</span>'
            e = sim[key]
            p = getattr(e, "p", None)
            if p is None:
                p = e.mean
            return (f'<span style="{style}">{p * scale:.3g}{unit} [{e.lo * scale:.3g}, {e.hi * scale:.3g}]</span>')

        def fmt(v: float | None, scale: float = 1.0, unit: str = "") -> str:
            return "–" if v is None else f"{v * scale:.3g}{unit}"

        s = self.settings()
        racks = f", racks {_racks(s['n'], s['rack_size'])} each down {s['p_rack_down']:g}" if s["p_rack_down"] else ""
        rows = [("P(2PC commits): every participant up", fmt(f["2pc"]), est("2pc")),
                ("P(majority up): Raft commits" + racks, fmt(f["majority"]), est("majority")),
                ("mean commit latency of a majority", fmt(f["latency"], 1000, " ms"), est("latency", 1000, " ms"))]
        body = "".join(f'<tr><td style="padding:1px 10px">{html.escape(a)}</td><td style="padding:1px 10px">{b}</td>'
                       f'<td style="padding:1px 10px">{c}</td></tr>' for a, b, c in rows)
        note = ("" if sim is None or fresh else
                '<div style="font-size:11.5px;color:#999">the simulation is for other settings: Simulate again</div>')
        self.w_table.value = ('<table style="font-size:12.5px;border-collapse:collapse"><tr><th style="text-align:left;'
                              'padding:1px 10px"></th><th style="text-align:left;padding:1px 10px">formula</th>'
                              '<th style="text-align:left;padding:1px 10px">simulated (95% interval)</th></tr>'
                              f"{body}</table>{note}")

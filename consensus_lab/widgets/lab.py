"""The scenario lab: a dashboard that puts failures in the reader's hands.

::

    from consensus_lab.widgets import ScenarioLab
    lab = ScenarioLab("raft", nodes=5, seed=7, at=1.0)
    lab                      # the dashboard
    lab.static_picture();    # the same scenario as a picture, for where widgets cannot run

Choose the protocol and its settings (nodes, loss, latency, seed, duration,
variant, a fault script), then act on the running system: ``Step`` processes
one event, ``Run`` lets time pass, ``Crash``/``Restart`` the node picked
beside them, ``Partition`` the network into the split picked beside it,
``Heal`` it, ``Drop`` the next message, ``Skew`` the picked node's clock, ``Reset`` to start again (with the
settings shown, so a new seed there is a new run).  After every action it
shows the space-time diagram of the recent window, each node's state, the
invariants (red, with the explanation, once one fails), the client history
with its linearizability verdict, and the event log.  The time slider goes
back to any earlier moment.

Everything the buttons do is also a method (:meth:`ScenarioLab.step`,
:meth:`~ScenarioLab.crash`, ...), and every fault made by hand prints as a
script that ``run(..., nemesis=...)`` replays exactly (:meth:`~ScenarioLab.script`).
"""

from __future__ import annotations

import html
import time
import traceback
from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from .. import protocols
from ..runner import ScenarioError, resolve_spec
from ..sim import Latency, NetworkConfig, Scenario, Workload
from ..sim.nemesis import ClockSkew, NemesisError
from ..viz.labels import op_label
from .challenge_box import ChallengeHost
from .draw import ColorBook, SpacetimeCanvas, TraceIndex, draw_window, lane_marks_from, legend_html
from .panels import Panel, panel_for
from .scrubber import TimeScrubber
from .session import LabError, LabSession

__all__ = ["ScenarioLab"]

_RUN_AMOUNTS = [("+0.1 s", 0.1), ("+0.5 s", 0.5), ("+1 s", 1.0), ("+2 s", 2.0), ("to end", -1.0)]
_WINDOWS = {"raft": 0.5, "multi-paxos": 0.5}  # busy protocols: a shorter window keeps arrows apart
_GREEN, _RED, _GREY, _BLUE = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _latency_ms(lat: Latency) -> float:
    return round(lat.mean * 1000, 3)


def _make_scenario(
    protocol: Any,
    *,
    nodes: int | None,
    seed: int | None,
    duration: float | None,
    nemesis: str | None,
    variant: str | None,
    loss: float | None,
    latency: float | Latency | None,
    network: NetworkConfig | None,
    workload: Workload | None,
    options: Mapping[str, Any] | None,
) -> Scenario:
    if isinstance(protocol, Scenario):
        sc = protocol
    else:
        sc = Scenario(protocol=protocol, duration=10.0)
    changes: dict[str, Any] = {}
    for name, value in (("nodes", nodes), ("seed", seed), ("duration", duration), ("nemesis", nemesis),
                        ("variant", variant), ("workload", workload)):
        if value is not None:
            changes[name] = value
    net = network if network is not None else sc.network
    if loss is not None:
        net = NetworkConfig(latency=net.latency, loss=loss, duplicate=net.duplicate,
                            link_latency=net.link_latency, client_latency=net.client_latency)
    if latency is not None:
        lat = latency if isinstance(latency, Latency) else Latency.uniform(latency * 0.0005, latency * 0.0015)
        net = NetworkConfig(latency=lat, loss=net.loss, duplicate=net.duplicate,
                            link_latency=net.link_latency, client_latency=net.client_latency)
    if net is not sc.network:
        changes["network"] = net
    if options is not None:
        changes["options"] = tuple(sorted(dict(options).items()))
    return sc.replace(**changes) if changes else sc


def _parse_options(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.replace(",", " ").split():
        if "=" not in part:
            raise LabError(f"options are written key=value (for example r=2 w=2), not {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _splits(nodes: tuple[str, ...]) -> list[tuple[str, tuple[tuple[str, ...], ...]]]:
    """Partitions to offer: each node alone, then the first k nodes against the rest."""
    out = []
    for n in nodes:
        rest = tuple(m for m in nodes if m != n)
        out.append((f"{n} | {','.join(rest)}", ((n,), rest)))
    for k in range(2, len(nodes) // 2 + 1):
        a, b = nodes[:k], nodes[k:]
        out.append((f"{','.join(a)} | {','.join(b)}", (a, b)))
    return out


class ScenarioLab(ChallengeHost):
    """The dashboard.  ``protocol`` is a registered name, a spec, or a whole :class:`Scenario`.

    Keywords change the scenario: ``nodes``, ``seed``, ``duration`` (simulated
    seconds), ``nemesis`` (``"none"``, ``"random"``, a fault kind, or a script
    such as ``"1 crash n1; 2 restart n1"``), ``variant``, ``loss`` (0..1),
    ``latency`` (mean one-way delay in milliseconds, or a :class:`Latency`),
    ``network``, ``workload``, ``options``.  ``at`` is the moment the lab starts
    at (and returns to on ``Reset``); ``window`` is how many simulated seconds
    the diagram shows (1 s; 0.5 s for the chatty Raft and Multi-Paxos).
    ``challenge`` (a :class:`~consensus_lab.challenges.Challenge`) puts its goal,
    prediction, hints and "solved" banner above the dashboard; every action
    checks it.
    """

    def __init__(
        self,
        protocol: Any = "broadcast",
        /,
        *,
        nodes: int | None = None,
        seed: int | None = None,
        duration: float | None = None,
        nemesis: str | None = None,
        variant: str | None = None,
        loss: float | None = None,
        latency: float | Latency | None = None,
        network: NetworkConfig | None = None,
        workload: Workload | None = None,
        options: Mapping[str, Any] | None = None,
        at: float = 0.0,
        window: float | None = None,
        snapshot_every: float | None = None,
        pause_on_violation: bool = True,
        challenge: Any = None,
    ) -> None:
        try:
            scenario = _make_scenario(protocol, nodes=nodes, seed=seed, duration=duration, nemesis=nemesis,
                                      variant=variant, loss=loss, latency=latency, network=network,
                                      workload=workload, options=options)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        if window is None:
            window = _WINDOWS.get(scenario.protocol_name, 1.0)
        if window <= 0:
            raise ValueError(f"window must be > 0 simulated seconds, got {window!r}")
        self.at = float(at)
        self.window = float(window)
        self._snapshot_every = snapshot_every
        self._pause = pause_on_violation
        self.colors = ColorBook()
        self.canvas = SpacetimeCanvas()
        self.last_action_ms: float | None = None
        self._view_t: float | None = None  # None: live
        self._stepped = False  # the last action was a Step: ring the event it processed
        self._ring: int | None = None
        self._build_widgets()
        self._start(scenario)
        self.redraw()
        self._attach_challenge(challenge)

    @classmethod
    def for_challenge(cls, challenge_id: str) -> Any:
        """The lab of a registered challenge, with the challenge shown (``"05-block-participant"``)."""
        from .. import challenges

        return challenges.get(challenge_id).lab()

    # --- the model --------------------------------------------------------------------------------

    def _start(self, scenario: Scenario) -> None:
        spec = resolve_spec(scenario.protocol)
        self.spec = spec
        self.panel: Panel = panel_for(spec.name)
        every = self._snapshot_every or min(0.05, max(0.005, scenario.duration / 200))
        self.session = LabSession(scenario, snapshot_every=every, pause_on_violation=self._pause,
                                  down_view=self.panel.down_view)
        self.index = TraceIndex(self.session.sim.workload.clients)
        self._mark_cache: dict[int, Any] = {}  # snapshot id -> lane marks (snapshots live as long as the session)
        self._view_t = None
        if self.at > 0:
            self.session.run_to(self.at)
        self._sync_settings(scenario)
        self._sync_choices()
        self.scrubber.slider.step = every

    @property
    def scenario(self) -> Scenario:
        return self.session.scenario

    @property
    def now(self) -> float:
        return self.session.now

    # --- widgets ------------------------------------------------------------------------------------

    def _button(self, label: str, tip: str, handler, style: str = "") -> W.Button:
        b = W.Button(description=label, tooltip=tip, button_style=style, layout=W.Layout(width="auto"))
        b.add_class(f"cl-btn-{label.lower()}")
        b.on_click(lambda _b: self._do(label, handler))
        self.buttons[label] = b
        return b

    def _build_widgets(self) -> None:
        small = {"description_width": "initial"}
        self.buttons: dict[str, W.Button] = {}
        try:
            names = protocols.names()
        except Exception:  # a protocol module that does not import must not take the lab down with it
            names = []
        self.w_protocol = W.Dropdown(options=names, description="protocol", style=small, layout=W.Layout(width="190px"))
        self.w_variant = W.Dropdown(options=["correct"], description="variant", style=small,
                                    layout=W.Layout(width="250px"))
        self.w_nodes = W.BoundedIntText(value=3, min=1, max=64, description="nodes", style=small,
                                        layout=W.Layout(width="105px"))
        self.w_seed = W.IntText(value=0, description="seed", style=small, layout=W.Layout(width="110px"))
        self.w_loss = W.BoundedFloatText(value=0.0, min=0.0, max=1.0, step=0.05, description="loss", style=small,
                                         layout=W.Layout(width="110px"))
        self.w_latency = W.BoundedFloatText(value=10.0, min=0.0, max=10000.0, step=5.0, description="latency (ms)",
                                            style=small, layout=W.Layout(width="150px"))
        self.w_duration = W.BoundedFloatText(value=10.0, min=0.1, max=3600.0, step=1.0, description="duration (s)",
                                             style=small, layout=W.Layout(width="150px"))
        self.w_nemesis = W.Text(description="faults", placeholder="none | random | 1 crash n1; 2 restart n1",
                                style=small, layout=W.Layout(width="420px"))
        self.w_options = W.Text(description="options", placeholder="e.g. r=2 w=2", style=small,
                                layout=W.Layout(width="250px"))
        self.w_protocol.observe(self._protocol_changed, names="value")
        reset = self._button("Reset", "start again from time 0 with the settings above", self._reset, "primary")
        replay = self._button("Replay", "run the settings above from the start to the end, with the faults you made "
                              "by hand; then drag the time slider through the run", self._replay, "primary")
        settings = W.VBox([
            W.HBox([self.w_protocol, self.w_variant, self.w_nodes, self.w_seed, self.w_loss]),
            W.HBox([self.w_latency, self.w_duration, self.w_nemesis]),
            W.HBox([self.w_options, reset, replay,
                    W.HTML('<span style="color:#666;font-size:12px">&nbsp;settings take effect on <b>Reset</b> '
                           "or <b>Replay</b> (a new seed there is another run)</span>")],
                   layout=W.Layout(align_items="center")),
        ])

        self.w_amount = W.Dropdown(options=_RUN_AMOUNTS, value=0.5, layout=W.Layout(width="80px"))
        self.w_node = W.Dropdown(options=["n1"], layout=W.Layout(width="66px"))
        self.w_split = W.Dropdown(options=[("n1 | n2", (("n1",), ("n2",)))], layout=W.Layout(width="170px"))
        self.w_skew = W.BoundedFloatText(value=-1.0, min=-60.0, max=60.0, step=0.1, description="clock ±s",
                                         style={"description_width": "initial"}, layout=W.Layout(width="125px"))
        for w, cls in ((self.w_amount, "cl-amount"), (self.w_node, "cl-node"), (self.w_split, "cl-split"),
                       (self.w_skew, "cl-skew"), (self.w_options, "cl-options")):
            w.add_class(cls)
        actions = W.HBox([
            self._button("Step", "process the next event", self._step, "info"),
            self._button("Run", "let simulated time pass (amount on the right)", self._run, "info"),
            self.w_amount,
            W.HTML("&nbsp;&nbsp;node"),
            self.w_node,
            self._button("Crash", "crash the node picked on the left (it keeps only its durable storage)",
                         self._crash, "danger"),
            self._button("Restart", "restart the node picked on the left", self._restart, "success"),
            W.HTML("&nbsp;&nbsp;split"),
            self.w_split,
            self._button("Partition", "cut the network into the groups picked on the left", self._partition, "warning"),
            self._button("Heal", "repair every link", self._heal, "success"),
            self._button("Drop", "lose the message that would arrive next", self._drop, ""),
            self.w_skew,
            self._button("Skew", "set the clock of the node picked on the left off by the seconds on the left",
                         self._skew, ""),
        ], layout=W.Layout(flex_flow="row wrap", align_items="center"))

        self.w_title = W.HTML()
        self.w_picture = W.Image(format="png", layout=W.Layout(width="auto", max_width="100%"))
        self.w_picture.add_class("cl-picture")
        self.w_legend = W.HTML()
        self.scrubber = TimeScrubber(self._scrub)
        self.w_status = W.HTML()
        self.w_status.add_class("cl-status")
        self.w_state = W.HTML()
        self.w_state.add_class("cl-state")
        self.w_lights = W.HTML(layout=W.Layout(width="42%"))
        self.w_lights.add_class("cl-lights")
        self.w_history = W.HTML(layout=W.Layout(width="58%"))
        self.w_history.add_class("cl-history")
        self.w_log = W.HTML()
        self.w_log.add_class("cl-log")
        self.widget = W.VBox([
            self.w_title,
            settings,
            actions,
            self.w_status,
            self.w_picture,
            self.w_legend,
            self.scrubber.box,
            self.w_state,
            W.HBox([self.w_lights, self.w_history], layout=W.Layout(align_items="flex-start")),
            self.w_log,
        ], layout=W.Layout(border="1px solid #d0d0d0", padding="6px 10px"))
        self.widget.add_class("cl-lab")

    def _protocol_changed(self, change) -> None:
        try:
            spec = protocols.get(change["new"])
        except KeyError:
            return
        self.w_variant.options = list(spec.variants)
        self.w_variant.value = "correct"
        self.w_nodes.min, self.w_nodes.max = spec.min_nodes, spec.max_nodes
        self.w_nodes.value = spec.default_nodes
        self.w_options.value = ""

    def _sync_settings(self, sc: Scenario) -> None:
        spec = self.spec
        if spec.name not in self.w_protocol.options:
            self.w_protocol.options = [*self.w_protocol.options, spec.name]
        self.w_protocol.unobserve(self._protocol_changed, names="value")
        try:
            self.w_protocol.value = spec.name
        finally:
            self.w_protocol.observe(self._protocol_changed, names="value")
        self.w_variant.options = list(spec.variants)
        self.w_variant.value = sc.variant
        self.w_nodes.min, self.w_nodes.max = spec.min_nodes, spec.max_nodes
        self.w_nodes.value = len(self.session.node_ids)
        self.w_seed.value = sc.seed
        self.w_loss.value = sc.network.loss
        self.w_latency.value = _latency_ms(sc.network.latency)
        self.w_duration.value = sc.duration
        self.w_nemesis.value = sc.nemesis
        self.w_options.value = " ".join(f"{k}={v}" for k, v in sc.options)
        self._shown = self._settings()

    def _settings(self) -> dict[str, Any]:
        return {
            "protocol": self.w_protocol.value, "variant": self.w_variant.value, "nodes": self.w_nodes.value,
            "seed": self.w_seed.value, "loss": self.w_loss.value, "latency": self.w_latency.value,
            "duration": self.w_duration.value, "nemesis": self.w_nemesis.value, "options": self.w_options.value,
        }

    def _sync_choices(self) -> None:
        ids = self.session.node_ids
        if tuple(self.w_node.options) != ids:
            self.w_node.options = list(ids)
            live = [n for n in ids if self.session.sim.nodes.get(n) is not None]
            self.w_node.value = live[0] if live else ids[0]  # a node Crash can act on
        splits = _splits(ids)
        if [s[0] for s in self.w_split.options] != [s[0] for s in splits]:
            self.w_split.options = splits
            self.w_split.value = splits[0][1]

    # --- actions --------------------------------------------------------------------------------

    def _do(self, label: str, handler) -> None:
        """Run one button's action; report what happened (or why not) and redraw."""
        t0 = time.perf_counter()
        kind, message = "ok", ""
        try:
            message = handler() or ""
        except (LabError, ScenarioError, NemesisError) as exc:
            kind, message = "warn", str(exc)
        except Exception as exc:  # a protocol bug, say: show it, never lose it
            kind = "error"
            message = f"{type(exc).__name__}: {exc}"
            self._error_detail = traceback.format_exc()
        else:
            self._error_detail = ""
        self._view_t = None
        self._stepped = label == "Step" and kind == "ok"
        try:
            self.redraw()
        except Exception as exc:
            kind, message = "error", f"could not draw: {type(exc).__name__}: {exc}"
            self._error_detail = traceback.format_exc()
        if kind != "error":
            self._challenge_after_action()
        self.last_action_ms = (time.perf_counter() - t0) * 1000
        self._status(label, kind, message)

    def _status(self, label: str, kind: str, message: str) -> None:
        color = {"ok": "#333", "warn": "#e65100", "error": _RED}[kind]
        cls = {"ok": "cl-ok", "warn": "cl-warn", "error": "cl-error"}[kind]
        ms = f" · {self.last_action_ms:.0f} ms" if self.last_action_ms is not None else ""
        detail = ""
        if kind == "error" and getattr(self, "_error_detail", ""):
            detail = f'<pre style="font-size:11px;color:{_RED};white-space:pre-wrap">{_esc(self._error_detail)}</pre>'
        self.w_status.value = (f'<div class="{cls}" style="color:{color};font-size:12.5px">'
                               f"<b>{_esc(label)}</b>: {_esc(message)}"
                               f'<span style="color:#999">{ms}</span></div>{detail}')

    def _step(self) -> str:
        ev = self.session.step()
        self._ring = ev.index if ev is not None else None
        return f"{ev}" if ev is not None else "nothing left to do before the end of the run"

    def _run(self) -> str:
        s = self.session
        amount = self.w_amount.value
        before = len(s.sim.violations)
        if amount is None or amount < 0:
            s.run_to_end()
        else:
            s.advance(amount)
        if s.finished:
            return f"ran to the end (t = {s.duration:g} s)"
        if len(s.sim.violations) > before:
            v = s.sim.violations[before]
            return f"paused: {v.invariant} violated at t = {v.time:.4f}"
        return f"now t = {s.now:.3f} s"

    def _crash(self) -> str:
        n = self.w_node.value
        t = self.session.crash(n)
        return f"crashed {n} at t = {t:g}"

    def _restart(self) -> str:
        n = self.w_node.value
        t = self.session.restart(n)
        return f"restarted {n} at t = {t:g}"

    def _partition(self) -> str:
        groups = self.w_split.value
        t = self.session.partition(groups)
        return f"partition {' | '.join(','.join(g) for g in groups)} at t = {t:g}"

    def _heal(self) -> str:
        t = self.session.heal()
        return f"healed at t = {t:g}"

    def _drop(self) -> str:
        ev = self.session.drop_next()
        if ev is None:
            raise LabError("no message is in flight right now: Step or Run first")
        return f"will lose {ev.msg_type} {ev.peer} → {ev.node} (due at t = {ev.time:.4f})"

    def _skew(self, node: str | None = None, offset: float | None = None) -> str:
        n = self.w_node.value if node is None else node
        off = float(self.w_skew.value if offset is None else offset)
        if n not in self.session.node_ids:
            raise LabError(f"unknown node {n!r}: pick one of {', '.join(self.session.node_ids)}")
        t = self.session.act(ClockSkew(n, off, 0.0))
        return f"{n}'s clock is off by {off:+g} s from t = {t:g}"

    def _replay(self) -> str:
        script = self.session.script() if self.session.manual else None
        self._reset(nemesis=script)
        self.session.run_to_end()
        return f"replayed {self.scenario!r} to the end: drag the time slider to look back"

    def _reset(self, nemesis: str | None = None) -> str:
        now = self._settings()
        if nemesis is not None and now["nemesis"] == self._shown.get("nemesis"):
            now["nemesis"] = nemesis  # keep the faults made by hand (Replay)
        sc = self.scenario
        if now["protocol"] != sc.protocol_name:
            sc = Scenario(protocol=now["protocol"], duration=sc.duration)
        changed = {k: v for k, v in now.items() if v != self._shown.get(k)}
        latency = now["latency"] if "latency" in changed else None
        options = _parse_options(now["options"]) if "options" in changed or "protocol" in changed else None
        new = _make_scenario(
            sc, nodes=now["nodes"], seed=now["seed"], duration=now["duration"],
            nemesis=(now["nemesis"].strip() or "none"), variant=now["variant"],
            loss=now["loss"] if now["loss"] != sc.network.loss else None, latency=latency,
            network=None, workload=None, options=options,
        )
        self._start(new)
        return f"{new!r}"

    # --- the same actions from Python -------------------------------------------------------------

    def step(self) -> ScenarioLab:
        self._do("Step", self._step)
        return self

    def run(self, seconds: float | None = None) -> ScenarioLab:
        """Let ``seconds`` pass (to the end when None)."""

        def go() -> str:
            if seconds is None:
                self.session.run_to_end()
            else:
                self.session.advance(seconds)
            return f"now t = {self.session.now:.3f} s"

        self._do("Run", go)
        return self

    def crash(self, node: str) -> ScenarioLab:
        self._do("Crash", lambda: f"crashed {node} at t = {self.session.crash(node):g}")
        return self

    def restart(self, node: str) -> ScenarioLab:
        self._do("Restart", lambda: f"restarted {node} at t = {self.session.restart(node):g}")
        return self

    def partition(self, groups) -> ScenarioLab:
        """``groups``: ``"n1,n2|n3"`` or ``[["n1", "n2"], ["n3"]]``."""
        self._do("Partition", lambda: f"partition at t = {self.session.partition(groups):g}")
        return self

    def heal(self) -> ScenarioLab:
        self._do("Heal", lambda: f"healed at t = {self.session.heal():g}")
        return self

    def skew(self, node: str, offset: float) -> ScenarioLab:
        """Set ``node``'s clock ``offset`` seconds off (as the Skew button does)."""
        self._do("Skew", lambda: self._skew(node, offset))
        return self

    def drop_next(self) -> ScenarioLab:
        self._do("Drop", self._drop)
        return self

    def reset(self, **changes: Any) -> ScenarioLab:
        """Start again; keywords (``seed=...``) change the scenario first."""
        if changes:
            self._do("Reset", lambda: repr(self._start_with(changes)))
        else:
            self._do("Reset", lambda: (self._start(self.scenario), repr(self.scenario))[1])
        return self

    def replay(self, **changes: Any) -> ScenarioLab:
        """Run the scenario again from the start to the end (keywords change it first, as in reset())."""
        if changes:
            self._do("Replay", lambda: (self._start_with(changes), self.session.run_to_end(), repr(self.scenario))[2])
        else:
            self._do("Replay", self._replay)
        return self

    def _start_with(self, changes: dict[str, Any]) -> Scenario:
        keys = ("nodes", "seed", "duration", "nemesis", "variant", "loss", "latency", "network", "workload",
                "options")
        unknown = sorted(set(changes) - set(keys))
        if unknown:
            raise LabError(f"reset() takes {', '.join(keys)}; not {', '.join(unknown)}")
        sc = _make_scenario(self.scenario, **{k: changes.get(k) for k in keys})
        self._start(sc)
        return sc

    def script(self) -> str:
        """Every fault so far (the scenario's and those made by hand) as a script."""
        return self.session.script()

    def replay_scenario(self) -> Scenario:
        """A scenario that ``run()`` replays to the same trace (faults by hand included)."""
        return self.session.replay_scenario()

    # --- looking --------------------------------------------------------------------------------

    def _scrub(self, t: float) -> None:
        t0 = time.perf_counter()
        self._view_t = None if t >= self.session.now - 1e-9 else t
        self._stepped = False
        self.redraw()
        self.last_action_ms = (time.perf_counter() - t0) * 1000

    def view_at(self, t: float | None) -> ScenarioLab:
        """Show the moment ``t`` (None: the present), as the time slider does."""
        self._scrub(self.session.now if t is None else t)
        return self

    def state_at(self, t: float | None = None) -> dict[str, Any]:
        """Every node's ``state_view()`` at time ``t`` (None for a node that was down)."""
        snap = self.session.snapshot_at(t)
        return {n: (dict(v) if v is not None else None) for n, v in snap.views.items()}

    def _draw_diagram(self, ax: Any, t: float, *, legend: bool, max_labels: int, lo: float | None = None,
                      session: LabSession | None = None, index: TraceIndex | None = None) -> list:
        s = session or self.session
        index = index or self.index
        hi = max(t, self.window) if lo is None else t
        lo = max(0.0, hi - self.window) if lo is None else lo
        hi = max(hi, lo + 1e-3)
        flight = {e.msg_id: e.time for e in s.sim.in_flight()} if t >= s.now - 1e-9 else None
        marks = lane_marks_from(s.snapshots, self.panel.lane_mark, lo, t,
                                cache=self._mark_cache if s is self.session else None)
        sc = self.scenario
        # the dashboard says all this above the picture; only the static picture needs a title
        title = f"{sc.protocol_name} ({sc.variant}) · {len(s.node_ids)} nodes · seed {sc.seed}" if legend else ""
        ring = self._ring if self._stepped and t >= s.now - 1e-9 and s is self.session else None
        return draw_window(ax, s.rows, index, s.node_ids, t=t, lo=lo, hi=hi, colors=self.colors,
                           in_flight=flight, lane_marks=marks, title=title, legend=legend, max_labels=max_labels,
                           highlight=ring)

    def redraw(self) -> None:
        """Bring every view up to date (the buttons call this after acting)."""
        s = self.session
        t = s.now if self._view_t is None else self._view_t
        png, entries = self.canvas.render(lambda ax: self._draw_diagram(ax, t, legend=False, max_labels=6),
                                          len(s.node_ids), len(self.index.clients))
        self.w_picture.value = png
        self.w_legend.value = legend_html(entries)
        snap = s.snapshot_at(t)
        self.w_state.value = (f'<div style="font-weight:600;margin-top:4px">{_esc(self.panel.title)} '
                              f'<span style="font-weight:400;color:#666">at t = {snap.time:.3f} s'
                              f'{"" if snap.partition is None else " · network split " + _esc(" | ".join(",".join(g) for g in snap.partition))}'
                              f"</span></div>" + self.panel.html(snap, s.node_ids))
        self.w_lights.value = self._lights_html(t)
        self.w_history.value = self._history_html(t)
        self.w_log.value = self._log_html(t)
        self.w_title.value = self._title_html(t)
        self.scrubber.update(s.now, t)
        running = not s.finished
        for label in ("Step", "Run", "Crash", "Restart", "Partition", "Heal", "Drop", "Skew"):
            self.buttons[label].disabled = not running

    def _title_html(self, t: float) -> str:
        s = self.session
        sc = self.scenario
        state = "finished" if s.finished else "running"
        return (f'<div style="font-size:15px"><b>Scenario lab</b> · {_esc(sc.protocol_name)} '
                f"<i>{_esc(sc.variant)}</i> · {len(s.node_ids)} nodes · seed {sc.seed} · "
                f"t = {s.now:.3f} of {s.duration:g} s ({state})</div>"
                f'<div style="font-size:11.5px;color:#666">{_esc(self.spec.summary)}</div>')

    def _lights_html(self, t: float) -> str:
        s = self.session
        violated = {v.invariant: v for v in s.violations_until(t)}
        snap = s.snapshot_at(t)
        out = ['<div style="font-weight:600">Invariants <span style="font-weight:400;color:#666;font-size:11.5px">'
               "(checked after every event)</span></div>"]
        always = [i for i in s.sim.invariants if i.kind != "sometimes"]
        goals = [i for i in s.sim.invariants if i.kind == "sometimes"]
        if not always:
            out.append('<div style="color:#666;font-size:12px">this protocol declares no invariant</div>')
        for inv in always:
            v = violated.get(inv.name)
            if v is None:
                out.append(f'<div class="cl-light cl-light-ok" style="font-size:12.5px"><span style="color:{_GREEN};'
                           f'font-size:15px">●</span> {_esc(inv.name)}</div>')
            else:
                out.append(f'<div class="cl-light cl-light-bad" style="font-size:12.5px;color:{_RED}">'
                           f'<span style="font-size:15px">●</span> <b>{_esc(inv.name)}</b> violated at t = '
                           f"{v.time:.4f}: {_esc(v.message)}</div>")
        if goals:
            out.append('<div style="font-weight:600;margin-top:4px">Goals <span style="font-weight:400;color:#666;'
                       'font-size:11.5px">(reached at least once?)</span></div>')
            for g in goals:
                when = snap.goals.get(g.name)
                if when is not None and when <= t + 1e-12:
                    out.append(f'<div style="font-size:12.5px"><span style="color:{_BLUE};font-size:15px">◉</span> '
                               f"{_esc(g.name)} <span style='color:#666'>reached at t = {when:.3f}</span></div>")
                else:
                    out.append(f'<div style="font-size:12.5px"><span style="color:{_GREY};font-size:15px">○</span> '
                               f"{_esc(g.name)} <span style='color:#666'>not yet</span></div>")
        return "".join(out)

    def _history_html(self, t: float) -> str:
        s = self.session
        hist = s.history_until(t)
        model = self.spec.history_model
        if model is None:
            verdict = (f'<span style="color:#666">no linearizability check for {_esc(self.spec.name)} '
                       "(its clients do not read and write one shared object)</span>")
        else:
            res = s.verdict(t)
            if res is None:
                verdict = '<span style="color:#666">(the checkers are not installed)</span>'
            elif res.verdict == "linearizable":
                verdict = (f'<span class="cl-verdict" style="color:{_GREEN}">✔ linearizable</span> '
                           f'<span style="color:#666;font-size:11.5px">({_esc(model)} model: {_esc(res.detail)})</span>')
            elif res.verdict == "not linearizable":
                verdict = (f'<span class="cl-verdict" style="color:{_RED}">✘ not linearizable</span> '
                           f'<span style="font-size:11.5px">({_esc(model)} model) {_esc(res.detail)}</span>')
            else:
                verdict = f'<span class="cl-verdict" style="color:#e65100">? {_esc(res.detail)}</span>'
        # pair the last operations
        opened: dict[int, Any] = {}
        ops: list[tuple[Any, Any]] = []
        for op in hist:
            if op.type == "invoke":
                opened[op.process] = op
                ops.append((op, None))
            else:
                inv = opened.pop(op.process, None)
                if inv is not None:
                    for i in range(len(ops) - 1, -1, -1):
                        if ops[i][0] is inv:
                            ops[i] = (inv, op)
                            break
        rows = []
        colors = {"ok": _GREEN, "fail": _RED, "info": _GREY}
        for inv, done in ops[-7:]:
            what = op_label(inv.f, inv.key, inv.value, width=40)
            if done is None:
                res_txt, col, end = "waiting…", "#999", "–"
            else:
                res_txt = done.type + (f" → {_short(done.value)}" if done.type == "ok" and inv.f in ("read", "get") else "")
                col, end = colors.get(done.type, "#333"), f"{done.time:.3f}"
            rows.append(f'<tr><td style="padding:0 6px">p{inv.process}</td><td style="padding:0 6px">'
                        f'<code>{_esc(what)}</code></td><td style="padding:0 6px;color:{col}">{_esc(res_txt)}</td>'
                        f'<td style="padding:0 6px;color:#666">{inv.time:.3f} – {end}</td></tr>')
        n_ok = sum(1 for op in hist if op.type == "ok")
        n_fail = sum(1 for op in hist if op.type == "fail")
        n_info = sum(1 for op in hist if op.type == "info")
        table = ('<table style="font-size:12px;border-collapse:collapse">' + "".join(rows) + "</table>") if rows else \
            '<div style="color:#666;font-size:12px">no client operation yet</div>'
        return (f'<div style="font-weight:600">Client history <span style="font-weight:400;color:#666;font-size:11.5px">'
                f"({n_ok} ok, {n_fail} failed, {n_info} unknown; the last few)</span></div>"
                f'<div style="font-size:12.5px">{verdict}</div>{table}')

    def _log_html(self, t: float) -> str:
        s = self.session
        events = s.events_until(t, last=10)
        lines = "\n".join(_esc(str(e)) for e in events)
        manual = [e for e in s.log if e.time <= t + 1e-12]
        by_hand = "; ".join(f"{e.time:g} {e.text}" for e in manual)
        script = s.script()
        replay = (f'<div style="font-size:12px">replay it: <code>run({_esc(repr(s.replay_scenario()))})</code>'
                  f"{' (messages dropped by hand are not in a script)' if any(e.action is None for e in s.log) else ''}"
                  "</div>") if s.manual else ""
        return ('<div style="font-weight:600;margin-top:4px">Event log <span style="font-weight:400;color:#666;'
                'font-size:11.5px">(the last events up to the time shown)</span></div>'
                f'<pre style="font-size:11.5px;line-height:1.35;margin:2px 0;max-height:12em;overflow:auto">{lines}</pre>'
                f'<div style="font-size:12px">faults by hand: '
                f'{f"<code>{_esc(by_hand)}</code>" if by_hand else "none yet"}</div>'
                f'<div style="font-size:12px">the whole fault script: '
                f'{f"<code>{_esc(script)}</code>" if script else "none"}</div>'
                + replay)

    # --- the static picture ---------------------------------------------------------------------

    def static_picture(self, t: float | None = None, *, start: float | None = None, window: float | None = None):
        """The same scenario as one matplotlib figure: diagram, node states, invariants.

        ``t`` defaults to the lab's current time (or the end of the run when
        the lab is at time 0); the diagram shows ``[start, t]`` (by default the
        lab's window).  It does not change the lab.
        """
        import matplotlib.pyplot as plt

        s, index = self.session, self.index
        if t is None:
            t = s.now if s.now > 0 else s.duration
        t = min(float(t), s.duration)
        if t > s.now + 1e-12:  # the lab has not got there yet: play the same scenario further, elsewhere
            s = LabSession(s.replay_scenario(), snapshot_every=s.snapshot_every, pause_on_violation=False,
                           down_view=self.panel.down_view)
            s.run_to(t)
            index = TraceIndex(s.sim.workload.clients)
        w = window if window is not None else self.window
        lo = start if start is not None else max(0.0, t - w)
        n = len(s.node_ids)
        h_diag = SpacetimeCanvas.height_for(n, s.sim.workload.clients)
        h_state = 0.45 + 0.3 * (n + 1)
        h_foot, gap = 0.75, 0.95
        height = h_diag + gap + h_state + h_foot
        fig = plt.figure(figsize=(11, height), dpi=100)
        gs = fig.add_gridspec(4, 1, height_ratios=[h_diag, gap, h_state, h_foot], hspace=0.0,
                              left=0.08, right=0.83, top=1 - 0.3 / height, bottom=0.02)
        ax = fig.add_subplot(gs[0])
        self._draw_diagram(ax, t, legend=True, max_labels=30, lo=lo, session=s, index=index)
        ax2 = fig.add_subplot(gs[2])
        snap = s.snapshot_at(t)
        self.panel.draw(ax2, snap, s.node_ids)
        ax2.set_title(f"{self.panel.title} — at t = {snap.time:.3f} s", fontsize=9.5, loc="left")
        ax3 = fig.add_subplot(gs[3])
        ax3.set_axis_off()
        ax3.set_ylim(0, 1)
        violated = s.violations_until(t)
        names = [i.name for i in s.sim.invariants if i.kind != "sometimes"]
        if violated:
            text, color = "✘ " + "; ".join(str(v) for v in violated[:2]), _RED
        elif names:
            text, color = "✔ every invariant holds: " + ", ".join(names), _GREEN
        else:
            text, color = "this protocol declares no invariant", "#444444"
        ax3.text(0, 0.82, text, fontsize=8.5, color=color, va="center")
        res = s.verdict(t) if self.spec.history_model else None
        if res is not None:
            ok = res.verdict == "linearizable"
            ax3.text(0, 0.5, f"{'✔' if ok else '✘'} client history: {res.detail}", fontsize=8.5,
                     color=_GREEN if ok else (_RED if res.verdict == "not linearizable" else "#e65100"), va="center")
        script = s.script()
        ax3.text(0, 0.18, f"faults: {script or 'none'}", fontsize=8, color="#444", va="center")
        return fig

    # --- display --------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data = dict(data)
        sc = self.scenario
        data["text/plain"] = self._plain_challenge() + (f"ScenarioLab: {sc.protocol_name} ({sc.variant}), {len(self.session.node_ids)} nodes, "
                              f"seed {sc.seed}, at t = {self.session.now:g} s "
                              "(an interactive dashboard: run this notebook in Jupyter to use it)")
        return data

    def __repr__(self) -> str:
        return f"<ScenarioLab {self.scenario!r} at t={self.session.now:.3f}>"


def _short(v: Any) -> str:
    s = repr(tuple(v)) if isinstance(v, list) else repr(v)
    return s if len(s) <= 24 else s[:22] + "…"

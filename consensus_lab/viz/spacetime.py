"""Space-time (Lamport) diagrams of a run.

Time runs left to right; each node is a horizontal lane.  A delivered message
is an arrow from the sender's lane at the send time to the receiver's lane at
the delivery time, coloured by message type (the course's one mapping,
:func:`consensus_lab.viz.message_color`).  A lost message runs dotted to its
destination and ends there in a red cross; a duplicated one arrives twice
(the copy dashed).  A crash is a black cross and the lane goes grey until the
node restarts (a green triangle).  A message still in the air at the end of the
window is dotted up to the edge.  Shaded bands mark partitions.  A forced
write to the durable log (2PC's decision, say) is a box on the lane.  The
moment an invariant broke is a red line labelled with the invariant's name.
Client operations are bars in a band above the nodes, from invocation to
completion, green (ok), red (fail) or grey (info).

``plot_spacetime(run)`` draws the whole run when it is small; for a long run,
pick a window (``start``/``end``), some message types (``msg_types``) or some
nodes (``nodes``), or let ``max_messages`` cut the window short.
``highlight=`` picks what the text talks about -- message types (``"Commit"``),
one message (``"Commit n1>n3"`` or its id), client operations (an
:class:`~consensus_lab.history.Operation`, or ``("op", process)``) -- and
draws it labelled, the rest dimmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from .colors import DIM, FAULT_COLORS, HIGHLIGHT, OP_COLORS, message_color, message_colors
from .labels import op_label, short_value

__all__ = ["plot_spacetime", "message_colors", "Highlight"]

_OP_COLORS = OP_COLORS
_LOG_BOX = "#fff3c4"


def _rows(run_or_trace: Any) -> list[tuple]:
    trace = getattr(run_or_trace, "trace", run_or_trace)
    rows = getattr(trace, "_rows", None)
    if rows is not None:
        return rows
    return [(e.time, e.kind, e.node, e.peer, e.msg_id, e.msg, e.info) for e in trace]


def _msg_type(msg: Any) -> str:
    if isinstance(msg, dict):
        return str(msg.get("type", "?"))
    return type(msg).__name__


def _msg_label(msg: Any, typ: str) -> str:
    """The arrow's label: the type, and the answer of a vote (``Vote no`` must not look like a yes);
    a message with a ``caption`` (a short string such as ``x=1``) shows it after the type."""
    yes = msg.get("yes") if isinstance(msg, dict) else getattr(msg, "yes", None)
    if isinstance(yes, bool):
        return f"{typ} {'yes' if yes else 'no'}"
    caption = None if isinstance(msg, dict) else getattr(msg, "caption", None)
    return f"{typ} {caption}" if isinstance(caption, str) else typ


def _node_ids(run_or_trace: Any, rows: list[tuple]) -> list[str]:
    ids = getattr(run_or_trace, "node_ids", None)
    if ids:
        return list(ids)
    seen: list[str] = []
    for r in rows:
        if r[1] in ("start", "restart", "crash", "deliver", "send", "timer") and r[2] not in seen:
            seen.append(r[2])
    return sorted(seen, key=lambda s: (len(s), s))


class Highlight:
    """What ``highlight=`` picks: message types, single messages, client operations."""

    def __init__(self, items: Any) -> None:
        if items is None:
            items = ()
        elif isinstance(items, (str, int)) or hasattr(items, "process"):
            items = (items,)
        self.types: set[str] = set()
        self.links: set[tuple[str, str, str]] = set()
        self.ids: set[int] = set()
        self.ops: list[tuple[int, float | None]] = []
        for it in items:
            if isinstance(it, bool):
                raise ValueError(f"highlight takes message types, messages and operations, not {it!r}")
            if isinstance(it, int):
                self.ids.add(it)
            elif isinstance(it, str):
                typ, _, link = it.partition(" ")
                if link:
                    src, sep, dst = link.replace("->", ">").partition(">")
                    if not sep:
                        raise ValueError(f"a message is written 'Type src>dst', not {it!r}")
                    self.links.add((typ, src.strip(), dst.strip()))
                else:
                    self.types.add(typ)
            elif isinstance(it, tuple) and len(it) == 2 and it[0] == "op":
                self.ops.append((int(it[1]), None))
            elif hasattr(it, "process"):
                call = getattr(it, "call", None)
                if call is None and getattr(it, "type", None) == "invoke":
                    call = getattr(it, "time", None)
                self.ops.append((int(it.process), call))
            else:
                raise ValueError(f"highlight takes message types, 'Type src>dst', message ids, operations or "
                                 f"('op', process); not {it!r}")
        self.active = bool(self.types or self.links or self.ids or self.ops)
        self.msgs_active = bool(self.types or self.links or self.ids)

    def message(self, mid: int, typ: str, src: str, dst: str) -> bool:
        return mid in self.ids or typ in self.types or (typ, src, dst) in self.links

    def op(self, process: int, call: float) -> bool:
        return any(p == process and (c is None or abs(c - call) < 1e-6) for p, c in self.ops)


def _forced_writes(run: Any, rows: list[tuple]) -> list[tuple[str, float, float, bool]]:
    """(node, start, end, skipped) of each forced log write: a ``log:...`` timer, ``log_delay`` long.

    ``skipped``: the twin that waits for the write but never makes it (2PC's ``no-decision-log``).
    """
    sc = getattr(run, "scenario", None)
    delay = None
    if sc is not None:
        opts = dict(sc.options) if sc.options else {}
        delay = opts.get("log_delay")
        if delay is None:
            try:
                from ..protocols import get

                delay = get(sc.protocol_name).options.get("log_delay")
            except Exception:  # no spec, or no such option: no boxes
                delay = None
    if not delay:
        return []
    return [(r[2], r[0] - float(delay), r[0], getattr(sc, "variant", "") == "no-decision-log") for r in rows
            if r[1] == "timer" and isinstance(r[6], str) and r[6].startswith("log:")]


def plot_spacetime(
    run: Any,
    *,
    start: float | None = None,
    end: float | None = None,
    msg_types: Sequence[str] | None = None,
    nodes: Sequence[str] | None = None,
    title: str | None = None,
    ax: Any = None,
    max_messages: int | None = 400,
    show_clients: bool = True,
    show_timers: bool = False,
    label_messages: bool | None = None,
    width: float | None = None,
    highlight: Any = None,
    show_violations: bool = True,
    show_log_writes: bool = True,
):
    """Draw a run (or a trace) as a space-time diagram; returns the Figure.

    ``highlight``: what the text points at (see the module docstring), drawn
    in colour and labelled, everything else dimmed.  ``show_violations``: a
    red line, labelled with the invariant's name, where one broke.
    ``show_log_writes``: forced log writes as boxes on the lane.
    """
    rows = _rows(run)
    hl = Highlight(highlight)
    all_nodes = _node_ids(run, rows)
    lanes = [n for n in all_nodes if nodes is None or n in nodes]
    if nodes is not None:
        unknown = [n for n in nodes if n not in all_nodes]
        if unknown:
            raise ValueError(f"unknown node(s) {unknown} (nodes: {', '.join(all_nodes)})")
    t0 = rows[0][0] if rows else 0.0
    t_last = rows[-1][0] if rows else 1.0
    duration = getattr(getattr(run, "scenario", None), "duration", None)
    lo = t0 if start is None else start
    hi = (duration if duration is not None else t_last) if end is None else end
    if hi <= lo:
        raise ValueError(f"empty time window: start={lo} >= end={hi}")
    wanted = set(msg_types) if msg_types is not None else None

    # pass 1: collect messages, faults, client ops in the window
    sends: dict[int, tuple[float, str, str, str, Any]] = {}
    arrows: list[tuple[float, str, float, str, str, bool, bool, str]] = []  # ts, src, tr, dst, type, dup, lit, label
    drops: list[tuple[float, str, str, str, str, bool]] = []
    flying: list[tuple[float, str, float | None, str, str, bool]] = []  # tr None: never arrives
    delivered_once: set[int] = set()
    dropped: set[int] = set()
    crashes: list[tuple[float, str]] = []
    restarts: list[tuple[float, str]] = []
    down_spans: list[tuple[str, float, float]] = []
    down_since: dict[str, float] = {}
    part_spans: list[tuple[float, float, str]] = []
    part_open: tuple[float, str] | None = None
    timers: list[tuple[float, str, str]] = []
    client_links: list[tuple[float, str, str, bool]] = []  # time, client, node, is_request
    ops: dict[int, list] = {}
    ops_done: list[tuple[Any, float, float, str, str, bool]] = []
    cut_at: float | None = None
    n_msgs = 0
    for r in rows:
        t, kind, node, peer, mid, msg, info = r
        if kind == "send":
            sends[mid] = (t, node, peer, _msg_type(msg), msg)
        elif kind in ("deliver", "drop") and mid is not None and mid in sends:
            ts, src, dst, typ, sent = sends[mid]
            if ts < lo or ts > hi or (wanted is not None and typ not in wanted):
                continue
            if src not in lanes or dst not in lanes:
                continue
            if cut_at is None and max_messages is not None and n_msgs >= max_messages:
                cut_at = ts
            if cut_at is not None and ts >= cut_at:
                continue
            n_msgs += 1
            lit = hl.message(mid, typ, src, dst)
            if kind == "deliver" and t > hi:  # still in the air at the window's end
                if mid not in delivered_once:
                    flying.append((ts, src, t, dst, typ, lit))
                delivered_once.add(mid)
            elif kind == "deliver":
                arrows.append((ts, src, t, dst, typ, mid in delivered_once, lit, _msg_label(sent, typ)))
                delivered_once.add(mid)
            else:
                drops.append((ts, src, dst, typ, str(info), lit))
                dropped.add(mid)
        elif kind == "crash":
            crashes.append((t, node))
            down_since[node] = t
        elif kind == "restart":
            restarts.append((t, node))
            if node in down_since:
                down_spans.append((node, down_since.pop(node), t))
        elif kind in ("partition", "cut"):
            if part_open is not None:
                part_spans.append((part_open[0], t, part_open[1]))
            label = (" | ".join(",".join(g) for g in info) if kind == "partition" and info
                     else f"cut {node}-{peer}" if info == "both ways" else f"cut {node}>{peer}")
            part_open = (t, label)
        elif kind == "heal":
            if part_open is not None:
                part_spans.append((part_open[0], t, part_open[1]))
                part_open = None
        elif kind in ("request", "reply") and show_clients and lo <= t <= hi and node in lanes:
            client_links.append((t, str(peer), node, kind == "request"))
        elif kind == "timer" and show_timers:
            timers.append((t, node, str(info)))
        elif kind == "invoke" and info is not None:
            ops[info["process"]] = [t, op_label(info["f"], info.get("key"), info.get("value")), node,
                                    info["f"], info["process"]]
        elif kind == "complete" and info is not None and t <= hi:
            o = ops.pop(info["process"], None)
            if o is not None:
                label = o[1]
                if info.get("type") == "ok" and info.get("f") in ("read", "get"):
                    label += f" = {short_value(info.get('value'))}"
                ops_done.append((o[2], o[0], t, info.get("type", "ok"), label, hl.op(o[4], o[0])))
    if cut_at is not None:
        hi = cut_at
    ended = delivered_once | dropped
    for mid, (ts, src, dst, typ, _sent) in sends.items():  # sent, never delivered nor lost: in flight at the end
        if (mid not in ended and lo <= ts and (ts < hi or cut_at is None and ts == hi) and src in lanes
                and dst in lanes and (wanted is None or typ in wanted)):
            flying.append((ts, src, None, dst, typ, hl.message(mid, typ, src, dst)))
    for node, since in down_since.items():
        down_spans.append((node, since, hi))
    if part_open is not None:
        part_spans.append((part_open[0], hi, part_open[1]))
    for _proc, o in ops.items():
        ops_done.append((o[2], o[0], hi, "open", o[1], hl.op(o[4], o[0])))

    clients = sorted({c for c, *_ in ops_done if c is not None}) if show_clients else []
    y_of = {n: i for i, n in enumerate(reversed(lanes))}
    base = len(lanes)
    cy = {c: base + 0.6 + 0.55 * i for i, c in enumerate(reversed(clients))}
    height = 1.2 + 0.55 * len(lanes) + (0.35 * len(clients) if clients else 0)
    own = ax is None  # lay the figure out only when it is ours
    if own:
        fig, ax = plt.subplots(figsize=(width or 11, max(2.6, height)), dpi=100)
    else:
        fig = ax.figure
    ax.set_xlim(lo, hi + (hi - lo) * 0.01)
    top = (max(cy.values()) + 0.5) if cy else base - 0.3
    ax.set_ylim(-0.7, top)

    for a, b, label in part_spans:
        a, b = max(a, lo), min(b, hi)
        if b > a:
            ax.axvspan(a, b, color=FAULT_COLORS["partition"], alpha=0.35, lw=0, zorder=0)
            ax.text(a, -0.62, f" partition {label}", fontsize=7, color="#e65100", va="bottom", ha="left", zorder=1)
    for n in lanes:
        ax.axhline(y_of[n], color="#444444", lw=1.0, zorder=1)
    for n, a, b in down_spans:
        if n in y_of and b > lo and a < hi:
            ax.plot([max(a, lo), min(b, hi)], [y_of[n]] * 2, color=FAULT_COLORS["down"], lw=3.5, zorder=2,
                    solid_capstyle="butt")
    log_writes = [(n, a, b, skip) for n, a, b, skip in (_forced_writes(run, rows) if show_log_writes else [])
                  if n in y_of and b >= lo and a <= hi]
    span = hi - lo
    for n, a, b, skip in log_writes:
        a2, b2 = max(a, lo), min(b, hi)
        ax.add_patch(Rectangle((a2, y_of[n] - 0.13), b2 - a2, 0.26, facecolor="white" if skip else _LOG_BOX,
                               edgecolor="#8c6d31", lw=0.9, ls="--" if skip else "-", zorder=2.5))
        if b2 - a2 > span * 0.04:
            ax.text((a2 + b2) / 2, y_of[n], "no log write" if skip else "log", fontsize=6.5, ha="center",
                    va="center", color="#8c6d31", zorder=2.6)

    types = sorted({a[4] for a in arrows} | {d[3] for d in drops} | {f[4] for f in flying})
    colors = {t: message_color(t) for t in types}
    many = len(arrows) + len(drops) > 60
    if label_messages is None:
        label_messages = not many
    lw = 0.6 if many else 1.1
    label_gap = span * 0.045  # leave room between labels on the same pair of lanes
    last_label: dict[tuple[int, int], float] = {}
    placed: list[tuple[float, float, float]] = []  # x, y, half width of each message label drawn
    char_w = span / 170  # rough width of one label character at this figure size

    def free(x: float, y: float, half: float, dy: float = 0.3) -> bool:
        return all(abs(y - py) > dy or abs(x - px) > half + ph for px, py, ph in placed)

    def col(typ: str, lit: bool) -> str:
        return colors[typ] if lit or not hl.msgs_active else DIM

    for ts, src, tr, dst, typ, dup, lit, label in arrows:
        # a message a node sends to itself is a loop above its lane, not a line along it
        ax.annotate(
            "", xy=(tr, y_of[dst]), xytext=(ts, y_of[src]),
            arrowprops=dict(arrowstyle="-|>", color=col(typ, lit), lw=lw * (1.6 if lit else 1.0),
                            ls="--" if dup else "-", shrinkA=0, shrinkB=0, mutation_scale=7 if many else 9,
                            connectionstyle="arc3,rad=-0.5" if src == dst else "arc3"),
            zorder=4 if lit else 3,
        )
        if src == dst:
            continue  # the loop is short and would hide its label
        lane_pair = (min(y_of[src], y_of[dst]), max(y_of[src], y_of[dst]))
        show = lit or (label_messages and not hl.msgs_active)
        if show and (lit or (ts + tr) / 2 - last_label.get(lane_pair, -1e18) >= label_gap):
            last_label[lane_pair] = (ts + tr) / 2
            # halfway between two lanes, never on one (a label on n2's lane would read as n2's
            # message): a long arrow is labelled half a lane from one of its ends, whichever is free
            y0, y1 = y_of[src], y_of[dst]
            k = abs(y1 - y0)
            spots = [0.5] if k % 2 else [(min(y0, y1) + 0.5 - y0) / (y1 - y0), (max(y0, y1) - 0.5 - y0) / (y1 - y0)]
            half = char_w * (len(label) + 1) / 2
            f = next((g for g in spots if free(ts + g * (tr - ts), y0 + g * (y1 - y0), half)), None)
            if f is None and lit and k == 1:  # a label the text points at moves along its arrow, off another
                f = next((g for g in (0.25, 0.75) if free(ts + g * (tr - ts), y0 + g * (y1 - y0), half, 0.2)), None)
            if f is None and not lit:
                continue  # no free spot: an unlabelled arrow reads better than two labels on top of each other
            f = spots[0] if f is None else f
            placed.append((ts + f * (tr - ts), y0 + f * (y1 - y0), half))
            ax.text(ts + f * (tr - ts), y0 + f * (y1 - y0), label, fontsize=7 if lit else 6.5,
                    color=colors[typ], ha="center", va="center", zorder=5, fontweight="bold" if lit else "normal",
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75))
    flight = sorted(a[2] - a[0] for a in arrows)
    typical = flight[len(flight) // 2] if flight else span * 0.03
    for ts, src, tr, dst, typ, lit in flying:
        whole = (tr - ts) if tr is not None else typical
        xe = min(hi, ts + (whole if tr is not None else 0.7 * typical))
        frac = (xe - ts) / max(whole, 1e-12)
        ax.plot([ts, xe], [y_of[src], y_of[src] + (y_of[dst] - y_of[src]) * frac], color=col(typ, lit), lw=lw,
                ls=":", zorder=3)
    for ts, src, dst, typ, _why, lit in drops:
        y0, y1 = y_of[src], y_of[dst]
        xe = min(ts + typical, hi)
        ax.plot([ts, xe], [y0, y0 + (y1 - y0) * (xe - ts) / max(typical, 1e-12)], color=col(typ, lit), lw=lw,
                ls=":", zorder=3)
        if xe >= ts + typical:  # the cross where it would have arrived (not past the window's edge)
            ax.plot([xe], [y1], marker="x", color=FAULT_COLORS["lost"], ms=6, mew=1.7, zorder=4)
        if lit and y1 != y0:  # a lost message the text talks about is named, like a delivered one: between
            k = abs(y1 - y0)  # two lanes, never on one
            g = 0.5 if k % 2 else (min(y0, y1) + 0.5 - y0) / (y1 - y0)
            g *= min(1.0, (xe - ts) / max(typical, 1e-12))
            ax.text(ts + g * typical, y0 + g * (y1 - y0), f"{typ} lost", fontsize=7, color=colors[typ],
                    ha="center", va="center", zorder=5, fontweight="bold", bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.75))
    for t, n in crashes:
        if n in y_of and lo <= t <= hi:
            ax.plot([t], [y_of[n]], marker="X", color=FAULT_COLORS["crash"], ms=10, zorder=5)
    for t, n in restarts:
        if n in y_of and lo <= t <= hi:
            ax.plot([t], [y_of[n]], marker=">", color=FAULT_COLORS["restart"], ms=8, zorder=5)
    for t, n, _name in timers:
        if n in y_of and lo <= t <= hi:
            ax.plot([t], [y_of[n]], marker="o", color="#555555", ms=2.5, zorder=4)
    for t, client, node, is_request in client_links:
        if client in cy and node in y_of:
            ax.plot([t, t], [cy[client], y_of[node]], color="#9e9e9e", lw=0.6, ls=":", zorder=2)
            ax.plot([t], [y_of[node] if is_request else cy[client]], marker="v" if is_request else "^",
                    color="#9e9e9e", ms=3, zorder=2)
    label_end: dict[str, float] = {}
    for c, a, b, typ, label, lit in sorted(ops_done, key=lambda o: o[1]):
        if c not in cy or b < lo or a > hi:
            continue
        a2, b2 = max(a, lo), min(b, hi)
        color = _OP_COLORS.get(typ, "#9e9e9e") if lit or not hl.ops else DIM
        ax.plot([a2, b2], [cy[c]] * 2, color=color, lw=7 if lit else 5, solid_capstyle="butt", zorder=3)
        if hl.ops and not lit:
            continue
        w = char_w * (len(label) + 1)
        if lit or a2 >= label_end.get(c, -1e18):
            x, ha = (a2, "left") if a2 + w <= hi else (max(lo, b2), "right")  # never cut at the right edge
            label_end[c] = x + w if ha == "left" else b2
            ax.text(x, cy[c] + 0.16, label, fontsize=7 if lit else 6.5, va="bottom", ha=ha, zorder=4,
                    fontweight="bold" if lit else "normal", color=HIGHLIGHT if lit else "black")

    viols = [v for v in (getattr(run, "violations", None) or []) if lo <= v.time <= hi] if show_violations else []
    at_once: dict[float, list[str]] = {}  # invariants broken by the same event share one line and one label
    for v in viols:
        at_once.setdefault(v.time, []).append(v.invariant)
    for when, names in list(at_once.items())[:3]:
        ax.axvline(when, color=FAULT_COLORS["violation"], lw=1.6, zorder=6)
        right = when > lo + span * 0.7
        name = ", ".join(names)
        ax.text(when, top, f"✘ {name} " if right else f" ✘ {name}", color=FAULT_COLORS["violation"],
                fontsize=8, fontweight="bold", ha="right" if right else "left", va="top", zorder=7,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))

    ax.set_yticks([y_of[n] for n in lanes] + [cy[c] for c in clients])
    ax.set_yticklabels(lanes + [f"client {c}" for c in clients], fontsize=9)
    ax.set_xlabel("simulated time (s)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)

    handles = [Line2D([0], [0], color=colors[t], lw=1.5, label=t) for t in types]
    extra = []
    if drops:
        extra.append(Line2D([0], [0], marker="x", color=FAULT_COLORS["lost"], ls=":", lw=1, label="lost"))
    if flying:
        extra.append(Line2D([0], [0], color="#555555", ls=":", lw=1.2, label="in flight (not delivered)"))
    if any(a[5] for a in arrows):
        extra.append(Line2D([0], [0], color=FAULT_COLORS["duplicate"], ls="--", lw=1.2, label="duplicate"))
    if any(lo <= t <= hi and n in y_of for t, n in crashes):
        extra.append(Line2D([0], [0], marker="X", color=FAULT_COLORS["crash"], lw=0, label="crash"))
    if any(lo <= t <= hi and n in y_of for t, n in restarts):
        extra.append(Line2D([0], [0], marker=">", color=FAULT_COLORS["restart"], lw=0, label="restart"))
    if any(not w[3] for w in log_writes):
        extra.append(Patch(facecolor=_LOG_BOX, edgecolor="#8c6d31", label="forced log write"))
    if viols:
        extra.append(Line2D([0], [0], color=FAULT_COLORS["violation"], lw=1.6, label="invariant broken"))
    if client_links:
        extra.append(Line2D([0], [0], color="#9e9e9e", ls=":", lw=1, label="client request/reply"))
    if any(b > lo and a < hi for a, b, _ in part_spans):
        extra.append(Patch(color=FAULT_COLORS["partition"], alpha=0.5, label="partition"))
    if clients:
        extra += [Patch(color=_OP_COLORS["ok"], label="op ok"), Patch(color=_OP_COLORS["info"], label="op info"),
                  Patch(color=_OP_COLORS["fail"], label="op fail")]
    if hl.active:
        extra.append(Patch(color=DIM, label="(not discussed)"))
    if handles or extra:
        ax.legend(handles=handles + extra, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
                  frameon=False, title="messages" if handles else None, title_fontsize=8)
    if title is None:
        sc = getattr(run, "scenario", None)
        if sc is not None:
            title = f"{sc.protocol_name} ({sc.variant}), seed {sc.seed}"
    if cut_at is not None:
        title = (title + " — " if title else "") + f"first {max_messages} messages"
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    if own:
        fig.tight_layout()
    return fig

"""Fast pictures for the scenario lab: a space-time diagram of a window of time.

:func:`consensus_lab.viz.plot_spacetime` draws one arrow artist and one label
per message, which is right for a lesson's figure but takes most of a second
for a busy window.  The lab redraws after every click, so this module draws
the same picture -- the same marks and colours -- with a handful of
collections (one quiver for all arrows), on one reused figure, in a few tens
of milliseconds.

It reads the trace incrementally (:class:`TraceIndex`), so a redraw only looks
at the events inside the window.  Message colours come from the course's one
mapping (:func:`consensus_lab.viz.message_color`), so a type has the same
colour in the lab as in every lesson's figure.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..viz.colors import OP_COLORS, legend_strip, message_color
from ..viz.labels import op_label

__all__ = ["TraceIndex", "ColorBook", "SpacetimeCanvas", "draw_window", "legend_html", "lane_marks_from"]

_OP_COLORS = OP_COLORS
_DOWN = "#cccccc"
_PART = "#ffcc80"
_NOW = "#1565c0"


def _msg_type(msg: Any) -> str:
    if isinstance(msg, dict):
        return str(msg.get("type", "?"))
    return type(msg).__name__


def _short(v: Any) -> str:
    s = repr(tuple(v)) if isinstance(v, list) else repr(v)
    return s if len(s) <= 14 else s[:12] + "…"


class ColorBook:
    """A colour per message type: the course's one mapping (:func:`consensus_lab.viz.message_color`)."""

    def __init__(self) -> None:
        self.colors: dict[str, str] = {}

    def __getitem__(self, typ: str) -> str:
        c = self.colors.get(typ)
        if c is None:
            c = self.colors[typ] = message_color(typ)
        return c


class TraceIndex:
    """What a picture needs from a trace, built as the trace grows.

    ``sends[mid] = (t, src, dst, type)``; ``ends[mid]`` the deliveries and
    drops of that message ``(t, kind, info)``; ``faults`` the crashes,
    restarts, partitions and heals; ``ops`` the client operations, each on
    the lane of its client slot (a client whose operation timed out comes
    back as a new process, Jepsen-style, but keeps its lane).
    """

    def __init__(self, n_clients: int = 0) -> None:
        self.n = 0
        self.sends: dict[int, tuple[float, str, str, str]] = {}
        self.ends: dict[int, list[tuple[float, str, Any]]] = {}
        self.faults: list[tuple[float, str, Any, Any, Any]] = []
        self.ops: list[list] = []  # [lane, t_invoke, t_end | None, type, label]
        self.n_clients = n_clients
        self.clients: list[str] = [f"c{i}" for i in range(n_clients)]
        self._open: dict[int, int] = {}

    def lane(self, process: int, client: str) -> str:
        return f"c{process % self.n_clients}" if self.n_clients else client

    def update(self, rows: Sequence[tuple]) -> None:
        sends, ends, faults, ops, opened = self.sends, self.ends, self.faults, self.ops, self._open
        for i in range(self.n, len(rows)):
            t, kind, node, peer, mid, msg, info = rows[i]
            if kind == "send":
                sends[mid] = (t, node, peer, _msg_type(msg))
            elif kind == "deliver" or kind == "drop":
                if mid is not None:
                    ends.setdefault(mid, []).append((t, kind, info))
            elif kind in ("crash", "restart", "partition", "cut", "heal", "loss"):
                faults.append((t, kind, node, peer, info))
            elif kind == "invoke" and isinstance(info, dict):
                lane = self.lane(info["process"], node)
                if lane not in self.clients:
                    self.clients.append(lane)
                key, value = info.get("key"), info.get("value")
                label = op_label(info.get("f"), key, value, width=22)
                opened[info["process"]] = len(ops)
                ops.append([lane, t, None, "open", label])
            elif kind == "complete" and isinstance(info, dict):
                j = opened.pop(info.get("process"), None)
                if j is not None:
                    op = ops[j]
                    op[2], op[3] = t, info.get("type", "ok")
                    if op[3] == "ok" and info.get("f") in ("read", "get"):
                        op[4] += f" = {_short(info.get('value'))}"
        self.n = len(rows)


def _spans(faults, lo: float, hi: float, t: float):
    """Down spans per node and partition spans, clipped to [lo, min(hi, t)]."""
    end = min(hi, t)
    down: list[tuple[str, float, float]] = []
    since: dict[str, float] = {}
    parts: list[tuple[float, float, str]] = []
    part_open: tuple[float, str] | None = None
    marks: list[tuple[float, str, str]] = []
    for ft, kind, node, peer, info in faults:
        if ft > t:
            break
        if kind == "crash":
            since[node] = ft
            marks.append((ft, node, "crash"))
        elif kind == "restart":
            if node in since:
                down.append((node, since.pop(node), ft))
            marks.append((ft, node, "restart"))
        elif kind in ("partition", "cut"):
            if part_open is not None:
                parts.append((part_open[0], ft, part_open[1]))
            label = " | ".join(",".join(g) for g in info) if kind == "partition" and info else f"cut {node}>{peer}"
            part_open = (ft, label)
        elif kind == "heal" and part_open is not None:
            parts.append((part_open[0], ft, part_open[1]))
            part_open = None
    for node, s in since.items():
        down.append((node, s, end))
    if part_open is not None:
        parts.append((part_open[0], end, part_open[1]))
    down = [(n, max(a, lo), min(b, end)) for n, a, b in down if b >= lo and a <= end]
    parts = [(max(a, lo), min(b, end), label) for a, b, label in parts if b >= lo and a <= end]
    marks = [m for m in marks if lo <= m[0] <= end]
    return down, parts, marks


def draw_window(
    ax: Any,
    rows: Sequence[tuple],
    index: TraceIndex,
    node_ids: Sequence[str],
    *,
    t: float,
    lo: float,
    hi: float,
    colors: ColorBook,
    in_flight: Mapping[int, float] | None = None,
    lane_marks: Sequence[tuple[str, float, float, str, str]] = (),
    title: str | None = None,
    show_clients: bool = True,
    max_messages: int = 800,
    max_labels: int = 24,
    legend: bool = True,
    now_label: str | None = None,
    highlight: int | None = None,
) -> list[tuple[str, str, str]]:
    """Draw the window ``[lo, hi]`` of a trace as it stood at time ``t`` (``t <= hi``).

    Messages sent by ``t`` and not yet delivered are drawn dotted, heading for
    where they will land.  ``lane_marks`` are ``(node, start, end, colour, label)``
    bands behind lanes (the Raft leader, for example).  ``highlight`` is the
    index of a trace row to ring (the event a step just processed).  Returns
    the legend entries ``(kind, colour, label)`` of what is in the picture.
    """
    index.update(rows)
    lanes = list(node_ids)
    clients = [c for c in index.clients] if show_clients else []
    y_of = {n: i for i, n in enumerate(reversed(lanes))}
    base = len(lanes)
    cy = {c: base + 0.55 + 0.5 * i for i, c in enumerate(reversed(clients))}
    top = (max(cy.values()) + 0.45) if cy else base - 0.35
    span = hi - lo
    ax.set_xlim(lo, hi + span * 0.01)
    ax.set_ylim(-0.75, top)

    # the window's rows
    i0 = bisect.bisect_left(rows, lo, key=lambda r: r[0])
    i1 = bisect.bisect_right(rows, t + 1e-12, key=lambda r: r[0])
    mids: list[int] = []
    seen: set[int] = set()
    for j in range(i0, i1):
        r = rows[j]
        k = r[1]
        if (k == "send" or k == "deliver" or k == "drop") and r[4] is not None and r[4] not in seen:
            seen.add(r[4])
            mids.append(r[4])
    if len(mids) > max_messages:
        mids = mids[-max_messages:]

    ax_x, ax_y, ax_u, ax_v, ax_c = [], [], [], [], []
    dup_segs, dup_cols = [], []
    fly_segs, fly_cols = [], []
    drop_segs, drop_cols, drop_x, drop_y = [], [], [], []
    lost: list[tuple[float, float, float, str]] = []
    present: list[str] = []
    sends, ends = index.sends, index.ends
    flight = in_flight or {}
    for mid in mids:
        s = sends.get(mid)
        if s is None:
            continue
        ts, src, dst, typ = s
        if src not in y_of or dst not in y_of:
            continue
        col = colors[typ]
        if typ not in present:
            present.append(typ)
        y0, y1 = y_of[src], y_of[dst]
        got = ends.get(mid, ())
        done = False
        first = True
        for te, kind, _info in got:
            if te > t + 1e-12:
                if first:  # still in the air at t
                    fly_segs.append(((ts, y0), (min(te, hi), y0 + (y1 - y0) * (min(te, hi) - ts) / max(te - ts, 1e-12))))
                    fly_cols.append(col)
                    done = True
                break
            done = True
            if kind == "deliver":
                if first:
                    ax_x.append(ts)
                    ax_y.append(y0)
                    ax_u.append(te - ts)
                    ax_v.append(y1 - y0)
                    ax_c.append(col)
                else:
                    dup_segs.append(((ts, y0), (te, y1)))
                    dup_cols.append(col)
            else:  # drawn once the typical flight time is known: it ends in a cross at its destination
                lost.append((ts, y0, y1, col))
            first = False
        if not done and ts <= t:
            te = flight.get(mid)
            if te is not None:
                xe = min(te, hi)
                frac = (xe - ts) / max(te - ts, 1e-12)
                fly_segs.append(((ts, y0), (xe, y0 + (y1 - y0) * frac)))
                fly_cols.append(col)

    flights = sorted(ax_u)
    typical = flights[len(flights) // 2] if flights else span * 0.03
    for ts, y0, y1, col in lost:
        xe = min(ts + typical, t, hi)
        frac = (xe - ts) / max(typical, 1e-12)
        drop_segs.append(((ts, y0), (xe, y0 + (y1 - y0) * frac)))
        drop_cols.append(col)
        if frac >= 1.0 - 1e-9:
            drop_x.append(xe)
            drop_y.append(y1)

    # background: partitions, lanes, down spans, lane marks, the future
    down, parts, marks = _spans(index.faults, lo, hi, t)
    for a, b, label in parts:
        if b > a:
            ax.axvspan(a, b, color=_PART, alpha=0.35, lw=0, zorder=0)
        ax.text(a, -0.7, f" partition {label}", fontsize=7, color="#e65100", va="bottom", ha="left", zorder=1,
                clip_on=True)
    if t < hi:
        ax.axvspan(t, hi + span * 0.01, color="#f2f2f2", lw=0, zorder=0)
    ax.hlines([y_of[n] for n in lanes], lo, hi + span * 0.01, color="#444444", lw=1.0, zorder=1)
    mark_labels: dict[str, str] = {}
    if lane_marks:
        segs, cols = [], []
        for node, a, b, col, label in lane_marks:
            a, b = max(a, lo), min(b, t, hi)
            if node in y_of and b > a:
                segs.append(((a, y_of[node]), (b, y_of[node])))
                cols.append(col)
                mark_labels.setdefault(label, col)
        if segs:
            ax.add_collection(LineCollection(segs, colors=cols, linewidths=9, alpha=0.45, zorder=1,
                                             capstyle="butt"))
    if down:
        ax.add_collection(LineCollection([((a, y_of[n]), (b, y_of[n])) for n, a, b in down if n in y_of],
                                         colors=_DOWN, linewidths=4, zorder=2, capstyle="butt"))

    # messages
    if ax_x:
        many = len(ax_x) > 80
        ax.quiver(ax_x, ax_y, ax_u, ax_v, color=ax_c, angles="xy", scale_units="xy", scale=1,
                  width=0.0011 if many else 0.0016, headwidth=5.5, headlength=6.5, headaxislength=5.5,
                  minlength=0.5, zorder=3)
    if dup_segs:
        ax.add_collection(LineCollection(dup_segs, colors=dup_cols, linewidths=1.0, linestyles="--", zorder=3))
    if fly_segs:
        ax.add_collection(LineCollection(fly_segs, colors=fly_cols, linewidths=1.2, linestyles=":", zorder=3))
    if drop_segs:
        ax.add_collection(LineCollection(drop_segs, colors=drop_cols, linewidths=1.0, linestyles=":", zorder=3))
        if drop_x:
            ax.scatter(drop_x, drop_y, marker="x", color="#d62728", s=22, linewidths=1.5, zorder=4)

    # crashes and restarts
    cx = [(m[0], y_of[m[1]]) for m in marks if m[2] == "crash" and m[1] in y_of]
    rx = [(m[0], y_of[m[1]]) for m in marks if m[2] == "restart" and m[1] in y_of]
    if cx:
        ax.scatter([p[0] for p in cx], [p[1] for p in cx], marker="X", color="black", s=90, zorder=5)
    if rx:
        ax.scatter([p[0] for p in rx], [p[1] for p in rx], marker=">", color="#2ca02c", s=60, zorder=5)

    # client operations
    if clients:
        bar_segs, bar_cols = [], []
        labels: list[tuple[float, float, str]] = []
        last_label: dict[str, float] = {}
        char_w = span / 150
        j0 = 0
        ops = index.ops
        # operations are in invocation order; skip those that ended before the window
        for op in ops[j0:]:
            c, a, b, typ, label = op
            if a > t:
                break
            if b is not None and b <= t:
                shown_b, shown_typ = b, typ
            else:
                shown_b, shown_typ = t, "open"
            if shown_b < lo or c not in cy:
                continue
            a2, b2 = max(a, lo), min(shown_b, hi)
            bar_segs.append(((a2, cy[c]), (max(b2, a2 + span * 0.002), cy[c])))
            bar_cols.append(_OP_COLORS.get(shown_typ, "#9e9e9e"))
            if a2 >= last_label.get(c, -1e18):
                last_label[c] = a2 + char_w * (len(label) + 2)
                labels.append((a2, cy[c] + 0.13, label))
        if bar_segs:
            ax.add_collection(LineCollection(bar_segs, colors=bar_cols, linewidths=5, zorder=3, capstyle="butt"))
        for x, y, label in labels[-max_labels:]:
            ax.text(x, y, label, fontsize=6.5, va="bottom", ha="left", zorder=4, clip_on=True)

    # now, and the event just processed
    ax.axvline(t, color=_NOW, lw=1.2, ls="--", zorder=6)
    ringed = False
    if highlight is not None and 0 <= highlight < len(rows) and lo <= rows[highlight][0] <= hi:
        ht, hkind, hnode, _peer, _mid, hmsg, hinfo = rows[highlight]
        what = hkind if hmsg is None or hkind in ("invoke", "complete") else f"{hkind} {_msg_type(hmsg)}"
        if hkind == "timer" and hinfo is not None:
            what = f"timer {hinfo}"
        if hnode in y_of or hnode in cy:
            hy = y_of[hnode] if hnode in y_of else cy[hnode]
        elif hkind in ("invoke", "complete") and isinstance(hinfo, dict) and "process" in hinfo:
            hy = cy.get(index.lane(hinfo["process"], str(hnode)), -0.45)
        else:
            hy = -0.45  # a network-wide event: heal, partition, loss
        ax.scatter([ht], [hy], s=230, facecolors="none", edgecolors="#6a1b9a", linewidths=1.8, zorder=7)
        ax.text(ht - span * 0.006, hy + 0.16, what, fontsize=7.5, color="#6a1b9a", ha="right", va="bottom",
                zorder=7, bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
        ringed = True

    key = (tuple(lanes), tuple(clients))
    if getattr(ax, "_lab_yticks", None) != key:  # setting ticks is slow: only when the lanes change
        ax.set_yticks([y_of[n] for n in lanes] + [cy[c] for c in clients])
        ax.set_yticklabels(lanes + [f"client {c}" for c in clients], fontsize=9)
        ax.tick_params(axis="y", length=0)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("simulated time (s)", fontsize=8.5)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax._lab_yticks = key
    if title is not None:
        label_now = now_label or f"t = {t:.3f} s"
        ax.set_title(f"{title} — {label_now}" if title else "", fontsize=10, loc="left")

    entries: list[tuple[str, str, str]] = [("line", colors[typ], typ) for typ in present]
    entries.append(("now", _NOW, "now" if now_label is None else now_label))
    if ringed:
        entries.append(("ring", "#6a1b9a", "event just processed"))
    if fly_segs:
        entries.append(("dotted", "#555555", "in flight"))
    if drop_segs:
        entries.append(("x", "#d62728", "lost"))
    if dup_segs:
        entries.append(("dashed", "#555555", "duplicate"))
    if cx:
        entries.append(("X", "black", "crash"))
    if rx:
        entries.append((">", "#2ca02c", "restart"))
    if down:
        entries.append(("band", _DOWN, "node down"))
    if parts:
        entries.append(("patch", _PART, "partition"))
    for label, col in mark_labels.items():
        entries.append(("band", col, label))
    if clients:
        entries += [("patch", _OP_COLORS["ok"], "op ok"), ("patch", _OP_COLORS["fail"], "op fail"),
                    ("patch", _OP_COLORS["info"], "op info"), ("patch", _OP_COLORS["open"], "op waiting")]
    if legend and entries:
        handles = [_handle(*e) for e in entries]
        many = len(handles) > 12
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.02), fontsize=7 if many else 7.5,
                  frameon=False, handlelength=1.6, borderaxespad=0.2, labelspacing=0.2 if many else 0.35)
    return entries


def _handle(kind: str, color: str, label: str) -> Any:
    if kind == "line":
        return Line2D([0], [0], color=color, lw=1.6, label=label)
    if kind in ("dotted", "dashed", "now"):
        return Line2D([0], [0], color=color, lw=1.3, ls=":" if kind == "dotted" else "--", label=label)
    if kind in ("x", "X", ">"):
        return Line2D([0], [0], marker=kind, color=color, lw=0, label=label)
    if kind == "ring":
        return Line2D([0], [0], marker="o", markerfacecolor="none", markeredgecolor=color, lw=0, label=label)
    if kind == "band":
        return Line2D([0], [0], color=color, lw=6, alpha=0.6, label=label)
    return Patch(color=color, label=label)


def legend_html(entries: Sequence[tuple[str, str, str]]) -> str:
    """The legend of a picture as a strip of HTML (crisp, and costs the picture nothing)."""
    return legend_strip(entries)


class SpacetimeCanvas:
    """One reused figure that renders windows of a trace to PNG bytes."""

    def __init__(self, *, width: float = 9.6, dpi: int = 96, legend_width: float = 0.25) -> None:
        self.width = width
        self.dpi = dpi
        self.legend_width = legend_width
        self.fig: Figure | None = None
        self.ax: Any = None
        self._height = 0.0

    def _figure(self, height: float) -> tuple[Figure, Any]:
        if self.fig is None or abs(height - self._height) > 1e-6:
            self.fig = Figure(figsize=(self.width, height), dpi=self.dpi)
            FigureCanvasAgg(self.fig)
            self._height = height
            left = 0.85 / self.width
            right = 1 - self.legend_width / self.width
            bottom = 0.5 / height
            top = 1 - 0.12 / height
            self.ax = self.fig.add_axes((left, bottom, right - left, top - bottom))
            return self.fig, self.ax
        ax = self.ax
        # keep the axes (rebuilding them costs more than the drawing); drop what was drawn
        for group in (ax.collections, ax.patches, ax.lines, ax.texts):
            for artist in list(group):
                artist.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        return self.fig, ax

    @staticmethod
    def height_for(n_nodes: int, n_clients: int) -> float:
        return max(2.9, 1.1 + 0.46 * n_nodes + 0.36 * n_clients)

    def render(self, draw: Callable[[Any], Any], n_nodes: int, n_clients: int) -> tuple[bytes, Any]:
        """Draw with ``draw(ax)`` and return the PNG bytes and what ``draw`` returned."""
        fig, ax = self._figure(self.height_for(n_nodes, n_clients))
        result = draw(ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=self.dpi, pil_kwargs={"compress_level": 1})
        return buf.getvalue(), result


def lane_marks_from(snapshots: Iterable[Any], mark: Callable[[Mapping[str, Any]], tuple[str, str] | None],
                    lo: float, t: float, cache: dict | None = None) -> list[tuple[str, float, float, str, str]]:
    """Bands behind lanes from snapshots: ``mark(view) -> (label, colour)`` or None.

    ``cache`` (a dict kept by the caller) remembers each snapshot's marks, so a
    redraw only asks ``mark`` about snapshots it has not seen.
    """
    out: list[tuple[str, float, float, str, str]] = []
    current: dict[str, tuple[float, str, str]] = {}
    prev_t = None
    for snap in snapshots:
        if snap.time > t:
            break
        hit = cache.get(id(snap)) if cache is not None else None
        if hit is not None and hit[0] is snap:
            marks = hit[1]
        else:
            marks = {n: (mark(view) if view is not None else None) for n, view in snap.views.items()}
            if cache is not None:
                cache[id(snap)] = (snap, marks)
        for n, m in marks.items():
            cur = current.get(n)
            if cur is not None and (m is None or (m[1], m[0]) != (cur[1], cur[2])):
                if snap.time >= lo:
                    out.append((n, cur[0], snap.time, cur[1], cur[2]))
                del current[n]
                cur = None
            if m is not None and cur is None:
                current[n] = (snap.time, m[1], m[0])
        prev_t = snap.time
    if prev_t is not None:
        for n, (a, col, label) in current.items():
            out.append((n, a, t, col, label))
    return out

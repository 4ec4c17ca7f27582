"""Space-time (Lamport) diagrams of a run.

Time runs left to right; each node is a horizontal lane.  A delivered message
is an arrow from the sender's lane at the send time to the receiver's lane at
the delivery time, coloured by message type.  A lost message stops short with
a red cross; a duplicated one arrives twice (the copy dashed).  A crash is a
black cross and the lane goes grey until the node restarts (a green triangle).
Shaded bands mark partitions.  Client operations are bars in a band above the
nodes, from invocation to completion, green (ok), red (fail) or grey (info).

``plot_spacetime(run)`` draws the whole run when it is small; for a long run,
pick a window (``start``/``end``), some message types (``msg_types``) or some
nodes (``nodes``), or let ``max_messages`` cut the window short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = ["plot_spacetime", "message_colors"]

_PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
    "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
]
_OP_COLORS = {"ok": "#2ca02c", "fail": "#d62728", "info": "#9e9e9e", "open": "#9e9e9e"}


def message_colors(types: Iterable[str]) -> dict[str, str]:
    """A stable colour per message type (sorted names, so every picture agrees)."""
    return {t: _PALETTE[i % len(_PALETTE)] for i, t in enumerate(sorted(set(types)))}


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
    """The arrow's label: the type, and the answer of a vote (``Vote no`` must not look like a yes)."""
    yes = msg.get("yes") if isinstance(msg, dict) else getattr(msg, "yes", None)
    return typ if not isinstance(yes, bool) else f"{typ} {'yes' if yes else 'no'}"


def _node_ids(run_or_trace: Any, rows: list[tuple]) -> list[str]:
    ids = getattr(run_or_trace, "node_ids", None)
    if ids:
        return list(ids)
    seen: list[str] = []
    for r in rows:
        if r[1] in ("start", "restart", "crash", "deliver", "send", "timer") and r[2] not in seen:
            seen.append(r[2])
    return sorted(seen, key=lambda s: (len(s), s))


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
):
    """Draw a run (or a trace) as a space-time diagram; returns the Figure."""
    rows = _rows(run)
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
    arrows: list[tuple[float, str, float, str, str, bool, str]] = []  # t_send, src, t_recv, dst, type, dup, label
    drops: list[tuple[float, str, str, str, str]] = []
    delivered_once: set[int] = set()
    crashes: list[tuple[float, str]] = []
    restarts: list[tuple[float, str]] = []
    down_spans: list[tuple[str, float, float]] = []
    down_since: dict[str, float] = {}
    part_spans: list[tuple[float, float, str]] = []
    part_open: tuple[float, str] | None = None
    timers: list[tuple[float, str, str]] = []
    client_links: list[tuple[float, str, str, bool]] = []  # time, client, node, is_request
    ops: dict[int, list] = {}
    ops_done: list[tuple[int, float, float, str, str]] = []
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
            if kind == "deliver":
                arrows.append((ts, src, t, dst, typ, mid in delivered_once, _msg_label(sent, typ)))
                delivered_once.add(mid)
            else:
                drops.append((ts, src, dst, typ, str(info)))
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
            ops[info["process"]] = [t, f"{info['f']}({'' if info.get('key') is None else info['key']}"
                                    f"{'' if info.get('value') is None else ', ' + _short(info['value'])})", node]
        elif kind == "complete" and info is not None:
            o = ops.pop(info["process"], None)
            if o is not None:
                label = o[1]
                if info.get("type") == "ok" and info.get("f") in ("read", "get"):
                    label += f" = {_short(info.get('value'))}"
                ops_done.append((_slot_of(o[2]), o[0], t, info.get("type", "ok"), label))
    if cut_at is not None:
        hi = cut_at
    for node, since in down_since.items():
        down_spans.append((node, since, hi))
    if part_open is not None:
        part_spans.append((part_open[0], hi, part_open[1]))
    for _proc, o in ops.items():
        ops_done.append((_slot_of(o[2]), o[0], hi, "open", o[1]))

    clients = sorted({c for c, *_ in ops_done if c is not None}) if show_clients else []
    y_of = {n: i for i, n in enumerate(reversed(lanes))}
    base = len(lanes)
    cy = {c: base + 0.6 + 0.55 * i for i, c in enumerate(reversed(clients))}
    height = 1.2 + 0.55 * len(lanes) + (0.35 * len(clients) if clients else 0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(width or 11, max(2.6, height)), dpi=100)
    else:
        fig = ax.figure
    ax.set_xlim(lo, hi + (hi - lo) * 0.01)
    ax.set_ylim(-0.7, (max(cy.values()) + 0.5) if cy else base - 0.3)

    for a, b, label in part_spans:
        a, b = max(a, lo), min(b, hi)
        if b > a:
            ax.axvspan(a, b, color="#ffcc80", alpha=0.35, lw=0, zorder=0)
            ax.text(a, -0.62, f" partition {label}", fontsize=7, color="#e65100", va="bottom", ha="left", zorder=1)
    for n in lanes:
        ax.axhline(y_of[n], color="#444444", lw=1.0, zorder=1)
    for n, a, b in down_spans:
        if n in y_of and b > lo and a < hi:
            ax.plot([max(a, lo), min(b, hi)], [y_of[n]] * 2, color="#cccccc", lw=3.5, zorder=2, solid_capstyle="butt")

    types = sorted({a[4] for a in arrows} | {d[3] for d in drops})
    colors = message_colors(types)
    many = len(arrows) + len(drops) > 60
    if label_messages is None:
        label_messages = not many
    lw = 0.6 if many else 1.1
    span = hi - lo
    label_gap = span * 0.045  # leave room between labels on the same pair of lanes
    last_label: dict[tuple[int, int], float] = {}
    for ts, src, tr, dst, typ, dup, label in arrows:
        ax.annotate(
            "", xy=(tr, y_of[dst]), xytext=(ts, y_of[src]),
            arrowprops=dict(arrowstyle="-|>", color=colors[typ], lw=lw, ls="--" if dup else "-",
                            shrinkA=0, shrinkB=0, mutation_scale=7 if many else 9),
            zorder=3,
        )
        lane_pair = (min(y_of[src], y_of[dst]), max(y_of[src], y_of[dst]))
        if label_messages and (ts + tr) / 2 - last_label.get(lane_pair, -1e18) >= label_gap:
            last_label[lane_pair] = (ts + tr) / 2
            # halfway between two lanes, never on one (a label on n2's lane would read as n2's
            # message): a long arrow is labelled just above its lower end, out of the way of the short ones
            y0, y1 = y_of[src], y_of[dst]
            f = 0.5 if abs(y1 - y0) % 2 else (min(y0, y1) + 0.5 - y0) / (y1 - y0)
            ax.text(ts + f * (tr - ts), y_of[src] + f * (y_of[dst] - y_of[src]), label, fontsize=6.5, color=colors[typ],
                    ha="center", va="center", zorder=4,
                    bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.7))
    for ts, src, dst, typ, _why in drops:
        y0, y1 = y_of[src], y_of[dst]
        stub = min(span * 0.015, 0.4 * span)
        xe, ye = ts + stub, y0 + (y1 - y0) * 0.3
        ax.plot([ts, xe], [y0, ye], color=colors[typ], lw=lw, zorder=3)
        ax.plot([xe], [ye], marker="x", color="#d62728", ms=5, mew=1.5, zorder=4)
    for t, n in crashes:
        if n in y_of and lo <= t <= hi:
            ax.plot([t], [y_of[n]], marker="X", color="black", ms=10, zorder=5)
    for t, n in restarts:
        if n in y_of and lo <= t <= hi:
            ax.plot([t], [y_of[n]], marker=">", color="#2ca02c", ms=8, zorder=5)
    for t, n, _name in timers:
        if n in y_of and lo <= t <= hi:
            ax.plot([t], [y_of[n]], marker="o", color="#555555", ms=2.5, zorder=4)
    for t, client, node, is_request in client_links:
        if client in cy and node in y_of:
            ax.plot([t, t], [cy[client], y_of[node]], color="#9e9e9e", lw=0.6, ls=":", zorder=2)
            ax.plot([t], [y_of[node] if is_request else cy[client]], marker="v" if is_request else "^",
                    color="#9e9e9e", ms=3, zorder=2)
    char_w = span / 170  # rough width of one label character at this figure size
    label_end: dict[str, float] = {}
    for c, a, b, typ, label in sorted(ops_done, key=lambda o: o[1]):
        if c not in cy or b < lo or a > hi:
            continue
        a2, b2 = max(a, lo), min(b, hi)
        ax.plot([a2, b2], [cy[c]] * 2, color=_OP_COLORS.get(typ, "#9e9e9e"), lw=5, solid_capstyle="butt", zorder=3)
        if a2 >= label_end.get(c, -1e18):
            label_end[c] = a2 + char_w * (len(label) + 2)
            ax.text(a2, cy[c] + 0.16, label, fontsize=6.5, va="bottom", ha="left", zorder=4, clip_on=True)

    ax.set_yticks([y_of[n] for n in lanes] + [cy[c] for c in clients])
    ax.set_yticklabels(lanes + [f"client {c}" for c in clients], fontsize=9)
    ax.set_xlabel("simulated time (s)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)

    handles = [Line2D([0], [0], color=colors[t], lw=1.5, label=t) for t in types]
    extra = []
    if drops:
        extra.append(Line2D([0], [0], marker="x", color="#d62728", lw=0, label="lost"))
    if any(a[5] for a in arrows):
        extra.append(Line2D([0], [0], color="#555555", ls="--", lw=1.2, label="duplicate"))
    if any(lo <= t <= hi and n in y_of for t, n in crashes):
        extra.append(Line2D([0], [0], marker="X", color="black", lw=0, label="crash"))
    if any(lo <= t <= hi and n in y_of for t, n in restarts):
        extra.append(Line2D([0], [0], marker=">", color="#2ca02c", lw=0, label="restart"))
    if client_links:
        extra.append(Line2D([0], [0], color="#9e9e9e", ls=":", lw=1, label="client request/reply"))
    if any(b > lo and a < hi for a, b, _ in part_spans):
        extra.append(Patch(color="#ffcc80", alpha=0.5, label="partition"))
    if clients:
        extra += [Patch(color=_OP_COLORS["ok"], label="op ok"), Patch(color=_OP_COLORS["info"], label="op info"),
                  Patch(color=_OP_COLORS["fail"], label="op fail")]
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
    fig.tight_layout()
    return fig


def _slot_of(client: str | None) -> str | None:
    return client


def _short(v: Any) -> str:
    s = repr(tuple(v)) if isinstance(v, list) else repr(v)
    return s if len(s) <= 18 else s[:16] + "…"

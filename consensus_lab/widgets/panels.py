"""State panels: what every node looks like at one moment, protocol by protocol.

A panel turns a :class:`~consensus_lab.widgets.session.Snapshot` (each node's
``state_view()``, or ``None`` for a node that is down) into HTML for the
scenario lab and into a matplotlib drawing for the lab's static picture.

:func:`panel_for` picks a panel by protocol name: Raft (role, term, vote, the
log coloured by term, the commit index), Paxos (promised and accepted
ballots, the learned value), two-phase commit (each participant's state per
transaction beside the coordinator's decision); any other protocol gets the
generic panel, a table of ``state_view()``.  :func:`register_panel` adds one
(for a student's own protocol, for example).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from ..viz.colors import MARKED_ROLES, ROLE_COLORS
from ..viz.raft_logs import _TERM_PALETTE as _VIZ_TERMS

__all__ = [
    "Panel",
    "GenericPanel",
    "RaftPanel",
    "PaxosPanel",
    "TwoPCPanel",
    "panel_for",
    "register_panel",
    "term_color",
    "TERM_PALETTE",
]

#: colours of Raft terms 1, 2, 3, ... (compacted entries are grey): one palette for the whole course
TERM_PALETTE = list(_VIZ_TERMS)
_ROLE_COLORS = {r: ROLE_COLORS[r] for r in MARKED_ROLES}  # the course's colours (viz.colors)
_DOWN_BG = ROLE_COLORS["down"]
_TD = 'style="padding:2px 8px;border-bottom:1px solid #e0e0e0;text-align:left;vertical-align:middle"'
_TH = 'style="padding:2px 8px;border-bottom:2px solid #9e9e9e;text-align:left;font-weight:600"'


def term_color(term: int | None) -> str:
    """The colour of a Raft term, the same as in :func:`consensus_lab.viz.raft_logs.plot_logs`."""
    if not term:
        return "#bdbdbd"  # compacted into a snapshot
    return TERM_PALETTE[(term - 1) % len(TERM_PALETTE)]


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _short(v: Any, width: int = 40) -> str:
    if v is None:
        return "–"
    if isinstance(v, list | tuple) and len(v) > 8:
        inner = ", ".join(_short(x, 12) for x in v[-4:])
        s = f"[…{len(v) - 4} more, {inner}]"
    elif isinstance(v, dict) and len(v) > 6:
        items = list(v.items())[-4:]
        inner = ", ".join(f"{k}: {_short(x, 12)}" for k, x in items)
        s = f"{{…{len(v) - 4} more, {inner}}}"
    else:
        s = str(v) if isinstance(v, str) else repr(v)
    return s if len(s) <= width else s[: width - 1] + "…"


def _badge(text: str, color: str | None) -> str:
    if color is None:
        return _esc(text)
    return f'<span style="background:{color};padding:0 5px;border-radius:3px">{_esc(text)}</span>'


def _table(head: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """rows: (row style, cells as HTML)."""
    out = ['<table class="cl-table" style="border-collapse:collapse;font-size:12.5px;margin:2px 0">',
           "<tr>" + "".join(f"<th {_TH}>{h}</th>" for h in head) + "</tr>"]
    for style, cells in rows:
        out.append(f'<tr style="{style}">' + "".join(f"<td {_TD}>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


class Panel:
    """Base panel: override :meth:`rows` (and optionally :meth:`html`, :meth:`draw`)."""

    name = "generic"
    title = "node state"

    def down_view(self, storage: Mapping[str, Any]) -> dict[str, Any]:
        """What a crashed node's durable storage says (shown in its row): a few keys, plain values first."""
        keys = sorted(storage, key=str)
        plain = [k for k in keys if isinstance(storage.get(k), int | float | str | bool | type(None))]
        chosen = (plain + [k for k in keys if k not in plain])[:3]
        out = {str(k): storage.get(k) for k in chosen}
        if len(keys) > 3:
            out["…"] = f"{len(keys) - 3} more keys"
        return out

    def lane_mark(self, view: Mapping[str, Any]) -> tuple[str, str] | None:
        """A band behind the node's lane in the diagram: ``(label, colour)`` or None."""
        role = view.get("role")
        if role in ("leader", "primary"):
            return (str(role), _ROLE_COLORS[role])
        return None

    def columns(self, snap: Any, node_ids: Sequence[str]) -> list[str]:
        cols: list[str] = []
        for n in node_ids:
            view = snap.views.get(n)
            for k in view or ():
                if k not in cols:
                    cols.append(k)
        return cols

    def rows(self, snap: Any, node_ids: Sequence[str]) -> tuple[list[str], list[tuple[str, list[str], list[str]]]]:
        """Header, then per node ``(status, html cells, plain cells)``; status is up/down."""
        cols = self.columns(snap, node_ids)
        out = []
        for n in node_ids:
            view = snap.views.get(n)
            if view is None:
                stored = snap.down.get(n) or {}
                note = "down" + (" · durable storage: " + ", ".join(f"{k} = {_short(v, 24)}" if k != "…" else str(v)
                                                                 for k, v in stored.items()) if stored else "")
                cells = [note] + [""] * (len(cols) - 1) if cols else [note]
                out.append(("down", [_esc(c) for c in cells], cells))
                continue
            plain = [_short(view.get(k)) for k in cols]
            cells = []
            for k, p in zip(cols, plain, strict=True):
                if k == "role":
                    cells.append(_badge(p, _ROLE_COLORS.get(str(view.get(k)))))
                else:
                    cells.append(_esc(p))
            out.append(("up", cells, plain))
        return ["node"] + cols, out

    def html(self, snap: Any, node_ids: Sequence[str]) -> str:
        head, rows = self.rows(snap, node_ids)
        body = []
        for n, (status, cells, _plain) in zip(node_ids, rows, strict=True):
            style = f"background:{_DOWN_BG};color:#757575" if status == "down" else ""
            body.append((style, [f"<b>{_esc(n)}</b>", *cells]))
        return _table(head, body)

    def draw(self, ax: Any, snap: Any, node_ids: Sequence[str]) -> None:
        """The same table drawn with matplotlib (for the static picture)."""
        head, rows = self.rows(snap, node_ids)
        _draw_text_table(ax, head, [[n, *plain] for n, (_s, _c, plain) in zip(node_ids, rows, strict=True)],
                         [s for s, _c, _p in rows])


def _draw_text_table(ax: Any, head: Sequence[str], rows: Sequence[Sequence[str]], status: Sequence[str],
                     widths: Sequence[float] | None = None, cell_chars: int = 22) -> None:
    """A plain table; columns sized by the running nodes' cells (a down node's note spans the row)."""
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, len(rows) + 1)
    n = len(head)

    def cut(v: Any, width: int) -> str:
        text = str(v)
        return text if len(text) <= width else text[: width - 1] + "…"

    up = [r for r, st in zip(rows, status, strict=True) if st != "down"] or list(rows)
    lens = [max([len(str(h))] + [len(cut(r[i], cell_chars)) for r in up if i < len(r)]) + 2 for i, h in enumerate(head)]
    total = sum(lens)
    if widths is None:
        widths = [x / total for x in lens]
    try:  # how many monospace characters fit across the axes at 8 pt
        fig_w = ax.figure.get_size_inches()[0] * ax.get_position().width
        room = int(fig_w * 72 / (0.61 * 8.0))
    except Exception:
        room = 130
    size = 8.0 if total <= room else max(5.5, 8.0 * room / total)  # many columns: smaller type, never overlap
    room = int(room * 8.0 / size)
    xs = [sum(widths[:i]) for i in range(n)]
    top = len(rows) + 1
    for x, h in zip(xs, head, strict=True):
        ax.text(x, top - 0.5, h, fontsize=size, fontweight="bold", va="center", ha="left", family="monospace")
    ax.axhline(top - 1, color="#9e9e9e", lw=1)
    for i, (row, st) in enumerate(zip(rows, status, strict=True)):
        y = top - 1.5 - i
        if st == "down":
            ax.axhspan(y - 0.5, y + 0.5, color=_DOWN_BG, lw=0)
            note = "   ".join(str(c) for c in row[1:] if str(c))
            ax.text(xs[0], y, cut(row[0], 8), fontsize=size, va="center", ha="left", color="#757575", family="monospace")
            ax.text(xs[1] if n > 1 else 0.1, y, cut(note, int(room * (1 - (xs[1] if n > 1 else 0.1))) - 2),
                    fontsize=size, va="center", ha="left", color="#757575", family="monospace")
            continue
        for j, (x, cell) in enumerate(zip(xs, row, strict=False)):
            ax.text(x, y, cut(cell, max(4, lens[j] - 2)), fontsize=size, va="center", ha="left",
                    color="black", family="monospace")


class GenericPanel(Panel):
    """A table of every node's ``state_view()``."""


# --- Raft ---------------------------------------------------------------------------------------


class RaftPanel(Panel):
    """Role, term, vote, known leader, commit index, and the log coloured by term."""

    name = "raft"
    title = "Raft: role, term, vote, and each log coloured by term"
    log_width = 28

    def down_view(self, storage: Mapping[str, Any]) -> dict[str, Any]:
        end = storage.get("log_end", 0) or 0
        start = max(1, end - self.log_width + 1)
        terms = []
        for i in range(start, end + 1):
            e = storage.get(f"log/{i}")
            terms.append(getattr(e, "term", None))
        return {"term": storage.get("term", 0), "vote": storage.get("vote"), "log_end": end,
                "log_tail": (start, terms)}

    def lane_mark(self, view: Mapping[str, Any]) -> tuple[str, str] | None:
        role = view.get("role")
        if role == "leader":
            return ("leader", _ROLE_COLORS["leader"])
        if role == "candidate":
            return ("candidate", _ROLE_COLORS["candidate"])
        return None

    def _logs(self, snap: Any, node_ids: Sequence[str]) -> tuple[int, int, dict[str, tuple[int, list]]]:
        """The index range shown (same for every node, so columns line up) and each log."""
        logs: dict[str, tuple[int, list]] = {}
        last = 0
        for n in node_ids:
            view = snap.views.get(n)
            if view is not None:
                terms = list(view.get("log_terms") or [])
                logs[n] = (1, terms)
                last = max(last, len(terms))
            else:
                d = snap.down.get(n) or {}
                start, terms = d.get("log_tail", (1, []))
                logs[n] = (start, list(terms))
                last = max(last, start + len(terms) - 1)
        first = max(1, last - self.log_width + 1)
        return first, last, logs

    def html(self, snap: Any, node_ids: Sequence[str]) -> str:
        first, last, logs = self._logs(snap, node_ids)
        terms_seen: list[int] = []
        body = []
        for n in node_ids:
            view = snap.views.get(n)
            start, terms = logs[n]
            if view is None:
                d = snap.down.get(n) or {}
                commit = 0
                cells = [_badge("down", "#bdbdbd"), _esc(d.get("term", "?")), _esc(_short(d.get("vote"))), "–", "–"]
                style = f"background:{_DOWN_BG};color:#757575"
            else:
                commit = int(view.get("commit_index") or 0)
                role = str(view.get("role"))
                cells = [_badge(role, _ROLE_COLORS.get(role)), _esc(view.get("term")), _esc(_short(view.get("vote"))),
                         _esc(_short(view.get("leader"))), _esc(commit)]
                style = ""
            boxes = []
            for i in range(first, last + 1):
                k = i - start
                if 0 <= k < len(terms):
                    term = terms[k]
                    if term and term not in terms_seen:
                        terms_seen.append(term)
                    solid = view is not None and i <= commit
                    col = term_color(term)
                    if solid:
                        look = f"background:{col};color:white;border:1.5px solid #222"
                    else:  # held but not known committed: pale, dashed
                        look = f"background:{col}59;color:#222;border:1.5px dashed #555"
                    bar = ";box-shadow:inset -3px 0 0 #000" if view is not None and i == commit else ""
                    boxes.append(f'<span title="index {i}, term {term}" style="display:inline-block;width:17px;'
                                 f'text-align:center;{look}{bar};margin-right:1px;font-size:11px;line-height:15px">'
                                 f'{"S" if term is None else term}</span>')
                else:
                    boxes.append('<span style="display:inline-block;width:17px;margin-right:1px;'
                                 'border:1.5px solid transparent;font-size:11px;line-height:15px">&nbsp;</span>')
            shown = "".join(boxes)
            if view is None:
                d = snap.down.get(n) or {}
                end = d.get("log_end", 0)
                hidden = "" if start + len(terms) - 1 >= first or not end else " (all before this window)"
                shown += (f' <span style="font-family:sans-serif;font-size:11px">on disk: log to index {end}'
                          f"{hidden}</span>")
            cells.append(f'<span style="font-family:monospace;white-space:nowrap">{shown}</span>')
            body.append((style, [f"<b>{_esc(n)}</b>", *cells]))
        idx = f"log (indexes {first}–{last})" if last else "log (empty)"
        table = _table(["node", "role", "term", "vote", "leader", "commit", idx], body)
        legend = " ".join(f'<span style="display:inline-block;width:12px;height:12px;background:{term_color(t)};'
                          f'vertical-align:middle"></span>&nbsp;term&nbsp;{t}' for t in sorted(terms_seen))
        note = ('<div style="font-size:11.5px;color:#555">each box is a log entry and its term; solid = known '
                "committed (the black bar is the commit index), pale and dashed = not known committed, "
                f"S = in a snapshot. {legend}</div>")
        return table + note

    def draw(self, ax: Any, snap: Any, node_ids: Sequence[str]) -> None:
        from matplotlib.patches import Rectangle

        first, last, logs = self._logs(snap, node_ids)
        ax.set_axis_off()
        rows = len(node_ids)
        ax.set_ylim(-0.2, rows + 1)
        text_w = 0.42
        ax.set_xlim(0, 1)
        cols = [("node", 0.0), ("role", 0.05), ("term", 0.15), ("vote", 0.21), ("leader", 0.28), ("commit", 0.35)]
        top = rows + 1
        for label, x in cols:
            ax.text(x, top - 0.5, label, fontsize=8.5, fontweight="bold", va="center")
        ax.text(text_w, top - 0.5, f"log, indexes {first}–{last} (colour = term; solid = committed, | = commit index)"
                if last else "log (empty)", fontsize=8.5, fontweight="bold", va="center")
        ax.axhline(top - 1, color="#9e9e9e", lw=1)
        box = (1 - text_w) / max(self.log_width, 1)
        terms_seen: list[int] = []
        for r, n in enumerate(node_ids):
            y = top - 1.5 - r
            view = snap.views.get(n)
            if view is None:
                d = snap.down.get(n) or {}
                ax.axhspan(y - 0.5, y + 0.5, color=_DOWN_BG, lw=0)
                vals = [n, "down", d.get("term", "?"), _short(d.get("vote")), "–", "–"]
                commit = 0
            else:
                commit = int(view.get("commit_index") or 0)
                vals = [n, view.get("role"), view.get("term"), _short(view.get("vote")), _short(view.get("leader")), commit]
            for (_label, x), v in zip(cols, vals, strict=True):
                ax.text(x, y, str(v), fontsize=8, va="center", family="monospace",
                        color="#757575" if view is None else "black",
                        fontweight="bold" if _label == "role" and v == "leader" else "normal")
            start, terms = logs[n]
            for i in range(first, last + 1):
                k = i - start
                if not 0 <= k < len(terms):
                    continue
                term = terms[k]
                if term and term not in terms_seen:
                    terms_seen.append(term)
                col = term_color(term)
                solid = view is not None and i <= commit
                x = text_w + (i - first) * box
                ax.add_patch(Rectangle((x + box * 0.06, y - 0.33), box * 0.88, 0.66, facecolor=col,
                                       alpha=1.0 if solid else 0.35, edgecolor="black" if solid else "#555555",
                                       linestyle="-" if solid else "--", lw=0.7))
                if box > 0.012:
                    ax.text(x + box / 2, y, "S" if term is None else str(term), fontsize=6.5, ha="center", va="center",
                            color="white" if solid else "black")
                if view is not None and i == commit:
                    ax.plot([x + box * 0.97] * 2, [y - 0.4, y + 0.4], color="black", lw=2.2, solid_capstyle="butt")


# --- Paxos --------------------------------------------------------------------------------------


class PaxosPanel(Panel):
    """Acceptors' promised and accepted ballots, learners' values, proposers' progress."""

    name = "paxos"
    title = "Paxos: promised and accepted ballots, what each node learned"

    def down_view(self, storage: Mapping[str, Any]) -> dict[str, Any]:
        acc = storage.get("accepted")
        out = {"promised": str(storage.get("promised", "–"))}
        out["accepted"] = f"{acc[1]!r} in {acc[0]}" if acc else "–"
        if "learned" in storage:
            out["learned"] = storage.get("learned")
        return out

    def lane_mark(self, view: Mapping[str, Any]) -> tuple[str, str] | None:
        if view.get("phase") not in (None, "idle", "done") and view.get("ballot"):
            return ("proposing", _ROLE_COLORS["proposer"])
        return None

    def rows(self, snap: Any, node_ids: Sequence[str]):
        head = ["node", "promised", "accepted (value in ballot)", "learned", "proposer: ballot", "phase", "value"]
        out = []
        for n in node_ids:
            view = snap.views.get(n)
            if view is None:
                d = snap.down.get(n) or {}
                plain = ["down · " + _short(d.get("promised")), _short(d.get("accepted")), _short(d.get("learned")),
                         "", "", ""]
                out.append(("down", [_esc(p) for p in plain], plain))
                continue
            learned = view.get("learned")
            plain = [_short(view.get("promised")), _short(view.get("accepted")), _short(learned),
                     _short(view.get("ballot")) if "ballot" in view else "", _short(view.get("phase")) if "phase" in view else "",
                     _short(view.get("value")) if "value" in view else ""]
            cells = [_esc(p) for p in plain]
            if learned is not None:
                cells[2] = _badge(plain[2], "#c8e6c9")
            if view.get("accepted"):
                cells[1] = _badge(plain[1], "#e3f2fd")
            out.append(("up", cells, plain))
        return head, out

    def html(self, snap: Any, node_ids: Sequence[str]) -> str:
        head, rows = self.rows(snap, node_ids)
        body = []
        for n, (status, cells, _p) in zip(node_ids, rows, strict=True):
            style = f"background:{_DOWN_BG};color:#757575" if status == "down" else ""
            body.append((style, [f"<b>{_esc(n)}</b>", *cells]))
        return _table(head[:1] + head[1:], body) + (
            '<div style="font-size:11.5px;color:#555">a ballot is (round, proposer); an acceptor promises to '
            "ignore lower ballots and remembers the last value it accepted.</div>")


# --- two-phase commit -----------------------------------------------------------------------------


_TX_COLORS = {
    "commit": "#a5d6a7", "committed": "#a5d6a7", "abort": "#ef9a9a", "aborted": "#ef9a9a",
    "prepared": "#ce93d8", "voting": "#90caf9", "logging": "#90caf9",
}


class TwoPCPanel(Panel):
    """One row per recent transaction: the coordinator's decision and each participant's state."""

    name = "twopc"
    title = "Two-phase commit: the coordinator's decision and each participant's state, per transaction"
    max_txns = 8

    def down_view(self, storage: Mapping[str, Any]) -> dict[str, Any]:
        state: dict[str, str] = {}
        for key in storage:
            kind, _, txid = str(key).partition(":")
            if kind == "decision":
                state[txid] = "commit"
            elif kind == "vote":
                state.setdefault(txid, "prepared")
            elif kind == "outcome":
                v = storage.get(key)
                state[txid] = "committed" if str(v).lower().startswith("commit") else "aborted"
        return {"state": state}

    def lane_mark(self, view: Mapping[str, Any]) -> tuple[str, str] | None:
        if view.get("role") == "participant" and "prepared" in (view.get("state") or {}).values():
            return ("prepared (uncertain)", _TX_COLORS["prepared"])
        return None

    def _matrix(self, snap: Any, node_ids: Sequence[str]):
        txids: list[str] = []
        per: dict[str, dict[str, str]] = {}
        for n in node_ids:
            view = snap.views.get(n)
            states: dict[str, str] = {}
            if view is None:
                states = dict((snap.down.get(n) or {}).get("state", {}))
            elif view.get("role") == "coordinator":
                states = {t: str(o) for t, o in (view.get("decisions") or {}).items()}
                states.update({t: str(p) for t, p in (view.get("in_progress") or {}).items()})
            else:
                states = {t: str(s) for t, s in (view.get("state") or {}).items()}
            per[n] = states
            for t in states:
                if t not in txids:
                    txids.append(t)
        return txids[-self.max_txns:], per, len(txids)

    def _roles(self, snap: Any, node_ids: Sequence[str]) -> dict[str, str]:
        roles = {}
        for i, n in enumerate(node_ids):
            view = snap.views.get(n)
            if view is not None:
                roles[n] = str(view.get("role", ""))
            else:
                roles[n] = "coordinator" if i == 0 else "participant"
        return roles

    def html(self, snap: Any, node_ids: Sequence[str]) -> str:
        txids, per, total = self._matrix(snap, node_ids)
        roles = self._roles(snap, node_ids)
        head = ["transaction"] + [
            f"{_esc(n)}<br><span style='font-weight:400;font-size:11px'>"
            f"{'coordinator: decision' if roles[n] == 'coordinator' else 'participant'}"
            f"{' (down)' if snap.views.get(n) is None else ''}</span>"
            for n in node_ids
        ]
        body = []
        for t in txids:
            cells = [f"<code>{_esc(t)}</code>"]
            for n in node_ids:
                s = per[n].get(t)
                cell = _badge(s, _TX_COLORS.get(s, "#eeeeee")) if s else '<span style="color:#bbb">–</span>'
                if snap.views.get(n) is None:
                    cell = f'<span style="opacity:.55">{cell}</span>'
                cells.append(cell)
            body.append(("", cells))
        if not body:
            body.append(("", ["no transaction yet"] + [""] * len(node_ids)))
        more = f"the last {len(txids)} of {total} transactions; " if total > len(txids) else ""
        note = (f'<div style="font-size:11.5px;color:#555">{more}prepared = voted yes and waiting for the decision '
                "(a down node shows what its durable log holds).</div>")
        return _table(head, body) + note

    def draw(self, ax: Any, snap: Any, node_ids: Sequence[str]) -> None:
        txids, per, total = self._matrix(snap, node_ids)
        roles = self._roles(snap, node_ids)
        ax.set_axis_off()
        ncol = len(node_ids) + 1
        ax.set_xlim(0, ncol)
        ax.set_ylim(0, len(txids) + 1.2)
        top = len(txids) + 1.2
        ax.text(0.05, top - 0.5, "transaction", fontsize=8.5, fontweight="bold", va="center")
        for j, n in enumerate(node_ids):
            label = f"{n} {'(coord.)' if roles[n] == 'coordinator' else ''}{' down' if snap.views.get(n) is None else ''}"
            ax.text(j + 1.05, top - 0.5, label, fontsize=8.5, fontweight="bold", va="center")
        for i, t in enumerate(txids):
            y = top - 1.5 - i
            ax.text(0.05, y, t, fontsize=8, va="center", family="monospace")
            for j, n in enumerate(node_ids):
                s = per[n].get(t)
                if s:
                    ax.add_patch(_rect(j + 1.02, y - 0.38, 0.9, 0.76, _TX_COLORS.get(s, "#eeeeee")))
                    ax.text(j + 1.08, y, s, fontsize=8, va="center")


def _rect(x: float, y: float, w: float, h: float, color: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, facecolor=color, edgecolor="none")


# --- registry -------------------------------------------------------------------------------------

_PANELS: dict[str, type[Panel]] = {
    "raft": RaftPanel,
    "paxos": PaxosPanel,
    "twopc": TwoPCPanel,
}


def register_panel(protocol: str, panel: type[Panel]) -> None:
    """Use ``panel`` for the protocol called ``protocol``."""
    if not (isinstance(panel, type) and issubclass(panel, Panel)):
        raise TypeError(f"register_panel needs a Panel subclass, got {panel!r}")
    _PANELS[protocol] = panel


def panel_for(protocol: str) -> Panel:
    """The panel for a protocol name (the generic table when it has none of its own)."""
    return _PANELS.get(protocol, GenericPanel)()

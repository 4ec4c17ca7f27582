"""One visual language for the whole course: a colour per name, never per position.

Every picture (the lessons' static figures and the scenario lab alike) asks
this module for colours, so ``Commit`` is the same green in lesson 05's
diagram, in the explorer's counterexample and in the lab:

* :func:`message_color` -- a message type (``"Prepare"``, ``"AppendEntries"``);
* :func:`op_color` -- how a client operation ended (``ok``, ``fail``, ``info``, ``open``);
* :func:`op_kind_color` -- what a client operation does (``read``, ``write``, ``cas``, ``txn``);
* :func:`role_color` -- a node's role (``leader``, ``coordinator``, ``down``, ...);
* :func:`fault_color` -- a fault mark (``crash``, ``restart``, ``partition``, ``lost``, ...).

Known names come from a fixed table (analogous messages of different
protocols share a hue: ``Prepare`` opens a round in blue, its answers are
cyan, the second phase -- ``Accept``, ``AppendEntries``, ``Put`` -- orange and
olive, a decision green, a refusal red; no two types of one protocol share a
colour).  An unknown name gets a colour from a palette
chosen by a hash of the name (CRC-32, so the same in every process and under
any ``PYTHONHASHSEED``).  :func:`legend_handles` and :func:`legend_html` draw
the key.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MESSAGE_COLORS",
    "OP_COLORS",
    "OP_KIND_COLORS",
    "ROLE_COLORS",
    "MARKED_ROLES",
    "FAULT_COLORS",
    "FALLBACK_PALETTE",
    "message_color",
    "message_colors",
    "op_color",
    "op_kind_color",
    "role_color",
    "fault_color",
    "legend_handles",
    "legend_html",
    "legend_strip",
    "swatch_html",
    "DIM",
    "HIGHLIGHT",
]

_BLUE, _CYAN, _ORANGE, _OLIVE = "#1f77b4", "#17becf", "#ff7f0e", "#bcbd22"
_GREEN, _DKGREEN, _RED, _BROWN = "#2ca02c", "#006d2c", "#d62728", "#8c564b"
_PURPLE, _PINK, _GREY, _PLUM, _TAN = "#9467bd", "#e377c2", "#7f7f7f", "#7b4173", "#c49c94"

#: every message type of the course's protocols (a round opens blue, its answers cyan -- Raft's
#: elections indigo --, the second phase orange and olive, a decision green, a refusal red; no two types of one protocol share a colour)
MESSAGE_COLORS: dict[str, str] = {
    # two-phase commit
    "Prepare": _BLUE, "Vote": _CYAN, "Commit": _GREEN, "Abort": _RED, "Ack": _BROWN,
    "DecisionRequest": _PINK, "Decision": _DKGREEN,
    # Paxos and Multi-Paxos
    "Promise": _CYAN, "Accept": _ORANGE, "Accepted": _OLIVE, "Nack": _GREY, "Chosen": _DKGREEN,
    "Heartbeat": _TAN, "CatchUp": _PLUM, "Command": _PURPLE, "Entries": _PINK,
    # Raft
    "RequestVote": "#393b79", "RequestVoteReply": "#6b6ecf", "AppendEntries": _ORANGE, "AppendEntriesReply": _OLIVE,
    "InstallSnapshot": _BROWN, "InstallSnapshotReply": _TAN, "Routed": _PINK,
    # replicated stores
    "Get": _PURPLE, "GetReply": _PLUM, "Put": _ORANGE, "PutAck": _OLIVE,
    "Replicate": _ORANGE, "ReplicateAck": _OLIVE, "ViewChange": _BLUE, "ViewAccept": _CYAN,
    "ViewReject": _RED, "NewView": _GREEN, "Gossip": _BROWN, "GossipAck": _OLIVE, "GossipState": _PINK,
    "SyncRequest": _PINK, "Join": _PURPLE, "SafeTime": _PURPLE,
    # broadcast
    "Broadcast": _BLUE, "Deliver": _BLUE,
    # exercise 14 (safe retries): a request, its cancel (a refusal), the store's verdict (a decision)
    "Apply": _BLUE, "Cancel": _RED, "Outcome": _GREEN,
}

#: for names not in the table: picked by a hash of the name (never by position in a picture)
FALLBACK_PALETTE: tuple[str, ...] = (
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#636363", "#ad494a", "#a55194", "#6b6ecf", "#b5cf6b", "#e7ba52", "#d6616b",
)

#: how a client operation ended
OP_COLORS: dict[str, str] = {"ok": "#2ca02c", "fail": "#d62728", "info": "#9e9e9e", "open": "#c7c7c7"}
#: what a client operation does
OP_KIND_COLORS: dict[str, str] = {
    "read": "#1f77b4", "get": "#1f77b4", "write": "#ff7f0e", "put": "#ff7f0e", "cas": "#9467bd",
    "add": "#8c564b", "append": "#8c564b", "txn": "#17becf", "lock": "#e377c2", "unlock": "#7f7f7f",
}
#: a node's role
ROLE_COLORS: dict[str, str] = {  # teal, not the orange of partitions
    "leader": "#4db6ac", "primary": "#4db6ac", "coordinator": "#80cbc4", "candidate": "#b2dfdb",
    "proposer": "#90caf9", "follower": "#f5f5f5", "participant": "#f5f5f5", "acceptor": "#f5f5f5",
    "backup": "#f5f5f5", "learner": "#f5f5f5", "down": "#eeeeee",
}
#: roles that get a badge or a band behind their lane (the others are plain)
MARKED_ROLES = ("leader", "primary", "coordinator", "candidate", "proposer")
#: fault marks
FAULT_COLORS: dict[str, str] = {
    "crash": "#000000", "restart": "#2ca02c", "partition": "#ffcc80", "lost": "#d62728",
    "duplicate": "#555555", "down": "#cccccc", "violation": "#c62828", "clock-skew": "#6a1b9a",
    "pause": "#6a1b9a",
}
#: colour of what a figure does not point at, and of the marks that point
DIM = "#c8c8c8"
HIGHLIGHT = "#6a1b9a"


def _fallback(name: str, palette: tuple[str, ...] = FALLBACK_PALETTE) -> str:
    return palette[zlib.crc32(name.encode("utf-8")) % len(palette)]


def message_color(type_name: str) -> str:
    """The course's colour of a message type (a fixed table; a hashed pick for other names)."""
    c = MESSAGE_COLORS.get(type_name)
    return c if c is not None else _fallback(type_name)


def message_colors(types: Iterable[str]) -> dict[str, str]:
    """``{type: message_color(type)}`` for the given types (kept for older callers)."""
    return {t: message_color(t) for t in sorted(set(types))}


def op_color(outcome: str) -> str:
    """The colour of a client operation that ended ``ok``, ``fail``, ``info`` or is still ``open``."""
    return OP_COLORS.get(outcome) or _fallback(outcome)


def op_kind_color(kind: str) -> str:
    """The colour of an operation kind (``read``, ``write``, ``cas``, ``txn``, ...)."""
    return OP_KIND_COLORS.get(kind) or _fallback(kind)


def role_color(role: str) -> str:
    """The background colour of a node's role (``leader``, ``follower``, ``coordinator``, ``down``...)."""
    return ROLE_COLORS.get(role) or _fallback(role)


def fault_color(mark: str) -> str:
    """The colour of a fault mark (``crash``, ``restart``, ``partition``, ``lost``, ``duplicate``...)."""
    return FAULT_COLORS.get(mark) or _fallback(mark)


_KINDS = {"messages": message_color, "ops": op_color, "op_kinds": op_kind_color, "roles": role_color,
          "faults": fault_color}
_FAULT_MARKERS = {"crash": "X", "restart": ">", "lost": "x", "pause": "|"}


def _entries(groups: Mapping[str, Iterable[str]]) -> list[tuple[str, str, str]]:
    out = []
    for group, names in groups.items():
        color = _KINDS.get(group)
        if color is None:
            raise ValueError(f"legend groups are {', '.join(_KINDS)}; not {group!r}")
        for name in names:
            out.append((group, name, color(name)))
    return out


def legend_handles(**groups: Iterable[str]) -> list[Any]:
    """Matplotlib legend handles: ``legend_handles(messages=["Prepare"], faults=["crash"])``.

    Groups: ``messages``, ``ops``, ``op_kinds``, ``roles``, ``faults``.  Pass them to
    ``ax.legend(handles=...)``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out: list[Any] = []
    for group, name, col in _entries(groups):
        if group == "messages":
            out.append(Line2D([0], [0], color=col, lw=1.6, label=name))
        elif group == "faults" and name in _FAULT_MARKERS:
            out.append(Line2D([0], [0], marker=_FAULT_MARKERS[name], color=col, lw=0, label=name))
        elif group == "faults" and name == "duplicate":
            out.append(Line2D([0], [0], color=col, lw=1.3, ls="--", label=name))
        else:
            out.append(Patch(color=col, label=name, alpha=0.6 if group in ("roles", "faults") else 1.0))
    return out


def swatch_html(kind: str, color: str, label: str) -> str:
    """One key entry as HTML: ``kind`` is ``line``, ``dotted``, ``dashed``, ``now``, ``band``, a marker
    (``x``, ``X``, ``>``, ``ring``) or anything else for a filled square."""
    marks = {"x": "✕", "X": "✖", ">": "▶", "ring": "◯"}
    bar = "display:inline-block;width:18px;height:0;vertical-align:middle;border-top:2px"
    if kind == "line":
        sw = f'<span style="{bar} solid {color}"></span>'
    elif kind in ("dotted", "dashed", "now"):
        sw = f'<span style="{bar} {"dashed" if kind == "now" else kind} {color}"></span>'
    elif kind in marks:
        sw = f'<span style="color:{color};font-size:12px">{marks[kind]}</span>'
    elif kind == "band":
        sw = (f'<span style="display:inline-block;width:18px;height:7px;background:{color};opacity:.6;'
              'vertical-align:middle"></span>')
    else:
        sw = (f'<span style="display:inline-block;width:12px;height:10px;background:{color};'
              'vertical-align:middle"></span>')
    return f'<span style="white-space:nowrap;margin-right:12px">{sw} {html.escape(label)}</span>'


def legend_strip(entries: Iterable[tuple[str, str, str]]) -> str:
    """Key entries ``(kind, colour, label)`` as one strip of HTML."""
    return ('<div class="cl-legend" style="font-size:12px;line-height:1.7">'
            + "".join(swatch_html(*e) for e in entries) + "</div>")


def legend_html(**groups: Iterable[str]) -> str:
    """The same key as :func:`legend_handles`, as a strip of HTML (for widgets and Markdown cells)."""
    return legend_strip(("line" if group == "messages" else "patch", col, name)
                        for group, name, col in _entries(groups))

"""Lesson 04's lab: kill nodes, watch which partitions stay readable.

::

    from consensus_lab.widgets.placement_lab import PlacementLab
    PlacementLab()                  # 5 nodes, 8 partitions, 3 replicas each (consistent hashing)
    PlacementLab().kill("n1").kill("n2")

Each partition of the key space lives on ``replicas`` nodes
(:func:`consensus_lab.partitioning.placement`).  An *eventual* store answers
a read from any live replica; a *majority-quorum* store needs a majority of
the partition's replicas.  Click a node to kill it (click again to revive
it) and the table shows which partitions each store can still serve.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..partitioning import placement
from ..viz.colors import role_color
from .minilab import MiniLab

__all__ = ["PlacementLab"]

_OK, _BAD = "#2e7d32", "#c62828"


class PlacementLab(MiniLab):
    """Which partitions survive which node failures, for two kinds of store."""

    title = "Placement lab"
    summary = ("Partitions on a consistent-hash ring, each on 3 nodes. Kill nodes (click again to revive) "
               "and see which partitions an eventual store and a majority-quorum store can still read.")

    def __init__(self, nodes: int = 5, partitions: int = 8, replicas: int = 3, *, challenge: Any = None) -> None:
        self.node_ids = tuple(f"n{i}" for i in range(1, nodes + 1))
        self.groups = placement(partitions, self.node_ids, replicas)
        self.replicas = replicas
        self.down: set[str] = set()
        super().__init__(challenge=challenge)

    def _build(self) -> list[Any]:
        row = [W.HTML("nodes (click to kill / revive):&nbsp;")]
        for n in self.node_ids:
            row.append(self._button(n, f"kill {n}, or revive it if it is down", lambda n=n: self._toggle(n)))
        row.append(self._button("Revive all", "every node back up", self._revive_all, "success"))
        self.w_table = W.HTML()
        self.w_table.add_class("cl-table")
        return [W.HBox(row, layout=W.Layout(flex_flow="row wrap", align_items="center")), self.w_table]

    def _toggle(self, node: str) -> str:
        if node not in self.node_ids:
            raise ValueError(f"unknown node {node!r}: pick one of {', '.join(self.node_ids)}")
        if node in self.down:
            self.down.discard(node)
            return f"{node} is back"
        self.down.add(node)
        return f"{node} is down"

    def _revive_all(self) -> str:
        self.down.clear()
        return "every node is up"

    def _set(self, node: str, down: bool) -> str:
        if (node in self.down) == down:
            raise ValueError(f"{node} is already {'down' if down else 'up'}")
        return self._toggle(node)

    def kill(self, node: str) -> PlacementLab:
        """Kill ``node`` (as clicking it does)."""
        return self._do(node, lambda: self._set(node, True))

    def revive(self, node: str) -> PlacementLab:
        """Bring ``node`` back (as clicking it again does)."""
        return self._do(node, lambda: self._set(node, False))

    def readable(self) -> dict[int, tuple[bool, bool]]:
        """``{partition: (eventual store can read, majority-quorum store can read)}``."""
        need = self.replicas // 2 + 1
        out = {}
        for p, group in self.groups.items():
            up = sum(1 for n in group if n not in self.down)
            out[p] = (up >= 1, up >= need)
        return out

    def refresh(self) -> None:
        for n in self.node_ids:
            b = self.buttons[n]
            b.button_style = "danger" if n in self.down else ""
            b.description = f"{n} ✖" if n in self.down else n
        rd = self.readable()

        def mark(ok: bool) -> str:
            return f'<td style="padding:1px 10px;color:{_OK if ok else _BAD}">{"✔ reads" if ok else "✘ unavailable"}</td>'

        rows = []
        for p, group in self.groups.items():
            reps = ", ".join(
                f'<span style="background:{role_color("down")};text-decoration:line-through">{n}</span>'
                if n in self.down else n for n in group)
            ev, q = rd[p]
            rows.append(f'<tr class="cl-part"><td style="padding:1px 10px">partition {p}</td>'
                        f'<td style="padding:1px 10px">{reps}</td>{mark(ev)}{mark(q)}</tr>')
        n_ev = sum(1 for ev, _ in rd.values() if ev)
        n_q = sum(1 for _, q in rd.values() if q)
        head = ('<tr><th style="text-align:left;padding:1px 10px">partition</th><th style="text-align:left;padding:1px 10px">'
                'replicas</th><th style="text-align:left;padding:1px 10px">eventual (any replica)</th>'
                f'<th style="text-align:left;padding:1px 10px">majority quorum ({self.replicas // 2 + 1} of '
                f"{self.replicas})</th></tr>")
        summary = (f'<div style="font-size:12.5px;margin-top:3px">down: {html.escape(", ".join(sorted(self.down)) or "none")}'
                   f" · eventual store reads {n_ev} of {len(rd)} partitions · majority-quorum store {n_q} of "
                   f"{len(rd)}</div>")
        self.w_table.value = f'<table style="font-size:12.5px;border-collapse:collapse">{head}{"".join(rows)}</table>{summary}'

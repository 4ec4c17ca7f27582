"""Layer 5: pictures of runs and histories (matplotlib, no state of its own).

* :func:`plot_spacetime` -- who told what to whom, and when;
* :func:`plot_history` -- client operations as bars, linearization points marked;
* :func:`plot_consistency_map` -- which promise implies which, and how available each is;
* :func:`plot_logs` -- every Raft node's log, coloured by term, commit index marked;
* :func:`plot_jepsen` -- a real run's history with its faults shaded;
* :func:`plot_counterexample` -- an explorer's counterexample as numbered steps (Raft: logs per step);
* :func:`message_color` and friends -- the course's one colour per name (see :mod:`.colors`).
"""

from .colors import (
    fault_color,
    legend_handles,
    legend_html,
    message_color,
    message_colors,
    op_color,
    op_kind_color,
    role_color,
)
from .consistency_map import plot_consistency_map
from .counterexample import counterexample_steps, plot_counterexample
from .history_plot import plot_history
from .jepsen_plot import plot_jepsen
from .raft_logs import plot_logs, term_colors
from .spacetime import plot_spacetime

__all__ = [
    "plot_spacetime",
    "plot_history",
    "plot_consistency_map",
    "plot_logs",
    "plot_counterexample",
    "counterexample_steps",
    "term_colors",
    "message_color",
    "message_colors",
    "plot_jepsen",
    "op_color",
    "op_kind_color",
    "role_color",
    "fault_color",
    "legend_handles",
    "legend_html",
]

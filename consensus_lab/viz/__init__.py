"""Layer 5: pictures of runs and histories (matplotlib, no state of its own).

* :func:`plot_spacetime` -- who told what to whom, and when;
* :func:`plot_history` -- client operations as bars, linearization points marked;
* :func:`plot_consistency_map` -- which promise implies which, and how available each is;
* :func:`plot_logs` -- every Raft node's log, coloured by term, commit index marked.
"""

from .consistency_map import plot_consistency_map
from .history_plot import plot_history
from .raft_logs import plot_logs, term_colors
from .spacetime import message_colors, plot_spacetime

__all__ = [
    "plot_spacetime",
    "plot_history",
    "plot_consistency_map",
    "plot_logs",
    "term_colors",
    "message_colors",
]

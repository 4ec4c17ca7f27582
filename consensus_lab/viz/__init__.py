"""Layer 5: pictures of runs and histories (matplotlib, no state of its own)."""

from .spacetime import message_colors, plot_spacetime

__all__ = ["plot_spacetime", "message_colors"]

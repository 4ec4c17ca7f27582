"""Project-wide pytest set-up (applies to tests/, notebooks/, solutions/, exercises/).

nbval runs each cell with ``store_history=False``; IPython then cannot see a
cell's trailing ``;`` and shows values a notebook in Jupyter would hide (for
example the ``[<Line2D ...>]`` of a plotting cell).  Run cells the way Jupyter
does, so that the outputs nbval checks are the ones a reader sees.
"""

from __future__ import annotations

try:
    from nbval.kernel import RunningKernel
except ImportError:  # nbval not installed: nothing to adjust
    RunningKernel = None

if RunningKernel is not None:

    def _execute_like_jupyter(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)

    RunningKernel.execute_cell_input = _execute_like_jupyter

"""Exercise 1: a brute-force linearizability checker for a single register.

Write ``is_linearizable(history)``.  ``history`` is a list of
:class:`~consensus_lab.history.Op` events on one register that starts out
holding ``None``: ``f`` is ``"read"`` or ``"write"``; ``type`` is ``"invoke"``,
``"ok"``, ``"fail"`` or ``"info"``.  A read's completion carries the value it
saw; a write's invocation carries the value written (every write writes a
different value).  ``fail`` means the operation did not happen; ``info`` means
it may have happened (at any moment after its invocation) or not at all.

Return ``True`` when some order of the operations is legal for a register and
respects real time (an operation that completed before another was invoked
comes first), else ``False``.  Histories have at most nine operations, so
trying every order is fine.  ``pair_operations`` (imported for you) pairs
each invocation with its completion.
"""

from __future__ import annotations

from typing import Any

from consensus_lab.history import Op, Operation, pair_operations

__all__ = ["Op", "Operation", "pair_operations", "INTERFACE", "PREAMBLE"]

INTERFACE = ("is_linearizable",)
PREAMBLE = "from consensus_lab.history import Op, Operation, pair_operations\n"
MESSAGES = (Op,)


def call(answers: dict[str, Any], name: str, args: list) -> Any:
    (history,) = args
    result = answers["is_linearizable"](list(history))
    if type(result) is not bool:
        raise TypeError(f"is_linearizable must return True or False, not a {type(result).__name__}")
    return result

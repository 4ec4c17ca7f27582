"""Exercise 2: session guarantees over a history.

Write ``read_your_writes(history)`` and ``monotonic_reads(history)``; each
returns ``True`` when the guarantee holds in every session, else ``False``.

``history`` is a list of :class:`~consensus_lab.history.Op` events on several
keys.  A *session* is one client ``process``; it runs one operation at a time.
Every write writes a different integer, and a write invoked later writes a
larger one, so values double as versions: a read that returned ``v`` has seen
every write to its key whose value is ``<= v`` (``None`` means it saw none).
Only ``ok`` operations count: a ``fail`` never happened, and an ``info`` write
is not one the session may insist on seeing.

* read-your-writes: every ``ok`` read sees every ``ok`` write its own session
  made to that key before the read was invoked;
* monotonic reads: every ``ok`` read sees at least what each earlier ``ok``
  read of its session on that key saw.
"""

from __future__ import annotations

from typing import Any

from consensus_lab.history import Op, Operation, pair_operations

__all__ = ["Op", "Operation", "pair_operations", "INTERFACE", "PREAMBLE"]

INTERFACE = ("read_your_writes", "monotonic_reads")
PREAMBLE = "from consensus_lab.history import Op, Operation, pair_operations\n"
MESSAGES = (Op,)


def call(answers: dict[str, Any], name: str, args: list) -> Any:
    if name not in INTERFACE:
        raise ValueError(f"unknown function {name!r}")
    (history,) = args
    result = answers[name](list(history))
    if type(result) is not bool:
        raise TypeError(f"{name} must return True or False, not a {type(result).__name__}")
    return result

"""Tools for testing nodes by hand, as ``trio.testing`` does for trio.

:class:`FakeContext` is a ``ctx`` you hold yourself: call a handler, then look
at the effects it produced::

    ctx = FakeContext("n1")
    node.on_message(ctx, "n2", RequestVote(term=3, ...))
    assert ctx.sent() == [("n2", RequestVoteReply(term=3, granted=True))]
    assert ctx.storage["voted_for"] == "n2"

:func:`battery_seeds` gives the seeds a test battery should run: a small count
in ``make test``, a large one in ``make stress`` (env ``CONSENSUS_LAB_STRESS``);
:func:`examples` does the same for a hypothesis test's ``max_examples``.
"""

from __future__ import annotations

import os
import random
from typing import Any

from .sim.node import CancelTimer, Context, Reply, Send, SetTimer, Storage

__all__ = ["FakeContext", "battery_seeds", "examples", "stress_mode"]


class FakeContext(Context):
    """A context whose effects stay in ``outbox`` for you to inspect."""

    __slots__ = ()

    def __init__(self, node_id: str = "n1", *, seed: int = 0, now: float = 0.0, storage: dict | None = None) -> None:
        super().__init__(node_id, random.Random(f"fake:{seed}:{node_id}"), Storage(storage))
        self._now = now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def sent(self) -> list[tuple[str, Any]]:
        """``(destination, message)`` for every ``send`` so far."""
        return [(e.dst, e.msg) for e in self.outbox if isinstance(e, Send)]

    def timers(self) -> dict[str, float]:
        """Timers armed and not cancelled since the last :meth:`clear`, with their delays."""
        out: dict[str, float] = {}
        for e in self.outbox:
            if isinstance(e, SetTimer):
                out[e.name] = e.delay
            elif isinstance(e, CancelTimer):
                out.pop(e.name, None)
        return out

    def replies(self) -> list[tuple[Any, Any]]:
        return [(e.request, e.result) for e in self.outbox if isinstance(e, Reply)]

    def clear(self) -> None:
        self.outbox.clear()


def stress_mode() -> bool:
    return os.environ.get("CONSENSUS_LAB_STRESS", "") not in ("", "0")


def battery_seeds(normal: int, stress: int | None = None) -> range:
    """Seeds for a battery: ``range(normal)``, or ``range(stress)`` in stress mode.

    ``CONSENSUS_LAB_STRESS=N`` (N > 1) asks for N seeds per battery.
    """
    value = os.environ.get("CONSENSUS_LAB_STRESS", "")
    if value.isdigit() and int(value) > 1:
        return range(int(value))
    if stress_mode():
        return range(stress if stress is not None else normal * 100)
    return range(normal)


#: how many more examples a hypothesis test runs under ``make stress``
STRESS_EXAMPLES_FACTOR = 10


def examples(normal: int, stress: int | None = None) -> int:
    """``max_examples`` for a hypothesis test: ``normal``, or many more in stress mode.

    Use it in a test's own ``@settings(max_examples=examples(60))`` so that the
    stress profile (random seeds, many examples) is not overridden by the test.
    """
    if stress_mode():
        return stress if stress is not None else normal * STRESS_EXAMPLES_FACTOR
    return normal

"""Exercise 14: retries that are safe, and the answer after a timeout (lesson 01).

Roles, by node id: ``n1`` runs the store (your :class:`LedgerStore`); every
other node is a gateway (your :class:`Gateway`) that takes the clients'
requests and talks to the store over a network that loses, duplicates and
delays messages -- and the store may crash.  The store answers a client
request with ``Redirect()``.

A client asks a gateway to ``append`` a value (``request.value``, unique) to
the store's ledger.  Appending is not idempotent: applied twice, the value is
in the ledger twice.  When the gateway hears nothing back it cannot tell a
lost ``Apply`` from a lost answer or a slow store -- so it retries with the
*same* request id, and when it gives up it *asks* instead of guessing.

**Gateway** -- for an ``append`` request:

1. send ``Apply(rid, value)`` to ``STORE``, with one request id for the
   operation -- the same at every retry and at every gateway the client may
   try: ``rid = f"{request.client}:{request.seq}"``;
2. again every ``RETRY`` seconds until an ``Outcome(rid, applied)`` comes;
3. once ``GIVE_UP`` seconds have passed without one, stop sending ``Apply``
   and send ``Cancel(rid)`` instead (again every ``RETRY`` seconds);
4. answer the client from the ``Outcome`` only: ``Ok()`` if ``applied``,
   ``Fail("cancelled")`` if not.  Never answer on a guess: a timeout says
   nothing about whether the value was applied.

**LedgerStore** -- durable state: ``ctx.storage["ledger"]``, a tuple of the
values applied, in order, and one verdict per request id,
``ctx.storage[f"rid:{rid}"]``: ``True`` (applied) or ``False`` (cancelled).

* on ``Apply(rid, value)``: if ``rid`` has a verdict, answer it and change
  nothing; else append ``value`` to the ledger, record ``True`` and answer
  ``Outcome(rid, True)``;
* on ``Cancel(rid)``: if ``rid`` has a verdict, answer it; else record
  ``False`` -- from now on an ``Apply`` of ``rid`` is never applied -- and
  answer ``Outcome(rid, False)``.

A verdict, once recorded, never changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensus_lab.sim import Fail, Node, Ok, Redirect

__all__ = ["Apply", "Cancel", "Outcome", "STORE", "RETRY", "GIVE_UP", "Node", "Ok", "Fail", "Redirect",
           "INTERFACE", "PREAMBLE"]

STORE = "n1"
RETRY = 0.05
GIVE_UP = 0.3


@dataclass(frozen=True, slots=True)
class Apply:
    """"Append ``value`` to the ledger, once, as request ``rid``"."""

    rid: str
    value: Any


@dataclass(frozen=True, slots=True)
class Cancel:
    """"If ``rid`` is not applied yet, make sure it never is"."""

    rid: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The store's verdict on ``rid``: applied or cancelled (final)."""

    rid: str
    applied: bool


INTERFACE = ("Gateway", "LedgerStore")
PREAMBLE = "from consensus_lab.grading.exercises.ex14 import *\n"
MESSAGES = (Apply, Cancel, Outcome)


def make_node(answers: dict[str, Any], node_id: str, cluster: tuple[str, ...], options: dict) -> Node:
    if node_id == STORE:
        return answers["LedgerStore"](node_id, cluster)
    return answers["Gateway"](node_id, cluster)


def view(node: Any) -> dict:
    return {}

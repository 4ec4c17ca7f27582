"""Clients: a workload driver that records a Jepsen-style history.

Each client *process* runs one operation at a time.  It sends a
:class:`ClientRequest` to a node and waits.  The node answers with
``ctx.reply(request, result)`` where ``result`` is

* :class:`Ok` (or any plain value, meaning ``Ok(value)``): the operation took
  effect; a read carries the value it saw;
* :class:`Fail`: the operation certainly did not take effect;
* :class:`Redirect`: "not me, ask ``leader``" -- the client retries there with
  the same ``seq`` so the cluster can recognise the retry and apply it once.

If no answer comes within ``timeout`` the client retries at another node (again
with the same ``seq``); when ``deadline`` passes it gives up and records
``info`` -- the operation may or may not have happened.  As in Jepsen, the
process is then considered crashed and a fresh process id takes its place.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ClientRequest",
    "SessionRequest",
    "Ok",
    "SessionOk",
    "Fail",
    "Redirect",
    "Workload",
    "generate_op",
]


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """What a client sends to a node; ``(client, seq)`` identifies the operation."""

    client: str
    seq: int
    f: str
    key: Any = None
    value: Any = None
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class SessionRequest(ClientRequest):
    """A request that carries the client's session token.

    A client sends one once a node has handed it a token (with
    :class:`SessionOk`); the token is opaque to the client (a session-aware store
    puts version vectors in it, as Bayou's session guarantees do).  A new client
    process (after an ``info``) starts a new session with no token.
    """

    token: Any = None


@dataclass(frozen=True, slots=True)
class Ok:
    value: Any = None


@dataclass(frozen=True, slots=True)
class SessionOk(Ok):
    """``Ok`` that also gives the client a new session token for its next requests."""

    token: Any = None


@dataclass(frozen=True, slots=True)
class Fail:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Redirect:
    leader: str | None = None


_READS = frozenset({"read", "get"})


@dataclass(frozen=True)
class Workload:
    """How clients behave.

    ``sticky`` clients keep talking to the node that last answered them;
    non-sticky ones pick a node at random for every operation (clients behind
    a load balancer).  ``mix`` weights operation names; values are generated so that every write
    is unique (checkers rely on that): ``write``/``put``/``append``/``add``
    carry a fresh integer, ``cas`` carries ``(expected, new)``, ``txn`` carries
    a tuple of ``(key, value)`` writes on distinct keys, ``read``/``get`` carry
    ``None``.
    """

    clients: int = 0
    keys: tuple[str, ...] = ("x",)
    mix: tuple[tuple[str, float], ...] = (("read", 0.5), ("write", 0.5))
    think: float = 0.05
    timeout: float = 0.5
    deadline: float = 2.0
    start: float = 0.0
    stop: float | None = None
    max_ops: int | None = None
    sticky: bool = True

    def __post_init__(self) -> None:
        if self.clients < 0:
            raise ValueError(f"clients must be >= 0, got {self.clients}")
        if not self.keys:
            raise ValueError("workload needs at least one key")
        if not self.mix or any(w < 0 for _, w in self.mix) or sum(w for _, w in self.mix) <= 0:
            raise ValueError(f"workload mix needs positive weights, got {self.mix!r}")
        if self.timeout <= 0 or self.deadline <= 0:
            raise ValueError("workload timeout and deadline must be > 0")

    def to_dict(self) -> dict:
        return {
            "clients": self.clients,
            "keys": list(self.keys),
            "mix": [[f, w] for f, w in self.mix],
            "think": self.think,
            "timeout": self.timeout,
            "deadline": self.deadline,
            "start": self.start,
            "stop": self.stop,
            "max_ops": self.max_ops,
            **({} if self.sticky else {"sticky": False}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Workload:
        d = dict(d)
        if "keys" in d:
            d["keys"] = tuple(d["keys"])
        if "mix" in d:
            d["mix"] = tuple((f, float(w)) for f, w in d["mix"])
        return cls(**d)


def generate_op(workload: Workload, rng: random.Random, counter: int, written: list[Any]) -> tuple[str, Any, Any]:
    """Draw the next operation ``(f, key, value)``; ``counter`` makes values unique."""
    total = sum(w for _, w in workload.mix)
    x = rng.random() * total
    f = workload.mix[-1][0]
    for name, w in workload.mix:
        if x < w:
            f = name
            break
        x -= w
    key = workload.keys[rng.randrange(len(workload.keys))]
    if f in _READS:
        return f, key, None
    if f == "cas":
        expected = written[rng.randrange(len(written))] if written and rng.random() < 0.8 else None
        return f, key, (expected, counter)
    if f == "txn":
        k = min(len(workload.keys), 1 + rng.randrange(min(3, len(workload.keys))))
        keys = sorted(rng.sample(list(workload.keys), k))
        return f, None, tuple((kk, counter * 10 + i) for i, kk in enumerate(keys))
    return f, key, counter


def is_read(f: str) -> bool:
    return f in _READS

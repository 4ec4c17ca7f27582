"""Pieces shared by Paxos and Multi-Paxos: ballots, quorums, and a change watcher.

Ballots
    Lamport's *Paxos Made Simple* (section 2.2) numbers proposals so that any two
    are ordered and no two proposers ever use the same number.  The usual way is
    a pair ``(round, proposer id)`` compared round first: two proposers that pick
    the same round are still told apart by their ids.  :class:`Ballot` is that
    pair; ``ZERO`` is below every real ballot.

Quorums
    A *majority* of ``n`` acceptors is any ``n // 2 + 1`` of them; two majorities
    always share at least one acceptor, which is the whole reason Paxos is safe.

:class:`Watch`
    Invariants run after every event, so they must be cheap.  A ``Watch``
    remembers, for each node, the node object and a small fingerprint (how many
    durable writes it has made, and whatever the caller adds) and reports only
    the nodes that changed since the last look.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from ..sim import Invariant

__all__ = ["Ballot", "ZERO", "majority", "Watch", "Loopback", "Observed", "observed_invariants", "message_log"]


class Ballot(NamedTuple):
    """A proposal number: ``round`` first, then the proposer's id breaks ties.

    A named tuple, so ballots compare as tuples and travel in messages and
    durable storage as plain immutable data.
    """

    round: int
    proposer: str

    def __str__(self) -> str:
        return f"({self.round},{self.proposer})" if self.proposer else f"({self.round})"

    def next_for(self, proposer: str) -> Ballot:
        """The smallest ballot of ``proposer`` that is higher than this one."""
        return Ballot(self.round + 1, proposer)


#: below every ballot a proposer can use
ZERO = Ballot(0, "")


def majority(n: int) -> int:
    """How many of ``n`` acceptors make a majority (a quorum)."""
    return n // 2 + 1


class Watch:
    """Report the live nodes that changed since the last call.

    A node counts as changed when it is a new object (it restarted), when it
    made a durable write, or when ``fingerprint(node)`` (optional: cheap facts
    about state a node keeps only in memory) differs from last time.
    """

    __slots__ = ("_seen", "_fingerprint")
    #: For the explorer: ``_seen`` is a cache, not memory.  It is keyed by node *identity*, and
    #: the explorer never changes a node object once a state holding it was judged (a step
    #: copies the node that acts), so an entry it left from another state can only make a node
    #: look changed when it is not -- and the observers using a Watch treat a node reported
    #: twice alike (their updates are idempotent).  Left out of each state's memory, it is
    #: neither copied, compared nor fingerprinted per state.
    explore_cache = ("_seen",)

    def __init__(self, fingerprint: Callable[[Any], Hashable] | None = None) -> None:
        self._seen: dict[str, tuple[Any, int, Hashable]] = {}
        self._fingerprint = fingerprint

    def changed(self, world: Any) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        seen = self._seen
        fp = self._fingerprint
        storage = world.storage
        for nid, node in world.nodes.items():
            if node is None:
                continue
            writes = storage[nid].writes
            old = seen.get(nid)
            if old is not None and old[0] is node and old[1] == writes:
                if fp is None:
                    continue
                extra = fp(node)
                if old[2] == extra:
                    continue
            else:
                extra = fp(node) if fp is not None else None
            seen[nid] = (node, writes, extra)
            out.append((nid, node))
        return out


class Loopback:
    """Mixin for nodes that play several roles: messages to itself skip the network.

    A Paxos node is proposer, acceptor and learner at once; its proposer talks to
    its own acceptor in-process.  Use ``self._send``/``self._broadcast`` instead of
    ``ctx.send``; messages for ``self.id`` are queued and handled (by
    ``self._dispatch(ctx, src, msg)``) before the current handler returns, when
    the handler calls ``self._drain(ctx)``.
    """

    id: str
    cluster: tuple[str, ...]
    _local: list[Any]

    def _dispatch(self, ctx: Any, src: str, msg: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _send(self, ctx: Any, dst: str, msg: Any) -> None:
        if dst == self.id:
            self._local.append(msg)
        else:
            ctx.send(dst, msg)

    def _broadcast(self, ctx: Any, msg: Any) -> None:
        for dst in self.cluster:
            self._send(ctx, dst, msg)

    def _drain(self, ctx: Any) -> None:
        while self._local:
            self._dispatch(ctx, self.id, self._local.pop(0))


class Observed(Invariant):
    """One named invariant whose verdict an *observer* computes.

    Several invariants of a protocol need the same bookkeeping (what each
    acceptor accepted, who voted yes, ...).  One observer object does it, with
    ``observer.update(world)`` after each event, and records problems by
    invariant name in ``observer.problems``.  Every invariant of the group is
    called after each event (a violated one no longer is), in order; the first
    one that has not reported a problem yet is the one that updates the
    observer, so the bookkeeping runs once per event.
    """

    def __init__(self, name: str, observer: Any, group: list[Observed]) -> None:
        self.name = name
        self.observer = observer
        self.group = group
        self.reported = False
        group.append(self)

    def check(self, world: Any) -> str | None:
        for member in self.group:
            if not member.reported:
                if member is self:
                    self.observer.update(world)
                break
        problem = self.observer.problems.get(self.name)
        if problem:
            self.reported = True
        return problem


def observed_invariants(observer: Any, names: tuple[str, ...]) -> list[Observed]:
    """One :class:`Observed` invariant per name, sharing ``observer``."""
    group: list[Observed] = []
    return [Observed(name, observer, group) for name in names]


def _show(v: Any) -> str:
    if isinstance(v, dict):  # a message read back from a saved run
        return f"{v.get('type', '?')}({', '.join(_show(x) for k, x in v.items() if k != 'type')})"
    if isinstance(v, Ballot) or not hasattr(v, "__dataclass_fields__"):
        return str(v) if isinstance(v, Ballot | str) else repr(v)
    return f"{type(v).__name__}({', '.join(_show(getattr(v, f)) for f in v.__dataclass_fields__)})"


def message_log(run: Any, *, start: float = 0.0, end: float | None = None, lost: bool = True) -> list[str]:
    """The messages of a run as short lines, ``time  src -> dst  Message(fields)``.

    Each delivered message appears when it arrives (a lost one, marked
    ``LOST``, when it is dropped).  Ballots print as ``(round,proposer)``.
    """
    out = []
    for ev in run.trace:
        if ev.time < start or (end is not None and ev.time > end):
            continue
        if ev.kind == "deliver":
            out.append(f"{ev.time:.3f}  {ev.peer} -> {ev.node}  {_show(ev.msg)}")
        elif ev.kind == "drop" and lost and ev.msg is not None and ev.peer is not None:
            out.append(f"{ev.time:.3f}  {ev.node} -> {ev.peer}  {_show(ev.msg)}  LOST ({ev.info})")
    return out

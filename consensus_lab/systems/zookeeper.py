"""ZooKeeper's data tree, sessions, ephemeral nodes and watches, as a small exact model.

Hunt et al., *ZooKeeper: wait-free coordination for Internet-scale systems*
(USENIX ATC 2010).  What the ensemble replicates (with Zab, a leader-based
atomic broadcast like our Raft) is a tree of *znodes*.  Every change gets a
``zxid``, a number that grows with every write, so the zxid of a change says
where it sits in the one total order of writes.

* A client talks to the ensemble through a **session**; it keeps the session
  alive by sending heartbeats.  If the ensemble hears nothing for the session
  timeout, it *expires* the session.
* An **ephemeral** znode lives as long as the session that created it: when
  the session expires, ZooKeeper deletes it.  That is how locks and leader
  election recipes notice that a client died.
* A **watch** is a one-shot trigger: a client reading a znode may ask to be
  told when it changes; the notification comes once, after the change, and
  the client must read again (and set a new watch) to see later changes.

The catch this model makes visible: ZooKeeper decides a session is dead from
*its* clock; the client decides it holds the lock from *its own* knowledge.
A client that pauses (a long garbage collection, a partition) can still
believe it holds a lock that ZooKeeper has already given to someone else.
The cure is a **fencing token**: the lock znode's creation zxid, checked by
the resource the lock protects (Kleppmann, *How to do distributed locking*,
2016).  :func:`lock_story` plays that out.

:class:`ZKTree` is the replicated state machine: deterministic, driven by
explicit times, so the story is exact and the same every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ZNode", "ZKTree", "Event", "LockStory", "lock_story"]


@dataclass(frozen=True)
class ZNode:
    data: Any
    czxid: int  # the zxid of the write that created it
    mzxid: int  # the zxid of the last write that changed it
    version: int = 0
    ephemeral_owner: int | None = None  # the session that owns it, for an ephemeral znode


@dataclass(frozen=True)
class Event:
    """Something that happened, for the story's table and picture."""

    time: float
    who: str
    what: str
    zxid: int | None = None


@dataclass
class ZKTree:
    """The tree, the sessions and the watches; every change takes the next zxid."""

    zxid: int = 0
    nodes: dict[str, ZNode] = field(default_factory=dict)
    sessions: dict[int, tuple[float, float]] = field(default_factory=dict)  # sid -> (last heard, timeout)
    watches: dict[str, list[int]] = field(default_factory=dict)  # path -> sessions waiting for a change
    notifications: list[tuple[int, str, str]] = field(default_factory=list)  # (sid, path, kind), in order

    def connect(self, sid: int, timeout: float, now: float) -> int:
        self.zxid += 1  # creating a session is a write too
        self.sessions[sid] = (now, timeout)
        return self.zxid

    def ping(self, sid: int, now: float) -> bool:
        """A heartbeat; ``False`` if the session has expired (the client learns it is dead)."""
        if sid not in self.sessions:
            return False
        self.sessions[sid] = (now, self.sessions[sid][1])
        return True

    def create(self, sid: int, path: str, data: Any, *, ephemeral: bool = False) -> int | None:
        """Create ``path``; its zxid, or ``None`` if it exists (or the session is gone)."""
        if path in self.nodes or sid not in self.sessions:
            return None
        self.zxid += 1
        self.nodes[path] = ZNode(data, self.zxid, self.zxid, 0, sid if ephemeral else None)
        self._fire(path, "created")
        return self.zxid

    def get(self, sid: int, path: str, *, watch: bool = False) -> ZNode | None:
        """Read ``path``; with ``watch`` the session is told (once) when it next changes."""
        if watch and sid not in self.watches.get(path, []):
            self.watches.setdefault(path, []).append(sid)
        return self.nodes.get(path)

    def set(self, path: str, data: Any) -> int | None:
        node = self.nodes.get(path)
        if node is None:
            return None
        self.zxid += 1
        self.nodes[path] = ZNode(data, node.czxid, self.zxid, node.version + 1, node.ephemeral_owner)
        self._fire(path, "changed")
        return self.zxid

    def delete(self, path: str) -> int | None:
        if path not in self.nodes:
            return None
        self.zxid += 1
        del self.nodes[path]
        self._fire(path, "deleted")
        return self.zxid

    def expire(self, now: float) -> list[tuple[int, list[str]]]:
        """End every session not heard from within its timeout; delete its ephemeral znodes."""
        out = []
        for sid in sorted(self.sessions):
            last, timeout = self.sessions[sid]
            if now - last >= timeout:
                del self.sessions[sid]
                self.zxid += 1  # closing a session is a write
                gone = sorted(p for p, n in self.nodes.items() if n.ephemeral_owner == sid)
                for p in gone:
                    self.delete(p)
                out.append((sid, gone))
        return out

    def _fire(self, path: str, kind: str) -> None:
        for sid in self.watches.pop(path, []):  # one-shot: the watch is gone once it fires
            self.notifications.append((sid, path, kind))


@dataclass
class LockStory:
    """What happened, who ZooKeeper says holds the lock, and who believes it does."""

    events: list[Event]
    holds: dict[str, list[tuple[float, float]]]  # per client: intervals ZooKeeper says it holds the lock
    believes: dict[str, list[tuple[float, float]]]  # per client: intervals it thinks it holds the lock
    writes: list[tuple[float, str, int, bool]]  # (time, client, token, accepted by the storage)
    end: float
    fencing: bool
    pauses: dict[str, tuple[float, float]] = field(default_factory=dict)  # per client: when it was frozen

    @property
    def overlap(self) -> float:
        """Seconds during which two clients both believed they held the lock."""
        a, b = self.believes["A"], self.believes["B"]
        return sum(max(0.0, min(x1, y1) - max(x0, y0)) for x0, x1 in a for y0, y1 in b)

    @property
    def unsafe_writes(self) -> list[tuple[float, str, int]]:
        """Writes the storage accepted from a client that, by then, no longer held the lock."""
        out = []
        for t, who, token, ok in self.writes:
            if ok and not any(a <= t < b for a, b in self.holds[who]):
                out.append((t, who, token))
        return out

    def table(self) -> str:
        return "\n".join(
            f"t={e.time:4.1f}  {e.who:9s} {e.what}" + (f"  (zxid {e.zxid})" if e.zxid is not None else "")
            for e in self.events
        )


def lock_story(*, session_timeout: float = 2.0, pause: tuple[float, float] = (1.0, 4.5), ping_every: float = 0.5,
               fencing: bool = False, end: float = 6.0) -> LockStory:
    """Client A takes a lock (an ephemeral znode), pauses, and comes back believing it still holds it.

    A creates ``/lock`` at t=0; B finds it taken and sets a watch.  A sends
    heartbeats every ``ping_every`` seconds, except during ``pause`` (a long
    garbage collection).  ZooKeeper expires A's session ``session_timeout``
    after its last heartbeat and deletes ``/lock``; B's watch fires and B takes
    the lock.  Both clients write to a storage service when they think they
    hold the lock; with ``fencing`` the storage refuses a token (the lock's
    creation zxid) lower than one it has already seen.
    """
    zk = ZKTree()
    events: list[Event] = []
    writes: list[tuple[float, str, int, bool]] = []
    highest_token = [0]

    def write(t: float, who: str, token: int) -> None:
        ok = not fencing or token >= highest_token[0]
        if ok:
            highest_token[0] = max(highest_token[0], token)
        writes.append((t, who, token, ok))
        verdict = "accepted" if ok else f"REFUSED (token {token} < {highest_token[0]})"
        events.append(Event(t, "storage", f"write from {who} with token {token}: {verdict}"))

    events.append(Event(0.0, "A", "connects", zk.connect(1, session_timeout, 0.0)))
    events.append(Event(0.0, "B", "connects", zk.connect(2, session_timeout, 0.0)))
    token_a = zk.create(1, "/lock", "A", ephemeral=True)
    events.append(Event(0.0, "A", "creates ephemeral /lock: holds the lock", token_a))
    zk.get(2, "/lock", watch=True)
    events.append(Event(0.1, "B", "/lock exists: sets a watch and waits"))
    holds = {"A": [[0.0, end]], "B": []}
    believes = {"A": [[0.0, end]], "B": []}
    write(0.5, "A", token_a)
    token_b = None
    t, step = 0.0, 0.05
    b_seen = 0
    while t < end - 1e-9:
        t = round(t + step, 6)
        if abs(t - pause[0]) < 1e-9:
            events.append(Event(t, "A", "pauses (a long GC): no heartbeats"))
        if abs(t - pause[1]) < 1e-9:
            events.append(Event(t, "A", "wakes up, still believes it holds the lock, and writes"))
            write(t, "A", token_a)
        elif not (pause[0] <= t < pause[1]) and abs(t / ping_every - round(t / ping_every)) < 1e-6:
            if not zk.ping(1, t) and believes["A"][-1][1] == end:
                believes["A"][-1][1] = t
                events.append(Event(t, "A", "heartbeat refused: the session is gone, A gives up the lock"))
        zk.ping(2, t)
        for sid, gone in zk.expire(t):
            who = "A" if sid == 1 else "B"
            events.append(Event(t, "ZooKeeper", f"session of {who} expired; deletes {', '.join(gone) or 'nothing'}", zk.zxid))
            if who == "A":
                holds["A"][-1][1] = t
        while b_seen < len(zk.notifications):
            sid, path, kind = zk.notifications[b_seen]
            b_seen += 1
            if sid == 2 and token_b is None:
                events.append(Event(t, "B", f"watch fires: {path} {kind}"))
                token_b = zk.create(2, "/lock", "B", ephemeral=True)
                if token_b is not None:
                    events.append(Event(t, "B", "creates ephemeral /lock: holds the lock", token_b))
                    holds["B"].append([t, end])
                    believes["B"].append([t, end])
                    write(round(t + 0.2, 6), "B", token_b)
    events.sort(key=lambda e: e.time)
    return LockStory(
        events,
        {k: [tuple(iv) for iv in v] for k, v in holds.items()},
        {k: [tuple(iv) for iv in v] for k, v in believes.items()},
        sorted(writes),
        end,
        fencing,
        {"A": pause},
    )

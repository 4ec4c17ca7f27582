"""Breadth-first search on several cores, with the serial search's answer.

The frontier of a level is split between worker processes (``fork``: each
inherits the world and its share of the states, nothing is pickled but
fingerprints, verdicts and actions).  The work comes in two steps:

1. *expand*: every worker computes the successors of its states, in order,
   and sends back one row per transition: the successor's fingerprint, its
   sleep set (with ``reduction="sleep-sets"``) and whether it is pruned.  It
   keeps the successor states.
2. *merge*: this process walks the transitions in the serial order (the
   frontier's order, then each state's actions in order) with the one visited
   set, exactly as :meth:`_Search.bfs` does, and so decides which successors
   are new, which enter the next frontier and with which sleep sets.  Each
   worker then judges its new states; the verdicts are counted here in the
   serial order.

A level goes in rounds: each worker expands the next few dozen states of its
share (the same number for every worker, so none waits long for another),
and this process merges the longest run of the frontier, in the serial order,
whose states have all been expanded; the rest waits for the next round.  A
search that finds a violation stops soon after the round that holds it
instead of expanding the whole last level.  At the end of a level each worker
keeps its states of the next frontier.

So the same states are counted, in the same order, and the search stops at
the same first violation, with the same path: the states, transitions,
verdict and shortest counterexample are the serial search's (tests compare
them).  Only the time differs.  A worker owns the successors of its states,
so the shares drift apart from level to level; a level ends when its busiest
worker is done.  To even them out, a worker that finds a state another found
first in the same level keeps its copy, and at the end of the level such
states move to the lighter worker (:func:`_balance`).  The first levels run
here, serially, until the frontier holds at least :data:`_SPLIT_AT` states
per worker.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .visited import FingerprintSet

if TYPE_CHECKING:
    from .search import _Search
    from .world import ExploreWorld, State

__all__ = ["parallel_bfs"]

_SPLIT_AT = 16  # frontier states per worker before the work is split


class _Expander:
    """One share of the frontier and the successors expanded from it in this level."""

    def __init__(self, world: ExploreWorld, sleeping: bool, front: list[tuple[State, frozenset]],
                 freeze: Callable[[], None]) -> None:
        self.world = world
        self.sleeping = sleeping
        self.freeze = freeze  # gc.freeze, now and then (see collector.py)
        self.front = front
        self.pos = 0  # the next state of ``front`` to expand
        self.succ: list[State | None] = []  # None once known to be seen before
        self.acts: list[tuple] = []  # the action that led to each successor
        self.judged = 0  # successors before this one were judged (or dropped)
        self.max_in_flight = world.bounds.max_in_flight

    def expand(self, count: int, deadline: float | None) -> list[list]:
        """Expand the next ``count`` states of the share (fewer if the deadline passed): per
        state its rows, per transition None (asleep there) or ``(fingerprint, sleep set or
        None, pruned)``."""
        from .search import _pure_node

        world = self.world
        m = self.max_in_flight
        succ, acts = self.succ, self.acts
        out: list[list] = []
        for s, asleep in self.front[self.pos:self.pos + count]:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            self.pos += 1
            self.freeze()
            rows: list = []
            done: list[tuple[tuple, int]] = []
            for a in world.actions(s):
                if a in asleep:
                    rows.append(None)
                    continue
                ns = world.step(s, a)
                pruned = m is not None and ns.nmsgs > m
                zs = None
                if self.sleeping:
                    node = _pure_node(s, a, ns)
                    if node is not None:
                        zs = frozenset([b for b, j in done if j != node]) or None
                        if not pruned:
                            done.append((a, node))
                rows.append((ns.fp, zs, pruned))
                succ.append(ns)
                acts.append(a)
            out.append(rows)
        return out

    def judge(self, indices: list[int], goals: bool, copies: list[int], upto: int) -> list[tuple]:
        """Per successor index: (broken invariant or None, goals reached, the action taken).
        The successors before ``upto`` have been merged: those seen before are dropped, but
        for the ``copies`` -- states another worker found first, which this one may be asked
        to take over at the end of the level (see :func:`_balance`)."""
        world = self.world
        succ = self.succ
        out = [(world.check(succ[i]), world.goals_reached(succ[i]) if goals else (), self.acts[i]) for i in indices]
        wanted = set(indices)
        wanted.update(copies)
        for i in range(self.judged, upto):
            if i not in wanted:
                succ[i] = None
        self.judged = upto
        return out

    def keep(self, chosen: list[tuple[int, frozenset]]) -> None:
        """The next level's share: the successors ``chosen`` (index, sleep set), in order."""
        succ = self.succ
        self.front = [(succ[i], asleep) for i, asleep in chosen]
        self.pos = 0
        self.succ = []
        self.acts = []
        self.judged = 0


def _handle(ex: _Expander, req: tuple) -> Any:
    kind = req[0]
    if kind == "expand":
        return ex.expand(req[1], req[2])
    if kind == "judge":
        return ex.judge(req[1], req[2], req[3], req[4]), time.process_time()  # and the worker's CPU seconds so far
    ex.keep(req[1])
    return None


def _serve(conn: Any, ex: _Expander) -> None:
    """A worker's loop: answer the coordinator's requests until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator handles Ctrl-C
    while True:
        req = conn.recv()
        if req[0] == "stop":
            conn.close()
            return
        conn.send(_handle(ex, req))


class _Local:
    """The coordinator's own expander, called directly (the first levels)."""

    def __init__(self, ex: _Expander) -> None:
        self.ex = ex
        self._reply: Any = None

    def send(self, req: tuple) -> None:
        self._reply = _handle(self.ex, req)

    def recv(self) -> Any:
        return self._reply


def _ask(peers: list[Any], reqs: list[tuple]) -> list[Any]:
    """Send each peer its request, then collect the answers (the workers run meanwhile)."""
    for p, r in zip(peers, reqs, strict=True):
        p.send(r)
    return [p.recv() for p in peers]


def parallel_bfs(search: _Search, workers: int) -> bool:
    """:meth:`_Search.bfs` with the frontier split between ``workers`` processes."""
    world = search.world
    sleeping = search.reduction == "sleep-sets"
    none: frozenset = frozenset()
    init = world.initial()
    seen = search.visited = FingerprintSet([init.fp])
    if search.new_state(init, None, 0):
        return False
    world.skip_known(not sleeping)  # each worker keeps its own: what it computed, the coordinator counted
    # the global frontier: (owner, link) in the serial order; each owner holds its states in that order
    frontier: list[tuple[int, Any]] = [(0, None)]
    peers: list[Any] = [_Local(_Expander(world, sleeping, [(init, none)], search.freeze))]
    procs: list[Any] = []
    level = 0
    try:
        while frontier and level < search.max_depth:
            search.tick()  # the time budget and progress, between levels (workers watch the clock within a round)
            if len(peers) == 1 and workers > 1 and len(frontier) >= _SPLIT_AT * workers:
                peers, procs = _split(peers[0].ex, workers)
                frontier = [(k % workers, link) for k, (_, link) in enumerate(frontier)]
            level += 1
            if not _level(search, frontier, peers, seen, level, sleeping, none):
                return False
    finally:
        world.skip_known(False)
        for p in peers:
            if not isinstance(p, _Local):
                try:
                    p.send(("stop",))
                except (BrokenPipeError, OSError):
                    pass
        for pr in procs:
            pr.join(timeout=5)
            if pr.is_alive():
                pr.terminate()
    search.frontier = len(frontier)
    return True


def _split(ex: _Expander, workers: int) -> tuple[list[Any], list[Any]]:
    """Fork ``workers`` processes, worker k taking frontier states k, k + workers, ..."""
    ctx = multiprocessing.get_context("fork")
    peers, procs = [], []
    gc.freeze()  # what exists now is shared with the workers: their collector leaves it be (fewer copied pages)
    for k in range(workers):
        mine, theirs = ctx.Pipe()
        share = _Expander(ex.world, ex.sleeping, ex.front[k::workers], ex.freeze)
        pr = ctx.Process(target=_serve, args=(theirs, share), daemon=True)
        pr.start()
        theirs.close()
        peers.append(mine)
        procs.append(pr)
    gc.unfreeze()
    ex.front = []
    return peers, procs


def _level(search: _Search, frontier: list[tuple[int, Any]], peers: list[Any], seen: FingerprintSet, level: int,
           sleeping: bool, none: frozenset) -> bool:
    """One level, round by round, merged in the serial order; the next frontier is set in
    place.  False: the search stopped (a violation, a goal, the state budget).  Raises
    _Budget when a worker ran out of time."""
    from .search import _REPORT_EVERY, _Budget

    n = len(peers)
    total = len(frontier)
    quota = _quota(total, n)
    left = [0] * n  # states of each share not expanded yet
    for owner, _ in frontier:
        left[owner] += 1
    waiting: list[deque] = [deque() for _ in range(n)]  # rows expanded, not merged yet
    nsucc = [0] * n  # successors merged so far per owner
    nxt: list[list] = []  # [owner, link, sleep set, successor index, copies elsewhere: {owner: index} or None]
    where: dict[bytes, int] = {}  # fingerprint -> its place in nxt (sleep sets and copies meet there)
    t0, av0 = search.transitions, search.avoided
    trans = avoided = 0
    deadline = None if search.time_budget is None else search.start + search.time_budget
    search.frontier = total
    parent = 0  # the next state of the frontier to merge
    while parent < total:
        asks = [min(quota, k) for k in left]
        rows = _ask(peers, [("expand", c, deadline) for c in asks])
        short = False
        for k in range(n):
            left[k] -= len(rows[k])
            waiting[k].extend(rows[k])
            short = short or len(rows[k]) < asks[k]  # that worker ran out of time
        # per new state: (owner, successor index, parent's place, transitions and avoided so far, place in nxt)
        new: list[tuple[int, int, int, int, int, int]] = []
        copies: list[list[int]] = [[] for _ in range(n)]  # successors kept as copies, per owner
        while parent < total:
            owner = frontier[parent][0]
            if not waiting[owner]:
                break  # its owner has not expanded it yet: the next round
            for r in waiting[owner].popleft():
                if r is None:
                    avoided += 1
                    continue
                trans += 1
                idx = nsucc[owner]
                nsucc[owner] += 1
                fp, zs, pruned = r
                if fp is None:  # seen before, known without judging it (ExploreWorld.skip_known)
                    continue
                if zs is None:
                    zs = none
                if not seen.insert(fp):  # seen before
                    k = where.get(fp)
                    if k is not None:
                        e = nxt[k]
                        if sleeping:
                            e[2] = e[2] & zs
                        if e[0] != owner and (e[4] is None or owner not in e[4]):
                            # another worker's state, which this one holds too: keep the copy
                            if e[4] is None:
                                e[4] = {}
                            e[4][owner] = idx
                            copies[owner].append(idx)
                    continue
                slot = -1
                if not pruned:
                    slot = where[fp] = len(nxt)
                    nxt.append([owner, None, zs, idx, None])
                new.append((owner, idx, parent, trans, avoided, slot))
            parent += 1
        # judge the new states where they live, count them here in the serial order
        asks_j: list[list[int]] = [[] for _ in range(n)]
        for owner, idx, *_ in new:
            asks_j[owner].append(idx)
        goals = bool(search.pending_goals)
        answers = _ask(peers, [("judge", a, goals, c, u) for a, c, u in zip(asks_j, copies, nsucc, strict=True)])
        verdicts = [v for v, _ in answers]
        if n > 1:
            search.worker_cpu = [c for _, c in answers]
        vcur = [0] * n
        for owner, _, at, tr, av, slot in new:
            problem, reached, a = verdicts[owner][vcur[owner]]
            vcur[owner] += 1
            nlink = (frontier[at][1], a)
            if slot >= 0:
                nxt[slot][1] = nlink
            search.transitions = t0 + tr
            search.avoided = av0 + av
            if search.judged(problem, lambda _s, r=reached: r, None, nlink, level):
                search.frontier = total - at
                return False
        search.transitions = t0 + trans
        search.avoided = av0 + avoided
        search.frontier = total - parent
        if short and parent < total:
            search.budget_hit = True
            raise _Budget
        if search.progress is not None and time.perf_counter() - search._last_report >= _REPORT_EVERY:
            search.tick()
    _balance(nxt, n)
    keeps: list[list[tuple[int, frozenset]]] = [[] for _ in range(n)]
    for owner, _, asleep, idx, _ in nxt:
        keeps[owner].append((idx, asleep))
    _ask(peers, [("keep", k) for k in keeps])
    frontier[:] = [(e[0], e[1]) for e in nxt]
    return True


def _quota(total: int, workers: int) -> int:
    """States each worker expands per round in a level of ``total`` states: about 32 rounds."""
    return max(32, -(-total // (32 * workers)))


def _balance(nxt: list[list], workers: int) -> None:
    """Even out the next level's shares (a level ends when its busiest worker is done): a
    state that another worker also holds (a copy: it found the same state after the owner
    did) moves to it, in the serial order, while the owner has more states than the copy's
    holder.  Only who expands a state changes -- equal fingerprints are equal states to the
    search -- and the order of the frontier stays."""
    have = [0] * workers
    for e in nxt:
        have[e[0]] += 1
    for e in nxt:
        alt = e[4]
        if alt is None:
            continue
        o = e[0]
        w = min(alt, key=lambda k: (have[k], k))
        if have[o] > have[w] + 1:
            have[o] -= 1
            have[w] += 1
            e[0] = w
            e[3] = alt[w]

"""Breadth-first search on several cores, with the serial search's answer.

The frontier of a level is split between worker processes (``fork``: each
inherits the world and its share of the states, nothing is pickled but
fingerprints, verdicts and actions).  A level takes two rounds:

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

A level is expanded slice by slice (a slice is a run of the frontier, split
between the workers), so a search that finds a violation stops soon after
the slice that holds it instead of expanding the whole last level.  At the
end of a level each worker keeps its states of the next frontier.

So the same states are counted, in the same order, and the search stops at
the same first violation, with the same path: the states, transitions,
verdict and shortest counterexample are the serial search's (tests compare
them).  Only the time differs.  A worker owns the successors of its states:
the work stays where it was split, which balances it well enough once the
frontier is large, so the first levels run here, serially, until the
frontier holds at least :data:`_SPLIT_AT` states per worker.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import time
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

    def judge(self, indices: list[int], goals: bool) -> list[tuple]:
        """Per successor index: (broken invariant or None, goals reached, the action taken)."""
        world = self.world
        succ = self.succ
        out = [(world.check(succ[i]), world.goals_reached(succ[i]) if goals else (), self.acts[i]) for i in indices]
        # the successors of this slice that were seen before are not needed any more
        wanted = set(indices)
        for i in range(self.judged, len(succ)):
            if i not in wanted:
                succ[i] = None
        self.judged = len(succ)
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
        return ex.judge(req[1], req[2]), time.process_time()  # and the worker's CPU seconds so far
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
            search.tick()  # the time budget and progress, between slices (workers watch the clock within)
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
    """One level, slice by slice, merged in the serial order; the next frontier is set in
    place.  False: the search stopped (a violation, a goal, the state budget).  Raises
    _Budget when a worker ran out of time."""
    from .search import _REPORT_EVERY, _Budget

    n = len(peers)
    total = len(frontier)
    step = max(32 * n, -(-total // 32))  # frontier states per slice
    nsucc = [0] * n  # successors so far per owner
    nxt: list[list] = []  # [owner, link, sleep set, successor index]
    where: dict[bytes, int] = {}  # fingerprint -> its place in nxt (sleep sets meet there)
    t0, av0 = search.transitions, search.avoided
    trans = avoided = 0
    deadline = None if search.time_budget is None else search.start + search.time_budget
    search.frontier = total
    for lo in range(0, total, step):
        part = frontier[lo:lo + step]
        counts = [0] * n
        for owner, _ in part:
            counts[owner] += 1
        rows = _ask(peers, [("expand", c, deadline) for c in counts])
        cursor = [0] * n
        # per new state: (owner, successor index, parent's place, transitions and avoided so far, place in nxt)
        new: list[tuple[int, int, int, int, int, int]] = []
        partial = False
        for parent, (owner, _) in enumerate(part, lo):
            if cursor[owner] >= len(rows[owner]):
                partial = True  # the owner ran out of time before this state
                break
            prow = rows[owner][cursor[owner]]
            cursor[owner] += 1
            for r in prow:
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
                    if k is not None and sleeping:
                        nxt[k][2] = nxt[k][2] & zs
                    continue
                slot = -1
                if not pruned:
                    slot = where[fp] = len(nxt)
                    nxt.append([owner, None, zs, idx])
                new.append((owner, idx, parent, trans, avoided, slot))
        # judge the new states where they live, count them here in the serial order
        asks: list[list[int]] = [[] for _ in range(n)]
        for owner, idx, *_ in new:
            asks[owner].append(idx)
        goals = bool(search.pending_goals)
        answers = _ask(peers, [("judge", a, goals) for a in asks])
        verdicts = [v for v, _ in answers]
        if n > 1:
            search.worker_cpu = [c for _, c in answers]
        vcur = [0] * n
        for owner, _, parent, tr, av, slot in new:
            problem, reached, a = verdicts[owner][vcur[owner]]
            vcur[owner] += 1
            nlink = (frontier[parent][1], a)
            if slot >= 0:
                nxt[slot][1] = nlink
            search.transitions = t0 + tr
            search.avoided = av0 + av
            if search.judged(problem, lambda _s, r=reached: r, None, nlink, level):
                search.frontier = total - parent
                return False
        search.transitions = t0 + trans
        search.avoided = av0 + avoided
        search.frontier = total - lo - len(part)
        if partial:
            search.budget_hit = True
            raise _Budget
        if search.progress is not None and time.perf_counter() - search._last_report >= _REPORT_EVERY:
            search.tick()
    keeps: list[list[tuple[int, frozenset]]] = [[] for _ in range(n)]
    for owner, _, asleep, idx in nxt:
        keeps[owner].append((idx, asleep))
    _ask(peers, [("keep", k) for k in keeps])
    frontier[:] = [(e[0], e[1]) for e in nxt]
    return True

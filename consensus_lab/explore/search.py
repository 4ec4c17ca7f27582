"""Search over schedules: breadth-first, depth-first and random walks.

Breadth-first search (``strategy="bfs"``) visits every state reachable in one
step, then two, and so on, remembering the fingerprint of every state it has
seen.  The first state in which an invariant fails is therefore as close to
the start as any failing state can be: the path to it is a *shortest*
counterexample.  When the search ends without one, every schedule within the
bounds (depth, faults, messages in flight) has been tried.

Depth-first search (``"dfs"``) follows one schedule as deep as the bound allows
before it backs up; it needs memory only for the states it has seen and finds
deep bugs sooner, but its first counterexample can be long.  Random walks
(``"random"``) run many random schedules from the start -- no proof of
anything, but fast on spaces too large to enumerate.  A counterexample found
by either is *shrunk* (steps are removed while the violation remains) before it
is returned.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..sim.invariants import Violation
from ..sim.run import Run
from ..sim.scenario import ProtocolSpec
from .collector import calm_collector, leave_alone
from .parallel import parallel_bfs
from .progress import ProgressInfo, make_progress
from .setups import ExploreSetup, default_nodes, setup_for
from .visited import FingerprintSet
from .world import NETWORK_FAULTS, Bounds, ClientOp, ExploreWorld, State, Step

__all__ = ["explore", "ExploreResult", "replay", "make_world", "VERDICTS", "STRATEGIES"]

VERDICTS = ("violation", "no violation", "budget exhausted")

#: seconds a search may take unless told otherwise: a student should not wait longer for a verdict,
#: and a command must end by itself.  ``time_budget=None`` lifts it.
DEFAULT_TIME_BUDGET = 120.0
STRATEGIES = ("bfs", "dfs", "random")
REDUCTIONS = ("sleep-sets", "symmetry", "sleep-sets+symmetry")
#: ``reduction="auto"`` / ``workers="auto"``: chosen per search (see :func:`auto_reduction`, :func:`auto_workers`);
#: the command line's defaults, not the notebook API's
AUTO = "auto"
_REPORT_EVERY = 0.25  # seconds between progress reports
_CHECK_EVERY = 256  # transitions between clock readings


@dataclass
class ExploreResult:
    """What a search found.

    ``verdict`` is ``"violation"``, ``"no violation"`` (every schedule within
    the bounds was tried, or for random walks: every walk ran) or ``"budget
    exhausted"`` (the time or state budget ran out first).  ``states`` counts
    distinct states, ``depth`` the deepest step reached.  A violation comes
    with ``path`` (the steps) and ``counterexample`` (a :class:`Run` with its
    trace, ready for ``plot_spacetime``).
    """

    protocol: str
    variant: str
    strategy: str
    nodes: int
    verdict: str
    states: int
    transitions: int
    depth: int
    seconds: float
    complete: bool
    bounds: Bounds
    violation: Violation | None = None
    path: list[Step] = field(default_factory=list)
    counterexample: Run | None = None
    goals: dict[str, int | None] = field(default_factory=dict)
    frontier_left: int = 0
    note: str = ""
    network: str = "async"
    interrupted: bool = False  # stopped by Ctrl-C / the notebook's interrupt button
    time_budget: float | None = None
    depth_complete: int | None = None  # breadth-first: every schedule this long was explored
    reduction: str | None = None
    transitions_avoided: int = 0  # transitions the reduction did not take
    workers: int = 1  # processes that shared breadth-first search's frontier
    worker_cpu: list[float] = field(default_factory=list)  # their CPU seconds (at the last slice judged)
    visited_bytes: int | None = None  # memory of breadth-first search's visited set (16-byte fingerprints)
    reduction_note: str = ""  # with reduction="auto": which reduction ran, and why
    _world: ExploreWorld | None = field(default=None, repr=False)
    _goal_paths: dict[str, list[tuple]] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.verdict != "violation"

    @property
    def counterexample_length(self) -> int | None:
        return len(self.path) if self.verdict == "violation" else None

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else 0.0

    def witness(self, goal: str) -> Run:
        """A run that reaches ``goal`` (the shortest one, with breadth-first search)."""
        if goal not in self.goals:
            raise KeyError(f"no goal {goal!r} (goals: {', '.join(self.goals) or 'none'})")
        if self.goals[goal] is None or self._world is None:
            raise ValueError(f"goal {goal!r} was not reached within the bounds")
        return self._world.record(self._goal_paths[goal])

    def witness_path(self, goal: str) -> list[Step]:
        """The steps of :meth:`witness`."""
        self.witness(goal)  # validates the name
        assert self._world is not None
        actions = self._goal_paths[goal]
        states = self._world.run_path(actions)
        return [self._world.describe(s, a) for s, a in zip(states, actions, strict=False)]

    def summary(self, *, timing: bool = False) -> str:
        """A few lines: configuration, states, depth, verdict (and the steps of a counterexample).

        Without ``timing`` the text is the same on every run, so notebooks can show it.
        """
        b = self.bounds
        kinds = ", ".join(b.fault_kinds) if b.faults else "none"
        took = ""
        if timing:
            shared = f"; {len(self.worker_cpu)} processes" if self.worker_cpu else ""
            took = f", in {self.seconds:.2f}s ({self.states_per_second:,.0f} states/s{shared})"
        lines = [
            f"{self.protocol} ({self.variant}), {self.nodes} nodes"
            + (f", {self.note}" if self.note else "")
            + f": {self.strategy} to depth {b.depth}, up to {b.faults} fault(s) ({kinds})"
            + (f", at most {b.max_in_flight} messages in flight" if b.max_in_flight is not None else "")
            + (f", each timer at most {b.timer_limit}x" if b.timer_limit is not None else "")
            + (", network of partitions (each step a stimulus or a link cut; messages settle in between)"
               if self.network == "partitions" else ""),
            *([f"  reduction: {self.reduction_note}"] if self.reduction_note else []),
            f"  explored {self.states:,} distinct states ({self.transitions:,} transitions), deepest step {self.depth}"
            + took,
        ]
        if self.verdict == "violation" and self.violation is not None:
            lines.append(f"  VIOLATION of {self.violation.invariant!r} after {len(self.path)} steps: "
                         f"{self.violation.message}")
            for k, st in enumerate(self.path, 1):
                lines.append(f"    {k:2d}. {st}")
        elif self.verdict == "no violation":
            if self.strategy == "random":
                lines.append("  no violation in any walk (random walks prove nothing; try bfs)")
            elif self.frontier_left == 0 and self.depth < b.depth:
                lines.append(f"  no violation: the whole reachable space ({self.states:,} states) was explored")
            else:
                lines.append(f"  no violation in any schedule of up to {b.depth} steps")
        else:
            if self.interrupted:
                why = "interrupted"
            elif self.time_budget is not None and self.seconds >= self.time_budget:
                why = f"time budget of {self.time_budget:g} s exhausted"
            else:
                why = "budget exhausted"
            covered = (f"; every schedule of up to {self.depth_complete} steps was explored without a "
                       f"violation" if self.depth_complete else "")
            lines.append(f"  {why} before the bounded space was covered: no verdict{covered}")
        for g, d in self.goals.items():
            lines.append(f"  goal {g!r}: " + (f"reached in {d} steps" if d is not None else "not reached"))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        cx = f", counterexample of {len(self.path)} steps" if self.verdict == "violation" else ""
        return f"<ExploreResult {self.protocol} ({self.variant}): {self.verdict}, {self.states} states{cx}>"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``consensus-lab explore --json -``."""
        return {
            "protocol": self.protocol,
            "variant": self.variant,
            "strategy": self.strategy,
            "network": self.network,
            "nodes": self.nodes,
            "verdict": self.verdict,
            "states": self.states,
            "transitions": self.transitions,
            "depth": self.depth,
            "complete": self.complete,
            "counterexample_length": self.counterexample_length,
            "seconds": round(self.seconds, 6),
            "bounds": self.bounds.to_dict(),
            "violation": (
                {"invariant": self.violation.invariant, "message": self.violation.message}
                if self.violation is not None else None
            ),
            "path": [str(s) for s in self.path],
            "goals": self.goals,
            "interrupted": self.interrupted,
            "depth_complete": self.depth_complete,
            "time_budget": self.time_budget,
            "reduction": self.reduction,
            "reduction_note": self.reduction_note,
            "transitions_avoided": self.transitions_avoided,
            "workers": self.workers,
        }


# --- building the world --------------------------------------------------------------


def _resolve(protocol: Any) -> ProtocolSpec:
    if isinstance(protocol, ProtocolSpec):
        return protocol
    from .. import protocols

    try:
        return protocols.get(protocol)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None


def make_world(
    protocol: str | ProtocolSpec,
    *,
    variant: str = "correct",
    nodes: int | None = None,
    depth: int | None = None,
    faults: int | None = None,
    fault_kinds: Sequence[str] | None = None,
    max_in_flight: int | None = None,
    timer_limit: int | None = None,
    requests: Sequence[ClientOp] | None = None,
    timers: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    setup: ExploreSetup | None = None,
    clock: str | None = None,
    mute: Sequence[str] | None = None,
    network: str | None = None,
    world_class: type[ExploreWorld] = ExploreWorld,
) -> tuple[ExploreWorld, ExploreSetup]:
    """The :class:`ExploreWorld` for a protocol, its setup and the caller's overrides."""
    spec = _resolve(protocol)
    if variant not in spec.variants:
        raise ValueError(f"{spec.name} has no variant {variant!r} (variants: {', '.join(spec.variants)})")
    n = nodes if nodes is not None else (
        setup.nodes if setup is not None and setup.nodes is not None else default_nodes(spec.name) or spec.default_nodes
    )
    if not isinstance(n, int) or not spec.min_nodes <= n <= spec.max_nodes:
        raise ValueError(f"{spec.name} needs between {spec.min_nodes} and {spec.max_nodes} nodes, got {n!r}")
    if isinstance(fault_kinds, str):
        fault_kinds = [k.strip() for k in fault_kinds.split(",") if k.strip()]
    given = dict(options or {})
    if setup is None:
        setup = setup_for(spec.name, n, spec.resolve_options(given), variant)
    resolved = spec.resolve_options({**dict(setup.options), **given})
    net = setup.network if network is None else network
    if fault_kinds is None:  # the setup's kinds are for the setup's network; another network gets all of its own
        same = net == setup.network and setup.fault_kinds is not None
        fault_kinds = setup.fault_kinds if same else NETWORK_FAULTS.get(net, ())
    bounds = Bounds(
        depth=setup.depth if depth is None else depth,
        faults=setup.faults if faults is None else faults,
        fault_kinds=tuple(fault_kinds),
        max_in_flight=setup.max_in_flight if max_in_flight is None else max_in_flight,
        timer_limit=setup.timer_limit if timer_limit is None else timer_limit,
    )
    from ..runner import node_names

    world = world_class(
        spec,
        node_names(n),
        variant=variant,
        options=resolved,
        requests=tuple(setup.requests if requests is None else requests),
        timers=setup.timers if timers is None else tuple(timers),
        bounds=bounds,
        clock=setup.clock if clock is None else clock,
        mute=setup.mute if mute is None else tuple(mute),
        given_options={**dict(setup.options), **given},
        network=net,
    )
    return world, setup


# --- the search ------------------------------------------------------------------------


class _Budget(Exception):
    pass


class _Search:
    def __init__(self, world: ExploreWorld, *, strategy: str, goal: str | None, time_budget: float | None,
                 max_states: int | None, progress: Any, reduction: str | None = None) -> None:
        self.world = world
        self.strategy = strategy
        self.stop_goal = goal
        self.time_budget = time_budget
        self.max_states = max_states
        self.progress = progress
        self.max_depth = world.bounds.depth
        self.states = 0
        self.transitions = 0
        self.avoided = 0  # transitions a reduction did not take
        self.worker_cpu: list[float] = []  # CPU seconds of each worker process (parallel search)
        self.visited: FingerprintSet | None = None  # breadth-first search's visited set
        self.reduction = reduction
        self.depth = 0
        self.frontier = 0
        self.found: tuple[tuple[str, str], tuple] | None = None  # (problem, path link)
        self.pending_goals = list(world.goal_names)
        self.goal_depth: dict[str, int | None] = dict.fromkeys(world.goal_names)
        self.goal_links: dict[str, Any] = {}
        self.goal_hit = False
        self.budget_hit = False
        self.start = time.perf_counter()
        self._last_report = self.start
        self._tick = 0
        self.freeze: Callable[[], None] = leave_alone  # gc.freeze inside explore() (see collector.py)

    # a path is a linked list (parent link, action), shared between siblings
    @staticmethod
    def unlink(link: Any) -> list[tuple]:
        out = []
        while link is not None:
            link, a = link
            out.append(a)
        out.reverse()
        return out

    def info(self, verdict: str | None = None) -> ProgressInfo:
        return ProgressInfo(self.strategy, self.states, self.transitions, self.depth, self.max_depth,
                            self.frontier, time.perf_counter() - self.start, self.time_budget, verdict)

    def step(self, s: State, a: tuple) -> State:
        """The successor of ``s`` by ``a``, counted; budgets and progress are checked
        every _CHECK_EVERY transitions."""
        ns = self.world.step(s, a)
        self.transitions += 1
        self._tick += 1
        if self._tick >= _CHECK_EVERY:
            self._tick = 0
            self.tick()
        return ns

    def tick(self) -> None:
        """Called every _CHECK_EVERY transitions: budgets and progress, and the collector."""
        self.freeze()
        t = time.perf_counter()
        if self.time_budget is not None and t - self.start >= self.time_budget:
            self.budget_hit = True
            raise _Budget
        if self.progress is not None and t - self._last_report >= _REPORT_EVERY:
            self._last_report = t
            self.progress.update(self.info())

    def new_state(self, s: State, link: Any, d: int) -> bool:
        """Judge a state seen for the first time; True if the search must stop."""
        return self.judged(self.world.check(s), self.world.goals_reached, s, link, d)

    def judged(self, problem: tuple[str, str] | None, goals: Any, s: Any, link: Any, d: int) -> bool:
        """Count a new state at depth ``d`` judged ``problem``; ``goals(s)`` are the goals it
        reaches (asked only while some goal is pending).  True if the search must stop."""
        self.states += 1
        if d > self.depth:
            self.depth = d
        if problem is not None:
            self.found = (problem, link)
            return True
        if self.pending_goals:
            for g in goals(s):
                if g not in self.pending_goals:
                    continue
                self.pending_goals.remove(g)
                self.goal_depth[g] = d
                self.goal_links[g] = link
                if g == self.stop_goal:
                    self.goal_hit = True
                    return True
        if self.max_states is not None and self.states >= self.max_states:
            self.budget_hit = True
            return True
        return False

    def pruned(self, s: State) -> bool:
        m = self.world.bounds.max_in_flight
        return m is not None and s.nmsgs > m

    # --- strategies -----------------------------------------------------------------

    def bfs(self) -> bool:
        """True when the bounded space was covered.

        With ``reduction="sleep-sets"`` each state carries a *sleep set*: steps
        not worth taking there because an equivalent order was already taken
        (see :func:`_pure_node`).  Sleep sets skip transitions, never states:
        every state is still reached at its shortest depth, from the same
        first parent, so the search judges the same states in the same order.
        """
        world = self.world
        sleeping = self.reduction is not None and "sleep-sets" in self.reduction.split("+")
        world.skip_known(not sleeping)  # (sleep sets look at every successor's memory)
        try:
            return self._bfs(sleeping)
        finally:
            world.skip_known(False)

    def _bfs(self, sleeping: bool) -> bool:
        world = self.world
        init = world.initial()
        seen = self.visited = FingerprintSet([init.fp])
        if self.new_state(init, None, 0):
            return False
        none: frozenset = frozenset()
        frontier: list[tuple[State, Any, frozenset]] = [(init, None, none)]
        level = 0
        while frontier and level < self.max_depth:
            level += 1
            nxt: list[tuple[State, Any, frozenset]] = []
            where: dict[bytes, int] = {}  # fingerprint -> its place in nxt (sleep sets meet there)
            self.frontier = len(frontier)
            for s, link, asleep in frontier:
                done: list[tuple[tuple, int]] = []  # steps taken here that commute with others
                for a in world.actions(s):
                    if a in asleep:
                        self.avoided += 1
                        continue
                    ns = self.step(s, a)
                    fp = ns.fp
                    if fp is None:  # seen before, known without judging it (ExploreWorld.skip_known)
                        continue
                    zs = none
                    if sleeping:
                        node = _pure_node(s, a, ns)
                        if node is not None:
                            zs = frozenset([b for b, j in done if j != node])
                            if not self.pruned(ns):
                                done.append((a, node))
                    if not seen.insert(fp):  # seen before
                        k = where.get(fp)
                        if k is not None and sleeping:
                            e = nxt[k]
                            nxt[k] = (e[0], e[1], e[2] & zs)
                        continue
                    nlink = (link, a)
                    if self.new_state(ns, nlink, level):
                        return False
                    if not self.pruned(ns):
                        where[fp] = len(nxt)
                        nxt.append((ns, nlink, zs))
                self.frontier -= 1
            frontier = nxt
        self.frontier = len(frontier)
        return True

    def dfs(self) -> bool:
        world = self.world
        init = world.initial()
        best = {init.fp: 0}
        if self.new_state(init, None, 0):
            return False
        stack: list[tuple[State, int, Any]] = [(init, 0, None)]
        while stack:
            s, d, link = stack.pop()
            self.frontier = len(stack)
            if d >= self.max_depth:
                continue
            nd = d + 1
            children = []
            for a in world.actions(s):
                ns = self.step(s, a)
                prev = best.get(ns.fp)
                if prev is not None and prev <= nd:
                    continue
                best[ns.fp] = nd
                nlink = (link, a)
                if prev is None and self.new_state(ns, nlink, nd):
                    return False
                if not self.pruned(ns):
                    children.append((ns, nd, nlink))
            children.reverse()  # explore the first enabled action first
            stack.extend(children)
        return True

    def random_walks(self, walks: int, seed: int) -> bool:
        """``walks`` random schedules, guided by novelty (see :func:`_novel_features`).

        Half of the walks start from the initial state; the others resume from
        a state that showed something new -- a node in a role, term or log
        length not seen before -- as a fuzzer keeps inputs that reached new
        code.  Deep bugs are chains of such firsts.
        """
        world = self.world
        rng = random.Random(f"consensus_lab:explore:{seed}")
        init = world.initial()
        seen = {init.fp}
        if self.new_state(init, None, 0):
            return False
        corpus: list[tuple[State, Any, int]] = [(init, None, 0)]
        known: set = set()
        _novel_features(init, known)
        for w in range(walks):
            self.frontier = walks - w
            s, link, start = init, None, 0
            if w % 2 and len(corpus) > 1:
                s, link, start = corpus[max(rng.randrange(len(corpus)), rng.randrange(len(corpus)))]
            weight = _swarm_weights(rng)
            for d in range(start + 1, self.max_depth + 1):
                acts = world.actions(s)
                if not acts:
                    break
                a = rng.choices(acts, [weight(s, a) for a in acts])[0] if len(acts) > 1 else acts[0]
                s = self.step(s, a)
                link = (link, a)
                if s.fp not in seen:
                    seen.add(s.fp)
                    if self.new_state(s, link, d):
                        return False
                    if d < self.max_depth and _novel_features(s, known):
                        corpus.append((s, link, d))
                if self.pruned(s):
                    break
        return True


def _pure_node(s: State, a: tuple, ns: State) -> int | None:
    """The node a step acted on, if the step commutes with pure steps at other nodes.

    A delivery or a timer runs one handler at one node: it changes that node,
    its timers and storage, and adds messages to the network (a multiset, so
    the order of additions does not matter).  Two such steps at different
    nodes therefore lead to the same nodes and network in either order.  What
    may not commute is the rest of the state: the client history (replies are
    appended in order) and the invariants' memory (a list of voters in the
    order they voted).  So a step is *pure* only if it left both as they were
    -- the very same objects -- and no fault, error or verdict came of it;
    then taking it before or after another pure step at another node gives
    the same state, and the memory there is computed by the same checks from
    the same memory and the same nodes.
    """
    kind = a[0]
    if kind == "deliver":
        node = a[1][1]
    elif kind == "timer":
        node = a[1]
    else:
        return None
    if (ns.memory is not s.memory or ns.hist is not s.hist or ns.clients is not s.clients or ns.error is not None
            or ns.faults != s.faults or ns.cut is not s.cut or (ns.verdict is not None and ns.verdict[0] is not None)):
        return None
    return node


def _novel_features(s: State, known: set) -> bool:
    """Add the features of ``s`` to ``known``; True if any was new.

    A feature is one node's plain facts: its attributes that are numbers,
    strings or booleans, and the sizes of its containers, one level into the
    objects it holds (a Raft node: role, term, vote, commit index, log length).
    """
    new = False
    for i, node in enumerate(s.nodes):
        f = (i, _plain_facts(node, 1)) if node is not None else (i, None)
        if f not in known:
            known.add(f)
            new = True
    return new


def _plain_facts(obj: Any, depth: int) -> tuple:
    out = []
    d = getattr(obj, "__dict__", None)
    if d is None:
        return ()
    for k, v in d.items():
        if v is None or isinstance(v, int | str | float):
            out.append((k, v))
        elif isinstance(v, list | tuple | dict | set | frozenset):
            if k not in ("cluster", "peers"):
                out.append((k, len(v)))
        elif depth > 0 and not callable(v):
            out.append((k, _plain_facts(v, depth - 1)))
    return tuple(out)


_SWARM_LEVELS = (0.02, 0.2, 1.0, 1.0, 5.0)


def _swarm_weights(rng: random.Random) -> Callable[[State, tuple], float]:
    """Weights for one random walk: each link, timer and client gets its own speed.

    A uniform choice among the enabled actions almost never keeps one message
    waiting while a dozen others go by, yet deep bugs (Raft's figure 8) need
    exactly that: a slow message, an impatient node.  So every walk draws a
    weight per message in flight (its delivery, loss or copy), per node
    timer, per client operation and per crash or restart -- in the spirit of
    *swarm testing* (Groce et al., 2012) -- and picks actions in proportion to
    them.  Walks still reach every schedule, with different odds.
    """
    table: dict[Any, float] = {}

    def weight(s: State, a: tuple) -> float:
        kind = a[0]
        k = a if kind == "timer" else (kind, a[1])
        w = table.get(k)
        if w is None:
            w = table[k] = rng.choice(_SWARM_LEVELS)
        return w

    return weight


def shrink(world: ExploreWorld, path: list[tuple], invariant: str) -> list[tuple]:
    """Remove steps while the path still breaks ``invariant`` (greedy, to a fixpoint)."""

    def breaks(candidate: list[tuple]) -> list[tuple] | None:
        s = world.initial()
        for k, a in enumerate(candidate):
            if a not in world.actions(s):
                return None
            s = world.step(s, a)
            p = world.check(s)
            if p is not None:
                return candidate[: k + 1] if p[0] == invariant else None
        return None

    best = path
    changed = True
    while changed:
        changed = False
        n = len(best)
        # one step at a time, then pairs (a crash and its restart go together)
        candidates = [best[:i] + best[i + 1:] for i in range(n - 1, -1, -1)]
        candidates += [best[:i] + best[i + 1:j] + best[j + 1:] for i in range(n) for j in range(i + 1, n)]
        for cand in candidates:
            got = breaks(cand)
            if got is not None and len(got) < len(best):
                best = got
                changed = True
                break
    return best


def auto_reduction(world: ExploreWorld) -> tuple[str | None, str]:
    """What ``reduction="auto"`` runs in ``world``, and a sentence saying why.

    Symmetry where the protocol declares interchangeable nodes for this setup
    (exact: same verdicts and shortest counterexample lengths, fewer states),
    otherwise none.  Sleep sets are not chosen: they save transitions, never
    states, and their bookkeeping cost more than they saved where measured.
    """
    from .symmetry import symmetry_for

    try:
        sym = symmetry_for(world)
    except ValueError as exc:  # the protocol's own sentence saying why not
        return None, f"none (auto; {exc})"
    groups = "; ".join(", ".join(g) for g in sym.groups)
    return "symmetry", f"symmetry (auto; nodes {groups} interchangeable: {sym.why})"


def auto_workers(strategy: str) -> int:
    """What ``workers="auto"`` runs: 2 processes for breadth-first search on a machine with
    at least 2 cores available to this process, otherwise 1."""
    if strategy != "bfs" or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if cores >= 2 else 1


def explore(
    protocol: str | ProtocolSpec,
    *,
    variant: str = "correct",
    nodes: int | None = None,
    depth: int | None = None,
    faults: int | None = None,
    fault_kinds: Sequence[str] | None = None,
    max_in_flight: int | None = None,
    timer_limit: int | None = None,
    requests: Sequence[ClientOp] | None = None,
    timers: Sequence[str] | None = None,
    options: Mapping[str, Any] | None = None,
    setup: ExploreSetup | None = None,
    clock: str | None = None,
    mute: Sequence[str] | None = None,
    network: str | None = None,
    strategy: str = "bfs",
    goal: str | None = None,
    time_budget: float | None = DEFAULT_TIME_BUDGET,
    max_states: int | None = None,
    walks: int = 1000,
    seed: int = 0,
    shrink_counterexample: bool = True,
    progress: Any = "auto",
    world_class: type[ExploreWorld] = ExploreWorld,
    reduction: str | None = None,
    workers: int | str = 1,
) -> ExploreResult:
    """Search the schedules of a protocol for a state that breaks an invariant.

    The node code is the protocol's own (``spec.make_node``), checked by its own
    invariants (``spec.invariants``); the explorer picks which message is
    delivered next, which is lost or duplicated, which timer fires and which
    node crashes or restarts, within the bounds:

    ``depth`` steps, ``faults`` faults of the ``fault_kinds`` (``drop``,
    ``duplicate``, ``crash``; ``restart`` is free), at most ``max_in_flight``
    messages in flight, each timer firing at most ``timer_limit`` times per
    node.  ``network="partitions"`` makes every step a stimulus (request,
    timer, crash, restart) or a link cut (fault kind ``partition``) or heal,
    with the network settling in between: fewer choices per step, so much
    longer schedules are within reach (see :mod:`consensus_lab.explore.world`).
    Unset bounds come from the protocol's exploration setup
    (:mod:`consensus_lab.explore.setups`), as do the client operations
    (``requests``) and the timers that may fire (``timers``).

    ``strategy``: ``"bfs"`` (shortest counterexample), ``"dfs"`` or
    ``"random"`` (``walks`` random schedules drawn with ``seed``).  ``goal``:
    stop as soon as a state reaches this ``sometimes`` goal (see
    :meth:`ExploreResult.witness`).  ``time_budget`` (seconds; default
    :data:`DEFAULT_TIME_BUDGET`, ``None`` for no limit) and ``max_states`` stop a
    long search with the verdict ``"budget exhausted"``; the result says how
    deep breadth-first search got (``depth_complete``).
    ``reduction="sleep-sets"`` (breadth-first search over single deliveries):
    skip a delivery or timer whose effect was already reached by taking it
    in the other order with a step at another node, when neither step
    touched the client history or the invariants' memory.  The same states
    are judged in the same order, with the same shortest counterexamples;
    only duplicate transitions are saved (``transitions_avoided``).
    ``reduction="symmetry"`` (any strategy, network ``"async"``): states that
    differ only by a permutation of the nodes the protocol declares
    interchangeable (two-phase commit's participants, Raft's servers, Paxos's
    acceptors that do not propose) count as one state; a protocol that
    declares none is refused with a ValueError saying why (see
    :mod:`consensus_lab.explore.symmetry`).  Same verdicts and shortest
    counterexample lengths, fewer states; the path is a real schedule.
    ``"sleep-sets+symmetry"`` combines both.  ``reduction="auto"`` (the command
    line's default): symmetry where the protocol declares it for this setup,
    otherwise none; ``result.reduction_note`` (and the summary) say which ran and why.
    ``workers``: breadth-first search splits each level's frontier between this many
    processes (``fork``; see :mod:`consensus_lab.explore.parallel`) and finds the same
    states, verdict and shortest counterexample as one process, sooner on several cores;
    ``"auto"`` (the command line's default): 2 for breadth-first search on 2 or more cores, else 1.
    ``progress``: ``"auto"`` (a bar in notebooks, a line on a terminal, after
    half a second), ``True``, ``False`` or a callable (see
    :func:`consensus_lab.explore.progress.make_progress`).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r} (strategies: {', '.join(STRATEGIES)})")
    if time_budget is not None and not time_budget > 0:
        raise ValueError(f"time_budget must be > 0 seconds, got {time_budget!r}")
    if max_states is not None and (not isinstance(max_states, int) or max_states < 1):
        raise ValueError(f"max_states must be a whole number >= 1, got {max_states!r}")
    if reduction is not None and reduction != AUTO and reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r} (reductions: {', '.join(REDUCTIONS)}, {AUTO})")
    if not isinstance(walks, int) or walks < 1:
        raise ValueError(f"walks must be a whole number >= 1, got {walks!r}")
    if workers == AUTO:
        workers = auto_workers(strategy)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1 or {AUTO!r}, got {workers!r}")
    if workers > 1 and strategy != "bfs":
        raise ValueError(f"workers > 1 applies to breadth-first search only, not {strategy!r}")
    world, used_setup = make_world(
        protocol, variant=variant, nodes=nodes, depth=depth, faults=faults, fault_kinds=fault_kinds,
        max_in_flight=max_in_flight, timer_limit=timer_limit, requests=requests, timers=timers,
        options=options, setup=setup,
        clock=clock, mute=mute, network=network, world_class=world_class,
    )
    if goal is not None and goal not in world.goal_names:
        raise ValueError(f"{world.spec.name} has no goal {goal!r} (goals: {', '.join(world.goal_names) or 'none'})")
    note = ""
    if reduction == AUTO:
        reduction, note = auto_reduction(world)
    techniques = reduction.split("+") if reduction is not None else []
    if "symmetry" in techniques:
        from .symmetry import install

        install(world)  # ValueError (one line) if the protocol declares no interchangeable nodes
    applied = [t for t in techniques if t == "symmetry" or (strategy == "bfs" and world.network == "async")]
    reporter = make_progress(progress)
    search = _Search(world, strategy=strategy, goal=goal, time_budget=time_budget, max_states=max_states,
                     progress=reporter, reduction="+".join(applied) or None)
    complete = interrupted = False
    with calm_collector() as search.freeze:
        try:
            if strategy == "bfs" and workers > 1 and "fork" in multiprocessing.get_all_start_methods():
                complete = parallel_bfs(search, workers)
            elif strategy == "bfs":
                complete = search.bfs()
            elif strategy == "dfs":
                complete = search.dfs()
            else:
                complete = search.random_walks(walks, seed)
        except _Budget:
            complete = False
        except KeyboardInterrupt:
            # the person watching the progress bar had seen enough: keep what was found
            complete = False
            search.budget_hit = interrupted = True
    seconds = time.perf_counter() - search.start

    violation = None
    path_steps: list[Step] = []
    run = None
    if search.found is not None:
        verdict = "violation"
        (name, message), link = search.found
        actions = search.unlink(link)
        if strategy != "bfs" and shrink_counterexample:
            actions = shrink(world, actions, name)
        run = world.record(actions)
        violation = run.violations[0] if run.violations else Violation(name, 0.0, message)
        states = world.run_path(actions)
        path_steps = [world.describe(s, a) for s, a in zip(states, actions, strict=False)]
    elif search.budget_hit:
        verdict = "budget exhausted"
    else:
        verdict = "no violation"
    depth_complete = None
    if strategy == "bfs" and verdict != "violation":
        # levels are finished one by one; the one in progress when the budget ran out is not
        depth_complete = search.depth if complete else max(0, search.depth - 1)
    if reporter is not None:
        reporter.close(search.info(verdict))
    return ExploreResult(
        protocol=world.spec.name,
        variant=variant,
        strategy=strategy,
        nodes=world.n,
        verdict=verdict,
        states=search.states,
        transitions=search.transitions,
        depth=search.depth,
        seconds=seconds,
        complete=complete and verdict == "no violation",
        bounds=world.bounds,
        violation=violation,
        path=path_steps,
        counterexample=run,
        goals=dict(search.goal_depth),
        frontier_left=search.frontier,
        note=used_setup.note,
        network=world.network,
        interrupted=interrupted,
        time_budget=time_budget,
        depth_complete=depth_complete,
        reduction=search.reduction,
        transitions_avoided=search.avoided,
        workers=workers if strategy == "bfs" else 1,
        worker_cpu=search.worker_cpu,
        visited_bytes=search.visited.nbytes if search.visited is not None else None,
        reduction_note=note,
        _world=world,
        _goal_paths={g: search.unlink(link) for g, link in search.goal_links.items()},
    )


def replay(
    protocol: str | ProtocolSpec,
    steps: Sequence[Step],
    **config: Any,
) -> Run:
    """Replay a list of :class:`Step` (for example ``result.path``) and return the Run.

    ``config`` takes the same keywords as :func:`explore` that shape the world
    (``variant``, ``nodes``, ``requests``, ``timers``, ``options``, ``setup``,
    the bounds).  A step that is not possible where it comes raises ValueError.
    """
    world, _ = make_world(protocol, **config)
    s = world.initial()
    actions = []
    for st in steps:
        a = world.action_of(st, s)
        actions.append(a)
        s = world.step(s, a)
    return world.record(actions)

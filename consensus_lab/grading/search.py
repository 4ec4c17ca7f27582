"""Search-based checks: the schedule explorer on the answer's nodes, as DSLabs grades.

A search check (a :class:`~consensus_lab.grading.checks.Check` whose params
have ``"search"``) runs :func:`consensus_lab.explore.explore` -- bounded
breadth-first search for the shortest counterexample, or seeded random walks --
over the answer's nodes.  The search's driver, the fingerprints, the
invariants and the verdict all live in the grader's process; the answer's
code runs in its worker (a sandboxed process in the grader) and is asked one
*stateless* question at a time (the worker's ``step`` request): "here are a
node's variables and storage as plain data; run this handler; what are the new
variables, the storage writes and the effects?".

So the explorer's nodes here are :class:`SteppedNode` stand-ins holding plain
data only -- the answer's variables as canonical JSON, the view it reports and
what the grader *observed* it do -- and forking a state is copying that data.
What the answer says about itself only decides which node the grader hands
back to it next time: a node that lies about its variables lies to itself.
Invariants read storage (written through the grader), the reported view and
the observed facts (:meth:`~consensus_lab.grading.checks.NodeSpec.observe`,
for example "sent AppendEntries as leader of term 3"), so reporting a
harmless view does not hide what the node did.  A "no violation" is never
read from the answer's process: the answer is never asked for one.

Every step is cached by its request (a node's variables, its storage, the
handler and its arguments): the same node in the same situation is asked once
per search, whatever the other nodes are doing.  Bounds are states, not time,
so a verdict does not depend on the machine's load.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..sim.node import Node
from . import codec
from .hosting import (
    Budget,
    StudentError,
    WorkerFailure,
    apply_effects,
    apply_writes,
    call_worker,
    decode_effect,
    merge_view,
)

__all__ = ["SEARCH_KEYS", "SteppedNode", "Stepper", "SearchOutcome", "validate_search", "run_search",
           "search_protocol", "schedule_lines", "counterexample_figure"]

#: what a check's ``"search"`` params may say (anything else is refused when the checks load)
SEARCH_KEYS = {"strategy", "nodes", "depth", "faults", "fault_kinds", "timer_limit", "max_in_flight", "mute",
               "timers", "network", "clock", "max_states", "walks", "seed", "requests", "options"}
MAX_SEARCH_STATES = 100_000
MAX_CACHE = 200_000
SHOWN_STEPS = 40


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), allow_nan=False)


class SteppedNode(Node):
    """The explorer's stand-in for an answer node: plain data, no code of the answer.

    ``state``: the answer's variables (canonical JSON; ``None`` before
    ``on_start``); ``view``: what the node reports about itself (checked by the
    spec's ``validate_view``); ``facts``: what the grader saw it do.
    """

    stepper: Stepper  # set on the per-search subclass, so it is never copied with a state

    def __init__(self, node_id: str, cluster: tuple[str, ...]) -> None:
        super().__init__(node_id, cluster)
        self.state: str | None = None
        self.view: dict[str, Any] = {}
        self.facts: dict[str, Any] = {}

    def on_start(self, ctx) -> None:
        self.stepper.step(self, ctx, "on_start", ())

    def on_message(self, ctx, src: str, msg: Any) -> None:
        self.stepper.step(self, ctx, "on_message", (src, msg))

    def on_timer(self, ctx, name: str, payload: Any) -> None:
        self.stepper.step(self, ctx, "on_timer", (name, payload))

    def on_client_request(self, ctx, request: Any) -> None:
        self.stepper.step(self, ctx, "on_client_request", (request,))


class Stepper:
    """Asks one worker for one handler at a time; checks and applies what comes back."""

    def __init__(self, spec: Any, host: Any, cluster: tuple[str, ...], options: Mapping[str, Any]) -> None:
        self.spec = spec
        self.types = spec.types
        self.cluster = cluster
        self.message_names = {t.__name__ for t in spec.module.MESSAGES} | {"Ok", "Fail", "Redirect"}
        self.options = codec.encode(dict(options), self.types)
        self.worker = host.spawn()
        self.cache: dict[tuple, dict] = {}
        self.calls = 0
        self.sent = 0  # messages the answer's nodes sent (an idle answer breaks nothing and earns nothing)
        self.fatal: WorkerFailure | None = None
        self.not_implemented: StudentError | None = None

    def close(self) -> None:
        self.worker.close()

    def step(self, node: SteppedNode, ctx: Any, handler: str, args: tuple) -> None:
        if self.fatal is not None:
            raise self.fatal
        types = self.types
        storage = codec.encode(ctx.storage.snapshot(), types)
        enc_args = [codec.encode(a, types) for a in args]
        now, clock = ctx.now, ctx.clock()
        key = (node.id, node.state, _dumps(storage), handler, _dumps(enc_args), now, clock)
        reply = self.cache.get(key)
        if reply is None:
            req = {"op": "step", "node": node.id, "cluster": list(self.cluster), "options": self.options,
                   "vars": None if node.state is None else json.loads(node.state), "storage": storage,
                   "h": handler, "args": enc_args, "now": now, "clock": clock}
            try:
                reply = call_worker(self.worker, req)
            except WorkerFailure as exc:
                self.fatal = exc
                raise
            except StudentError as exc:
                if exc.not_implemented and self.not_implemented is None:
                    self.not_implemented = exc
                raise
            self.calls += 1
            if len(self.cache) < MAX_CACHE:
                self.cache[key] = reply
        try:
            variables = reply.get("vars")
            writes, effects = reply.get("w"), reply.get("e")
            if type(variables) is not dict or type(writes) is not list or type(effects) is not list:
                raise codec.CodecError("missing variables, writes or effects")
            view = merge_view({}, reply.get("v") or {}, types)
            problem = self.spec.validate_view(view)
            if problem:
                raise StudentError(f"node {node.id}: {problem}")
            decoded = [decode_effect(e, types, self.cluster, self.message_names) for e in effects]
            apply_writes(ctx.storage, writes, types)
        except codec.CodecError as exc:
            raise StudentError(f"node {node.id} sent something the grader cannot accept: {exc}") from None
        node.state = _dumps(variables)
        node.view = view
        node.facts = self.spec.observe(node.id, decoded, node.facts)
        self.sent += sum(1 for e in decoded if e[0] == "send")
        apply_effects(ctx, decoded)


def search_protocol(spec: Any, stepper: Stepper, name: str | None = None):
    """A :class:`~consensus_lab.sim.ProtocolSpec` of stepped answer nodes, judged by the spec's search invariants."""
    from ..sim import ProtocolSpec, Workload

    node_class = type("SteppedNode", (SteppedNode,), {"stepper": stepper, "__module__": __name__})
    return ProtocolSpec(
        name=name or f"{spec.id}-answer",
        summary=f"the answer to {spec.id}, stepped in its worker",
        make_node=lambda nid, cluster, options, variant: node_class(nid, cluster),
        invariants=lambda options, variant: spec.search_invariants(),
        workload=Workload(),
        options={},
        default_nodes=len(stepper.cluster),
        history_model=None,
    )


def validate_search(params: Any) -> None:
    """Raise ValueError when a check's ``"search"`` params make no sense."""
    from ..explore import STRATEGIES, Bounds
    from ..explore.world import CLOCKS, NETWORK_FAULTS, NETWORKS

    if not isinstance(params, Mapping):
        raise ValueError("search must be an object")
    unknown = sorted(set(params) - SEARCH_KEYS)
    if unknown:
        raise ValueError(f"search does not take {unknown[0]!r} (it takes {', '.join(sorted(SEARCH_KEYS))})")
    if params.get("strategy", "bfs") not in STRATEGIES:
        raise ValueError(f"search strategy must be one of {', '.join(STRATEGIES)}")
    n = params.get("nodes", 3)
    if not isinstance(n, int) or not 1 <= n <= 5:
        raise ValueError("search nodes must be 1..5")
    m = params.get("max_states", 5000)
    if not isinstance(m, int) or not 1 <= m <= MAX_SEARCH_STATES:
        raise ValueError(f"search max_states must be 1..{MAX_SEARCH_STATES} (the bound keeps a check cheap)")
    network = params.get("network", "async")
    if network not in NETWORKS or params.get("clock", "frozen") not in CLOCKS:
        raise ValueError(f"search network must be one of {', '.join(NETWORKS)}, clock one of {', '.join(CLOCKS)}")
    Bounds(depth=params.get("depth", 10), faults=params.get("faults", 0),
           fault_kinds=tuple(params.get("fault_kinds", NETWORK_FAULTS[network])),
           max_in_flight=params.get("max_in_flight"), timer_limit=params.get("timer_limit"))
    _requests(params, tuple(f"n{i}" for i in range(1, n + 1)))


def _requests(params: Mapping[str, Any], nodes: tuple[str, ...]) -> tuple:
    from ..explore import ClientOp

    out = []
    for r in params.get("requests", ()):
        if not isinstance(r, Mapping) or not isinstance(r.get("f"), str):
            raise ValueError("a search request is {\"f\": ..., \"key\": ..., \"value\": ..., \"targets\": [...]}")
        targets = r.get("targets")
        if targets is not None and (not isinstance(targets, list | tuple) or not set(targets) <= set(nodes)):
            raise ValueError(f"search request {r['f']!r}: targets must be among {', '.join(nodes)}")
        out.append(ClientOp(r["f"], r.get("key"), _frozen(r.get("value")), None if targets is None else tuple(targets),
                            int(r.get("attempts", 1))))
    return tuple(out)


def _frozen(value: Any) -> Any:
    """A request's value from JSON with every list a tuple (a transaction's writes ``((key, value), ...)``
    travel in messages, which are hashable)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


@dataclass
class SearchOutcome:
    problem: Any  # a checks.Failure, or None
    result: Any = None  # the ExploreResult (None when the search could not run)
    calls: int = 0  # requests that reached the worker
    seconds: float = 0.0


def schedule_lines(result: Any) -> list[str]:
    """The counterexample as numbered steps, the broken invariant last."""
    steps = list(result.path)
    lines = [f"{k}. {_clip(str(st))}" for k, st in enumerate(steps[:SHOWN_STEPS], 1)]
    if len(steps) > SHOWN_STEPS:
        lines.append(f"... ({len(steps) - SHOWN_STEPS} more steps)")
    v = result.violation
    if v is not None:
        lines.append(f"-> broken: {v.invariant}: {_clip(str(v.message))}")
    return lines


def counterexample_figure(result: Any, title: str):
    """The counterexample's space-time diagram, the moment it breaks marked with the invariant,
    and the numbered schedule printed under it (the same numbers as the feedback's)."""
    from ..explore.world import TICK
    from ..viz import plot_spacetime

    v = result.violation
    rows = result.counterexample.trace.rows if hasattr(result.counterexample.trace, "rows") else None
    at = v.time if v is not None and v.time > 0 else (rows[-1][0] if rows else TICK)
    fig = plot_spacetime(result.counterexample, title=title, end=at + 2 * TICK)
    fig = getattr(fig, "figure", fig)
    ax = fig.axes[0]
    ax.axvline(at, color="#d62728", linestyle="--", linewidth=1)
    if v is not None:
        ax.annotate(v.invariant, (at, 0.02), xycoords=("data", "axes fraction"), ha="right", va="bottom",
                    fontsize=9, color="#d62728")
    lines = schedule_lines(result)
    fig.text(0.01, -0.02, "\n".join(lines), ha="left", va="top", fontsize=8, family="monospace")
    return fig


def _clip(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run_search(spec: Any, host: Any, params: Mapping[str, Any], budget: Budget | None = None) -> SearchOutcome:
    """Run the check's search on the answer behind ``host``; judge it here."""
    from ..explore import explore
    from ..explore.world import SETTLE_LIMIT
    from .checks import Failure, _failure_from

    budget = budget or Budget()
    p = dict(params["search"])
    nodes = tuple(f"n{i}" for i in range(1, int(p.get("nodes", 3)) + 1))
    options = {**dict(spec.default_options), **dict(p.get("options", {}))}
    start = time.monotonic()
    try:
        stepper = Stepper(spec, host, nodes, options)
    except (StudentError, WorkerFailure) as exc:
        return SearchOutcome(_failure_from(exc))
    remaining = budget.remaining()
    kw: dict[str, Any] = {k: p[k] for k in ("depth", "faults", "timer_limit", "max_in_flight", "network", "clock",
                                            "walks", "seed") if k in p}
    for k in ("fault_kinds", "mute", "timers"):
        if k in p:
            kw[k] = tuple(p[k])
    try:
        result = explore(
            search_protocol(spec, stepper), nodes=len(nodes), requests=_requests(p, nodes),
            strategy=p.get("strategy", "bfs"), max_states=int(p.get("max_states", 5000)),
            faults=kw.pop("faults", 0), time_budget=None if remaining is None else max(remaining, 0.001),
            progress=False, **kw)
    except ValueError as exc:  # the parameters were checked when the checks loaded: this is the answer's doing
        if stepper.fatal is not None or stepper.not_implemented is not None:
            return SearchOutcome(_failure_from(stepper.fatal or stepper.not_implemented), None, stepper.calls)
        loop = "did not settle" in str(exc)
        return SearchOutcome(Failure(
            "fail",
            ("the nodes never stop answering messages with messages: after a step of the search the network "
             f"did not settle within {SETTLE_LIMIT:,} deliveries (a retry that needs no timer loops forever)")
            if loop else f"the search could not go on: {_clip(str(exc))}",
            kind="messages settle" if loop else "error"), None, stepper.calls, time.monotonic() - start)
    finally:
        stepper.close()
    outcome = SearchOutcome(None, result, stepper.calls, time.monotonic() - start)
    if stepper.not_implemented is not None:
        outcome.problem = _failure_from(stepper.not_implemented)
    elif stepper.fatal is not None:
        outcome.problem = _failure_from(stepper.fatal)
    elif result.verdict == "violation":
        v = result.violation
        how = ("breadth-first search over every schedule" if result.strategy == "bfs"
               else f"random walks (seed {p.get('seed', 0)})")
        outcome.problem = Failure(
            "fail",
            f"{v.invariant}: {v.message} -- {how} of {len(nodes)} nodes found a schedule of "
            f"{len(result.path)} steps that breaks it (below, numbered)",
            kind=v.invariant, evidence=schedule_lines(result))
    elif result.verdict == "budget exhausted" and result.states < int(p.get("max_states", 5000)):
        outcome.problem = Failure("timeout", "the time allowed for this submission ran out during the search",
                                  kind="timeout")
    elif stepper.sent == 0:
        outcome.problem = Failure("fail", "the nodes sent no message in any schedule the search tried: "
                                  "nothing happened, so nothing could be judged", kind="progress")
    return outcome

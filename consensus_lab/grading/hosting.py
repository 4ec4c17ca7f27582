"""Where an answer runs, and how the grader's simulator drives it.

A *host* makes *workers*: a worker holds one function answer or one node
incarnation and answers requests (see :mod:`.worker`).

* :class:`LocalHost` runs the worker in this process, on objects the student
  defined in the notebook -- the self-check;
* :class:`consensus_lab.grading.sandbox.SandboxHost` runs every worker in its
  own locked-down process -- the instructor's grader.

For node exercises the simulator here, in the grader's process, owns time,
the network, faults and durable storage.  Each node in it is a
:class:`HostedNode`: a stand-in that forwards every handler call to its
worker, applies the storage writes and effects it gets back after checking
them, and keeps the node's read-only *view* for the invariants.  A crash
throws the worker away; a restart gets a fresh one, rebuilt from storage.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ..sim import Simulation
from ..sim.clients import ClientRequest, SessionRequest
from ..sim.node import Node
from . import codec
from .worker import Runtime

__all__ = [
    "Budget",
    "WorkerFailure",
    "StudentError",
    "LocalHost",
    "HostedNode",
    "GradingSimulation",
]

MAX_TIMER_DELAY = 1e6
MAX_EFFECTS_PER_RUN = 300_000  # a run that produces more is flooding the grader, not solving the exercise


class Budget:
    """A submission's wall-clock allowance, shared by everything that runs for it."""

    def __init__(self, seconds: float | None = None, call_timeout: float | None = None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.call_timeout = call_timeout

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def expired(self) -> bool:
        r = self.remaining()
        return r is not None and r <= 0

    def for_call(self) -> float | None:
        r = self.remaining()
        if self.call_timeout is None:
            return r
        return self.call_timeout if r is None else min(r, self.call_timeout)


class WorkerFailure(RuntimeError):
    """The worker process died, hung, or broke the protocol: no answer from it."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class StudentError(RuntimeError):
    """The answer's own code raised, or sent something it may not."""

    def __init__(self, message: str, *, not_implemented: bool = False) -> None:
        super().__init__(message)
        self.not_implemented = not_implemented


class _LocalWorker:
    def __init__(self, exercise_id: str, answers: dict[str, Any]) -> None:
        self.runtime = Runtime(exercise_id, dict(answers))

    def request(self, req: dict) -> dict:
        return self.runtime.handle(req)

    def close(self) -> None:
        self.runtime = None  # type: ignore[assignment]


class LocalHost:
    """Runs answers in this process (the notebook's self-check and replays)."""

    isolation = "none (in the notebook)"

    def __init__(self, exercise_id: str, answers: dict[str, Any]) -> None:
        self.exercise_id = exercise_id
        self.answers = dict(answers)
        self.budget = Budget()

    def spawn(self) -> _LocalWorker:
        return _LocalWorker(self.exercise_id, self.answers)

    def close(self) -> None:
        pass


def call_worker(worker: Any, req: dict) -> dict:
    """One request; turns a student error reply into :class:`StudentError`."""
    reply = worker.request(req)
    if type(reply) is not dict or reply.get("ok") not in (True, False):
        raise WorkerFailure("the answer's process sent a malformed reply")
    if not reply["ok"]:
        err = reply.get("error")
        text = err if type(err) is str else "an error"
        if reply.get("exit"):
            text = f"the code tried to exit ({text})"
        raise StudentError(_clean(text), not_implemented=reply.get("ni") is True)
    return reply


def _clean(text: str, limit: int = 300) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:limit]


# --- nodes ---------------------------------------------------------------------------


class HostedNode(Node):
    """The simulator's stand-in for a student's node that lives in a worker."""

    def __init__(self, node_id: str, cluster: tuple[str, ...], run: HostedRun) -> None:
        super().__init__(node_id, cluster)
        self._run = run
        self.incarnation = run.next_incarnation(node_id)
        self.hosted_view: dict[str, Any] = {}
        self._worker: Any = None

    # the node contract ------------------------------------------------------------
    def on_start(self, ctx) -> None:
        run = self._run
        self._worker = run.spawn()
        req = {
            "op": "start",
            "node": self.id,
            "cluster": list(self.cluster),
            "options": codec.encode(dict(run.options), run.types),
            "storage": codec.encode(ctx.storage.snapshot(), run.types),
            "seed": ctx.rng.getrandbits(64),  # the simulator's own seeded stream for this node
            "incarnation": self.incarnation,
            "now": ctx.now,
            "clock": ctx.clock(),
        }
        self._apply(ctx, call_worker(self._worker, req), "on_start")

    def on_message(self, ctx, src: str, msg: Any) -> None:
        self._call(ctx, "on_message", (src, msg))

    def on_timer(self, ctx, name: str, payload: Any) -> None:
        self._call(ctx, "on_timer", (name, payload))

    def on_client_request(self, ctx, request: Any) -> None:
        self._call(ctx, "on_client_request", (request,))

    def state_view(self) -> dict[str, Any]:
        return dict(self.hosted_view)

    # plumbing ---------------------------------------------------------------------
    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _call(self, ctx, handler: str, args: tuple) -> None:
        if self._worker is None:
            raise WorkerFailure(f"node {self.id} has no process")
        types = self._run.types
        req = {"op": "call", "h": handler, "now": ctx.now, "clock": ctx.clock(),
               "args": [codec.encode(a, types) for a in args]}
        self._apply(ctx, call_worker(self._worker, req), handler)

    def _apply(self, ctx, reply: dict, handler: str) -> None:
        run = self._run
        types = run.types
        try:
            writes = reply.get("w")
            effects = reply.get("e")
            if type(writes) is not list or type(effects) is not list:
                raise codec.CodecError("missing writes or effects")
            before = apply_writes(ctx.storage, writes, types)
            update = reply.get("v")
            view_changed = False
            if update is not None:
                view = merge_view(self.hosted_view, update, types)
                problem = run.validate_view(view)
                if problem:
                    raise StudentError(f"node {self.id}: {problem}")
                self.hosted_view = view
                view_changed = True
            decoded = [self._decode_effect(e, types) for e in effects]
        except codec.CodecError as exc:
            raise StudentError(f"node {self.id} sent something the grader cannot accept: {exc}") from None
        run.after_call(self, handler, before, decoded, view_changed, ctx.now)
        run.effects += len(decoded)
        if run.effects > MAX_EFFECTS_PER_RUN:
            raise StudentError(f"the nodes produced more than {MAX_EFFECTS_PER_RUN} messages, timers and replies "
                               "in one run; that is a flood, not a protocol")
        apply_effects(ctx, decoded)

    def _decode_effect(self, e: Any, types: dict[str, type]) -> tuple:
        return decode_effect(e, types, self.cluster, self._run.message_names)


def decode_effect(e: Any, types: dict[str, type], cluster: tuple[str, ...], message_names: set[str]) -> tuple:
    """One effect a worker reported, decoded and checked: ``("send", dst, msg)``, ``("timer", name,
    delay, payload)``, ``("cancel", name)`` or ``("reply", request, result)``."""
    if type(e) is not list or not e or type(e[0]) is not str:
        raise codec.CodecError("malformed effect")
    kind = e[0]
    if kind == "send" and len(e) == 3 and type(e[1]) is str:
        if e[1] not in cluster:
            raise codec.CodecError(f"message to unknown node {e[1][:20]!r}")
        msg = codec.decode(e[2], types)
        if type(msg).__name__ not in message_names:
            raise codec.CodecError(f"a {type(msg).__name__} is not a message of this exercise")
        return ("send", e[1], msg)
    if kind == "timer" and len(e) == 4 and type(e[1]) is str and type(e[2]) in (int, float):
        delay = float(e[2])
        if not (math.isfinite(delay) and 0 <= delay <= MAX_TIMER_DELAY):
            raise codec.CodecError(f"timer {e[1][:20]!r} has a bad delay")
        return ("timer", e[1], delay, codec.decode(e[3], types))
    if kind == "cancel" and len(e) == 2 and type(e[1]) is str:
        return ("cancel", e[1])
    if kind == "reply" and len(e) == 3:
        request = codec.decode(e[1], types)
        if type(request) not in (ClientRequest, SessionRequest):
            raise codec.CodecError("ctx.reply needs the client request it answers")
        return ("reply", request, codec.decode(e[2], types))
    raise codec.CodecError(f"malformed {kind[:10]!r} effect")


def apply_effects(ctx: Any, decoded: list[tuple]) -> None:
    """Do what :func:`decode_effect` decoded, through the simulator's (or explorer's) context."""
    for eff in decoded:
        kind = eff[0]
        if kind == "send":
            ctx.outbox.append(_send(eff[1], eff[2]))
        elif kind == "timer":
            ctx.set_timer(eff[1], eff[2], eff[3])
        elif kind == "cancel":
            ctx.cancel_timer(eff[1])
        else:
            ctx.reply(eff[1], eff[2])


_ABSENT = object()


def _extend(base: Any, keep: Any, items: Any, types: dict[str, type]) -> tuple:
    if type(base) is not tuple or type(keep) is not int or not 0 <= keep <= len(base) or type(items) is not list:
        raise codec.CodecError("malformed delta")
    return base[:keep] + codec.decode({"T": items}, types)


def apply_writes(storage: Any, writes: list, types: dict[str, type]) -> dict[str, Any]:
    """Apply a worker's storage writes to the grader's storage; return the keys' old values.

    Values are fresh objects decoded here, so they go in without another copy.
    """
    data = storage._data  # the simulator's own durable store for this node
    before: dict[str, Any] = {}
    for w in writes:
        if type(w) is not list or len(w) < 2 or type(w[1]) is not str:
            raise codec.CodecError("malformed storage write")
        op, key = w[0], w[1]
        if key not in before:
            before[key] = data.get(key, _ABSENT)
        if op == "=" and len(w) == 3:
            data[key] = codec.decode(w[2], types)
        elif op == "+" and len(w) == 4:
            data[key] = _extend(data.get(key), w[2], w[3], types)
        elif op == "-" and len(w) == 2:
            data.pop(key, None)
        else:
            raise codec.CodecError("malformed storage write")
        storage.writes += 1
    return before


def merge_view(view: dict, update: Any, types: dict[str, type]) -> dict:
    if type(update) is not dict:
        raise codec.CodecError("malformed view")
    out = dict(view)
    for key, change in update.items():
        if type(change) is not list or not change:
            raise codec.CodecError("malformed view")
        if change[0] == "=" and len(change) == 2:
            out[key] = codec.decode(change[1], types)
        elif change[0] == "+" and len(change) == 3:
            out[key] = _extend(out.get(key), change[1], change[2], types)
        elif change[0] == "-" and len(change) == 1:
            out.pop(key, None)
        else:
            raise codec.CodecError("malformed view")
    return out


def _send(dst: str, msg: Any):
    from ..sim.node import Send

    return Send(dst, msg)


class HostedRun:
    """One simulated run of hosted nodes: workers, options and the per-call checks."""

    def __init__(
        self,
        host: Any,
        *,
        seed: int,
        options: dict[str, Any],
        types: dict[str, type],
        message_names: set[str],
        validate_view: Callable[[Any], str | None],
        after_call: Callable[..., None] | None = None,
    ) -> None:
        self.host = host
        self.seed = seed
        self.options = options
        self.types = types
        self.message_names = message_names
        self.validate_view = validate_view
        self._after_call = after_call
        self._incarnations: dict[str, int] = {}
        self.effects = 0
        self.workers: list[Any] = []
        self.nodes: list[HostedNode] = []

    def next_incarnation(self, node_id: str) -> int:
        n = self._incarnations.get(node_id, 0)
        self._incarnations[node_id] = n + 1
        return n

    def spawn(self) -> Any:
        w = self.host.spawn()
        self.workers.append(w)
        return w

    def make_node(self, node_id: str, cluster: tuple[str, ...]) -> HostedNode:
        node = HostedNode(node_id, cluster, self)
        self.nodes.append(node)
        return node

    def after_call(self, node: HostedNode, handler: str, before: dict, effects: list, view_changed: bool, now: float) -> None:
        if self._after_call is not None:
            self._after_call(node, handler, before, effects, view_changed, now)

    def close(self) -> None:
        for n in self.nodes:
            n.close()
        self.nodes = []
        for w in self.workers:
            w.close()
        self.workers = []


class GradingSimulation(Simulation):
    """The simulator, with a crash that also ends the crashed node's process."""

    def crash(self, n: str) -> None:
        node = self.nodes.get(n)
        if isinstance(node, HostedNode):
            node.close()
        super().crash(n)

"""The student's side of the wall: host one answer, answer requests in plain data.

A :class:`Runtime` holds one exercise answer -- a function, or one incarnation
of a node -- and serves requests given as dicts:

* ``{"op": "load", "source": ...}`` executes the extracted solution code in a
  fresh module (with the exercise's own preamble) and looks up the names the
  exercise asks for;
* ``{"op": "start", "id", "cluster", "options", "storage", "seed", "incarnation"}``
  builds the node and runs ``on_start``;
* ``{"op": "call", "h", "now", "clock", "args"}`` runs one handler;
* ``{"op": "fn", "name", "args"}`` calls a function answer;
* ``{"op": "step", "node", "cluster", "options", "vars", "storage", "h", "args", "now", "clock"}``
  is stateless, for the schedule explorer that runs in the grader's process: a
  fresh node gets the plain-data variables ``vars`` (``None``: a node just
  built, whose ``on_start`` runs), runs one handler on ``storage`` and returns,
  besides ``w``/``e``/``v``, its new variables (``vars``).  Nothing survives the
  request, so the explorer may fork a state as often as it likes.

Node replies carry the storage writes (``w``), the effects (``e``) and, when it
changed, the node's read-only view (``v``) -- never the node itself.  The same
code runs in the notebook (the self-check) and in a sandboxed process (the
instructor's grader), so a seed replays the same way in both places; only the
grader keeps each node in its own process and computes every verdict outside.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import types
from typing import Any

from ..sim.clients import ClientRequest, Fail, Ok, Redirect, SessionOk, SessionRequest
from ..sim.node import CancelTimer, Context, Reply, Send, SetTimer, Storage, _is_immutable
from . import codec

__all__ = ["Runtime", "exercise_module", "type_table", "is_not_implemented", "describe_error"]

_BASE_TYPES = (ClientRequest, SessionRequest, Ok, SessionOk, Fail, Redirect)
_SCALARS = (type(None), bool, int, float, str)
MAX_EFFECTS = 20_000


def exercise_module(exercise_id: str) -> types.ModuleType:
    """The student-facing module of an exercise (messages, base classes, adapters)."""
    return importlib.import_module(f"consensus_lab.grading.exercises.{exercise_id}")


def type_table(module: types.ModuleType) -> dict[str, type]:
    """Every class that may cross the wall for this exercise, by name."""
    table = {t.__name__: t for t in _BASE_TYPES}
    for t in getattr(module, "MESSAGES", ()):
        table[t.__name__] = t
    return table


def is_not_implemented(exc: BaseException | None) -> bool:
    """True when ``exc`` is, or was caused by, a ``NotImplementedError``."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, NotImplementedError):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def describe_error(exc: BaseException) -> str:
    """``Type: message`` of the innermost cause, on one short line."""
    inner = exc
    for _ in range(20):
        nxt = inner.__cause__
        if nxt is None:
            break
        inner = nxt
    text = f"{type(inner).__name__}: {inner}" if str(inner) else type(inner).__name__
    text = " ".join(text.split())
    return text[:300]


def shared_prefix(old: tuple, new: tuple) -> int:
    """How many leading items of ``new`` are the very objects at the start of ``old``."""
    n = min(len(old), len(new))
    i = 0
    while i < n and old[i] is new[i]:
        i += 1
    return i


def thaw(v: Any) -> Any:
    """Decoded node variables made mutable again: the codec gives a set as a frozenset (a set and a
    frozenset cross the wall alike), so sets held in variables, lists, dicts and tuples (not in
    dict keys or set members, which must stay hashable) become sets."""
    t = type(v)
    if t is frozenset:
        return set(v)
    if t is list:
        return [thaw(x) for x in v]
    if t is tuple:
        return tuple([thaw(x) for x in v])
    if t is dict:
        return {k: thaw(x) for k, x in v.items()}
    return v


class _RecordingStorage(Storage):
    """Durable storage that also writes down every change, for the grader to apply.

    Writes go out as ``["=", key, value]`` or ``["-", key]``; a tuple that
    extends what was stored (a Raft log, say) goes out as ``["+", key, kept,
    new items]`` so that appending one entry costs one entry.
    """

    __slots__ = ("log", "_types")

    def __init__(self, data: dict, types_: dict[str, type]) -> None:
        super().__init__(data)
        self.log: list[list] = []
        self._types = types_

    def __setitem__(self, key: str, value: Any) -> None:
        if type(key) is not str:
            raise TypeError(f"storage keys must be strings, got {type(key).__name__}")
        old = self._data.get(key)
        if type(value) is tuple and type(old) is tuple:
            k = shared_prefix(old, value)
            tail = value[k:]
            if k and _is_immutable(tail):
                enc = codec.encode(tail, self._types)["T"]
                self.writes += 1
                self._data[key] = value  # the prefix was checked when it was stored
                self.log.append(["+", key, k, enc])
                return
        enc = codec.encode(value, self._types)  # fails here, at the student's line, if it cannot be stored
        super().__setitem__(key, value)
        self.log.append(["=", key, enc])

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.log.append(["-", key])


class _Ctx(Context):
    __slots__ = ("_clock_value",)

    def clock(self) -> float:
        return self._clock_value


class Runtime:
    """One answer, served request by request."""

    def __init__(self, exercise_id: str, answers: dict[str, Any] | None = None) -> None:
        self.exercise_id = exercise_id
        self.module = exercise_module(exercise_id)
        self.types = type_table(self.module)
        self.answers: dict[str, Any] | None = answers
        self.node: Any = None
        self.ctx: _Ctx | None = None
        self._last_view: dict | None = None
        self._sent_keys: set[str] = set()

    # --- requests ---------------------------------------------------------------

    def handle(self, req: dict) -> dict:
        op = req.get("op")
        try:
            if op == "load":
                return self._load(req)
            if op == "start":
                return self._start(req)
            if op == "call":
                return self._call(req)
            if op == "fn":
                return self._fn(req)
            if op == "step":
                return self._step(req)
            return {"ok": False, "error": f"unknown request {op!r}"}
        except BaseException as exc:  # noqa: BLE001 - the student's code may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            return {"ok": False, "error": describe_error(exc), "ni": is_not_implemented(exc),
                    "exit": isinstance(exc, SystemExit)}

    def _load(self, req: dict) -> dict:
        source = req["source"]
        mod = types.ModuleType("submission")
        mod.__dict__["__builtins__"] = __builtins__
        preamble = getattr(self.module, "PREAMBLE", "")
        code = compile(preamble + "\n" + source, "<submission>", "exec")
        sys.modules["submission"] = mod
        exec(code, mod.__dict__)
        answers = {}
        missing = []
        for name in self.module.INTERFACE:
            if name in mod.__dict__:
                answers[name] = mod.__dict__[name]
            else:
                missing.append(name)
        if missing:
            return {"ok": False, "error": f"the answer does not define {', '.join(missing)}", "missing": missing}
        self.answers = answers
        return {"ok": True}

    def _start(self, req: dict) -> dict:
        if self.answers is None:
            return {"ok": False, "error": "no answer loaded"}
        storage = codec.decode(req["storage"], self.types)
        if type(storage) is not dict:
            return {"ok": False, "error": "bad storage"}
        store = _RecordingStorage(storage, self.types)
        rng = random.Random(f"consensus_lab:grading:{req['seed']}:{req['node']}:{req['incarnation']}")
        ctx = _Ctx(req["node"], rng, store)
        ctx._clock_value = 0.0
        self.ctx = ctx
        options = codec.decode(req.get("options", {"D": []}), self.types)
        self.node = self.module.make_node(self.answers, req["node"], tuple(req["cluster"]), options)
        return self._run_handler("on_start", (), float(req.get("now", 0.0)), float(req.get("clock", 0.0)))

    def _call(self, req: dict) -> dict:
        if self.node is None:
            return {"ok": False, "error": "the node was not started"}
        name = req["h"]
        if name not in ("on_message", "on_timer", "on_client_request"):
            return {"ok": False, "error": f"unknown handler {name!r}"}
        args = tuple(codec.decode(a, self.types) for a in req["args"])
        return self._run_handler(name, args, float(req["now"]), float(req["clock"]))

    def _run_handler(self, name: str, args: tuple, now: float, clock: float) -> dict:
        ctx = self.ctx
        assert ctx is not None
        ctx._now = now
        ctx._clock_value = clock
        ctx.outbox = []
        store = ctx.storage
        store.log = []  # type: ignore[attr-defined]
        getattr(self.node, name)(ctx, *args)
        effects = []
        out = ctx.outbox
        if len(out) > MAX_EFFECTS:
            raise RuntimeError(f"{name} produced {len(out)} effects (limit {MAX_EFFECTS})")
        enc = codec.encode
        for eff in out:
            t = type(eff)
            if t is Send:
                if type(eff.dst) is not str:
                    raise TypeError("ctx.send needs a node id (a string)")
                effects.append(["send", eff.dst, enc(eff.msg, self.types)])
            elif t is SetTimer:
                if type(eff.name) is not str:
                    raise TypeError("timer names must be strings")
                effects.append(["timer", eff.name, float(eff.delay), enc(eff.payload, self.types)])
            elif t is CancelTimer:
                if type(eff.name) is not str:
                    raise TypeError("timer names must be strings")
                effects.append(["cancel", eff.name])
            elif t is Reply:
                effects.append(["reply", enc(eff.request, self.types), enc(eff.result, self.types)])
            else:
                raise TypeError(f"unknown effect {t.__name__}")
        ctx.outbox = []
        return {"ok": True, "w": store.log, "e": effects, "v": self._view_update()}  # type: ignore[attr-defined]

    def _view_update(self) -> dict | None:
        """The fields of the node's view that changed since the last reply (tuples as deltas).

        Only immutable values are remembered between replies; anything else is
        sent in full every time, so mutating a list in place cannot hide a change.
        """
        view = self.module.view(self.node)
        if type(view) is not dict:
            raise TypeError("the exercise view must be a dict")
        last = self._last_view or {}
        keep: dict[str, Any] = {}
        out = {}
        for key, value in view.items():
            if type(key) is not str:
                raise TypeError("view keys must be strings")
            t = type(value)
            if key in last:
                old = last[key]
                if t is tuple and type(old) is tuple:
                    k = shared_prefix(old, value)
                    tail = value[k:]
                    if _is_immutable(tail):
                        keep[key] = value
                        if k == len(old) == len(value):
                            continue
                        if k:
                            out[key] = ["+", k, codec.encode(tail, self.types)["T"]]
                            continue
                elif t in _SCALARS and type(old) is t and old == value:
                    keep[key] = value
                    continue
            out[key] = ["=", codec.encode(value, self.types)]
            if t in _SCALARS or (t is tuple and _is_immutable(value)):
                keep[key] = value
        for key in self._sent_keys - set(view):
            out[key] = ["-"]
        self._sent_keys = set(view)
        self._last_view = keep
        return out or None

    def _step(self, req: dict) -> dict:
        if self.answers is None:
            return {"ok": False, "error": "no answer loaded"}
        name = req["h"]
        state = req.get("vars")
        if name not in ("on_start", "on_message", "on_timer", "on_client_request") or (
                (state is None) != (name == "on_start")):
            return {"ok": False, "error": f"bad step {name!r}"}
        storage = codec.decode(req["storage"], self.types)
        if type(storage) is not dict:
            return {"ok": False, "error": "bad storage"}
        nid = req["node"]
        # the explorer's ctx.rng: the same fresh sequence before every handler (see consensus_lab.explore.world)
        ctx = _Ctx(nid, random.Random(f"consensus_lab:explore:{nid}"), _RecordingStorage(storage, self.types))
        options = codec.decode(req.get("options", {"D": []}), self.types)
        node = self.module.make_node(self.answers, nid, tuple(req["cluster"]), options)
        if state is not None:
            variables = codec.decode(state, self.types)
            if type(variables) is not dict or any(type(k) is not str for k in variables):
                return {"ok": False, "error": "bad node variables"}
            node.__dict__.clear()
            node.__dict__.update(thaw(variables))
        self.node, self.ctx, self._last_view, self._sent_keys = node, ctx, None, set()
        args = tuple(codec.decode(a, self.types) for a in req.get("args", ()))
        reply = self._run_handler(name, args, float(req.get("now", 0.0)), float(req.get("clock", 0.0)))
        try:
            reply["vars"] = codec.encode(dict(vars(node)), self.types)
        except codec.CodecError as exc:
            raise TypeError(f"the node's attributes must be plain data for the schedule explorer "
                            f"(numbers, strings, tuples, lists, dicts, sets, messages): {exc}") from None
        self.node = self.ctx = None
        return reply

    def _fn(self, req: dict) -> dict:
        if self.answers is None:
            return {"ok": False, "error": "no answer loaded"}
        args = [codec.decode(a, self.types) for a in req["args"]]
        result = self.module.call(self.answers, req["name"], args)
        return {"ok": True, "r": codec.encode(result, self.types)}


def serve(rfile, wfile, exercise_id: str, max_line: int) -> None:  # pragma: no cover - runs in the sandbox
    """The worker loop: one JSON request per line in, one JSON reply per line out."""
    runtime = Runtime(exercise_id)
    while True:
        line = rfile.readline(max_line + 1)
        if not line:
            return
        try:
            req = json.loads(line)
        except ValueError:
            return
        reply = runtime.handle(req) if type(req) is dict else {"ok": False, "error": "bad request"}
        reply["id"] = req.get("id") if type(req) is dict else None
        try:
            data = codec.dumps(reply)
        except (TypeError, ValueError) as exc:
            data = codec.dumps({"ok": False, "error": f"reply not encodable: {exc}"})
        wfile.write(data)
        wfile.flush()
        if reply.get("exit"):
            return

"""Exercise 15: a breadth-first schedule explorer of your own (lesson 09).

Write ``bfs(model, depth)``.  ``model`` is a small system seen as a graph, as
the lesson's explorer sees a protocol:

* ``model.initial()`` -- the first state (hashable: tuples, ints, strings);
* ``model.actions(state)`` -- the actions possible in ``state``, a list (a
  message delivered, a message lost, a process taking its next step, ...);
* ``model.step(state, action)`` -- the state the action leads to (``state``
  itself is never changed);
* ``model.violation(state)`` -- ``None`` when the state is fine, else a string
  saying which invariant it breaks.

Return ``(path, states)``:

* if some state at most ``depth`` actions from the initial state breaks the
  invariant, ``path`` is the list of actions of a **shortest** schedule that
  reaches such a state (``[]`` if the initial state itself is bad);
  ``states`` is then anything;
* otherwise ``path`` is ``None`` and ``states`` is the number of **distinct**
  states at most ``depth`` actions from the initial state (the initial state
  included) -- a state reached by several schedules counts once.

The models (every one has a correct variant and broken twins):

* :class:`LostUpdate` -- ``clients`` processes each add 1 to a counter; the
  ``read-write`` twin reads, then writes what it read plus one; ``lock``
  takes a lock around the two steps;
* :class:`Mutex` -- two processes and a critical section: ``naive`` checks
  the other's flag, then sets its own; ``peterson`` is Peterson's algorithm;
  ``turn-first`` is Peterson's with the two assignments swapped;
* :class:`AlternatingBit` -- the alternating-bit protocol sends ``messages``
  values over a channel that loses messages (and, if ``channel="reorder"``,
  reorders them); the ``no-bit`` receiver ignores the bit;
* :class:`RandomGraph` -- a seeded random graph with bad nodes.

``make_model(name, params)`` builds one by name.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["LostUpdate", "Mutex", "AlternatingBit", "RandomGraph", "make_model", "MODELS", "INTERFACE",
           "PREAMBLE"]


class LostUpdate:
    """``clients`` processes each increment a shared counter once.  State: ``(x, pcs, tmps, lock)``."""

    def __init__(self, variant: str = "read-write", clients: int = 2) -> None:
        if variant not in ("read-write", "lock"):
            raise ValueError(f"LostUpdate variants: read-write, lock (not {variant!r})")
        self.variant, self.clients = variant, int(clients)
        self.done = 2 if variant == "read-write" else 4

    def initial(self) -> tuple:
        return (0, (0,) * self.clients, (0,) * self.clients, None)

    def actions(self, state: tuple) -> list:
        x, pcs, tmps, lock = state
        out = []
        for i, pc in enumerate(pcs):
            if self.variant == "read-write":
                steps = {0: "read", 1: "write"}
            else:
                steps = {1: "read", 2: "write", 3: "release"}
                if pc == 0 and lock is None:
                    out.append(("acquire", i))
            if pc in steps:
                out.append((steps[pc], i))
        return out

    def step(self, state: tuple, action: tuple) -> tuple:
        x, pcs, tmps, lock = state
        what, i = action
        pcs, tmps = list(pcs), list(tmps)
        if what == "acquire":
            lock = i
        elif what == "read":
            tmps[i] = x
        elif what == "write":
            x = tmps[i] + 1
        elif what == "release":
            lock = None
        pcs[i] += 1
        return (x, tuple(pcs), tuple(tmps), lock)

    def violation(self, state: tuple) -> str | None:
        x, pcs, _, _ = state
        if all(pc == self.done for pc in pcs) and x != self.clients:
            return f"lost update: all {self.clients} clients are done but the counter is {x}"
        return None


class Mutex:
    """Two processes, one critical section.  State: ``(pcs, flags, turn)``."""

    PROGRAMS = {
        "naive": ("check", "set", "critical"),  # wait until the other's flag is down, then raise mine
        # (a process at "critical" is in its critical section; its next action, "exit", lowers its flag)
        "peterson": ("flag", "turn", "wait", "critical"),
        "turn-first": ("turn", "flag", "wait", "critical"),
    }

    def __init__(self, variant: str = "peterson") -> None:
        if variant not in self.PROGRAMS:
            raise ValueError(f"Mutex variants: {', '.join(self.PROGRAMS)} (not {variant!r})")
        self.variant = variant
        self.program = self.PROGRAMS[variant]

    def initial(self) -> tuple:
        return ((0, 0), (0, 0), 0)

    def _enabled(self, state: tuple, i: int) -> bool:
        pcs, flags, turn = state
        what = self.program[pcs[i]]
        if what == "check":
            return flags[1 - i] == 0
        if what == "wait":
            return flags[1 - i] == 0 or turn == i
        return True

    def actions(self, state: tuple) -> list:
        names = [("exit" if self.program[state[0][i]] == "critical" else self.program[state[0][i]], i)
                 for i in (0, 1)]
        return [names[i] for i in (0, 1) if self._enabled(state, i)]

    def step(self, state: tuple, action: tuple) -> tuple:
        pcs, flags, turn = state
        what, i = action
        pcs, flags = list(pcs), list(flags)
        if what in ("set", "flag"):
            flags[i] = 1
        elif what == "turn":
            turn = 1 - i
        elif what == "exit":  # leave the critical section
            flags[i] = 0
        pcs[i] = (pcs[i] + 1) % len(self.program)
        return (tuple(pcs), tuple(flags), turn)

    def violation(self, state: tuple) -> str | None:
        pcs = state[0]
        if all(self.program[pc] == "critical" for pc in pcs):
            return "mutual exclusion: both processes are in the critical section"
        return None


class AlternatingBit:
    """The alternating-bit protocol over a lossy channel of ``capacity`` messages each way.

    State: ``(next_value, sender_bit, data, acks, receiver_bit, received)``; ``data`` holds
    ``(bit, value)`` pairs and ``acks`` bits, oldest first.
    """

    def __init__(self, variant: str = "bit", messages: int = 2, channel: str = "fifo", capacity: int = 2) -> None:
        if variant not in ("bit", "no-bit") or channel not in ("fifo", "reorder"):
            raise ValueError("AlternatingBit variants: bit, no-bit; channels: fifo, reorder")
        self.variant, self.messages, self.channel, self.capacity = variant, int(messages), channel, int(capacity)

    def initial(self) -> tuple:
        return (0, 0, (), (), 0, ())

    def actions(self, state: tuple) -> list:
        nxt, _, data, acks, _, _ = state
        out: list = []
        if nxt < self.messages and len(data) < self.capacity:
            out.append(("send",))
        heads = range(len(data)) if self.channel == "reorder" else range(min(1, len(data)))
        out += [("deliver", i) for i in heads]
        out += [("lose", i) for i in range(len(data))]
        ack_heads = range(len(acks)) if self.channel == "reorder" else range(min(1, len(acks)))
        out += [("ack", i) for i in ack_heads]
        out += [("lose-ack", i) for i in range(len(acks))]
        return out

    def step(self, state: tuple, action: tuple) -> tuple:
        nxt, sbit, data, acks, rbit, received = state
        what = action[0]
        if what == "send":
            data = data + ((sbit, nxt),)
        elif what == "deliver":
            i = action[1]
            (bit, value), data = data[i], data[:i] + data[i + 1:]
            if self.variant == "no-bit" or bit == rbit:
                received, rbit = received + (value,), 1 - bit
            if len(acks) < self.capacity:
                acks = acks + (bit,)
        elif what == "lose":
            data = data[:action[1]] + data[action[1] + 1:]
        elif what == "ack":
            i = action[1]
            bit, acks = acks[i], acks[:i] + acks[i + 1:]
            if bit == sbit:
                nxt, sbit = nxt + 1, 1 - sbit
        elif what == "lose-ack":
            acks = acks[:action[1]] + acks[action[1] + 1:]
        return (nxt, sbit, data, acks, rbit, received)

    def violation(self, state: tuple) -> str | None:
        received = state[5]
        if received != tuple(range(len(received))):
            return f"in-order, exactly-once delivery: the receiver delivered {received!r}"
        return None


class RandomGraph:
    """A seeded random directed graph: ``size`` nodes, node 0 first, ``bad`` bad nodes (node 0 among
    them only if ``bad_start``)."""

    def __init__(self, seed: int = 0, size: int = 12, degree: int = 2, bad: int = 2, bad_start: bool = False) -> None:
        rng = random.Random(f"ex15-graph:{seed}")
        size = max(1, int(size))
        self.edges = {s: sorted({rng.randrange(size) for _ in range(rng.randint(1 if s == 0 else 0, degree + 1))})
                      for s in range(size)}
        self.bad = set(rng.sample(range(1, size), min(int(bad), size - 1)))
        if bad_start:
            self.bad.add(0)

    def initial(self) -> int:
        return 0

    def actions(self, state: int) -> list:
        return [("go", t) for t in self.edges[state]]

    def step(self, state: int, action: tuple) -> int:
        return action[1]

    def violation(self, state: int) -> str | None:
        return f"node {state} is bad" if state in self.bad else None


MODELS = {"lost-update": LostUpdate, "mutex": Mutex, "alternating-bit": AlternatingBit, "random-graph": RandomGraph}


def make_model(name: str, params: dict | None = None) -> Any:
    """A model by name: ``make_model("mutex", {"variant": "naive"})``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r} (models: {', '.join(MODELS)})")
    return MODELS[name](**dict(params or {}))


INTERFACE = ("bfs",)
PREAMBLE = "from consensus_lab.grading.exercises.ex15 import *\n"
MESSAGES = ()

MAX_PATH = 10_000


def call(answers: dict[str, Any], name: str, args: list) -> Any:
    """Run the answer on a model built here; the grader gets ``[path or None, states]`` back."""
    if name != "bfs":
        raise ValueError(f"unknown call {name!r}")
    model_name, params, depth = args
    result = answers["bfs"](make_model(model_name, params), depth)
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise TypeError(f"bfs must return (path, states), not {type(result).__name__} {result!r:.80}")
    path, states = result
    if path is not None:
        if not isinstance(path, tuple | list) or len(path) > MAX_PATH:
            raise TypeError(f"the path must be a list of actions or None, not {type(path).__name__}")
        path = [tuple(a) if isinstance(a, list) else a for a in path]
    if path is None and (isinstance(states, bool) or not isinstance(states, int)):
        raise TypeError(f"states must be a whole number, not {type(states).__name__}")
    return [None if path is None else list(path), states if path is None else 0]

"""The explorable world: the simulator's nodes, with the explorer choosing every event.

The simulator decides what happens next by time: the earliest message or timer
in its queue.  Here nothing has a time.  A *state* holds every node (or ``None``
for a crashed one), every node's durable storage, the timers each node has
armed, the messages in flight (a multiset: two equal messages on the same link
are one entry with a count), the client operations and the faults used so far.
In a state, any of these *actions* may come next:

* ``request`` -- a client operation reaches one of the nodes it may go to;
* ``deliver`` -- one in-flight message arrives (in any order: reordering is free);
* ``timer``   -- an armed timer fires (time is not modelled: any timer may fire
  at any moment, which covers every choice of timeouts and clock speeds);
* ``drop`` / ``duplicate`` -- the network loses or copies one message (a fault);
* ``crash``   -- a node stops; its volatile state, its timers and the messages
  on their way to it are lost, its storage is kept (a fault);
* ``restart`` -- a crashed node boots again from its storage.

An action runs the node's own handler with a :class:`~consensus_lab.sim.Context`
and applies the effects it left in ``ctx.outbox`` -- the same node contract the
simulator and the unit tests use.  Only the node that acts is copied (see
:mod:`.state`); the others are shared between a state and its successors, so a
step costs one node's copy and one node's encoding, whatever the cluster size.

``ctx.rng`` restarts from the same seed before every handler, so what a
handler does depends only on the state: the explorer, not chance, makes every
choice.  Time has two models (``clock=``): ``"frozen"`` (``ctx.now`` is always
0 and any armed timer may fire) and ``"timers"`` (each node has a clock that a
timer moves forward to the moment it was due, and only a node's earliest-due
timers may fire: a protocol that compares ``ctx.now`` with a deadline sees its
deadlines pass).

Invariants are the protocol's own objects.  Many *remember* (what was chosen,
who voted yes) and share that memory with goals.  The explorer keeps each
state's memory as a snapshot of the invariants' attributes: a new state is
judged on its parent's memory, held in the very same objects (so every alias
between them still holds), and the snapshot that travels with the new state
is taken after the checks.  The parent's memory stays installed from one
successor to the next and only what a check changed is copied back (see
:mod:`.live`).  The memory is part of the
fingerprint (protocol nodes in it count by id: a cache of "the node I looked
at last" is not state).

Two *networks* (``network=``) decide how much of the schedule the explorer
chooses.  With ``"async"`` (the default) every delivery is a step of its own,
so messages arrive in any order -- the most faithful model, and the largest
space.  With ``"partitions"`` a step is a *stimulus* -- a client request, a
timer, a crash or restart, or cutting or healing the link between two nodes
-- after which the network *settles*: every message in flight is delivered
(in a fixed order: by sender, receiver and contents), then every message
those deliveries sent, round after round, until none is left; a message
across a cut link is lost.  Invariants are still checked after every single
delivery.  The explorer no longer reorders messages, but one step now covers
a whole exchange (a vote collected, an entry replicated), so breadth-first
search reaches schedules several times longer -- Raft's figure 8 among them.
This is how Jepsen's nemesis thinks: faults are partitions and crashes, and
between them the network works.

A path of actions can be *recorded*: it is replayed with a trace recorder
switched on, giving an ordinary :class:`~consensus_lab.sim.Run` whose steps
are 0.01 simulated seconds apart, so that space-time diagrams read left to
right.
"""

from __future__ import annotations

import hashlib
import random
import types
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..history import Op
from ..sim.clients import ClientRequest, Fail, Ok, Redirect, is_read
from ..sim.invariants import Invariant, Violation, World, _FnInvariant
from ..sim.node import CancelTimer, Context, Node, Reply, Send, SetTimer, Storage
from ..sim.run import Run
from ..sim.scenario import ProtocolSpec, Scenario
from ..sim.trace import Trace
from .live import LiveMemory
from .state import (
    StateEncodingError,
    clone,
    clone_memory,
    clone_storage,
    digest_attrs,
    encode,
    memory_encoder,
    register_atom,
    to_bytes,
)
from .visited import FingerprintSet

__all__ = [
    "Step", "ClientOp", "Bounds", "ExploreWorld", "State", "TICK", "FAULT_KINDS", "NETWORKS", "NETWORK_FAULTS",
    "HANDLER_ERROR", "CLOCKS",
]

TICK = 0.01  # simulated seconds between two recorded steps
FAULT_KINDS = ("drop", "duplicate", "crash", "restart", "partition")
NETWORKS = ("async", "partitions")
# the faults that make sense in each network: single messages are chosen only in
# "async"; links are cut (a fault) and healed (free) only in "partitions"
NETWORK_FAULTS = {"async": ("drop", "duplicate", "crash", "restart"), "partitions": ("partition", "crash", "restart")}
SETTLE_LIMIT = 10_000  # deliveries in one settling of the "partitions" network before we call it a loop
CLOCKS = ("frozen", "timers")
HANDLER_ERROR = "no handler raises"
_CONTEXT_ROWS = 30  # trace rows kept with a violation, as the simulator does


@dataclass(frozen=True)
class ClientOp:
    """One client operation the explorer may deliver: ``f(key, value)``.

    ``targets`` are the nodes it may be sent to (``None``: any node);
    ``attempts`` how many times in all it may be sent (a retry after a
    ``Redirect`` or no answer is a new attempt, as in the simulator).
    """

    f: str
    key: Any = None
    value: Any = None
    targets: tuple[str, ...] | None = None
    attempts: int = 1

    def label(self) -> str:
        args = [repr(a) for a in (self.key, self.value) if a is not None]
        return f"{self.f}({', '.join(args)})"


@dataclass(frozen=True)
class Bounds:
    """How far the search may go.

    ``depth`` steps; ``faults`` faults of the ``fault_kinds``; states with more
    than ``max_in_flight`` messages in flight are not expanded; each timer of
    each node fires at most ``timer_limit`` times (retries and heartbeats
    otherwise make the space grow fastest).
    """

    depth: int = 10
    faults: int = 1
    fault_kinds: tuple[str, ...] = NETWORK_FAULTS["async"]
    max_in_flight: int | None = None
    timer_limit: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.depth, int) or self.depth < 0:
            raise ValueError(f"depth must be a whole number >= 0, got {self.depth!r}")
        if not isinstance(self.faults, int) or self.faults < 0:
            raise ValueError(f"faults must be a whole number >= 0, got {self.faults!r}")
        bad = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kind {bad[0]!r} (fault kinds: {', '.join(FAULT_KINDS)})")
        if self.max_in_flight is not None and (not isinstance(self.max_in_flight, int) or self.max_in_flight < 0):
            raise ValueError(f"max_in_flight must be a whole number >= 0 or None, got {self.max_in_flight!r}")
        if self.timer_limit is not None and (not isinstance(self.timer_limit, int) or self.timer_limit < 0):
            raise ValueError(f"timer_limit must be a whole number >= 0 or None, got {self.timer_limit!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "faults": self.faults,
            "fault_kinds": list(self.fault_kinds),
            "max_in_flight": self.max_in_flight,
            "timer_limit": self.timer_limit,
        }


@dataclass(frozen=True)
class Step:
    """One action of a path, as a person reads it.

    For messages ``node`` is the receiver and ``peer`` the sender (as in trace
    rows); for a timer ``detail`` is its name; for a client request ``peer`` is
    the client and ``detail`` the operation.
    """

    kind: str
    node: str | None
    peer: str | None = None
    msg: Any = None
    detail: Any = None

    def __str__(self) -> str:
        k = self.kind
        if k == "deliver":
            return f"deliver {self.msg!r} {self.peer} -> {self.node}"
        if k in ("drop", "duplicate"):
            return f"{k} {self.msg!r} {self.peer} -> {self.node}"
        if k == "timer":
            return f"timer {self.detail!r} fires at {self.node}"
        if k in ("cut", "heal"):
            return f"{k} the link {self.node} - {self.peer}"
        if k == "request":
            return f"client {self.peer} sends {self.detail} to {self.node}"
        return f"{k} {self.node}"


class State:
    """One state of the explored system (treat as immutable once built)."""

    __slots__ = (
        "nodes", "stores", "timers", "fired", "clocks", "remap", "net", "nmsgs", "hist", "henc", "clients",
        "faults", "memory", "verdict", "comps", "dirty", "fp", "error", "cut",
    )

    nodes: list
    stores: list
    timers: list
    net: dict
    nmsgs: int
    hist: tuple
    henc: tuple
    clients: tuple
    faults: int
    memory: tuple | None  # the invariants' memory in this state (a snapshot)
    verdict: tuple | None  # (first broken invariant or None, goals reached), once judged
    clocks: tuple
    fired: dict  # (node index, timer name) -> times fired (with a timer limit)
    remap: dict | None  # id(parent's node object) -> this state's copy of it (while judging)
    comps: list
    dirty: list
    fp: bytes
    error: str | None
    cut: frozenset  # links (i, j), i < j, cut in the "partitions" network


class _FreshRandom:
    """``ctx.rng`` for the explorer: every handler sees the same fresh sequence.

    Restoring a ``random.Random`` costs more than most handlers, and few handlers
    draw a number at all, so the state is only restored on first use.
    """

    __slots__ = ("_rng", "_state", "_used")

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)
        self._state = self._rng.getstate()
        self._used = False

    def __getattr__(self, name: str) -> Any:
        if not self._used:
            self._rng.setstate(self._state)
            self._used = True
        return getattr(self._rng, name)


register_atom(_FreshRandom, ("\x00rng",))


class _Memory:
    """What the invariants remember in one state: a snapshot, its digest, digest caches,
    and the token of its sharing structure (see :class:`.live.LiveMemory`)."""

    __slots__ = ("snap", "digest", "caches", "shape")

    def __init__(self, snap: tuple, digest: bytes, caches: list, shape: object | None = None) -> None:
        self.snap = snap
        self.digest = digest
        self.caches = caches
        self.shape = shape


class _Recorder:
    """Trace rows, message ids and a timed history, while a path is replayed."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.t = 0.0
        self.ticks = 0
        self.next_mid = 0
        self.mids: dict[tuple, deque] = {}
        self.history: list[Op] = []

    def tick(self) -> None:
        """The next step's time (the grid of TICK; a nudge from :meth:`ExploreWorld._history` does not carry over)."""
        self.ticks += 1
        self.t = round(self.ticks * TICK, 6)

    def row(self, kind, node=None, peer=None, mid=None, msg=None, info=None) -> None:
        self.rows.append((self.t, kind, node, peer, mid, msg, info))

    def new_mid(self) -> int:
        self.next_mid += 1
        return self.next_mid


class ExploreWorld:
    """States, enabled actions and transitions for one protocol configuration."""

    _settle_lightly = True  # the states inside a settling are judged, fingerprinted only at its end
    _keep_memory_live = True  # install the invariants' memory once per parent, not per successor
    _light = False
    _store_encs: dict[int, Any] | None = None  # node index -> its storage's encoding, while fingerprinting
    known: FingerprintSet | None = None  # the steps computed so far, with skip_known on
    #: ``canonical(state) -> fingerprint`` replacing the state's own (symmetry reduction, see .symmetry)
    canonical: Any = None

    def __init__(
        self,
        spec: ProtocolSpec,
        node_ids: Sequence[str],
        *,
        variant: str = "correct",
        options: Mapping[str, Any] | None = None,
        requests: Sequence[ClientOp] = (),
        timers: Sequence[str] | None = None,
        bounds: Bounds | None = None,
        clock: str = "frozen",
        mute: Sequence[str] = (),
        given_options: Mapping[str, Any] | None = None,
        network: str = "async",
    ) -> None:
        if clock not in CLOCKS:
            raise ValueError(f"unknown clock {clock!r} (clocks: {', '.join(CLOCKS)})")
        if network not in NETWORKS:
            raise ValueError(f"unknown network {network!r} (networks: {', '.join(NETWORKS)})")
        self.network = network
        self._settles = network == "partitions"
        self.spec = spec
        self.ids = tuple(node_ids)
        self.n = len(self.ids)
        self.index = {nid: i for i, nid in enumerate(self.ids)}
        self.variant = variant
        self.options = dict(options or {})
        self.given_options = dict(given_options if given_options is not None else self.options)
        self.bounds = bounds or Bounds(fault_kinds=NETWORK_FAULTS[network])
        for kind in self.bounds.fault_kinds:
            if kind not in NETWORK_FAULTS[network]:
                hint = ("messages between connected nodes are always delivered there: cut links with "
                        "'partition', or explore with network='async'") if network == "partitions" else (
                        "cutting links is a fault of network='partitions'")
                raise ValueError(f"fault kind {kind!r} does not apply to network={network!r} ({hint})")
        self.clock = clock
        self._timed = clock == "timers"
        self.allowed_timers = None if timers is None else frozenset(timers)
        self.muted = frozenset(mute)
        self.ops = tuple(requests)
        self._client_index = {f"c{k}": k for k in range(len(self.ops))}
        self._targets: list[tuple[int, ...]] = []
        for op in self.ops:
            if op.targets is None:
                self._targets.append(tuple(range(self.n)))
            else:
                unknown = [t for t in op.targets if t not in self.index]
                if unknown:
                    raise ValueError(f"client operation {op.label()} targets unknown node {unknown[0]!r}")
                self._targets.append(tuple(self.index[t] for t in op.targets))
        kinds = set(self.bounds.fault_kinds)
        self._drop = "drop" in kinds
        self._dup = "duplicate" in kinds
        self._crash = "crash" in kinds
        self._restart = "restart" in kinds
        self._cut = "partition" in kinds
        self._ctx = [Context(nid, _FreshRandom(f"consensus_lab:explore:{nid}"), Storage()) for nid in self.ids]
        invs = list(spec.invariants(self.options, variant))
        self._invs = invs
        self.invariant_names = [i.name for i in invs if i.kind == "always"]
        self.goal_names = [i.name for i in invs if i.kind == "sometimes"]
        self._roots = _memory_roots(invs)
        self._root_slots = [_memory_slots(type(r)) for r in self._roots]
        self._encode_memory = memory_encoder({id(r): ("\x00root", k) for k, r in enumerate(self._roots)})
        self._memory0: _Memory | None = None
        # the invariants' memory, installed once per parent state (see .live)
        self._livemem = LiveMemory(self._roots, self._root_slots) if self._roots and self._keep_memory_live else None
        if self._roots:
            snap0 = self._capture()
            h0, c0 = self._digest_snapshot(snap0, None)
            self._memory0 = _Memory(snap0, h0, c0)

    # --- what the invariants remember ----------------------------------------------------

    def _capture(self) -> tuple:
        """The invariants' memory now (attribute dicts are taken, not copied: see _install)."""
        out = []
        for r, slots in zip(self._roots, self._root_slots, strict=True):
            if isinstance(r, dict):
                out.append(dict(r))
            elif isinstance(r, list):
                out.append(list(r))
            elif isinstance(r, set):
                out.append(set(r))
            else:
                d = getattr(r, "__dict__", None)
                out.append((d, tuple([getattr(r, n, _MISSING) for n in slots]) if slots else ()))
        return tuple(out)

    def _install(self, memory: tuple, remap: dict | None = None) -> None:
        """Put a copy of ``memory`` back into the invariant objects themselves."""
        roots = self._roots
        memo = {id(r): r for r in roots}
        if remap:
            memo.update(remap)
        copied = clone_memory(memory, memo)
        for r, c, slots in zip(roots, copied, self._root_slots, strict=True):
            if isinstance(r, dict | list | set):
                r.clear()
                r.update(c) if not isinstance(r, list) else r.extend(c)
            else:
                d, slot_values = c
                if d is not None:
                    r.__dict__ = d
                for name, v in zip(slots, slot_values, strict=False):
                    if v is not _MISSING:
                        object.__setattr__(r, name, v)

    def _remember(self, s: State, light: bool = False) -> bytes:
        """Judge ``s`` starting from its parent's memory; keep the memory that results.

        ``s.memory`` is a :class:`_Memory`: a snapshot with its digest and the
        caches that let the next digest reuse unchanged parts.  The parent's
        snapshot is put back into the invariant objects with the acting node's
        old object replaced by its new copy -- to the invariants, the node was
        changed in place, as in the simulator (a restarted node is a new
        object there and here).  Returns the digest; a state whose memory did
        not change shares its parent's snapshot.  A ``light`` state (inside a
        settling, see :meth:`_settle`) is judged on the memory the invariant
        objects hold -- its predecessor's -- which it changes in place; the
        settling's last state takes the snapshot (:meth:`_seal`).
        """
        if light:  # the invariant objects already hold the memory of the state before
            s.verdict = self._judge(s)
            return b""
        parent = s.memory
        remap = s.remap
        s.remap = None
        live = self._livemem
        if live is not None:
            got = live.judge(parent, remap, lambda: self._judge(s), self._install)
            if got is not None:
                s.verdict, snap, shape = got
                if snap is None:  # the memory did not change
                    return parent.digest
                h, caches = self._digest_snapshot(snap, parent.caches)
                if h != parent.digest:
                    s.memory = _Memory(snap, h, caches, shape)
                return h
            # not kept live this time: the memory was judged in place, as below
            s.verdict = live.last_verdict
        else:
            self._install(parent.snap, remap)
            s.verdict = self._judge(s)
        snap = self._capture()
        h, caches = self._digest_snapshot(snap, parent.caches)
        if h != parent.digest:
            s.memory = _Memory(snap, h, caches)
        return h

    def _digest_snapshot(self, snap: tuple, pcaches: list | None) -> tuple[bytes, list]:
        parts = []
        caches = []
        enc = self._encode_memory
        for k, c in enumerate(snap):
            if isinstance(c, tuple):  # (attribute dict, slot values) of an object
                d, slot_values = c
                pc = pcaches[k] if pcaches is not None else None
                h = hs = cache = scache = None
                if d is not None:
                    h, cache = digest_attrs(d, pc[0] if pc is not None else None, enc)
                if slot_values:  # slots are digested as attributes are: unchanged ones reused
                    sd = {n: v for n, v in zip(self._root_slots[k], slot_values, strict=False) if v is not _MISSING}
                    hs, scache = digest_attrs(sd, pc[1] if pc is not None else None, enc)
                parts.append((h, hs))
                caches.append((cache, scache))
            else:
                parts.append(enc(c))
                caches.append(None)
        return hashlib.blake2b(to_bytes(tuple(parts)), digest_size=16).digest(), caches

    def _judge(self, s: State) -> tuple:
        """Run every invariant and goal on ``s``, in the spec's order, as the simulator does."""
        if s.error is not None:
            return ((HANDLER_ERROR, s.error), ())
        w = self.world(s)
        problem = None
        goals = []
        for inv in self._invs:
            if inv.kind == "sometimes":
                if inv.check(w):
                    goals.append(inv.name)
            else:
                p = inv.check(w)
                if p and problem is None:
                    problem = (inv.name, str(p))
        return (problem, tuple(goals))

    # --- building nodes and states -------------------------------------------------

    def make_node(self, nid: str) -> Node:
        node = self.spec.make_node(nid, self.ids, self.options, self.variant)
        if getattr(node, "id", None) != nid:
            raise ValueError(f"the node factory built a node with id {getattr(node, 'id', None)!r} for {nid!r}")
        return node

    def initial(self, rec: _Recorder | None = None) -> State:
        """Every node booted (``on_start``), nothing delivered yet."""
        s = State()
        s.nodes = [None] * self.n
        s.stores = [Storage() for _ in self.ids]
        s.timers = [{} for _ in self.ids]
        s.clocks = (0.0,) * self.n
        s.remap = None
        s.fired = {}
        s.net = {}
        s.nmsgs = 0
        s.hist = ()
        s.henc = ()
        s.clients = tuple((0, 0) for _ in self.ops)
        s.faults = 0
        s.memory = self._memory0
        s.verdict = None
        s.comps = [None] * self.n
        s.dirty = list(range(self.n))
        s.error = None
        s.cut = frozenset()
        for i, nid in enumerate(self.ids):  # all nodes exist before any boots (a message may
            s.nodes[i] = self.make_node(nid)  # go to a node whose on_start has not run yet)
        for i, nid in enumerate(self.ids):
            if rec is not None:
                rec.row("start", nid)
            self._call(s, i, "on_start", (), rec)
            if s.error:
                break
        s = self._finish(s)
        return self._settle(s, rec) if self._settles else s

    def _fork(self, s: State, i: int, copy_node: bool = True) -> State:
        """A successor of ``s`` in which node ``i`` (only) may change."""
        ns = State()
        nodes = ns.nodes = s.nodes[:]
        old = nodes[i]
        ns.remap = None
        stores = ns.stores = s.stores[:]
        if not self._light:  # (inside a settling, nodes and storage are already private: see _settle)
            if copy_node and old is not None:
                nodes[i] = clone(old)
                ns.remap = {id(old): nodes[i]}  # the same node, one step later
            stores[i] = clone_storage(stores[i])
        timers = ns.timers = s.timers[:]
        timers[i] = timers[i].copy()
        ns.clocks = s.clocks
        ns.fired = s.fired
        ns.net = s.net.copy()
        ns.nmsgs = s.nmsgs
        ns.hist = s.hist
        ns.henc = s.henc
        ns.clients = s.clients
        ns.faults = s.faults
        ns.memory = s.memory
        ns.verdict = None
        ns.comps = s.comps[:]
        ns.dirty = [i]
        ns.error = None
        ns.cut = s.cut
        return ns

    def _node_comp(self, s: State, i: int) -> tuple[bytes, Any, type]:
        """Node ``i``'s part of the fingerprint (a digest), and a cache for its successors."""
        node = s.nodes[i]
        prev = s.comps[i]  # still the parent's: reuse what did not change
        cache = None
        if node is None:
            node_part: Any = None
        else:
            d = getattr(node, "__dict__", None)
            if d is not None and not _slots(type(node)):
                pcache = prev[1] if prev is not None and prev[2] is type(node) else None
                h, cache = digest_attrs(d, pcache)
                node_part = (type(node).__qualname__, h)
            else:
                node_part = encode(node)
        st = s.stores[i]
        encs = self._store_encs
        stored = encs[i] if encs is not None and i in encs else (encode(st._data) if st._data else None)
        t = s.timers[i]
        comp = (
            node_part,
            stored,
            tuple(sorted((k, encode(v)) for k, v in t.items())) if t else None,
        )
        return (hashlib.blake2b(to_bytes(comp), digest_size=16).digest(), cache, type(node), (st.writes, stored))

    def _finish(self, s: State) -> State:
        """Judge the state if the invariants remember, then fingerprint it."""
        encs = {}
        light = self._light
        for i in s.dirty:
            # Invariants may watch ``storage.writes`` to spot a node that wrote; a count
            # would differ from path to path, so it becomes a digest of the contents.
            st = s.stores[i]
            data = st._data
            if not data:
                st.writes = 0
                encs[i] = None
                continue
            prev = s.comps[i]  # the parent's: its storage had ``writes`` prev[3][0] when it was encoded
            if not light and prev is not None and prev[3][0] == st.writes and prev[3][1] is not None:
                encs[i] = prev[3][1]  # nothing written since (a write adds 1): the same contents
                continue
            e = encs[i] = encode(data)
            st.writes = int.from_bytes(hashlib.blake2b(to_bytes(e), digest_size=8).digest(), "big")
        if light:  # inside a settling: judged now, fingerprinted at its end (_seal)
            if self._roots:
                self._remember(s, light=True)
            return s
        self._store_encs = encs  # (for _node_comp: each dirty node's storage, encoded once)
        try:
            self._encode_dirty(s)
        finally:
            self._store_encs = None
        rest = self._rest(s)
        known = self.known
        if known is not None:
            # the same nodes, network, history (all but the memory) judged from the same memory
            # before: the same successor, already fingerprinted (see skip_known)
            h = hashlib.blake2b(digest_size=16, person=b"known")
            for c in s.comps:
                h.update(c[0])
            h.update(s.memory.digest)  # still the parent's
            h.update(rest)
            if not known.insert(h.digest()):
                s.fp = None
                return s
        return self._fingerprint(s, self._remember(s) if self._roots else b"", rest)

    def _seal(self, s: State, touched: set[int]) -> State:
        """Fingerprint the last state of a settling; ``touched``: the nodes that acted in it."""
        mem_bytes = b""
        if self._roots:
            snap = self._capture()
            mem_bytes, caches = self._digest_snapshot(snap, s.memory.caches)
            s.memory = _Memory(snap, mem_bytes, caches) if mem_bytes != s.memory.digest else s.memory
        s.dirty = sorted(touched)
        self._encode_dirty(s)
        return self._fingerprint(s, mem_bytes, self._rest(s))

    def _encode_dirty(self, s: State) -> None:
        """Encode the nodes in ``s.dirty`` again (their parts of the fingerprint)."""
        comps = s.comps
        try:
            for i in s.dirty:
                comps[i] = self._node_comp(s, i)
        except StateEncodingError as exc:
            raise StateEncodingError(f"{self.spec.name}: {exc}") from None

    def _rest(self, s: State) -> bytes:
        """The fingerprint's part that is neither a node nor the memory: network, history, faults..."""
        net = s.net
        net_enc = tuple([(k, net[k][1]) for k in sorted(net)]) if net else ()
        fired = tuple(sorted(s.fired.items())) if s.fired else None
        cut = tuple(sorted(s.cut)) if s.cut else None
        return to_bytes((net_enc, s.henc, s.clients, s.faults, s.clocks if self._timed else None, fired, s.error, cut))

    def _fingerprint(self, s: State, mem_bytes: bytes, rest: bytes) -> State:
        """Fingerprint the whole state (its nodes encoded, see _encode_dirty)."""
        if self.canonical is not None:
            s.fp = self.canonical(s)
            return s
        h = hashlib.blake2b(digest_size=16)
        for c in s.comps:
            h.update(c[0])
        h.update(mem_bytes)  # a digest (or b"")
        h.update(rest)
        s.fp = h.digest()
        return s

    def skip_known(self, on: bool) -> None:
        """Breadth-first search's shortcut: a step whose successor has the same nodes, network
        and history as one computed before (all of the fingerprint but the invariants' memory),
        from a parent with the same memory, gives the same successor -- judging is a function
        of the memory and the state -- which the search has already fingerprinted and counted.
        Such a step returns a state with ``fp`` None, not judged: seen before.  Only where the
        invariants remember (judging is what is saved) and on the async network (a settling
        judges its own states).  Its visited set: ``known`` (16 bytes per transition)."""
        self.known = FingerprintSet() if on and self._roots and not self._settles else None

    def _msg_key(self, msg: Any) -> bytes:
        """Equal messages, equal keys: the network holds a multiset of (src, dst, key)."""
        return to_bytes(encode(msg))

    # --- handlers and effects ---------------------------------------------------------

    def _call(self, s: State, i: int, handler: str, args: tuple, rec: _Recorder | None) -> None:
        ctx = self._ctx[i]
        ctx.storage = s.stores[i]
        ctx.outbox = []
        ctx._now = s.clocks[i]
        ctx.rng._used = False
        node = s.nodes[i]
        try:
            getattr(node, handler)(ctx, *args)
        except Exception as exc:
            what = handler
            if handler == "on_message":
                what += f"({type(args[1]).__name__} from {args[0]})"
            elif handler == "on_timer":
                what += f"({args[0]!r})"
            s.error = f"node {self.ids[i]} raised {type(exc).__name__} in {what}: {exc}"
            if rec is not None:
                rec.row("error", self.ids[i], info=s.error)
            return
        if ctx.outbox:
            self._apply(s, i, ctx.outbox, rec)

    def _apply(self, s: State, i: int, effects: list, rec: _Recorder | None) -> None:
        ids = self.ids
        allowed = self.allowed_timers
        last_msg = None
        mb = b""
        for eff in effects:
            t = type(eff)
            if t is Send:
                j = self.index.get(eff.dst)
                msg = eff.msg
                if j is None:
                    s.error = f"node {ids[i]} sent {type(msg).__name__} to unknown node {eff.dst!r}"
                    return
                if msg is not last_msg:
                    mb = self._msg_key(msg)
                    last_msg = msg
                mid = None
                if rec is not None:
                    mid = rec.new_mid()
                    rec.row("send", ids[i], ids[j], mid, msg)
                if self.muted and type(msg).__name__ in self.muted:
                    if rec is not None:
                        rec.row("drop", ids[i], ids[j], mid, msg, "not explored")
                    continue
                if s.nodes[j] is None:
                    if rec is not None:
                        rec.row("drop", ids[i], ids[j], mid, msg, "crashed")
                    continue
                key = (i, j, mb)
                cur = s.net.get(key)
                s.net[key] = (msg, 1) if cur is None else (cur[0], cur[1] + 1)
                s.nmsgs += 1
                if rec is not None:
                    rec.mids.setdefault(key, deque()).append(mid)
            elif t is SetTimer:
                if allowed is None or eff.name in allowed:
                    s.timers[i][eff.name] = (eff.payload, s.clocks[i] + eff.delay if self._timed else 0.0)
            elif t is CancelTimer:
                s.timers[i].pop(eff.name, None)
            elif t is Reply:
                self._reply(s, i, eff, rec)

    def _reply(self, s: State, i: int, eff: Reply, rec: _Recorder | None) -> None:
        client = getattr(eff.request, "client", None)
        if rec is not None:
            rec.row("reply", self.ids[i], client, None, None, eff.result)
        k = self._client_index.get(client)
        if k is None:
            return
        used, done = s.clients[k]
        result = eff.result
        if done or isinstance(result, Redirect):
            return
        op = self.ops[k]
        if isinstance(result, Fail):
            typ, value = "fail", op.value
        else:
            typ = "ok"
            value = (result.value if isinstance(result, Ok) else result) if is_read(op.f) else op.value
        cl = list(s.clients)
        cl[k] = (used, 1)
        s.clients = tuple(cl)
        self._history(s, Op(k, typ, op.f, op.key, value), rec)
        if rec is not None:
            rec.row("complete", client, None, None, None, {"process": k, "type": typ, "f": op.f, "value": value})

    def _history(self, s: State, op: Op, rec: _Recorder | None) -> None:
        """Add ``op`` to the client history, with a time that keeps the real-time order.

        While searching, an operation's time is its position in the history: a
        read that began after a write completed comes later, and equal histories
        have equal times whatever schedule made them.  While recording, it is the
        trace's time, nudged by a microsecond when two history events fall in
        one step, so that the invariants judge the recorded run as they judged
        the searched one, in the times of its space-time diagram.
        """
        t = float(len(s.hist))
        if rec is not None:
            if rec.history and rec.t <= rec.history[-1].time:
                rec.t = round(rec.history[-1].time + 1e-6, 9)
            t = rec.t
            rec.history.append(Op(op.process, op.type, op.f, op.key, op.value, t))
        s.hist = s.hist + (Op(op.process, op.type, op.f, op.key, op.value, t),)
        s.henc = s.henc + ((op.process, op.type, op.f, encode(op.key), encode(op.value)),)

    # --- actions ------------------------------------------------------------------------

    def actions(self, s: State) -> list[tuple]:
        """The enabled actions, in a fixed order (requests, deliveries, timers, faults).

        (In the ``"partitions"`` network nothing is in flight between steps, so
        there are no deliveries to choose; links are cut and healed instead.)
        """
        if s.error is not None:
            return []
        out: list[tuple] = []
        nodes = s.nodes
        for k, (used, done) in enumerate(s.clients):
            if not done and used < self.ops[k].attempts:
                for j in self._targets[k]:
                    if nodes[j] is not None:
                        out.append(("request", k, j))
        keys = sorted(s.net) if s.net else ()
        for key in keys:
            out.append(("deliver", key))
        for i, t in enumerate(s.timers):
            if t:
                if self._timed:  # only the node's earliest-due timers
                    first = min(v[1] for v in t.values())
                    names = sorted(k for k, v in t.items() if v[1] <= first)
                else:
                    names = sorted(t)
                limit = self.bounds.timer_limit
                for name in names:
                    if limit is None or s.fired.get((i, name), 0) < limit:
                        out.append(("timer", i, name))
        b = self.bounds
        if s.faults < b.faults:
            if self._drop:
                for key in keys:
                    out.append(("drop", key))
            if self._dup and (b.max_in_flight is None or s.nmsgs < b.max_in_flight):
                for key in keys:
                    out.append(("duplicate", key))
            if self._crash:
                for i in range(self.n):
                    if nodes[i] is not None:
                        out.append(("crash", i))
            if self._cut:
                for i in range(self.n):
                    for j in range(i + 1, self.n):
                        if (i, j) not in s.cut:
                            out.append(("cut", i, j))
        if self._restart:
            for i in range(self.n):
                if nodes[i] is None:
                    out.append(("restart", i))
        for i, j in sorted(s.cut):
            out.append(("heal", i, j))
        return out

    def step(self, s: State, a: tuple, rec: _Recorder | None = None) -> State:
        """The state after action ``a`` (``s`` itself is left as it was).

        In the ``"partitions"`` network the network then settles (see :meth:`_settle`).
        """
        ns = self._act(s, a, rec)
        return self._settle(ns, rec) if self._settles else ns

    def _settle(self, s: State, rec: _Recorder | None) -> State:
        """Deliver what is in flight, round by round, until nothing is (the "partitions" network).

        A round delivers every message in flight at its start, ordered by
        (sender, receiver, contents); what they send waits for the next round.
        A message across a cut link is lost.  Every delivery is a state of its
        own for the invariants: the settling stops at the first one that breaks
        an invariant (or where a handler raised), with messages still in flight.

        The states in between are seen by nothing but this loop, so they are
        built cheaply: the settling starts from a private copy of every node
        and storage, which the deliveries then change in place; the invariants
        keep their memory in their own objects from one delivery to the next;
        and only the last state is fingerprinted (:meth:`_seal`).
        """
        if not s.net:
            return s
        touched: set[int] = set()
        self._light = self._settle_lightly
        try:
            if self._light:
                s = self._private_copy(s)
            s = self._deliver_all(s, rec, touched)
        finally:
            self._light = False
        return self._seal(s, touched) if self._settle_lightly else s

    def _private_copy(self, s: State) -> State:
        """``s`` again, with nodes and storage of its own and the invariants holding its memory.

        (Called in light mode, so the fork itself copies neither; timers need no
        copy here, as every delivery's fork copies its node's timers.)
        """
        ns = self._fork(s, 0, copy_node=False)
        remap = {}
        for i, node in enumerate(ns.nodes):
            if node is not None:
                ns.nodes[i] = remap[id(node)] = clone(node)
            ns.stores[i] = clone_storage(s.stores[i])
        ns.verdict = s.verdict
        ns.dirty = []
        if self._roots:
            if self._livemem is not None:
                self._livemem.forget()  # the settling changes the invariant objects in place
            self._install(s.memory.snap, remap)
        return ns

    def _deliver_all(self, s: State, rec: _Recorder | None, touched: set[int]) -> State:
        done = 0
        while s.net:
            for key, (_, count) in sorted(s.net.items()):
                for _ in range(count):
                    if self.check(s) is not None:
                        return s
                    if rec is not None:
                        rec.tick()
                    if (key[0], key[1]) in s.cut or (key[1], key[0]) in s.cut:
                        s = self._fork(s, key[1], copy_node=False)
                        s.dirty = []
                        self._lose(s, key, rec, "partition")
                        s = self._finish(s)
                    else:
                        s = self._act(s, ("deliver", key), rec)
                    touched.update(s.dirty)
                    done += 1
                    if done > SETTLE_LIMIT:
                        raise ValueError(
                            f"{self.spec.name}: the network did not settle after {SETTLE_LIMIT:,} deliveries "
                            "(messages keep causing messages); explore it with network='async'")
        return s

    def _take(self, s: State, key: tuple, rec: _Recorder | None) -> tuple[Any, int | None]:
        """Take one copy of message ``key`` out of the network of ``s`` (a fork of the parent):
        the message, and its id in the trace being recorded."""
        msg, cnt = s.net[key]
        if cnt == 1:
            del s.net[key]
        else:
            s.net[key] = (msg, cnt - 1)
        s.nmsgs -= 1
        return msg, (rec.mids[key].popleft() if rec is not None else None)

    def _lose(self, s: State, key: tuple, rec: _Recorder | None, why: str) -> None:
        """Message ``key`` is lost on its way (``why``: "loss", "partition")."""
        msg, mid = self._take(s, key, rec)
        if rec is not None:
            rec.row("drop", self.ids[key[0]], self.ids[key[1]], mid, msg, why)

    def _act(self, s: State, a: tuple, rec: _Recorder | None) -> State:
        """The state right after action ``a``: one handler run, nothing settled."""
        kind = a[0]
        ids = self.ids
        if kind == "deliver":
            key = a[1]
            src, dst = key[0], key[1]
            ns = self._fork(s, dst)
            msg, mid = self._take(ns, key, rec)
            if rec is not None:
                rec.row("deliver", ids[dst], ids[src], mid, msg)
            self._call(ns, dst, "on_message", (ids[src], msg), rec)
        elif kind == "timer":
            i, name = a[1], a[2]
            ns = self._fork(s, i)
            payload, due = ns.timers[i].pop(name)
            if self.bounds.timer_limit is not None:
                ns.fired = dict(ns.fired)
                ns.fired[(i, name)] = ns.fired.get((i, name), 0) + 1
            if self._timed and due > ns.clocks[i]:
                clocks = list(ns.clocks)
                clocks[i] = due
                ns.clocks = tuple(clocks)
            if rec is not None:
                rec.row("timer", ids[i], info=name)
            self._call(ns, i, "on_timer", (name, payload), rec)
        elif kind == "request":
            k, j = a[1], a[2]
            ns = self._fork(s, j)
            used, done = ns.clients[k]
            cl = list(ns.clients)
            cl[k] = (used + 1, done)
            ns.clients = tuple(cl)
            op = self.ops[k]
            client = f"c{k}"
            if used == 0:
                self._history(ns, Op(k, "invoke", op.f, op.key, op.value), rec)
                if rec is not None:
                    rec.row("invoke", client, ids[j], None, None,
                            {"process": k, "f": op.f, "key": op.key, "value": op.value})
            req = ClientRequest(client, 1, op.f, op.key, op.value, used)
            if rec is not None:
                rec.row("request", ids[j], client, None, req)
            self._call(ns, j, "on_client_request", (req,), rec)
        elif kind == "drop" or kind == "duplicate":
            key = a[1]
            src, dst = key[0], key[1]
            ns = self._fork(s, dst, copy_node=False)
            ns.dirty = []
            msg, cnt = ns.net[key]
            ns.faults += 1
            if kind == "drop":
                self._lose(ns, key, rec, "loss")
            else:
                ns.net[key] = (msg, cnt + 1)
                ns.nmsgs += 1
                if rec is not None:
                    q = rec.mids[key]
                    q.append(q[0])
                    rec.row("duplicate", ids[src], ids[dst], q[0], msg)
        elif kind == "crash":
            i = a[1]
            ns = self._fork(s, i, copy_node=False)
            ns.nodes[i] = None
            ns.timers[i] = {}
            ns.faults += 1
            if rec is not None:
                rec.row("crash", ids[i])
            for key in sorted(k for k in ns.net if k[1] == i):
                msg, cnt = ns.net.pop(key)
                ns.nmsgs -= cnt
                if rec is not None:
                    q = rec.mids[key]
                    for _ in range(cnt):
                        rec.row("drop", ids[key[0]], ids[i], q.popleft(), msg, "crashed")
        elif kind == "restart":
            i = a[1]
            ns = self._fork(s, i, copy_node=False)
            ns.nodes[i] = self.make_node(ids[i])
            if rec is not None:
                rec.row("restart", ids[i])
            self._call(ns, i, "on_start", (), rec)
        elif kind == "cut" or kind == "heal":
            link = (a[1], a[2])
            ns = self._fork(s, a[1], copy_node=False)
            ns.dirty = []
            if kind == "cut":
                ns.cut = s.cut | {link}
                ns.faults += 1
            else:
                ns.cut = s.cut - {link}
            if rec is not None:
                rec.row(kind, ids[a[1]], ids[a[2]], info="both ways")
        else:
            raise ValueError(f"unknown action {a!r}")
        return self._finish(ns)

    # --- judging states -------------------------------------------------------------------

    def world(self, s: State) -> World:
        return World(dict(zip(self.ids, s.nodes, strict=True)), dict(zip(self.ids, s.stores, strict=True)), list(s.hist))

    def verdict(self, s: State) -> tuple:
        """``(first broken invariant as (name, explanation) or None, goals reached)``."""
        if s.verdict is None:
            s.verdict = self._judge(s)
        return s.verdict

    def check(self, s: State) -> tuple[str, str] | None:
        """The first broken invariant in ``s`` as ``(name, explanation)``, or None."""
        return self.verdict(s)[0]

    def goals_reached(self, s: State) -> tuple[str, ...]:
        """The goals that hold in ``s``."""
        return self.verdict(s)[1]

    # --- paths ------------------------------------------------------------------------------

    def describe(self, s: State, a: tuple) -> Step:
        """The action ``a`` (enabled in ``s``) as a readable :class:`Step`."""
        kind = a[0]
        ids = self.ids
        if kind in ("deliver", "drop", "duplicate"):
            key = a[1]
            return Step(kind, ids[key[1]], ids[key[0]], s.net[key][0])
        if kind == "timer":
            return Step(kind, ids[a[1]], detail=a[2])
        if kind == "request":
            return Step(kind, ids[a[2]], f"c{a[1]}", detail=self.ops[a[1]].label())
        if kind in ("cut", "heal"):
            return Step(kind, ids[a[1]], ids[a[2]])
        return Step(kind, ids[a[1]])

    def action_of(self, step: Step, s: State) -> tuple:
        """The action a :class:`Step` stands for in state ``s`` (ValueError if not enabled)."""
        kind = step.kind
        try:
            if kind in ("deliver", "drop", "duplicate"):
                a: tuple = (kind, (self.index[step.peer], self.index[step.node], self._msg_key(step.msg)))
            elif kind == "timer":
                a = (kind, self.index[step.node], step.detail)
            elif kind == "request":
                a = (kind, int(str(step.peer).lstrip("c")), self.index[step.node])
            elif kind in ("crash", "restart"):
                a = (kind, self.index[step.node])
            elif kind in ("cut", "heal"):
                i, j = self.index[step.node], self.index[step.peer]
                a = (kind, min(i, j), max(i, j))
            else:
                raise ValueError(f"unknown step kind {kind!r}")
        except (KeyError, ValueError) as exc:
            raise ValueError(f"cannot read step {step}: {exc}") from None
        if a not in self.actions(s):
            raise ValueError(f"step {step} is not possible here")
        return a

    def run_path(self, actions: Sequence[tuple]) -> list[State]:
        """The states along a path of actions (the initial state first)."""
        s = self.initial()
        out = [s]
        for a in actions:
            s = self.step(s, a)
            out.append(s)
        return out

    def record(self, actions: Sequence[tuple], *, title: str | None = None) -> Run:
        """Replay a path with the trace switched on and package it as a :class:`Run`."""
        rec = _Recorder()
        s = self.initial(rec)
        times = [rec.t]  # when each state of the path was reached
        for a in actions:
            rec.tick()
            s = self.step(s, a, rec)
            times.append(rec.t)
        violations = []
        problem = self.check(s)
        if problem is not None:
            start = max(0, len(rec.rows) - _CONTEXT_ROWS)
            events = [e.to_dict() for e in Trace(rec.rows)[start:]]
            violations.append(Violation(problem[0], rec.t, problem[1], events))
        goals: dict[str, float | None] = dict.fromkeys(self.goal_names)
        # goals along the path (cheap: paths are short)
        states = self.run_path(actions)
        for k, st in enumerate(states):
            for g in self.goals_reached(st):
                if goals.get(g) is None:
                    goals[g] = times[k]
        scenario = Scenario(
            protocol=self.spec,
            nodes=self.n,
            seed=0,
            duration=round(max(rec.t, 0.0) + TICK, 6),
            variant=self.variant,
            options=tuple(sorted(self.given_options.items())),
        )
        return Run(
            scenario=scenario,
            trace=Trace(rec.rows),
            history=rec.history,
            violations=violations,
            stats=_stats(rec.rows, rec.history),
            goals=goals,
            nodes=dict(zip(self.ids, s.nodes, strict=True)),
            storage={nid: st.snapshot() for nid, st in zip(self.ids, s.stores, strict=True)},
        )


_MISSING = object()


_SLOTS: dict[type, tuple[str, ...]] = {}


def _slots(t: type) -> tuple[str, ...]:
    got = _SLOTS.get(t)
    if got is not None:
        return got
    out: list[str] = []
    for klass in t.__mro__:
        sl = klass.__dict__.get("__slots__", ())
        if isinstance(sl, str):
            sl = (sl,)
        out.extend(n for n in sl if n not in ("__dict__", "__weakref__") and n not in out)
    _SLOTS[t] = tuple(out)
    return _SLOTS[t]


def _memory_slots(t: type) -> tuple[str, ...]:
    """The slots of an invariant object that are its memory: all but those its class names in
    ``explore_cache`` (caches keyed by node identity, which stay valid from state to state;
    see :class:`consensus_lab.protocols._ballot.Watch`)."""
    slots = _slots(t)
    cache = tuple(getattr(t, "explore_cache", ()))
    bad = [n for n in cache if n not in slots]
    if bad:
        raise ValueError(f"{t.__qualname__}.explore_cache names {bad[0]!r}, which is not a slot "
                         "(only slots can be caches the explorer leaves out)")
    return tuple(n for n in slots if n not in cache)


def _memory_roots(invs: Sequence[Invariant]) -> list[Any]:
    """The objects in which invariants keep memory.

    An invariant object made from a class is a root; so is every mutable
    object a check function reaches through its closure (a goal that reads a
    shared observer, say).  Stateless ``@invariant``/``@goal`` functions give
    no root, and a protocol whose invariants have no root needs no snapshots.
    """
    roots: list[Any] = []
    seen: set[int] = set()

    def add(o: Any) -> None:
        if id(o) not in seen:
            seen.add(id(o))
            roots.append(o)

    def walk(fn: Any, depth: int = 0) -> None:
        if depth > 8:
            return
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if isinstance(v, types.FunctionType):
                walk(v, depth + 1)
            elif isinstance(v, types.MethodType):
                add(v.__self__)
            elif isinstance(v, dict | list | set) or (
                hasattr(v, "__dict__") and not isinstance(v, type | types.ModuleType | Node)
                and not _frozen(v)
            ):
                add(v)

    for inv in invs:
        if isinstance(inv, _FnInvariant):
            walk(inv._fn)
        else:
            add(inv)
    # objects the roots point at (a monitor shared by several invariants, say) are
    # roots too: shared by identity, compared by identity, digested once
    k = 0
    while k < len(roots):
        r = roots[k]
        k += 1
        if isinstance(r, dict | list | set):
            continue
        values = list(getattr(r, "__dict__", {}).values())
        values += [getattr(r, n) for n in _slots(type(r)) if hasattr(r, n)]
        for v in values:
            if (
                not isinstance(v, dict | list | set | tuple | frozenset | type | types.ModuleType | Node)
                and (hasattr(v, "__dict__") or _slots(type(v)))
                and not _frozen(v)
                and not callable(v)
            ):
                add(v)
    return roots


def _frozen(v: Any) -> bool:
    import dataclasses

    t = type(v)
    return dataclasses.is_dataclass(t) and t.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _stats(rows: list[tuple], history: list[Op]) -> dict[str, Any]:
    count = {"send": 0, "deliver": 0, "drop": 0, "duplicate": 0, "timer": 0, "crash": 0, "restart": 0}
    for r in rows:
        if r[1] in count:
            count[r[1]] += 1
    ops = {"ok": 0, "fail": 0, "info": 0}
    for op in history:
        if op.type in ops:
            ops[op.type] += 1
    return {
        "events": sum(1 for r in rows if r[1] in ("deliver", "timer", "crash", "restart", "request", "drop", "duplicate")),
        "sent": count["send"],
        "delivered": count["deliver"],
        "dropped": count["drop"],
        "duplicated": count["duplicate"],
        "timers": count["timer"],
        "crashes": count["crash"],
        "restarts": count["restart"],
        "ops": ops,
        "latency": {"p50": None, "p90": None, "p99": None, "max": None},
    }

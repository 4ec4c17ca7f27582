"""Symmetry reduction: interchangeable nodes, one canonical state.

Two participants of two-phase commit play the same part: a state in which
``n2`` voted yes and ``n3`` has not yet heard of the transaction behaves
exactly as the state with the two names swapped -- every schedule from one
is a schedule from the other with the names swapped, and an invariant breaks
in one exactly when it breaks in the other.  Breadth-first search need keep
only one of them.  ``explore(..., reduction="symmetry")`` fingerprints a
state as the *least* fingerprint of its renamings under every permutation of
the nodes a protocol declares interchangeable (:func:`declare_symmetry`), so
symmetric states count as one.

What is renamed: the explorer's own per-node tables (nodes, storage, timers,
clocks, timer counts, the senders and receivers of messages in flight) are
permuted, and inside node state, storage, timers, messages and the
invariants' memory every string equal to a node id is replaced by its image
(dict keys too; dicts and sets are sorted again).  Attributes the
declaration calls *unordered* (a node's ``cluster``, ``peers``, ...: fixed
rosters whose order never changes) are compared as sets.

The search still stores and expands *real* states: a renaming is only ever
fingerprinted, never run.  The path to a violation is therefore a real
schedule of the un-reduced world, replayed and recorded as usual.

Why this is exact, and when it is not
-------------------------------------
Renaming is exact when the protocol is *equivariant* under the declared
permutations: every id-dependent value is renamed (so a state's renaming is
itself a reachable state), and no behaviour depends on ids other than
through equality -- no tie broken by comparing ids, no choice of "the first
node" of a list, no randomness seeded by the node's id that the state keeps.
Then symmetric states have symmetric futures and the same verdicts, and
breadth-first search reaches a symmetric image of every state at the same
depth: the verdict and the length of the shortest counterexample are those
of the full search.  A wrong declaration can hide a bug (two states merged
that are not symmetric); that is why a protocol must declare its symmetry
and why the tests compare the reduced and the full search on every twin
(``tests/test_explore_symmetry.py``).

Values that merely *derive* from renamed state without being renamed (the
``writes`` digest of a node's storage, kept by an invariant) are harmless:
states whose renamings differ there just do not merge.  Values that carry a
node id *inside* a longer string (Paxos's ``'v-n1'``, an invariant's
explanation) are not renamed: such nodes must not be declared
interchangeable.  The network of partitions settles messages in node order,
which a renaming does not preserve, so symmetry applies to
``network="async"`` only.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .state import _DICT, _SET, _sorted, encode, to_bytes
from .world import _MISSING, ExploreWorld, State

__all__ = ["Symmetry", "declare_symmetry", "symmetry_for", "Canonical", "rename_encoding"]

#: attributes that hold a node's fixed roster in every protocol of the course
ROSTERS = frozenset({"cluster", "peers"})
_CACHE_LIMIT = 2_000_000  # entries per renaming cache before it is cleared


@dataclass(frozen=True)
class Symmetry:
    """Which nodes are interchangeable, as a protocol declares it.

    ``groups``: tuples of node ids; any permutation within each group (and
    all their combinations) maps a reachable state to a reachable state with
    the same future.  ``unordered``: attribute names (of nodes and invariant
    objects) holding a fixed roster of ids, compared as sets.  ``why``: one
    sentence on why the renaming is exact, for documentation and errors.
    """

    groups: tuple[tuple[str, ...], ...]
    unordered: frozenset[str] = ROSTERS
    why: str = ""


#: ``fn(world) -> Symmetry`` or a one-sentence reason why the nodes are not interchangeable
DeclareFn = Callable[[ExploreWorld], "Symmetry | str"]
_DECLARED: dict[str, DeclareFn] = {}


def declare_symmetry(name: str) -> Callable[[DeclareFn], DeclareFn]:
    """Decorator: ``fn(world)`` declares protocol ``name``'s interchangeable nodes in ``world``
    (returns a :class:`Symmetry`), or returns a sentence saying why none are."""

    def wrap(fn: DeclareFn) -> DeclareFn:
        _DECLARED[name] = fn
        return fn

    return wrap


def symmetry_for(world: ExploreWorld) -> Symmetry:
    """The declared symmetry of ``world``; ValueError (one line, saying why) if it has none."""
    name = world.spec.name
    head = f"symmetry reduction does not apply to {name} ({world.variant})"
    fn = _DECLARED.get(name)
    if fn is None:
        raise ValueError(f"{head}: it declares no interchangeable nodes (renaming is exact only if every node id "
                         "in its state, messages and invariant memory can be renamed consistently; see "
                         "consensus_lab.explore.symmetry.declare_symmetry)")
    got = fn(world)
    if isinstance(got, str):
        raise ValueError(f"{head}: {got}")
    if world.network != "async":
        raise ValueError(f"{head}: the network of partitions settles messages in node order, which renaming "
                         "nodes does not preserve (use network='async')")
    groups = tuple(g for g in got.groups if len(g) > 1)
    if not groups:
        raise ValueError(f"{head}: no two of its {world.n} nodes are interchangeable in this setup")
    for g in groups:
        unknown = [x for x in g if x not in world.index]
        if unknown:
            raise ValueError(f"{head}: the declared group names unknown node {unknown[0]!r}")
        members = set(g)
        for op in world.ops:
            targets = set(world.ids if op.targets is None else op.targets)
            if members & targets and not members <= targets:
                raise ValueError(f"{head}: client operation {op.label()} may go to only some of the "
                                 f"interchangeable nodes {', '.join(g)}")
    return Symmetry(groups, got.unordered, got.why)


# --- renaming ----------------------------------------------------------------------------


def rename_encoding(e: Any, names: dict[str, str], unordered: frozenset[str]) -> Any:
    """The canonical encoding ``e`` (see :mod:`.state`) with every node id in ``names`` renamed.

    Dicts and sets are sorted again; the value of a dict key in ``unordered``
    that is a tuple (a roster) is sorted too.
    """
    t = type(e)
    if t is str:
        return names.get(e, e)
    if t is not tuple or not e:
        return e
    head = e[0]
    if head == _DICT and len(e) == 2:
        items = []
        for k, v in e[1]:
            v2 = rename_encoding(v, names, unordered)
            if type(v2) is tuple and type(k) is str and k in unordered:
                v2 = _sorted(list(v2))
            items.append((rename_encoding(k, names, unordered), v2))
        return (_DICT, _sorted(items))
    if head == _SET and len(e) == 2:
        return (_SET, _sorted([rename_encoding(x, names, unordered) for x in e[1]]))
    return tuple([rename_encoding(x, names, unordered) for x in e])


class Canonical:
    """``canonical(state)``: the least fingerprint of the state's renamings.

    Installed as ``world.canonical``, it replaces the fingerprint the world
    gives every state (see ``ExploreWorld._fingerprint``).  The renamed parts
    are cached: a node's part by its digest (nodes are shared between many
    states), a message by its bytes, the invariants' memory by its digest.
    """

    def __init__(self, world: ExploreWorld, symmetry: Symmetry) -> None:
        self.world = world
        self.symmetry = symmetry
        ids = world.ids
        per_group = [list(itertools.permutations(g)) for g in symmetry.groups]
        self.perms: list[tuple[tuple[int, ...], dict[str, str]]] = []
        for choice in itertools.product(*per_group):
            names = {x: x for x in ids}
            for g, image in zip(symmetry.groups, choice, strict=True):
                names.update(zip(g, image, strict=True))
            index = tuple(world.index[names[x]] for x in ids)
            self.perms.append((index, names))
        # digest (or bytes) of a part -> its renamings, one per permutation
        self._nodes: dict[bytes, tuple[bytes, ...]] = {}
        self._msgs: dict[bytes, tuple[bytes, ...]] = {}
        self._mems: dict[bytes, tuple[bytes, ...]] = {}
        self._no_memory = (b"",) * len(self.perms)

    @property
    def size(self) -> int:
        """How many renamings (the order of the symmetry group)."""
        return len(self.perms)

    def _renamed(self, cache: dict, key: bytes, enc: Callable[[], Any], digest: bool) -> tuple[bytes, ...]:
        """The renamings of one part under every permutation (its digests, or bytes), cached by ``key``.

        ``enc()`` gives the part's encoding; it is computed once and renamed once per permutation.
        """
        got = cache.get(key)
        if got is None:
            e = enc()
            unordered = self.symmetry.unordered
            out = []
            for _, names in self.perms:
                b = to_bytes(rename_encoding(e, names, unordered))
                out.append(hashlib.blake2b(b, digest_size=16).digest() if digest else b)
            got = tuple(out)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = got
        return got

    def _node_parts(self, s: State, i: int) -> tuple[bytes, ...]:
        def enc() -> Any:
            node = s.nodes[i]
            data = s.stores[i]._data
            t = s.timers[i]
            return (
                encode(node) if node is not None else None,
                encode(data) if data else None,
                tuple(sorted((name, encode(v)) for name, v in t.items())) if t else None,
            )

        return self._renamed(self._nodes, s.comps[i][0], enc, True)

    def _memory_parts(self, memory: Any) -> tuple[bytes, ...]:
        if memory is None:
            return self._no_memory

        def enc() -> Any:
            encm = self.world._encode_memory
            parts = []
            for c in memory.snap:
                if isinstance(c, tuple):  # (attribute dict, slot values) of an object
                    d, slot_values = c
                    parts.append((encm(d) if d is not None else None,
                                  tuple([encm(v) for v in slot_values if v is not _MISSING])))
                else:
                    parts.append(encm(c))
            return tuple(parts)

        return self._renamed(self._mems, memory.digest, enc, True)

    def __call__(self, s: State) -> bytes:
        n = self.world.n
        timed = self.world._timed
        nodes = [self._node_parts(s, i) for i in range(n)]
        mems = self._memory_parts(s.memory)
        net = [(src, dst, self._renamed(self._msgs, mb, lambda msg=msg: encode(msg), False), cnt)
               for (src, dst, mb), (msg, cnt) in s.net.items()]
        rest = (s.henc, s.clients, s.faults)
        best = None
        for k, (p, _) in enumerate(self.perms):
            comps: list[bytes] = [b""] * n
            for i in range(n):
                comps[p[i]] = nodes[i][k]
            renamed_net = tuple(sorted([(p[src], p[dst], m[k], cnt) for src, dst, m, cnt in net]))
            clocks = None
            if timed:
                cl = [0.0] * n
                for i, c in enumerate(s.clocks):
                    cl[p[i]] = c
                clocks = tuple(cl)
            fired = tuple(sorted((p[i], name, c) for (i, name), c in s.fired.items())) if s.fired else None
            cut = tuple(sorted((min(p[i], p[j]), max(p[i], p[j])) for i, j in s.cut)) if s.cut else None
            h = hashlib.blake2b(digest_size=16)
            for c in comps:
                h.update(c)
            h.update(mems[k])
            h.update(to_bytes((renamed_net, rest, clocks, fired, s.error, cut)))
            fp = h.digest()
            if best is None or fp < best:
                best = fp
        assert best is not None
        return best


def install(world: ExploreWorld) -> Canonical:
    """Make ``world`` fingerprint states up to its declared symmetry (ValueError if it has none)."""
    canon = Canonical(world, symmetry_for(world))
    world.canonical = canon
    return canon


# --- the course's protocols --------------------------------------------------------------


@declare_symmetry("twopc")
def _twopc(world: ExploreWorld) -> Symmetry | str:
    if world.variant == "article":
        return "its participants vote by a coin flip from ctx.rng, which is seeded by the node's id"
    if float(world.options.get("p_no", 0.0)) > 0:
        return "with p_no > 0 participants vote no by ctx.rng, which is seeded by the node's id"
    if str(world.options.get("refuse", "")).strip():
        return "the option refuse names particular participants"
    return Symmetry(
        (world.ids[1:],),
        ROSTERS | {"participants", "others"},
        "participants n2.. play the same part; the coordinator (n1) stays fixed",
    )


@declare_symmetry("raft")
def _raft(world: ExploreWorld) -> Symmetry | str:
    if world.clock != "frozen":
        return ("election timeouts are drawn from ctx.rng, seeded by the node's id, and with clock='timers' "
                "they decide which timer may fire")
    return Symmetry((world.ids,), ROSTERS,
                    "terms, votes and logs name nodes only by id, and no rule compares two ids")


@declare_symmetry("paxos")
def _paxos(world: ExploreWorld) -> Symmetry | str:
    if world.ops:
        return "an acceptor redirects a client to a proposer drawn from ctx.rng, which is seeded by its id"
    proposers = world.make_node(world.ids[0]).config.proposers
    acceptors = tuple(x for x in world.ids if x not in proposers)
    if len(acceptors) < 2:
        return (f"proposers {', '.join(proposers)} are not interchangeable (ballots break ties by proposer id, "
                "and each proposes its own value), and fewer than two nodes are acceptors only "
                "(try more nodes)")
    return Symmetry((acceptors,), ROSTERS,
                    "the nodes that only accept and learn play the same part; ballots name proposers only")


@declare_symmetry("multi-paxos")
def _multipaxos(world: ExploreWorld) -> str:
    return "every node may lead, and ballots break ties by node id, so renaming nodes changes which ballot wins"

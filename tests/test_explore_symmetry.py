"""Symmetry reduction finds what the full search finds, in fewer states.

``reduction="symmetry"`` fingerprints a state as the least fingerprint of its
renamings under the permutations of the nodes a protocol declares
interchangeable (:mod:`consensus_lab.explore.symmetry`).  The tests check the
promise three ways: every twin of the protocols that declare a symmetry gets
the same verdict and shortest counterexample length, with a real schedule;
on small bounds the reduced search reaches exactly the symmetry classes of
the full search's states, each at its shortest depth, and symmetric states
have the same verdict; and a wrong declaration is caught by the same checks.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab import protocols
from consensus_lab.explore import ClientOp, explore, make_world, replay
from consensus_lab.explore import symmetry as sym
from consensus_lab.explore.symmetry import Canonical, Symmetry, symmetry_for
from consensus_lab.testing import examples

# every twin of the protocols that declare a symmetry (twopc's article and raft's
# commit-previous-term are refused: see the refusal test), at bounds that keep the full
# search short.  The deeper ones (the full search alone takes 5-80 CPU seconds each) run under
# ``make stress`` only.  Paxos's proposers n1, n2 are not interchangeable, so with 4 nodes its
# acceptors n3, n4 are the group.
TWINS = [
    dict(protocol="twopc", variant="timeout-commit"),
    dict(protocol="twopc", variant="uncertain-abort"),
    dict(protocol="twopc", variant="uncertain-abort", nodes=4),
    dict(protocol="twopc", variant="no-vote-log"),
    dict(protocol="raft", variant="article"),
    dict(protocol="paxos", variant="minority-learner", nodes=4),
    dict(protocol="paxos", variant="article", nodes=4, depth=7),
]
DEEP_TWINS = [
    dict(protocol="twopc", variant="no-decision-log"),
    dict(protocol="raft", variant="volatile-vote"),
    dict(protocol="raft", variant="no-up-to-date-check"),
    dict(protocol="raft", variant="stale-truncate"),
    dict(protocol="raft", variant="log-by-reference", depth=7),
    dict(protocol="paxos", variant="ignore-accepted", nodes=4, depth=8),
    dict(protocol="paxos", variant="first-promise", nodes=4, depth=8),
    dict(protocol="paxos", variant="forget-promise", nodes=4, depth=8),
]


def _twin_id(kw: dict) -> str:
    return "-".join(str(v) for v in kw.values())


def _agree(kw: dict) -> None:
    full = explore(progress=False, time_budget=None, **kw)
    reduced = explore(progress=False, time_budget=None, reduction="symmetry", **kw)
    assert reduced.reduction == "symmetry"
    assert (reduced.verdict, reduced.counterexample_length) == (full.verdict, full.counterexample_length)
    assert reduced.states < full.states or full.states <= 2  # (a violation in the first step: nothing to merge)
    if full.verdict == "violation":
        assert reduced.violation.invariant == full.violation.invariant
        # the path is a schedule of the real, un-reduced world: replaying it breaks the invariant
        config = {k: v for k, v in kw.items() if k != "protocol"}
        run = replay(kw["protocol"], reduced.path, **config)
        assert run.violations and run.violations[0].invariant == full.violation.invariant


@pytest.mark.parametrize("kw", TWINS, ids=_twin_id)
def test_reduced_and_full_search_agree_on_every_twin(kw):
    _agree(kw)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("CONSENSUS_LAB_STRESS"), reason="deep twins: make stress runs them")
@pytest.mark.parametrize("kw", DEEP_TWINS, ids=_twin_id)
def test_stress_reduced_and_full_search_agree_on_the_deep_twins(kw):
    _agree(kw)


def test_every_twin_is_compared_or_refused():
    listed = {(kw["protocol"], kw["variant"]) for kw in TWINS + DEEP_TWINS}
    for name in ("twopc", "raft", "paxos"):
        for variant in protocols.get(name).variants:
            if variant == "correct" or (name, variant) in listed:
                continue
            with pytest.raises(ValueError, match="symmetry reduction does not apply"):
                explore(name, variant=variant, depth=0, progress=False, reduction="symmetry")


def _classes(kw: dict, depth: int, reduced: bool, symmetry: Symmetry | None = None) -> dict[bytes, tuple[int, frozenset]]:
    """Breadth-first search to ``depth``: symmetry class -> (shortest depth, verdicts of its states).

    The full search tells states apart by their own fingerprints, the reduced one
    by their classes (the least fingerprint of their renamings); both note the
    class and verdict of every state they step into.  ``symmetry``: use this one
    rather than the protocol's declaration (and its checks).
    """
    world, _ = make_world(depth=depth, **kw)
    canon = Canonical(world, symmetry if symmetry is not None else symmetry_for(world))
    key = canon if reduced else (lambda s: s.fp)
    out: dict[bytes, tuple[int, set]] = {}

    def note(s, d: int) -> None:
        verdict = (world.check(s), world.goals_reached(s))
        got = out.setdefault(canon(s), (d, set()))
        got[1].add(verdict)

    init = world.initial()
    seen = {key(init)}
    note(init, 0)
    frontier = [init]
    for d in range(1, depth + 1):
        nxt = []
        for s in frontier:
            for a in world.actions(s):
                ns = world.step(s, a)
                note(ns, d)
                k = key(ns)
                if k not in seen and world.check(ns) is None:
                    seen.add(k)
                    nxt.append(ns)
        frontier = nxt
    return {c: (d, frozenset(v)) for c, (d, v) in out.items()}


SMALL = [
    (dict(protocol="twopc", nodes=4), 6),
    (dict(protocol="twopc", nodes=3, variant="uncertain-abort"), 6),
    (dict(protocol="raft", nodes=3), 4),
    (dict(protocol="paxos", nodes=5), 4),
]


@pytest.mark.parametrize("kw,depth", SMALL, ids=lambda x: "-".join(map(str, x.values())) if isinstance(x, dict) else str(x))
def test_reduced_search_reaches_every_symmetry_class_at_its_shortest_depth(kw, depth):
    full = _classes(kw, depth, reduced=False)
    reduced = _classes(kw, depth, reduced=True)
    # symmetric states are judged alike: one verdict (broken invariant, goals) per class
    assert all(len(v) == 1 for _, v in full.values())
    assert reduced == full
    assert len(full) > 10


def test_a_wrong_declaration_is_caught():
    # One write that only n1 takes: the servers are no longer interchangeable
    # (from "n1 leads" the write is accepted, from "n2 leads" it is redirected),
    # though nothing in the state says so.  The declaration's checks refuse it...
    kw = dict(protocol="raft", nodes=3, requests=(ClientOp("write", "x", 1, targets=("n1",)),), faults=0)
    world, _ = make_world(**kw)
    with pytest.raises(ValueError, match="only some of the interchangeable nodes"):
        symmetry_for(world)
    # ... and declared anyway, the reduced search misses states of the full one
    wrong = Symmetry((world.ids,))
    full = _classes(kw, 6, reduced=False, symmetry=wrong)
    reduced = _classes(kw, 6, reduced=True, symmetry=wrong)
    assert reduced != full


@pytest.mark.parametrize("kw", [
    dict(protocol="twopc", nodes=4, depth=6),
    dict(protocol="twopc", variant="no-vote-log"),
    dict(protocol="raft", nodes=3, depth=5),
])
def test_symmetry_combines_with_sleep_sets_and_workers(kw):
    alone = explore(progress=False, time_budget=None, reduction="symmetry", **kw)
    both = explore(progress=False, time_budget=None, reduction="sleep-sets+symmetry", **kw)
    assert both.reduction == "sleep-sets+symmetry"
    # sleep sets save transitions, never states
    assert (both.verdict, both.states, both.counterexample_length) == (
        alone.verdict, alone.states, alone.counterexample_length)
    assert both.transitions + both.transitions_avoided == alone.transitions
    parallel = explore(progress=False, time_budget=None, reduction="symmetry", workers=2, **kw)
    assert (parallel.verdict, parallel.states, [str(s) for s in parallel.path]) == (
        alone.verdict, alone.states, [str(s) for s in alone.path])


def test_other_strategies_use_the_classes_too():
    full = explore("twopc", nodes=4, depth=6, strategy="dfs", progress=False, time_budget=None)
    reduced = explore("twopc", nodes=4, depth=6, strategy="dfs", progress=False, time_budget=None,
                      reduction="symmetry")
    assert reduced.reduction == "symmetry" and reduced.verdict == full.verdict == "no violation"
    assert reduced.states < full.states


@pytest.mark.parametrize("kw,why", [
    (dict(protocol="multi-paxos"), "ballots break ties by node id"),
    (dict(protocol="paxos"), "fewer than two nodes are acceptors only"),
    (dict(protocol="twopc", variant="article"), "coin flip"),
    (dict(protocol="twopc", options={"refuse": "n2"}), "refuse names particular participants"),
    (dict(protocol="raft", variant="commit-previous-term"), "network of partitions"),
    (dict(protocol="raft", variant="commit-previous-term", network="async"), "only some of the interchangeable"),
    (dict(protocol="raft", clock="timers"), "seeded by the node's id"),
    (dict(protocol="broadcast"), "declares no interchangeable nodes"),
])
def test_a_protocol_without_a_sound_symmetry_is_refused_saying_why(kw, why):
    with pytest.raises(ValueError, match=why) as info:
        explore(progress=False, depth=1, reduction="symmetry", **kw)
    assert "\n" not in str(info.value)


def test_every_declaring_protocol_exists():
    names = set(protocols.names())
    assert set(sym._DECLARED) <= names


def test_cli_symmetry(capsys):
    from consensus_lab.cli import main

    code = main(["explore", "twopc", "--variant", "no-vote-log", "--reduction", "symmetry", "--json", "-"])
    d = json.loads(capsys.readouterr().out)
    full = explore("twopc", variant="no-vote-log", progress=False)
    assert code == 1 and d["reduction"] == "symmetry"
    assert d["counterexample_length"] == full.counterexample_length and d["states"] < full.states
    assert main(["explore", "paxos", "--reduction", "symmetry"]) == 2
    err = capsys.readouterr().err.strip()
    assert "symmetry reduction does not apply to paxos" in err and len(err.splitlines()) == 1


# --- renaming an encoding is renaming the value ---------------------------------------------

_IDS = ["n1", "n2", "n3"]
_values = st.recursive(
    st.sampled_from([*_IDS, "x", "v-n1"]) | st.integers(0, 3) | st.none(),
    lambda inner: (st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple)
                   | st.dictionaries(st.sampled_from([*_IDS, "k", 7]), inner, max_size=4)
                   | st.frozensets(st.sampled_from([*_IDS, "y", 5]), max_size=4)),
    max_leaves=12,
)


def _rename_value(v, names):
    if isinstance(v, str):
        return names.get(v, v)
    if isinstance(v, list | tuple):
        return type(v)(_rename_value(x, names) for x in v)
    if isinstance(v, dict):
        return {_rename_value(k, names): _rename_value(x, names) for k, x in v.items()}
    if isinstance(v, frozenset):
        return frozenset(_rename_value(x, names) for x in v)
    return v


@settings(max_examples=examples(200), deadline=None)
@given(_values, st.permutations(_IDS))
def test_renaming_an_encoding_is_encoding_the_renamed_value(value, image):
    from consensus_lab.explore import encode
    from consensus_lab.explore.symmetry import rename_encoding

    names = dict(zip(_IDS, image, strict=True))
    assert rename_encoding(encode(value), names, frozenset()) == encode(_rename_value(value, names))
    back = {b: a for a, b in names.items()}
    assert rename_encoding(rename_encoding(encode(value), names, frozenset()), back, frozenset()) == encode(value)

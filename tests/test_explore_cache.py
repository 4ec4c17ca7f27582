"""Caches the explorer leaves out of a state's memory (``explore_cache``, see CONTRIBUTING).

``Watch._seen`` remembers, per node, the node object it last looked at.  The
explorer leaves it out of every state's snapshot, comparison and fingerprint,
so it holds whatever the last judged state left.  That must change no answer:
with the cache kept as memory (``explore_cache`` emptied) the searches find the
same verdicts, goals and shortest counterexamples, step for step.  They may
count fewer states, never more: two states that differ only in the cache entry
of a crashed node (what it held before the crash, which nothing reads again:
after a restart the node is a new object) are one state now.
"""

from __future__ import annotations

import pytest

from consensus_lab.explore import explore
from consensus_lab.explore.world import _memory_slots
from consensus_lab.protocols._ballot import Watch

CASES = [
    dict(protocol="paxos", depth=6),
    dict(protocol="paxos", variant="minority-learner"),
    dict(protocol="paxos", variant="forget-promise", depth=7, faults=1, fault_kinds=("crash", "restart")),
    dict(protocol="twopc", variant="timeout-commit"),
    dict(protocol="twopc", depth=7),
    dict(protocol="multi-paxos", variant="minority-commit"),
]


def _search(kw: dict):
    return explore(progress=False, time_budget=None, **kw)


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: f"{kw['protocol']}-{kw.get('variant', 'correct')}")
def test_leaving_the_watch_cache_out_changes_no_answer(kw, monkeypatch):
    left_out = _search(kw)
    monkeypatch.setattr(Watch, "explore_cache", ())
    kept = _search(kw)
    assert left_out.depth == kept.depth and left_out.verdict == kept.verdict
    crashes = "crash" in left_out.bounds.fault_kinds and left_out.bounds.faults > 0
    assert left_out.states <= kept.states if crashes else left_out.states == kept.states
    assert [str(s) for s in left_out.path] == [str(s) for s in kept.path]
    assert left_out.goals == kept.goals


def test_the_cache_is_left_out_of_memory_and_only_a_slot_can_be_one():
    assert "_seen" not in _memory_slots(Watch) and "_fingerprint" in _memory_slots(Watch)

    class Bad:
        __slots__ = ("a",)
        explore_cache = ("b",)

    with pytest.raises(ValueError, match="not a slot"):
        _memory_slots(Bad)

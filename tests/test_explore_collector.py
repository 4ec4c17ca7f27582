"""The explorer keeps the cyclic garbage collector off the states it holds (collector.py), and
leaves the collector as it found it."""

from __future__ import annotations

import gc

import pytest

from consensus_lab.explore import explore
from consensus_lab.explore import search as search_mod
from consensus_lab.explore.collector import calm_collector


@pytest.fixture(autouse=True)
def _collector_as_usual():
    assert gc.isenabled() and gc.get_freeze_count() == 0
    yield
    gc.unfreeze()
    gc.enable()


def test_calm_collector_freezes_on_request_and_unfreezes_at_the_end():
    with calm_collector() as freeze:
        assert gc.get_freeze_count() == 0
        keep = [[] for _ in range(100)]
        freeze()
        assert gc.get_freeze_count() >= len(keep)
    assert gc.get_freeze_count() == 0


def test_calm_collector_unfreezes_when_the_search_raises():
    with pytest.raises(RuntimeError), calm_collector() as freeze:
        freeze()
        raise RuntimeError("a broken node")
    assert gc.get_freeze_count() == 0


def test_calm_collector_leaves_a_caller_s_own_freeze_and_a_disabled_collector_alone():
    gc.freeze()
    before = gc.get_freeze_count()
    with calm_collector() as freeze:
        _new = [[] for _ in range(100)]
        freeze()
        assert gc.get_freeze_count() == before
    assert gc.get_freeze_count() == before  # not unfrozen: it was the caller's
    gc.unfreeze()
    gc.disable()
    with calm_collector() as freeze:
        _new = [[] for _ in range(100)]
        freeze()
        assert gc.get_freeze_count() == 0
    assert not gc.isenabled()


@pytest.mark.parametrize("strategy, workers", [("bfs", 1), ("bfs", 2), ("dfs", 1), ("random", 1)])
def test_a_search_freezes_as_it_goes_and_leaves_the_collector_as_it_was(strategy, workers, monkeypatch):
    seen = []
    tick = search_mod._Search.tick

    def watching(self):
        tick(self)
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(search_mod._Search, "tick", watching)
    r = explore("twopc", variant="no-vote-log", strategy=strategy, workers=workers, depth=6, walks=200,
                time_budget=None)
    assert r.verdict in ("violation", "no violation")
    assert seen and max(seen) > 0  # the states of the search were frozen while it ran
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_cycles_made_by_nodes_during_a_search_are_collected(monkeypatch):
    """A node that makes a reference cycle per step: young cycles are still collected while the
    search runs, and every frozen one once it is over."""
    from consensus_lab.protocols import twopc

    made = []

    class Cycle:
        pass

    handler = twopc.Participant.on_message

    def cyclic(self, ctx, src, msg):
        c = Cycle()
        c.me = c
        made.append(1)
        return handler(self, ctx, src, msg)

    monkeypatch.setattr(twopc.Participant, "on_message", cyclic)
    explore("twopc", depth=7, time_budget=None)
    assert len(made) > 1000
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) is Cycle]

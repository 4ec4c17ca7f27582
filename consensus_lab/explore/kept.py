"""Shortest counterexamples kept from searches too long to run in a lesson.

Breadth-first search needs one to three minutes of CPU for the deep Paxos twins
(``first-promise``, ``forget-promise``); a lesson replays the path it found
instead, step by step (:func:`kept_counterexample`).  ``tests/test_explore_deep.py``
checks that the search still finds exactly these paths.

Beside them, one path written by hand (:data:`FIGURE8_ASYNC`): Raft's figure 8
over single deliveries, beyond what the search reaches; it is not known to be
the shortest.  Lesson 09 draws it (:func:`figure8_async_path`) beside the
seven-step counterexample the search finds in the network of partitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocols._raft_messages import (
    AppendEntries,
    AppendEntriesReply,
    RequestVote,
    RequestVoteReply,
)
from ..protocols.paxos import Accept, Ballot, Prepare, Promise
from ..protocols.raft_log import Command, Entry
from ..sim import Run
from .search import make_world, replay
from .world import ClientOp, Step

__all__ = ["KEPT_PATHS", "kept_counterexample", "FIGURE8_ASYNC", "FIGURE8_ASYNC_CONFIG", "figure8_async",
           "figure8_async_path", "ReplayedPath"]


def _timer(node: str, name: str) -> Step:
    return Step("timer", node, detail=name)


def _deliver(src: str, dst: str, msg: object) -> Step:
    return Step("deliver", dst, src, msg)


_B1, _B1N2, _B2, _B2N2 = Ballot(1, "n1"), Ballot(1, "n2"), Ballot(2, "n1"), Ballot(2, "n2")

#: (protocol, variant) -> the shortest counterexample breadth-first search returns
KEPT_PATHS: dict[tuple[str, str], tuple[Step, ...]] = {
    ("paxos", "first-promise"): (
        # n1 runs phase 1 with n3 and accepts v-n1 in (1,n1) itself; then it retries with (2,n1)
        _timer("n1", "propose"), _deliver("n1", "n3", Prepare(_B1)), _deliver("n3", "n1", Promise(_B1)),
        _timer("n1", "retry"),
        # n2 runs phase 1 with n3 in (1,n2) and accepts v-n2 itself
        _timer("n2", "propose"), _deliver("n2", "n3", Prepare(_B1N2)), _deliver("n3", "n2", Promise(_B1N2)),
        # n2's promise to (2,n1) reports v-n2; n1 takes its own first report, v-n1
        _deliver("n1", "n2", Prepare(_B2)), _deliver("n2", "n1", Promise(_B2, _B1N2, "v-n2")),
        _deliver("n1", "n2", Accept(_B2, "v-n1")), _deliver("n2", "n3", Accept(_B1N2, "v-n2")),
    ),
    ("paxos", "forget-promise"): (
        _timer("n1", "propose"), _deliver("n1", "n2", Prepare(_B1)),
        _timer("n2", "propose"), _deliver("n2", "n3", Prepare(_B2N2)), _deliver("n3", "n2", Promise(_B2N2)),
        Step("crash", "n3"), Step("restart", "n3"),  # n3 forgets its promise to (2,n2)
        _deliver("n2", "n1", Promise(_B1)), _deliver("n1", "n3", Accept(_B1, "v-n1")),
        _deliver("n2", "n1", Accept(_B2N2, "v-n2")),
    ),
}


def kept_counterexample(protocol: str, variant: str, *, upto: int | None = None) -> Run:
    """Replay the kept path of ``variant`` (its first ``upto`` steps) as a Run."""
    try:
        path = KEPT_PATHS[(protocol, variant)]
    except KeyError:
        raise KeyError(f"no kept path for {protocol} {variant} (kept: {', '.join(f'{p} {v}' for p, v in KEPT_PATHS)})") from None
    return replay(protocol, path[:upto], variant=variant)


#: Raft's figure 8 (variant ``commit-previous-term``) over single deliveries (``network="async"``),
#: written by hand -- NOT found by a search, so not known to be the shortest.  Breadth-first
#: search in this configuration grows about 3-4x per step and covers about 9 of these 20 steps in
#: two minutes on the course machine (see issue 20's closing note); the lesson's search finds figure 8
#: in the network of partitions instead.  Replay it with :func:`figure8_async`.
FIGURE8_ASYNC_CONFIG: dict = dict(
    network="async", faults=0, fault_kinds=(), timers=("election",), timer_limit=2,
    requests=(ClientOp("write", "x", 1, targets=("n1",)), ClientOp("write", "x", 2, targets=("n2",))),
)
_E1 = Entry(term=1, command=Command(client="c0", seq=1, f="write", key="x", value=1))
FIGURE8_ASYNC: tuple[Step, ...] = (
    # n1 leads term 1 with n2's vote and appends x=1; nobody receives it
    _timer("n1", "election"), _deliver("n1", "n2", RequestVote(1, "n1", 0, 0)),
    _deliver("n2", "n1", RequestVoteReply(1, True)), Step("request", "n1", "c0", detail="write('x', 1)"),
    # n2 leads term 2 with n3's vote and appends x=2; nobody receives it; n1 steps down
    _timer("n2", "election"), _deliver("n2", "n3", RequestVote(2, "n2", 0, 0)),
    _deliver("n3", "n2", RequestVoteReply(2, True)), Step("request", "n2", "c1", detail="write('x', 2)"),
    _deliver("n2", "n1", RequestVote(2, "n2", 0, 0)),
    # n1 leads term 3 with n3's vote, copies its term-1 entry to n3 and counts it committed
    _timer("n1", "election"), _deliver("n1", "n3", RequestVote(3, "n1", 1, 1)),
    _deliver("n3", "n1", RequestVoteReply(3, True)),
    _deliver("n1", "n3", AppendEntries(3, "n1", 1, 1, (), 0, 1)),
    _deliver("n3", "n1", AppendEntriesReply(3, False, 0, 1, None, 1)),
    _deliver("n1", "n3", AppendEntries(3, "n1", 0, 0, (_E1,), 0, 1)),
    _deliver("n3", "n1", AppendEntriesReply(3, True, 1, 0, None, 1)),
    # n2 steps down, then wins term 4 with n3's vote (its last term 2 beats n3's 1): without x=1
    _deliver("n1", "n2", RequestVote(3, "n1", 1, 1)), _timer("n2", "election"),
    _deliver("n2", "n3", RequestVote(4, "n2", 1, 2)), _deliver("n3", "n2", RequestVoteReply(4, True)),
)


def figure8_async(*, upto: int | None = None) -> Run:
    """Replay :data:`FIGURE8_ASYNC` (its first ``upto`` steps) over single deliveries, as a Run."""
    return replay("raft", FIGURE8_ASYNC[:upto], variant="commit-previous-term", **FIGURE8_ASYNC_CONFIG)


@dataclass(frozen=True)
class ReplayedPath:
    """A schedule replayed step by step, in the shape ``plot_counterexample`` draws (protocol,
    variant, ``path``, ``counterexample``: the Run, and the world it ran in).  Not a search
    result: nothing was searched."""

    protocol: str
    variant: str
    path: tuple[Step, ...]
    counterexample: Run
    _world: Any

    @property
    def verdict(self) -> str:
        return "violation" if self.counterexample.violations else "no violation"


def figure8_async_path() -> ReplayedPath:
    """:data:`FIGURE8_ASYNC` replayed over single deliveries, ready for ``plot_counterexample``."""
    world, _ = make_world("raft", variant="commit-previous-term", **FIGURE8_ASYNC_CONFIG)
    return ReplayedPath("raft", "commit-previous-term", FIGURE8_ASYNC, figure8_async(), world)

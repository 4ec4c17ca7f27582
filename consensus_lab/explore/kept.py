"""Shortest counterexamples kept from searches too long to run in a lesson.

Breadth-first search needs one to three minutes of CPU for the deep Paxos twins
(``first-promise``, ``forget-promise``); a lesson replays the path it found
instead, step by step (:func:`kept_counterexample`).  ``tests/test_explore_deep.py``
checks that the search still finds exactly these paths.
"""

from __future__ import annotations

from ..protocols.paxos import Accept, Ballot, Prepare, Promise
from ..sim import Run
from .search import replay
from .world import Step

__all__ = ["KEPT_PATHS", "kept_counterexample"]


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

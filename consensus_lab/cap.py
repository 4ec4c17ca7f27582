"""CAP, measured: which stores keep serving on the minority side of a network partition.

Brewer's conjecture, proved by Gilbert and Lynch (2002): while the network is
partitioned, a replicated store cannot answer every request that reaches a
live node (*availability*) and also be linearizable (*consistency*).  The
simulator shows it with a cut such as ``n1 | n2,n3``: we count the client
requests that reached a node of the small side while the cut lasted, and how
many of them that node answered with a value (an ``Ok``).  A refusal
(``Fail``), a redirect, or no answer before the client's timeout is not
service.

Clients are outside the cut (they can reach every node), so a client whose
request went unanswered retries at another node and often succeeds there.
:class:`SideService` therefore reports both: what the *nodes* on each side did
(CAP's question) and what the *clients* got in the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SideService", "served_by_side", "cap_experiment"]


@dataclass(frozen=True)
class SideService:
    """Requests that reached each side during the cut, and how many that side answered with a value.

    ``minority_served / minority_requests`` is the availability of the small
    side; ``clients_ok`` is the fraction of client operations invoked during
    the cut that completed ``ok`` (at whatever node, after retries).
    """

    setting: str
    runs: int
    minority_requests: int
    minority_served: int
    majority_requests: int
    majority_served: int
    clients_ok: float

    @staticmethod
    def _pct(served: int, total: int) -> str:
        return "   -" if total == 0 else f"{100 * served / total:3.0f}%"

    def row(self) -> str:
        return (f"{self.setting:32s} minority side served {self._pct(self.minority_served, self.minority_requests)}"
                f" of {self.minority_requests:4d} requests   majority side "
                f"{self._pct(self.majority_served, self.majority_requests)} of {self.majority_requests:4d}"
                f"   clients ok {100 * self.clients_ok:3.0f}%")


def served_by_side(run: Any, minority: Sequence[str], start: float, end: float, *, setting: str = "") -> SideService:
    """Count, from ``run``'s trace, the requests that reached a node in ``minority``
    (and, apart, any other node) in ``[start, end)``, and the ones that node answered
    with a value."""
    if not start < end:
        raise ValueError(f"the cut must have start < end, got {start} and {end}")
    minority = set(minority)
    unknown = minority - set(run.nodes)
    if unknown:
        raise ValueError(f"no such node(s) in this run: {', '.join(sorted(unknown))}")
    from .sim import Ok

    pending: dict[tuple[str, str], bool] = {}  # (node, client) -> request arrived in the window
    counts = {True: [0, 0], False: [0, 0]}  # minority? -> [requests, served]
    for ev in run.trace:
        if ev.kind == "request" and ev.node is not None:
            inside = start <= ev.time < end
            pending[(ev.node, ev.peer)] = inside
            if inside:
                counts[ev.node in minority][0] += 1
        elif ev.kind == "reply" and ev.node is not None:
            if pending.pop((ev.node, ev.peer), False) and isinstance(ev.info, Ok):
                counts[ev.node in minority][1] += 1
    ops = [op for op in _operations(run) if start <= op.call < end]
    ok = sum(op.status == "ok" for op in ops)
    return SideService(setting, 1, counts[True][0], counts[True][1], counts[False][0], counts[False][1],
                       ok / len(ops) if ops else 1.0)


def _operations(run: Any) -> list:
    from .history import pair_operations

    return pair_operations(list(run.history), use_time=True)


def cap_experiment(
    settings: Mapping[str, tuple[str, Mapping[str, Any]]],
    *,
    seeds: Iterable[int] = range(4),
    nodes: int = 3,
    cut: tuple[float, float] = (1.0, 3.0),
    duration: float = 4.0,
    sticky: bool = False,
) -> list[SideService]:
    """Run each setting (name -> (protocol, options)) with ``n1`` cut off from the
    other nodes during ``cut``, over ``seeds``, and sum :func:`served_by_side`.

    ``sticky`` clients keep talking to the node that last answered them;
    non-sticky ones (the default, clients behind a load balancer) pick any node
    for each operation, so both sides keep receiving requests.
    """
    import dataclasses

    from .runner import node_names, resolve_spec, run

    if nodes < 2:
        raise ValueError(f"a partition needs at least 2 nodes, got {nodes}")
    names = node_names(nodes)
    script = f"{cut[0]} partition {names[0]}|{','.join(names[1:])}; {cut[1]} heal"
    seeds = tuple(seeds)
    out = []
    for setting, (protocol, options) in settings.items():
        workload = dataclasses.replace(resolve_spec(protocol).workload, sticky=sticky)
        parts = [served_by_side(run(protocol, nodes=nodes, seed=s, duration=duration, nemesis=script,
                                    options=dict(options), workload=workload), names[:1], *cut)
                 for s in seeds]
        out.append(SideService(
            setting, len(parts),
            sum(p.minority_requests for p in parts), sum(p.minority_served for p in parts),
            sum(p.majority_requests for p in parts), sum(p.majority_served for p in parts),
            sum(p.clients_ok for p in parts) / len(parts),
        ))
    return out

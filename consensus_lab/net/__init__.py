"""The real runtime: the protocols' unchanged node classes as OS processes.

Beside :mod:`consensus_lab.sim`, on the same level.  A node never knows which
of the two drives it: here messages travel over TCP on loopback
(:mod:`~consensus_lab.net.wire`), timers run on an asyncio loop, ``ctx.storage``
is a journal fsynced before the handler goes on (:mod:`~consensus_lab.net.storage`),
and ``ctx.now`` is the machine's monotonic clock (:mod:`~consensus_lab.net.host`).

* ``consensus-lab serve PROTOCOL --node n1 --peers n1=127.0.0.1:7001,... --data-dir DIR``
  runs one node;
* :class:`~consensus_lab.net.cluster.Cluster` starts a cluster of processes and
  injects faults into them (kill -9 and restart, pause, partition, clock skew);
* :class:`~consensus_lab.net.client.Client` speaks the simulator's client protocol
  (redirects, retries, deadlines);
* ``consensus-lab jepsen PROTOCOL`` (:func:`~consensus_lab.net.jepsen.run_jepsen`)
  runs clients and a nemesis against a real cluster and checks the history.

What is lost when we leave the simulator: determinism (a real run cannot be
replayed from its seed) and exhaustiveness.  What is gained: evidence that the
bug the simulator found is real, and real latencies.
"""

from __future__ import annotations

__all__ = ["run_jepsen", "Cluster", "Client", "NodeHost"]


def __getattr__(name: str):  # imported lazily: the command line should start fast
    if name == "run_jepsen":
        from .jepsen import run_jepsen

        return run_jepsen
    if name == "Cluster":
        from .cluster import Cluster

        return Cluster
    if name == "Client":
        from .client import Client

        return Client
    if name == "NodeHost":
        from .host import NodeHost

        return NodeHost
    raise AttributeError(name)

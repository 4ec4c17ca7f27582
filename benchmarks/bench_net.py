"""How fast is our Raft key-value service on real processes, next to a real etcd?

Three numbers, measured in the same run on this machine (loopback, no faults, clients
that send their next operation as soon as the last one completes):

1. **Operations per second** and **p50 / p99 latency** of the Raft key-value
   service (``consensus-lab serve raft``) with 3 and 5 node processes and
   ``--clients`` client processes drawing the service's own operation mix
   (40 % read, 40 % write, 20 % cas over two keys);
2. the same for a real **etcd** cluster (Debian's etcd-server) of 3 and 5 members
   with the same clients and the same mix (skipped with a line when etcd is missing);
3. the **cost of fsync per durable write**: our node's journal write with fsync
   against the same write without it (a lying disk).

Every history is also checked for linearizability (not timed).  The ratio line
compares our Raft with etcd: etcd is Go, batches proposals and pipelines
replication; ours is Python, one event loop per node, an fsync per entry.

Usage: ``python benchmarks/bench_net.py [--seconds S] [--clients C] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from consensus_lab.net.etcd import etcd_binary
from consensus_lab.net.jepsen import run_jepsen
from consensus_lab.net.storage import DiskStorage
from consensus_lab.net.wire import protocol_types
from consensus_lab.protocols.raft import RaftNode
from consensus_lab.protocols.raft_log import Command, Entry


def _latencies(history) -> list[float]:
    start: dict[int, float] = {}
    out = []
    for op in history:
        if op.type == "invoke":
            start[op.process] = op.time
        elif op.type == "ok":
            out.append(op.time - start[op.process])
    return out


def bench_cluster(system: str, nodes: int, seconds: float, clients: int) -> dict:
    r = run_jepsen(system, nodes=nodes, time_limit=seconds, clients=clients, nemesis=[], think=0.0,
                   seed=1, run_dir=tempfile.mkdtemp(prefix=f"bench-{system}-"))
    lat = sorted(_latencies(r.history))
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {"system": system, "nodes": nodes, "ok": len(lat), "ops_per_s": len(lat) / seconds,
            "p50_ms": p(0.50), "p99_ms": p(0.99), "verdict": r.verdict}


def bench_fsync(writes: int) -> dict:
    types = protocol_types(RaftNode)
    out = {}
    for mode in ("fsync", "lying"):
        s = DiskStorage(tempfile.mkdtemp(prefix="bench-disk-"), types, mode=mode)
        t0 = time.perf_counter()
        for i in range(writes):
            s[f"log/{i}"] = Entry(1, Command("c1", i, "write", "x", i))
        out[mode] = (time.perf_counter() - t0) / writes * 1e6
        s.close()
    return {"fsync_us": out["fsync"], "no_fsync_us": out["lying"], "ratio": out["fsync"] / out["lying"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--writes", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    systems = ["raft"] + (["etcd"] if etcd_binary() else [])
    for system in systems:
        for nodes in (3, 5):
            rows.append(bench_cluster(system, nodes, a.seconds, a.clients))
    disk = bench_fsync(a.writes)
    if a.json:
        print(json.dumps({"clusters": rows, "disk": disk}))
        return
    print(f"{a.clients} clients without think time, {a.seconds:g} s each, loopback, no faults")
    print(f"{'system':8} {'nodes':>5} {'ok ops':>7} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}  history")
    for r in rows:
        print(f"{r['system']:8} {r['nodes']:5d} {r['ok']:7d} {r['ops_per_s']:8.1f} "
              f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f}  {r['verdict']}")
    if "etcd" in systems:
        for nodes in (3, 5):
            ours = next(r for r in rows if r["system"] == "raft" and r["nodes"] == nodes)
            etcd = next(r for r in rows if r["system"] == "etcd" and r["nodes"] == nodes)
            print(f"{nodes} nodes: our Raft does {ours['ops_per_s'] / etcd['ops_per_s']:.2f}x etcd's "
                  f"throughput, p50 latency {ours['p50_ms'] / etcd['p50_ms']:.2f}x")
    else:
        print("etcd: not installed (apt-get install etcd-server), no comparison")
    print(f"durable write: {disk['fsync_us']:.0f} us with fsync vs {disk['no_fsync_us']:.0f} us "
          f"without ({disk['ratio']:.1f}x), {a.writes} writes")


if __name__ == "__main__":
    main()

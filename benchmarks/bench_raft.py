"""How fast is Raft in the simulator?  Two numbers.

1. **Simulated seconds per wall second** for a 5-node cluster with 3 clients
   under the random nemesis (partitions and crashes), every invariant checked
   after every event -- the setting of ``consensus-lab run raft --nemesis
   random --clients 3``.
2. **Wall time of the whole battery**: the 14 scenarios named after the
   well-known Raft lab tests, 100 seeds each (``make test``), every client
   history checked for linearizability, in one process on one core.

For scale: the lab runs its Raft tests in real time, one seed per test, and
the whole suite (2A-2D) takes several minutes of wall time; its Figure 8
(unreliable) test alone runs for about 30-40 s and its "backup" test for about
30 s.  Our battery runs the same scenarios a hundred times each.

Usage: ``python benchmarks/bench_raft.py [--seeds N] [--duration S] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from consensus_lab import Workload, run
from consensus_lab.protocols.raft_scenarios import BATTERY, run_failed, run_scenario

LAB_SUITE_SECONDS = (180, 300)  # one real-time pass of the lab's Raft tests: "several minutes"


def bench_throughput(duration: float, repeat: int) -> dict:
    """Simulated seconds per wall second: 5 nodes, 3 clients, the random nemesis."""
    best = None
    for rep in range(repeat):
        c0 = time.process_time()
        t0 = time.perf_counter()
        r = run(
            "raft",
            nodes=5,
            seed=rep,
            duration=duration,
            nemesis="random",
            workload=Workload(clients=3, keys=("x", "y"), mix=(("read", 0.4), ("write", 0.4), ("cas", 0.2)),
                              think=0.05, timeout=0.4, deadline=2.0),
        )
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        assert r.ok, r.violations
        rate = duration / wall
        if best is None or rate > best["sim_seconds_per_wall_second"]:
            best = {
                "sim_seconds_per_wall_second": round(rate, 1),
                "events_per_wall_second": round(r.stats["events"] / wall),
                "events": r.stats["events"],
                "operations": sum(r.stats["ops"].values()),
                "simulated_seconds": duration,
                "wall_seconds": round(wall, 3),
                "cpu_seconds": round(cpu, 3),
            }
    return best


def bench_battery(seeds: int) -> dict:
    """Run every battery scenario on ``seeds`` seeds; time each."""
    per = {}
    total_sim = 0.0
    failures = 0
    c_all = time.process_time()
    t_all = time.perf_counter()
    for name, sc in BATTERY.items():
        t0 = time.perf_counter()
        for seed in range(seeds):
            r = run_scenario(name, seed)
            failures += run_failed(r, liveness=False) is not None
        per[name] = round(time.perf_counter() - t0, 2)
        total_sim += sc.duration * seeds
    wall = time.perf_counter() - t_all
    cpu = time.process_time() - c_all
    return {
        "scenarios": len(BATTERY),
        "seeds_per_scenario": seeds,
        "runs": len(BATTERY) * seeds,
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "simulated_seconds": round(total_sim),
        "unsafe_runs": failures,
        "per_scenario_seconds": per,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=100, help="seeds per battery scenario (default 100, as make test)")
    ap.add_argument("--duration", type=float, default=30.0, help="simulated seconds for the throughput run")
    ap.add_argument("--repeat", type=int, default=3, help="best of N throughput runs")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.duration <= 0 or args.repeat < 1:
        ap.error("--seeds and --repeat must be >= 1 and --duration > 0")

    thr = bench_throughput(args.duration, args.repeat)
    bat = bench_battery(args.seeds)
    if args.json:
        print(json.dumps({"throughput": thr, "battery": bat}))
        return 0
    print("Raft, 5 nodes, 3 clients, random nemesis, invariants after every event:")
    print(f"  {thr['simulated_seconds']:g} simulated s in {thr['wall_seconds']:.2f} wall s "
          f"({thr['cpu_seconds']:.2f} s CPU): "
          f"{thr['sim_seconds_per_wall_second']:.1f} simulated seconds per wall second "
          f"({thr['events_per_wall_second']:,} events/s, {thr['operations']} client operations)")
    print(f"Battery: {bat['scenarios']} lab scenarios x {bat['seeds_per_scenario']} seeds = {bat['runs']} runs, "
          f"{bat['simulated_seconds']:,} simulated s, histories checked for linearizability:")
    for name, secs in bat["per_scenario_seconds"].items():
        print(f"  {name:<22}{secs:>7.2f} s")
    print(f"  {'total':<22}{bat['wall_seconds']:>7.1f} s wall on one core, {bat['cpu_seconds']:.1f} s CPU "
          f"({bat['unsafe_runs']} unsafe runs)")
    lo, hi = LAB_SUITE_SECONDS
    print(f"The lab's suite in real time: one seed per test, several minutes ({lo // 60}-{hi // 60} min) per pass; "
          f"here {bat['runs']} runs in {bat['wall_seconds']:.0f} s, "
          f"{bat['simulated_seconds'] / bat['wall_seconds']:.0f} simulated seconds per wall second.")
    return 1 if bat["unsafe_runs"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast is the simulator?  Events per second against two baselines.

The workload: 5 nodes, each sending a message to every peer every 10 ms
(all-to-all), 10% message loss, uniform 5-15 ms latency, one crash and restart,
and one partition and heal; it runs until about 200,000 events have happened.

Baselines, in the same run, doing the same number of scheduled deliveries:

* ``bare``: a plain ``heapq`` loop over tuples -- the floor for any
  discrete-event simulator written in Python;
* ``simpy``: the same message passing written with SimPy processes and stores.

The ratio is the simulator's cost per event divided by the baseline's (lower is
better).  Times are CPU seconds of this process (``time.process_time``), best of
``--repeat`` runs, so that other work on a shared machine disturbs them less.
With ``--collect`` each timing also includes a full ``gc.collect()`` right after
the run, so that garbage-collector work a run leaves behind (the simulator pauses
the collector while its loop runs) is counted too.
Usage: ``python benchmarks/bench_sim.py [--events N] [--repeat N] [--collect] [--json]``.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import random
import sys
import time
from dataclasses import dataclass

from consensus_lab.sim import Latency, NetworkConfig, Node, Simulation, parse_script

NODES = ("n1", "n2", "n3", "n4", "n5")
TICK = 0.01
LOSS = 0.10
FAULTS = "20 crash n3; 30 restart n3; 40 partition n1,n2|n3,n4,n5; 50 heal"
EVENTS_PER_SIM_SECOND = 5 * 4 / TICK * (1 - LOSS) + 5 / TICK  # deliveries + ticks (roughly)
COLLECT = False  # --collect: each timing ends with a full garbage collection


def _elapsed(t0: float) -> float:
    """CPU seconds since ``t0`` (with ``--collect``, after a full garbage collection)."""
    if COLLECT:
        gc.collect()
    return time.process_time() - t0


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


class Chatter(Node):
    def on_start(self, ctx):
        self.sent = 0
        self.received = 0
        ctx.set_timer("tick", TICK)

    def on_timer(self, ctx, name, payload):
        self.sent += 1
        msg = Ping(self.sent)
        for p in self.peers:
            ctx.send(p, msg)
        ctx.set_timer("tick", TICK)

    def on_message(self, ctx, src, msg):
        self.received += 1


def bench_sim(duration: float) -> tuple[int, float]:
    sim = Simulation(
        lambda nid, cluster: Chatter(nid, cluster),
        NODES,
        seed=1,
        network=NetworkConfig(latency=Latency.uniform(0.005, 0.015), loss=LOSS),
        schedule=parse_script(FAULTS, NODES),
    )
    t0 = time.process_time()
    sim.run_until(duration)
    return sim.stats["events"], _elapsed(t0)


def bench_bare(duration: float) -> tuple[int, float]:
    """The same traffic with a bare heap of tuples and no bookkeeping."""
    rng = random.Random(1)
    rand = rng.random
    heap: list[tuple] = []
    push, pop = heapq.heappush, heapq.heappop
    seq = 0
    for i in range(len(NODES)):
        seq += 1
        push(heap, (TICK, seq, 0, i, None))
    received = [0] * len(NODES)
    up = [True] * len(NODES)
    events = 0
    t0 = time.process_time()
    while heap and heap[0][0] <= duration:
        t, _, kind, node, payload = pop(heap)
        events += 1
        if kind == 0:  # tick
            if not up[node]:
                continue
            for p in range(len(NODES)):
                if p != node and rand() >= LOSS:
                    seq += 1
                    push(heap, (t + 0.005 + 0.01 * rand(), seq, 1, p, (node, payload)))
            seq += 1
            push(heap, (t + TICK, seq, 0, node, None))
        else:
            received[node] += 1
    return events, _elapsed(t0)


def bench_simpy(duration: float) -> tuple[int, float] | None:
    try:
        import simpy
    except ImportError:
        return None
    env = simpy.Environment()
    rng = random.Random(1)
    stores = [simpy.Store(env) for _ in NODES]
    counter = {"events": 0}

    def transit(dst: int, msg):
        yield env.timeout(0.005 + 0.01 * rng.random())
        counter["events"] += 1
        stores[dst].put(msg)

    def receiver(i: int):
        while True:
            yield stores[i].get()

    def ticker(i: int):
        n = 0
        while True:
            yield env.timeout(TICK)
            counter["events"] += 1
            n += 1
            for p in range(len(NODES)):
                if p != i and rng.random() >= LOSS:
                    env.process(transit(p, (i, n)))

    for i in range(len(NODES)):
        env.process(receiver(i))
        env.process(ticker(i))
    t0 = time.process_time()
    env.run(until=duration)
    return counter["events"], _elapsed(t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000, help="about how many events to simulate")
    ap.add_argument("--repeat", type=int, default=5, help="best of N timings")
    ap.add_argument("--collect", action="store_true", help="count a full garbage collection after each run")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    global COLLECT
    COLLECT = args.collect
    duration = args.events / EVENTS_PER_SIM_SECOND

    def best(fn):
        results = [fn(duration) for _ in range(args.repeat)]
        if results[0] is None:
            return None
        events = results[0][0]
        return events, min(r[1] for r in results)

    sim = best(bench_sim)
    bare = best(bench_bare)
    simpy_r = best(bench_simpy)
    sim_rate = sim[0] / sim[1]
    bare_rate = bare[0] / bare[1]
    simpy_rate = simpy_r[0] / simpy_r[1] if simpy_r else None
    out = {
        "events": sim[0],
        "sim_events_per_s": round(sim_rate),
        "bare_events_per_s": round(bare_rate),
        "simpy_events_per_s": round(simpy_rate) if simpy_rate else None,
        "ratio_vs_bare": round(bare_rate / sim_rate, 2),
        "ratio_vs_simpy": round(simpy_rate / sim_rate, 2) if simpy_rate else None,
        "collect": args.collect,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"workload: 5 nodes all-to-all every {TICK * 1000:g} ms, {LOSS:.0%} loss, a crash and a partition, "
          f"{duration:.1f} simulated s" + (", a full gc.collect() counted after each run" if args.collect else ""))
    print(f"{'engine':<18}{'events':>10}{'cpu s':>10}{'events/s':>12}{'cost ratio':>12}")
    print(f"{'consensus_lab':<18}{sim[0]:>10}{sim[1]:>10.3f}{sim_rate:>12,.0f}{1.0:>12.2f}")
    print(f"{'bare heapq':<18}{bare[0]:>10}{bare[1]:>10.3f}{bare_rate:>12,.0f}{out['ratio_vs_bare']:>12.2f}"
          "   (sim cost / bare cost)")
    if simpy_r:
        print(f"{'simpy':<18}{simpy_r[0]:>10}{simpy_r[1]:>10.3f}{simpy_rate:>12,.0f}{out['ratio_vs_simpy']:>12.2f}"
              "   (sim cost / simpy cost; < 1 means faster than SimPy)")
    else:
        print("simpy: not installed (pip install simpy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

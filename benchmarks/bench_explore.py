"""How fast the schedule explorer searches, against the naive way of doing it.

    .venv/bin/python benchmarks/bench_explore.py            # the standard run
    .venv/bin/python benchmarks/bench_explore.py --quick    # smaller bounds
    .venv/bin/python benchmarks/bench_explore.py --deep     # also the twins 10-11 steps deep

Part 1 -- distinct states per second of a bounded breadth-first search of the
correct protocols (two-phase commit with 3 participants, single-decree Paxos
with 3 acceptors), once with the explorer's state handling (copy only the node
that acts, structural fingerprints that reuse the digests of unchanged parts)
and once with naive state handling (``copy.deepcopy`` of the whole state before
every step, a fingerprint that pretty-prints the whole state), which explores
exactly the same states.  The ratio is the speed-up.

Part 2 -- time to the first counterexample for each broken twin (breadth-first,
so of minimal length), with its length; for the shallow twins the naive search
runs too.  Raft's figure 8 and two Multi-Paxos twins are searched in their
setups' network of partitions (a step is a stimulus or a link cut; messages
settle in between).

Part 3 -- the same figure 8 over single deliveries (``network="async"``),
where it is about 20 steps deep: breadth-first search cannot get there, so
the guided random walks get a fixed time.

Times are CPU seconds of this process (``time.process_time``), so that other
work on the machine disturbs them less; the wall-clock figure is printed too.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus_lab import protocols  # noqa: E402
from consensus_lab.explore import explore  # noqa: E402
from consensus_lab.explore.naive import NaiveWorld  # noqa: E402


def timed(**kw):
    w0, c0 = time.perf_counter(), time.process_time()
    r = explore(progress=False, **kw)
    return r, time.process_time() - c0, time.perf_counter() - w0


def part1(quick: bool) -> None:
    print("== distinct states per second (correct protocols, bounded BFS) ==")
    print(f"{'configuration':44s} {'states':>8s} {'fast st/s':>10s} {'naive st/s':>11s} {'ratio':>6s}  fast/naive cpu s")
    cases = [
        ("two-phase commit, 3 participants", dict(protocol="twopc", nodes=4, depth=6 if quick else 8)),
        ("single-decree Paxos, 3 acceptors", dict(protocol="paxos", nodes=3, depth=6 if quick else 7)),
    ]
    for label, kw in cases:
        fast, fc, fw = timed(**kw)
        naive, nc, nw = timed(world_class=NaiveWorld, **kw)
        assert (fast.states, fast.transitions) == (naive.states, naive.transitions), "fast and naive disagree"
        fr, nr = fast.states / fc, naive.states / nc
        desc = f"{label}, depth {kw['depth']}"
        print(f"{desc:44s} {fast.states:8d} {fr:10,.0f} {nr:11,.0f} {fr / nr:5.1f}x  {fc:.2f} / {nc:.2f} "
              f"(wall {fw:.2f} / {nw:.2f})")
    print()


SHALLOW = [
    ("broadcast", "ack-before-store"),
    ("twopc", "timeout-commit"),
    ("twopc", "uncertain-abort"),
    ("twopc", "no-vote-log"),
    ("twopc", "no-decision-log"),
    ("paxos", "minority-learner"),
    ("paxos", "ignore-accepted"),
    ("multi-paxos", "minority-commit"),
    ("multi-paxos", "no-recovery"),  # in the network of partitions (its setup)
    ("multi-paxos", "local-read"),  # in the network of partitions (its setup)
    ("raft", "volatile-vote"),
    ("raft", "no-up-to-date-check"),
    ("raft", "stale-truncate"),
    ("raft", "commit-previous-term"),  # in the network of partitions (its setup)
]
DEEP = [("paxos", "forget-promise"), ("paxos", "first-promise")]
BEYOND = [("raft", "commit-previous-term")]  # figure 8 over single deliveries: about 20 steps


def part2(deep: bool, naive_too: bool) -> None:
    print("== time to the first counterexample (BFS, each protocol's exploration setup) ==")
    print(f"{'twin':34s} {'length':>6s} {'states':>8s} {'cpu s':>7s} {'naive cpu s':>12s} {'ratio':>6s}  invariant")
    names = set(protocols.names())
    for proto, variant in SHALLOW + (DEEP if deep else []):
        if proto not in names or variant not in protocols.get(proto).variants:
            print(f"{proto + ' ' + variant:34s} (not available)")
            continue
        r, c, _ = timed(protocol=proto, variant=variant)
        naive = ""
        ratio = ""
        if naive_too and (proto, variant) not in DEEP and r.states < 60_000:
            nr_, nc, _ = timed(protocol=proto, variant=variant, world_class=NaiveWorld)
            assert nr_.counterexample_length == r.counterexample_length
            naive, ratio = f"{nc:12.2f}", f"{nc / c:5.1f}x"
        length = r.counterexample_length if r.counterexample_length is not None else "-"
        inv = r.violation.invariant if r.violation else r.verdict
        print(f"{proto + ' ' + variant:34s} {length!s:>6s} {r.states:8d} {c:7.2f} {naive:>12s} {ratio:>6s}  {inv}")
    print()


def part3(budget: float) -> None:
    print(f"== figure 8 over single deliveries (network async): guided random walks, {budget:.0f} s budget ==")
    names = set(protocols.names())
    for proto, variant in BEYOND:
        if proto not in names or variant not in protocols.get(proto).variants:
            continue
        r, c, _ = timed(protocol=proto, variant=variant, strategy="random", walks=10**9, time_budget=budget,
                        network="async", depth=22, faults=0, fault_kinds=("drop",))
        found = f"found, {r.counterexample_length} steps" if r.violation else "not found"
        print(f"{proto + ' ' + variant:34s} {found:18s} {r.states:9,d} states  {c:6.1f} cpu s")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller bounds")
    ap.add_argument("--deep", action="store_true", help="include the twins whose counterexample is 10-11 steps deep")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive runs in part 2")
    ap.add_argument("--walk-budget", type=float, default=60.0, help="seconds of random walks per twin BFS cannot reach")
    args = ap.parse_args()
    print(f"consensus_lab explorer benchmark -- Python {platform.python_version()} on {platform.machine()}\n")
    part1(args.quick)
    part2(args.deep, not args.no_naive)
    part3(args.walk_budget)


if __name__ == "__main__":
    main()

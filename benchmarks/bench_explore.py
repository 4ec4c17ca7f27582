"""How fast the schedule explorer searches, against the naive way of doing it.

    .venv/bin/python benchmarks/bench_explore.py            # the standard run
    .venv/bin/python benchmarks/bench_explore.py --quick    # smaller bounds
    .venv/bin/python benchmarks/bench_explore.py --deep     # also the twins 10-11 steps deep

Part 1 -- distinct states per second of a bounded breadth-first search of the
correct protocols (two-phase commit with 3 participants, single-decree Paxos
with 3 acceptors, Raft with 3 servers), three ways in the same run: with the
explorer's state handling (copy only the node that acts, structural
fingerprints that reuse the digests of unchanged parts, the invariants' memory
kept live between states), with the explorer as it was before the memory was
kept live (*before*: the parent's memory installed again for every successor),
and with naive state handling (``copy.deepcopy`` of the whole state before
every step, a fingerprint that pretty-prints the whole state).  All three
explore exactly the same states; the ratios are the speed-ups.  Then the
memory a breadth-first search holds per distinct state (tracemalloc peak over
states; the visited set alone, 16-byte fingerprints in the open-addressing table
of ``explore.visited.FingerprintSet``, is ~28 bytes of it, against ~90 in a
``set`` of ``bytes``).

Part 2 -- time to the first counterexample for each broken twin (breadth-first,
so of minimal length), with its length; for the shallow twins the naive search
runs too.  Raft's figure 8 and two Multi-Paxos twins are searched in their
setups' network of partitions (a step is a stimulus or a link cut; messages
settle in between).

Part 3 -- the same figure 8 over single deliveries (``network="async"``),
where it is about 20 steps deep: breadth-first search cannot get there, so
the guided random walks get a fixed time.

Part 4 (``--exhaust``) -- the correct protocols at their default bounds and the
default 120 s budget: verdict, states and CPU seconds, with one process and with
``--workers`` processes (``workers=N``: the frontier split between forked
workers; same states and verdict).  A parallel search's CPU figure is the
critical path: this process's CPU plus the busiest worker's (what the wall
clock would show on an idle machine with enough cores); the workers' total is
printed too.

Part 5 (``--reductions``) -- the reductions, one row per technique, on bounded
breadth-first searches of the correct protocols: the plain search, sleep sets,
symmetry (the nodes each protocol declares interchangeable count up to
renaming: two-phase commit's participants, Raft's servers, Paxos's acceptors
that do not propose), both, and symmetry with ``--workers`` processes.  States,
states per CPU second, wall and CPU seconds, and the ratios against the plain
search in the same run: states (how many fewer) and CPU time (how much sooner
the same bounded space is covered).  All rows must agree on the verdict.
Part 6 (``--only 6``) -- the slow twins at their default settings (Paxos
``forget-promise`` and ``first-promise``, Raft ``stale-truncate``): counterexample
length, states, CPU seconds and states per second.  With ``--baseline DIR`` (a
checkout of another version, e.g. ``git archive main | tar -x -C DIR``) each
twin is also searched by that version, in a child process, right before this
one: before/after in the same run, under the same load; the ratio row gives how many fewer
states, how much less CPU (the critical path's), how many more states per CPU second and how
much less wall time.  ``--cli-defaults`` searches with the command line's defaults (reduction
and workers auto) instead of ``explore()``'s, against the baseline's ``explore()`` in one
process: e.g. ``--baseline`` a checkout of 8593668, the explorer when issue 20 was filed.

Part 7 (``--only 7``) -- what a student waits for: every broken twin of two-phase commit, Paxos,
Multi-Paxos and Raft at the command line's default settings (``--reduction auto``: symmetry
where the protocol declares it; ``--workers auto``: 2 processes where 2 cores are free), then the correct protocols at
their default bounds within the default 120 s budget (Raft also at ``--raft-depth``, a stated
smaller bound), each beside the search the command ran before these defaults (no reduction,
one process) in the same run: length, states, the critical path's CPU seconds (this process and
the busiest worker: the wall clock on a quiet machine with 2 free cores), the wall clock and the
ratio (``--before-one-process``: beside the same reduction in one process instead).  Twins run without a time budget, so that both versions end; the load average is printed.

Times are CPU seconds of this process (``time.process_time``), so that other
work on the machine disturbs them less; the wall-clock figure is printed too.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus_lab import protocols  # noqa: E402
from consensus_lab.explore import explore  # noqa: E402
from consensus_lab.explore.naive import NaiveWorld  # noqa: E402
from consensus_lab.explore.world import ExploreWorld  # noqa: E402


class BeforeWorld(ExploreWorld):
    """The explorer before the invariants' memory was kept live (the baseline of issue 20)."""

    _keep_memory_live = False


def timed(**kw):
    kw.setdefault("time_budget", None)
    w0, c0 = time.perf_counter(), time.process_time()
    r = explore(progress=False, **kw)
    return r, time.process_time() - c0, time.perf_counter() - w0


def _bounded_cases(quick: bool, paxos: tuple[str, dict]) -> list[tuple[str, dict]]:
    """The bounded searches of the correct protocols that parts 1 and 5 time (Paxos's is the caller's)."""
    return [("two-phase commit, 3 participants", dict(protocol="twopc", nodes=4, depth=6 if quick else 8)),
            paxos, ("Raft, 3 servers", dict(protocol="raft", nodes=3, depth=5 if quick else 6))]


def part1(quick: bool) -> None:
    print("== distinct states per second (correct protocols, bounded BFS; same run, loaded machine) ==")
    print(f"{'configuration':40s} {'states':>7s} {'fast st/s':>9s} {'before':>7s} {'naive':>7s} "
          f"{'x before':>8s} {'x naive':>7s}  fast/before/naive cpu s")
    cases = _bounded_cases(quick, ("single-decree Paxos, 3 acceptors", dict(protocol="paxos", nodes=3,
                                                                           depth=6 if quick else 7)))
    for label, kw in cases:
        fast, fc, _ = timed(**kw)
        before, bc, _ = timed(world_class=BeforeWorld, **kw)
        naive, nc, _ = timed(world_class=NaiveWorld, **kw)
        assert (fast.states, fast.transitions) == (before.states, before.transitions), "fast and before disagree"
        assert (fast.states, fast.transitions) == (naive.states, naive.transitions), "fast and naive disagree"
        fr, br, nr = fast.states / fc, before.states / bc, naive.states / nc
        desc = f"{label}, depth {kw['depth']}"
        print(f"{desc:40s} {fast.states:7d} {fr:9,.0f} {br:7,.0f} {nr:7,.0f} {fr / br:7.2f}x {fr / nr:6.1f}x  "
              f"{fc:.2f} / {bc:.2f} / {nc:.2f}")
    print()
    print("== memory per distinct state (tracemalloc peak of a BFS / states) ==")
    for label, kw in [("Paxos, depth 6", dict(protocol="paxos", depth=6)),
                      ("Raft, depth 5", dict(protocol="raft", depth=5))]:
        tracemalloc.start()
        r = explore(progress=False, time_budget=None, **kw)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"{label:40s} {r.states:7d} states, peak {peak / 2**20:6.1f} MiB, {peak / r.states:7,.0f} bytes/state"
              f"; visited set {r.visited_bytes / r.states:4.0f} bytes/state")
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
    print(f"{'twin':34s} {'length':>6s} {'states':>8s} {'cpu s':>7s} {'before s':>8s} {'x':>5s} "
          f"{'naive cpu s':>12s} {'ratio':>6s}  invariant")
    names = set(protocols.names())
    for proto, variant in SHALLOW + (DEEP if deep else []):
        if proto not in names or variant not in protocols.get(proto).variants:
            print(f"{proto + ' ' + variant:34s} (not available)")
            continue
        r, c, _ = timed(protocol=proto, variant=variant)
        b, bc, _ = timed(protocol=proto, variant=variant, world_class=BeforeWorld)
        assert (b.states, b.counterexample_length) == (r.states, r.counterexample_length)
        naive = ""
        ratio = ""
        if naive_too and (proto, variant) not in DEEP and r.states < 60_000:
            nr_, nc, _ = timed(protocol=proto, variant=variant, world_class=NaiveWorld)
            assert nr_.counterexample_length == r.counterexample_length
            naive, ratio = f"{nc:12.2f}", f"{nc / c:5.1f}x"
        length = r.counterexample_length if r.counterexample_length is not None else "-"
        inv = r.violation.invariant if r.violation else r.verdict
        print(f"{proto + ' ' + variant:34s} {length!s:>6s} {r.states:8d} {c:7.2f} {bc:8.2f} {bc / c:4.2f}x "
              f"{naive:>12s} {ratio:>6s}  {inv}")
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


def part4(workers: int) -> None:
    print(f"== correct protocols at their default bounds (budget 120 s): 1 process vs {workers} ==")
    print(f"{'protocol':14s} {'verdict':16s} {'depth':>5s} {'states':>8s} {'cpu s':>7s} {'wall s':>7s}   "
          f"{'workers':>7s} {'states':>8s} {'path cpu s':>10s} {'sum cpu s':>9s} {'wall s':>7s}")
    for proto in ("twopc", "paxos", "multi-paxos", "raft"):
        r, c, w = timed(protocol=proto, time_budget=120.0)
        rp, cp, wp = timed(protocol=proto, time_budget=120.0, workers=workers)
        path = cp + (max(rp.worker_cpu) if rp.worker_cpu else 0.0)
        total = cp + sum(rp.worker_cpu)
        done = r.depth_complete if r.depth_complete is not None else r.depth
        print(f"{proto:14s} {r.verdict:16s} {done:5d} {r.states:8d} {c:7.1f} {w:7.1f}   "
              f"{workers:7d} {rp.states:8d} {path:10.1f} {total:9.1f} {wp:7.1f}  ({rp.verdict})")
    print()


REDUCTION_ROWS = [("plain BFS", {}), ("sleep-sets", {"reduction": "sleep-sets"}),
                  ("symmetry", {"reduction": "symmetry"}),
                  ("sleep-sets+symmetry", {"reduction": "sleep-sets+symmetry"})]


def part5(quick: bool, workers: int) -> None:
    print("== reductions: one row per technique, ratios against the plain BFS of the same run (loaded machine) ==")
    print(f"{'configuration / technique':44s} {'states':>7s} {'st/cpu s':>8s} {'wall s':>7s} {'cpu s':>7s} "
          f"{'x states':>8s} {'x cpu':>6s}  verdict")
    cases = _bounded_cases(quick, ("Paxos, 2 proposers + 3 acceptors", dict(protocol="paxos", nodes=5,
                                                                           depth=5 if quick else 6)))
    rows = [*REDUCTION_ROWS, (f"symmetry, {workers} workers", {"reduction": "symmetry", "workers": workers})]
    for label, kw in cases:
        print(f"{label}, depth {kw['depth']}")
        base = None
        for name, extra in rows:
            r, c, w = timed(**kw, **extra)
            if r.worker_cpu:  # the critical path: this process and the busiest worker
                c += max(r.worker_cpu)
            if base is None:
                base = (r.states, c, r.verdict)
            assert r.verdict == base[2], f"{name} disagrees with the plain search"
            print(f"  {name:42s} {r.states:7d} {r.states / c:8,.0f} {w:7.2f} {c:7.2f} "
                  f"{base[0] / r.states:7.2f}x {base[1] / c:5.2f}x  {r.verdict}")
SLOW = [("paxos", "forget-promise"), ("paxos", "first-promise"), ("raft", "stale-truncate")]

_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import consensus_lab
from consensus_lab.explore import explore
c, w = time.process_time(), time.perf_counter()
r = explore(sys.argv[2], variant=sys.argv[3], progress=False, time_budget=None)
print(json.dumps({"cpu": time.process_time() - c, "wall": time.perf_counter() - w, "states": r.states,
                  "length": r.counterexample_length, "where": consensus_lab.__file__}))
"""


def part6(baseline: str | None, cli: bool = False) -> None:
    import json
    import subprocess

    how = "the command line's defaults" if cli else "BFS, one process"
    print(f"== the slow twins at their default settings ({how}; the baseline: explore() in one process) ==")
    print(f"{'twin':28s} {'version':9s} {'length':>6s} {'states':>8s} {'cpu s':>7s} {'states/s':>8s} {'wall s':>7s}")
    for proto, variant in SLOW:
        rows = []
        if baseline is not None:
            out = subprocess.run([sys.executable, "-c", _CHILD, baseline, proto, variant], check=True,
                                 capture_output=True, text=True).stdout
            got = json.loads(out.strip().splitlines()[-1])
            assert got["where"].startswith(str(Path(baseline).resolve())), got["where"]
            rows.append(("baseline", got["length"], got["states"], got["cpu"], got["wall"]))
        if cli:
            r, c, w = _critical(dict(protocol=proto, variant=variant, **_DEFAULTS))
        else:
            r, c, w = timed(protocol=proto, variant=variant)
        rows.append(("this", r.counterexample_length, r.states, c, w))
        for version, length, states, cpu, wall in rows:
            print(f"{proto + ' ' + variant:28s} {version:9s} {length!s:>6s} {states:8d} {cpu:7.1f} {states / cpu:8,.0f} "
                  f"{wall:7.1f}")
        if baseline is not None:
            assert rows[0][1] == rows[1][1], "the shortest counterexample lengths differ"
            b, t = rows
            print(f"{'':28s} {'ratio':9s} {'':6s} {b[2] / t[2]:7.2f}x {b[3] / t[3]:6.2f}x "
                  f"{(t[2] / t[3]) / (b[2] / b[3]):7.2f}x {b[4] / t[4]:6.2f}x")
    print()


TWINS = [(p, v) for p in ("twopc", "paxos", "multi-paxos", "raft") for v in protocols.get(p).variants
         if v != "correct"]
_DEFAULTS = {"reduction": "auto", "workers": "auto"}  # the command line's (explore() keeps None and 1)
_BEFORE = {"reduction": None, "workers": 1}  # the command line's defaults before issue 20's second round
_ONE = {"reduction": "auto", "workers": 1}  # the command line's defaults before issue 20's fourth round


def _critical(kw: dict) -> tuple:
    """A search, with its critical-path CPU seconds (this process + the busiest worker) and wall."""
    r, c, w = timed(**kw)
    return r, c + (max(r.worker_cpu) if r.worker_cpu else 0.0), w


def part7(raft_depth: int, before: bool, one: bool = False) -> None:
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"== what a student waits for: consensus-lab explore P --variant V at the default settings "
          f"(load {load:.1f} at the start) ==")
    print(f"{'twin':34s} {'reduction':9s} {'w':>1s} {'length':>6s} {'states':>8s} {'path cpu':>8s} {'wall':>6s}   "
          f"{'before: states':>14s} {'cpu':>6s} {'ratio':>6s} {'wall':>6s} {'ratio':>6s}")
    rows = [(p, v, {"time_budget": None}) for p, v in TWINS]
    rows += [(p, "correct", {"time_budget": 120.0}) for p in ("twopc", "paxos", "multi-paxos", "raft")]
    rows.append(("raft", "correct", {"time_budget": 120.0, "depth": raft_depth}))
    for proto, variant, extra in rows:
        r, c, w = _critical(dict(protocol=proto, variant=variant, **extra, **_DEFAULTS))
        if r.verdict == "violation":
            what = str(r.counterexample_length)
        else:
            done = r.depth_complete if r.depth_complete is not None else r.depth
            what = f"{'all' if r.verdict == 'no violation' else 'd'}{done}/{r.bounds.depth}"
        label = f"{proto} {variant}" + (f" (depth {extra['depth']})" if "depth" in extra else "")
        line = (f"{label:34s} {r.reduction or 'none':9s} {r.workers:1d} {what:>6s} {r.states:8d} {c:8.1f} "
                f"{w:6.1f}")
        if before:
            b, bc, bw = _critical(dict(protocol=proto, variant=variant, **extra, **(_ONE if one else _BEFORE)))
            if r.verdict == "violation":
                assert b.counterexample_length == r.counterexample_length, (proto, variant)
            same = r.verdict == b.verdict or "budget exhausted" in (r.verdict, b.verdict)
            assert same, (proto, variant, r.verdict, b.verdict)
            bdone = b.depth_complete if b.depth_complete is not None else b.depth
            tail = "" if b.verdict != "budget exhausted" else f" (d{bdone})"
            line += f"   {b.states:14d} {bc:6.1f} {bc / c:5.2f}x {bw:6.1f} {bw / w:5.2f}x{tail}"
        print(line + ("" if r.verdict != "budget exhausted" else "  budget exhausted"), flush=True)
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller bounds")
    ap.add_argument("--deep", action="store_true", help="include the twins whose counterexample is 10-11 steps deep")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive runs in part 2")
    ap.add_argument("--walk-budget", type=float, default=60.0, help="seconds of random walks per twin BFS cannot reach")
    ap.add_argument("--exhaust", action="store_true", help="part 4: the correct protocols at their default bounds")
    ap.add_argument("--workers", type=int, default=2, help="processes of the parallel search in parts 4 and 5")
    ap.add_argument("--reductions", action="store_true", help="part 5: one row per reduction technique")
    ap.add_argument("--only", default=None, metavar="PARTS",
                    help="run only these parts, e.g. 1,4 (6: the slow twins; 7: the defaults)")
    ap.add_argument("--baseline", default=None, metavar="DIR",
                    help="part 6: also time the checkout in DIR (before/after in the same run)")
    ap.add_argument("--cli-defaults", action="store_true",
                    help="part 6: search with the command line's defaults (reduction and workers auto)")
    ap.add_argument("--raft-depth", type=int, default=7, help="part 7: the stated bound of correct Raft")
    ap.add_argument("--no-before", action="store_true", help="part 7: skip the searches with the former defaults")
    ap.add_argument("--before-one-process", action="store_true",
                    help="part 7: compare with --workers 1 (same reduction) instead of no reduction in one process")
    args = ap.parse_args()
    print(f"consensus_lab explorer benchmark -- Python {platform.python_version()} on {platform.machine()}\n")
    parts = {int(x) for x in args.only.split(",")} if args.only else ({1, 2, 3} | ({4} if args.exhaust else set())
                                                                      | ({5} if args.reductions else set()))
    if 1 in parts:
        part1(args.quick)
    if 2 in parts:
        part2(args.deep, not args.no_naive)
    if 3 in parts:
        part3(args.walk_budget)
    if 4 in parts:
        part4(args.workers)
    if 5 in parts:
        part5(args.quick, args.workers)
    if 6 in parts:
        part6(args.baseline, args.cli_defaults)
    if 7 in parts:
        part7(args.raft_depth, not args.no_before, args.before_one_process)


if __name__ == "__main__":
    main()

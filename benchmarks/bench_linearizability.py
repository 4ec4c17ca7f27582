"""Benchmark: check every Porcupine history and compare with Porcupine's speed.

    python benchmarks/bench_linearizability.py [--timeout S] [--quiet]

Prints one line per history (seconds, verdict, expected verdict), then the
slowest histories, totals per group and the ratio to Porcupine (Go), which
checks the 102 etcd histories in about 0.4 s and the six kv histories in about
0.2 s.  The goal is a total within 3x of Porcupine (about 2 s), no history over
10 s and no ``unknown``.  The shared data folder is ``../shared`` next to the
repository, or ``$CONSENSUS_LAB_SHARED``.  Exit code 1 if any verdict differs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from consensus_lab.checkers import check_linearizable, load_history

PORCUPINE_SECONDS = {"etcd": 0.4, "kv": 0.2}


def shared_dir() -> Path:
    env = os.environ.get("CONSENSUS_LAB_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="budget per history (s)")
    parser.add_argument("--quiet", action="store_true", help="only the summary")
    args = parser.parse_args()
    folder = shared_dir() / "data" / "porcupine"
    if not (folder / "expected.json").is_file():
        print(f"no Porcupine data at {folder} (set CONSENSUS_LAB_SHARED)", file=sys.stderr)
        return 2
    expected: dict[str, bool] = json.loads((folder / "expected.json").read_text())
    rows = []
    for name in sorted(expected):
        group = "etcd" if name.startswith("etcd_") else "kv"
        history = load_history(folder / name)
        t0 = time.perf_counter()
        result = check_linearizable(history, "cas-register" if group == "etcd" else "kv",
                                    timeout=args.timeout)
        seconds = time.perf_counter() - t0
        want = "linearizable" if expected[name] else "not linearizable"
        rows.append((name, group, seconds, result.verdict, want))
        if not args.quiet:
            mark = "" if result.verdict == want else "   <-- expected " + want
            print(f"{name:14s} {seconds:8.4f} s  {result.verdict}{mark}", flush=True)

    print("\nslowest:")
    for name, _, seconds, verdict, _ in sorted(rows, key=lambda r: -r[2])[:5]:
        print(f"  {name:14s} {seconds:8.4f} s  {verdict}")
    total = sum(r[2] for r in rows)
    print()
    for group, porcupine in PORCUPINE_SECONDS.items():
        mine = sum(r[2] for r in rows if r[1] == group)
        n = sum(1 for r in rows if r[1] == group)
        print(f"{group:5s} {n:4d} histories  {mine:7.3f} s   Porcupine ~{porcupine} s   ratio {mine / porcupine:5.1f}x")
    porcupine_total = sum(PORCUPINE_SECONDS.values())
    print(f"total {len(rows):4d} histories  {total:7.3f} s   Porcupine ~{porcupine_total:.1f} s   "
          f"ratio {total / porcupine_total:5.1f}x")
    agree = sum(r[3] == r[4] for r in rows)
    unknown = sum(r[3] == "unknown" for r in rows)
    over = sum(r[2] > 10 for r in rows)
    print(f"verdicts matching expected.json: {agree}/{len(rows)}; unknown: {unknown}; over 10 s: {over}")
    return 0 if agree == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())

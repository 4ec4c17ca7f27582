"""Benchmark: check every Porcupine history and compare with Porcupine's speed.

    python benchmarks/bench_linearizability.py [--timeout S] [--quiet]

Prints one line per history (seconds, verdict, expected verdict), then the
slowest histories, totals per group and the ratio to Porcupine (Go), which
checks the 102 etcd histories in about 0.4 s and the six kv histories in about
0.2 s.  The goal is a total within 3x of Porcupine (about 2 s), no history over
10 s and no ``unknown``.  The shared data folder is ``../shared`` next to the
repository, or ``$CONSENSUS_LAB_SHARED``.

Then two cases the Porcupine corpus lacks (generated, :mod:`consensus_lab.checkers.generate`):

* a Jepsen-style set history (900 adds, 90 of them indeterminate, one final
  read): decided in ``O(n log n)`` without search; the general search never
  finishes it;
* pre-checks: a 2,000-event register history (20 processes, 20 % ``info``)
  with one read of a value nobody wrote, and the same with a read of a value
  written only after the read completed: refuted without search.

Exit code 1 if any verdict differs from the expected one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from consensus_lab.checkers import check_linearizable, load_history
from consensus_lab.checkers.generate import register_history, set_history
from consensus_lab.history import Op

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
    return 0 if agree == len(rows) and extra_cases() else 1


def _planted(kind: str) -> list[Op]:
    """The generated register history with one read made impossible."""
    h = register_history(2000, 20, 0.2, seed=7)
    i = next(i for i, e in enumerate(h) if e.type == "ok" and e.f == "read" and i > 1000)
    if kind == "unwritten":
        value = 10**9
    else:  # a value whose only write is invoked after this read completes
        value = next(e.value for e in h[i + 1 :] if e.type == "invoke" and e.f == "write")
    h[i] = Op(h[i].process, "ok", "read", None, value)
    return h


def extra_cases() -> bool:
    """Set history and pre-check cases; True when every verdict is the expected one."""
    cases = [
        ("set: 900 adds, 90 info, 1 read", set_history(900, 90), "set", "linearizable", ""),
        ("register 2000 ev, unwritten read", _planted("unwritten"), "register", "not linearizable",
         "unwritten value"),
        ("register 2000 ev, future read", _planted("future"), "register", "not linearizable", "future read"),
    ]
    print()
    good = True
    for label, history, model, want, precheck in cases:
        t0 = time.perf_counter()
        r = check_linearizable(history, model, timeout=60)
        seconds = time.perf_counter() - t0
        ok = r.verdict == want and r.precheck == precheck
        good &= ok
        how = f"pre-check '{r.precheck}'" if r.precheck else f"{r.states} configurations"
        mark = "" if ok else f"   <-- expected {want} {precheck}"
        print(f"{label:34s} {seconds:8.4f} s  {r.verdict} ({how}){mark}")
    return good


if __name__ == "__main__":
    sys.exit(main())

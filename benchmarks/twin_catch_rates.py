"""Print how often each broken twin is caught, per protocol, per hunt.

    python benchmarks/twin_catch_rates.py [--seeds N] [--hunt battery|cli] [PROTOCOL[:VARIANT] ...]

``battery`` is the protocol's default battery (the family its correct version
runs in the tests), ``cli`` is ``consensus-lab run P --variant V --nemesis
random`` over seeds 0..N-1.  The target: every twin in at least 1 % of the
seeds, and a first catch within the battery's seed count (the last column says
whether a row meets it).  A rule without a twin of its own because no run can
tell it apart is listed at the end, with the reason (``EQUIVALENT_RULES``).
"""

from __future__ import annotations

import argparse
import time

from consensus_lab import protocols
from consensus_lab.twin_hunt import BATTERIES, BATTERY_SEEDS, EQUIVALENT_RULES, catch_rate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("targets", nargs="*", help="PROTOCOL or PROTOCOL:VARIANT (default: every battery's twins)")
    ap.add_argument("--seeds", type=int, default=100, help="seeds per twin per hunt (default 100)")
    ap.add_argument("--hunt", choices=("battery", "cli", "both"), default="both")
    args = ap.parse_args()
    targets = args.targets or [*BATTERIES, "raft"]
    hunts = ("battery", "cli") if args.hunt == "both" else (args.hunt,)
    print(f"{'protocol':12} {'twin':24} {'hunt':8} {'caught':>9} {'rate':>7} {'first':>6} {'battery seeds':>13} "
          f"{'s':>6}  target")
    for target in targets:
        proto, _, only = target.partition(":")
        variants = [only] if only else [v for v in protocols.get(proto).variants if v != "correct"]
        for v in variants:
            for hunt in hunts:
                t0 = time.perf_counter()
                c = catch_rate(hunt, proto, v, range(args.seeds))
                first = "-" if c.first is None else str(c.first)
                budget = BATTERY_SEEDS.get(proto, 0)
                met = c.rate >= 0.01 and c.first is not None and c.first < budget
                print(f"{proto:12} {v:24} {hunt:8} {len(c.found):>4}/{c.seeds:<4} {c.rate:>7.1%} {first:>6} "
                      f"{budget:>13} {time.perf_counter() - t0:>6.1f}  {'met' if met else 'BELOW'}", flush=True)
    for (proto, rule), why in EQUIVALENT_RULES.items():
        if not args.targets or proto in {t.partition(":")[0] for t in args.targets}:
            print(f"\n{proto} {rule}: no twin -- {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Trace hashes of many scenarios, to show that a change to the simulator changed no run.

    .venv/bin/python benchmarks/trace_hashes.py write /tmp/before.json   # on the old code
    .venv/bin/python benchmarks/trace_hashes.py compare /tmp/before.json # on the new code

Every registered protocol and variant, under four seeds and nemeses (random faults
with loss and duplication, none, crashes, partitions with loss), 4 simulated
seconds each (``--seeds N``: seeds 1..N, the four nemeses in turn): the trace hash, the trace's length, the number of violations, the
history's length and the run's stats.  ``compare`` prints the scenarios that
differ and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from consensus_lab import NetworkConfig, protocols, run  # noqa: E402

SETTINGS = [
    (1, "random", NetworkConfig(loss=0.1, duplicate=0.05)),
    (2, "none", None),
    (3, "crash", None),
    (4, "partition", NetworkConfig(loss=0.05)),
]


def fingerprints(seeds: int = len(SETTINGS)) -> dict[str, object]:
    out: dict[str, object] = {}
    settings = [(s, *SETTINGS[(s - 1) % len(SETTINGS)][1:]) for s in range(1, seeds + 1)]
    for name in protocols.names():
        for variant in protocols.get(name).variants:
            for seed, nemesis, net in settings:
                kw = dict(protocol=name, variant=variant, seed=seed, nemesis=nemesis, duration=4.0)
                if net is not None:
                    kw["network"] = net
                key = f"{name}/{variant}/{seed}/{nemesis}"
                try:
                    r = run(**kw)
                except Exception as exc:  # a scenario that cannot run must fail the same way
                    out[key] = f"error {type(exc).__name__}: {exc}"[:200]
                    continue
                out[key] = [r.trace_hash, len(r.trace), len(r.violations), len(r.history),
                            json.dumps(r.stats, sort_keys=True, default=str)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("write", "compare"))
    ap.add_argument("file")
    ap.add_argument("--seeds", type=int, default=len(SETTINGS), help="seeds 1..N (default 4)")
    args = ap.parse_args()
    if args.seeds < 1:
        print(f"trace_hashes: --seeds must be >= 1, got {args.seeds}", file=sys.stderr)
        return 2
    t0 = time.process_time()
    got = fingerprints(args.seeds)
    cpu = time.process_time() - t0
    if args.mode == "write":
        Path(args.file).write_text(json.dumps(got, indent=0, sort_keys=True))
        print(f"{len(got)} scenarios written to {args.file} ({cpu:.1f} cpu s)")
        return 0
    try:
        want = json.loads(Path(args.file).read_text())
    except (OSError, ValueError) as exc:
        print(f"trace_hashes: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    print(f"{len(got)} scenarios compared ({cpu:.1f} cpu s): {len(differ)} differ")
    for k in differ[:20]:
        print(f"  {k}: {want.get(k)!r:.80} -> {got.get(k)!r:.80}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast does the scenario lab answer a click?

The widget is driven from Python, as the browser would drive it: each action
is a ``button.click()`` (or a move of the time slider), timed from the click
to the end of the redraw (the PNG of the diagram and every HTML panel set on
the widgets).  The kernel-to-browser trip is not included; it is a few
milliseconds on one machine.

Actions, on a 5-node, 10-simulated-second scenario of each protocol:

* ``step``: one event;           * ``run 0.5 s``: half a simulated second;
* ``crash`` / ``restart``;       * ``partition`` / ``heal``;
* ``scrub``: the time slider moved to an earlier moment;
* ``rerun 10 s``: ``Replay`` -- the whole scenario simulated again from time
  0 to the end, with snapshots for the time slider, and redrawn -- beside
  ``sim only``, the same scenario through ``consensus_lab.run`` with no widget
  (the ratio is the lab's overhead on top of the simulation itself).

The target is 200 ms at the median.  Wall-clock times on a shared machine
include waiting for the CPU, so CPU time (``time.process_time``) is printed
too.  Usage: ``python benchmarks/bench_widgets.py [--repeat N]
[--protocols raft,paxos] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import matplotlib

matplotlib.use("Agg")

from consensus_lab import protocols, run  # noqa: E402
from consensus_lab.widgets import ScenarioLab  # noqa: E402

TARGET_MS = 200.0
DEFAULT_PROTOCOLS = ("broadcast", "twopc", "paxos", "raft", "quorum")


def timed(fn) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - w0) * 1000, (time.process_time() - c0) * 1000


def bench_protocol(name: str, repeat: int) -> dict[str, dict[str, float]]:
    spec = protocols.get(name)
    nodes = min(max(5, spec.min_nodes), spec.max_nodes)
    lab = ScenarioLab(name, nodes=nodes, seed=1, duration=10.0, at=1.0)
    b = lab.buttons
    samples: dict[str, list[tuple[float, float]]] = {}

    def record(action: str, fn) -> None:
        samples.setdefault(action, []).append(timed(fn))

    lab.w_node.value = lab.session.node_ids[-1]
    for i in range(repeat):
        if lab.session.now > 8.0:  # keep room to act: start again
            lab.reset()
            lab.w_node.value = lab.session.node_ids[-1]
        record("step", b["Step"].click)
        lab.w_amount.value = 0.5
        record("run 0.5 s", b["Run"].click)
        record("crash", b["Crash"].click)
        record("restart", b["Restart"].click)
        record("partition", b["Partition"].click)
        record("heal", b["Heal"].click)
        t = lab.session.now * (0.3 + 0.4 * (i % 2))
        record("scrub", lambda t=t: lab.scrubber.slider.__setattr__("value", t))
        lab.view_at(None)

    for _ in range(max(3, repeat // 3)):
        record("rerun 10 s", b["Replay"].click)
        record("sim only", lambda: run(name, nodes=nodes, seed=1, duration=10.0))
        assert "cl-error" not in lab.w_status.value, lab.w_status.value
        assert lab.session.finished
    out = {}
    for action, xs in samples.items():
        wall = sorted(x[0] for x in xs)
        cpu = sorted(x[1] for x in xs)
        out[action] = {
            "median_ms": statistics.median(wall),
            "p90_ms": wall[min(len(wall) - 1, int(0.9 * len(wall)))],
            "cpu_median_ms": statistics.median(cpu),
            "n": len(xs),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=9, help="samples per action (default 9)")
    ap.add_argument("--protocols", default=",".join(DEFAULT_PROTOCOLS),
                    help="comma-separated protocol names (default: %(default)s)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)
    names = [n for n in args.protocols.split(",") if n]
    for n in names:
        try:
            protocols.get(n)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
    results = {n: bench_protocol(n, args.repeat) for n in names}
    if args.json:
        print(json.dumps({"target_ms": TARGET_MS, "results": results}, indent=1))
        return 0
    actions = list(next(iter(results.values())))
    print(f"scenario lab: milliseconds from a click to a finished redraw, 5 nodes, median of {args.repeat}"
          f" (target {TARGET_MS:.0f} ms); wall / cpu")
    print(f"{'action':<12}" + "".join(f"{n:>17}" for n in names))
    for a in actions:
        cells = "".join(f"{results[n][a]['median_ms']:>9.0f} /{results[n][a]['cpu_median_ms']:>5.0f}"
                        for n in names)
        print(f"{a:<12}{cells}")
    ratios = "".join(f"{results[n]['rerun 10 s']['median_ms'] / results[n]['sim only']['median_ms']:>15.2f}x "
                     for n in names)
    print(f"{'rerun/sim':<12}{ratios}")
    interactive = [a for a in actions if a not in ("rerun 10 s", "sim only")]
    worst = max(results[n][a]["median_ms"] for n in names for a in interactive)
    print(f"slowest interactive median: {worst:.0f} ms ({'within' if worst <= TARGET_MS else 'over'} the target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

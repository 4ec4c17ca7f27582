"""``consensus-lab jepsen``: real processes, real faults, a recorded and checked history."""

from __future__ import annotations

import json
import sys
import tempfile
import time

from . import UsageError
from ._args import parse_number, parse_options


def register(sub) -> None:
    p = sub.add_parser(
        "jepsen",
        help="run a protocol as real processes on 127.0.0.1 under faults and check the history",
        description="Start --nodes processes of the protocol (consensus-lab serve), run --clients "
        "clients for --time seconds while a nemesis kills (SIGKILL, restart from the data directory), "
        "pauses (SIGSTOP/SIGCONT), partitions (the runtime's link filter) and skews clocks; then "
        "check the recorded history for linearizability and the node logs for the protocol's rules.",
    )
    p.add_argument("protocol", help="protocol name (see consensus-lab run --list), or etcd")
    p.add_argument("--variant", default="correct", help="protocol variant")
    p.add_argument("--nodes", default="3", help="number of node processes (default 3)")
    p.add_argument("--time", default="10", help="seconds of client operations (default 10)")
    p.add_argument("--clients", default="3", help="client processes (default 3)")
    p.add_argument("--nemesis", default=None,
                   help="fault kinds, comma-separated: kill, pause, partition, clock (etcd: kill, pause); "
                   "none for no faults; default: every kind the cluster supports")
    p.add_argument("--seed", default="0", help="seed of the operations and the fault schedule")
    p.add_argument("--disk", default="fsync", choices=("fsync", "lying"),
                   help="lying: nodes' writes are fsynced only every --flush-interval s (lost on kill)")
    p.add_argument("--flush-interval", default="1.0", help="seconds between a lying disk's fsyncs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="protocol option (repeatable)")
    p.add_argument("--run-dir", default=None, metavar="DIR",
                   help="where the history, the node logs and the data directories go (default: a new temp dir)")
    p.add_argument("--json", default=None, metavar="FILE|-", help="write the result as one JSON object")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="draw the history on the real time axis with the faults shaded, and the messages "
                   "around the first fault as a space-time diagram")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.epilog = "Exit status: 0 the history and the node logs are fine, 1 a violation, 2 bad input."
    p.set_defaults(func=cmd_jepsen)


def cmd_jepsen(args) -> int:
    from .. import protocols
    from ..net.cluster import ClusterError
    from ..net.jepsen import NEMESES, run_jepsen

    if args.protocol == "etcd":
        from ..net.etcd import etcd_binary

        if etcd_binary() is None:
            raise UsageError("etcd is not installed on this machine (apt-get install etcd-server)")
        if args.variant != "correct":
            raise UsageError("etcd has no variants (it is the real thing)")
        spec = protocols.get("raft")
    else:
        try:
            spec = protocols.get(args.protocol)
        except KeyError as exc:
            raise UsageError(exc.args[0]) from None
        if args.variant not in spec.variants:
            raise UsageError(f"protocol {args.protocol!r} has no variant {args.variant!r} "
                             f"(variants: {', '.join(spec.variants)})")
    nodes = parse_number(args.nodes, "nodes", int, low=max(1, spec.min_nodes), high=15)
    seconds = parse_number(args.time, "time", float, low=0.5, high=3600)
    clients = parse_number(args.clients, "clients", int, low=1, high=64)
    seed = parse_number(args.seed, "seed", int)
    flush = parse_number(args.flush_interval, "flush-interval", float, low=0.001)
    kinds = (None if args.nemesis is None else [] if args.nemesis == "none"
             else [k.strip() for k in args.nemesis.split(",") if k.strip()])
    bad = [k for k in kinds or () if k not in NEMESES]
    if bad:
        raise UsageError(f"unknown nemesis {', '.join(bad)} (choose from {', '.join(NEMESES)}, or none)")
    options = parse_options(args.set)
    try:
        spec.resolve_options(options)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run_dir = args.run_dir or tempfile.mkdtemp(prefix=f"jepsen-{args.protocol}-")
    t0 = time.monotonic()
    try:
        result = run_jepsen(args.protocol, variant=args.variant, nodes=nodes, time_limit=seconds,
                            clients=clients, nemesis=kinds, seed=seed, run_dir=run_dir,
                            disk=args.disk, flush_interval=flush, options=options,
                            record_messages=bool(args.plot), progress=not args.no_progress and sys.stderr.isatty())
    except (ClusterError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    out = result.to_dict() | {"seconds": round(time.monotonic() - t0, 3)}
    if args.plot:
        from ..viz import plot_jepsen

        fig = plot_jepsen(result)
        fig.savefig(args.plot, dpi=110, bbox_inches="tight")
    if args.json:
        text = json.dumps(out, sort_keys=True)
        if args.json == "-":
            print(text)
        else:
            with open(args.json, "w") as fh:
                fh.write(text + "\n")
    if args.json != "-":
        print(result.summary())
        print(f"run directory: {run_dir}")
    return 0 if result.ok else 1

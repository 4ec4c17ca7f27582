"""``consensus-lab serve``: one protocol node as a real process (see :mod:`consensus_lab.net`)."""

from __future__ import annotations

import asyncio

from . import UsageError
from ._args import parse_number, parse_options


def register(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="run one node of a protocol as a real process on a TCP port",
        description="Run the protocol's unchanged node class as a process: messages over TCP, "
        "timers on an event loop, ctx.storage as an fsynced journal in --data-dir. Start one "
        "process per node with the same --peers (consensus-lab jepsen does this for you).",
    )
    p.add_argument("protocol", help="protocol name (see consensus-lab run --list)")
    p.add_argument("--node", required=True, help="this node's name, one of the names in --peers")
    p.add_argument("--peers", required=True, metavar="N=HOST:PORT,...",
                   help="every node of the cluster, this one included, e.g. n1=127.0.0.1:7001,...")
    p.add_argument("--data-dir", required=True, metavar="DIR", help="where this node's durable state lives")
    p.add_argument("--variant", default="correct", help="protocol variant (see consensus-lab run P --variants)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="protocol option (repeatable)")
    p.add_argument("--seed", default="0", help="seed of the node's ctx.rng (mixed with its pid)")
    p.add_argument("--disk", default="fsync", choices=("fsync", "lying"),
                   help="fsync: every write is durable before the node goes on (default); lying: "
                   "writes are acknowledged at once and fsynced only every --flush-interval seconds")
    p.add_argument("--flush-interval", default="1.0", help="seconds between a lying disk's fsyncs")
    p.add_argument("--epoch", default=None, help="monotonic-clock origin shared by the cluster (ctx.now = 0 there)")
    p.add_argument("--record-messages", action="store_true",
                   help="log every message sent and received in DIR/node.log (for a space-time diagram)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from ..net.host import HostError, NodeHost, parse_peers
    from ..net.storage import CorruptDataDir

    try:
        host = NodeHost(
            args.protocol, args.node, parse_peers(args.peers), args.data_dir,
            variant=args.variant, options=parse_options(args.set),
            seed=parse_number(args.seed, "seed", int),
            disk=args.disk,
            flush_interval=parse_number(args.flush_interval, "flush-interval", float, low=0.001),
            epoch=parse_number(args.epoch, "epoch", float),
            record=args.record_messages,
        )
        asyncio.run(host.serve())
    except (HostError, CorruptDataDir) as exc:
        raise UsageError(str(exc)) from None
    return 0

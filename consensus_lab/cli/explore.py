"""``consensus-lab explore``: search a protocol's schedules for a counterexample."""

from __future__ import annotations

import json
import sys

from ..explore.search import DEFAULT_TIME_BUDGET
from . import UsageError
from ._args import parse_number, parse_options


def register(sub) -> None:
    p = sub.add_parser(
        "explore",
        help="search every schedule (within bounds) for an invariant violation",
        description="Search the schedules of a protocol -- message orders, losses, duplicates, timers, "
        "crashes and restarts -- for a state that breaks one of its invariants. Breadth-first search "
        "(the default) returns a shortest counterexample. With --network partitions a step is a "
        "timer, a client request, a crash or a link cut, and messages settle in between: coarser, "
        "but it reaches much longer schedules.",
    )
    p.add_argument("protocol", help="protocol name (see consensus-lab run --list)")
    p.add_argument("--variant", default="correct", help="protocol variant (see consensus-lab run PROTOCOL --variants)")
    p.add_argument("--depth", type=str, default=None, help="most steps in a schedule (default: the protocol's setup)")
    p.add_argument("--nodes", type=str, default=None, help="number of nodes")
    p.add_argument("--faults", type=str, default=None,
                   help="most faults in a schedule (drops, duplicates, crashes, link cuts)")
    p.add_argument("--fault-kinds", default=None, metavar="KIND,KIND",
                   help="which faults: drop, duplicate, crash, restart (network async); "
                   "partition, crash, restart (network partitions); comma-separated")
    p.add_argument("--network", default=None,
                   help="async (every delivery is a step) or partitions (steps are stimuli and link cuts; "
                   "messages settle in between); default: the protocol's setup")
    p.add_argument("--max-in-flight", type=str, default=None, help="prune states with more messages in flight")
    p.add_argument("--timer-limit", type=str, default=None, help="each timer fires at most this often per node")
    p.add_argument("--strategy", default="bfs", help="bfs (shortest counterexample), dfs or random")
    p.add_argument("--reduction", default="auto",
                   help="auto (the default: symmetry where the protocol declares interchangeable nodes for this "
                   "setup, otherwise none; the output says which ran and why), none, sleep-sets (bfs over single deliveries: skip the other order of two steps at "
                   "different nodes that touch neither history nor invariant memory; same states and "
                   "shortest counterexamples), symmetry (states that differ by a renaming of the nodes the "
                   "protocol declares interchangeable count as one; same verdicts and shortest "
                   "counterexample lengths, fewer states; refused with the reason where no symmetry is "
                   "declared) or sleep-sets+symmetry")
    p.add_argument("--workers", type=str, default="auto",
                   help="processes sharing breadth-first search (same states, verdict and shortest "
                   "counterexample as 1); auto (the default): 2 for breadth-first search when this "
                   "process may use 2 or more cores, else 1")
    p.add_argument("--walks", type=str, default=None, help="number of random walks (--strategy random)")
    p.add_argument("--seed", type=str, default="0", help="seed of the random walks")
    p.add_argument("--time-budget", type=str, default=str(int(DEFAULT_TIME_BUDGET)), metavar="SECONDS",
                   help=f"stop after this long with the verdict 'budget exhausted' (default "
                   f"{DEFAULT_TIME_BUDGET:g}; none for no limit)")
    p.add_argument("--max-states", type=str, default=None, help="stop after this many distinct states")
    p.add_argument("--goal", default=None, help="stop when this goal is reached (and print the witness)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="protocol option (repeatable)")
    p.add_argument("--json", default=None, metavar="FILE|-", help="write the result as one JSON object")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="save the counterexample's space-time diagram")
    p.add_argument("--save", default=None, metavar="FILE.json", help="save the counterexample run")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    p.epilog = ("Exit status: 0 no violation found (the verdict may be 'budget exhausted'), "
                "1 a violation, 2 bad input.")
    p.set_defaults(func=cmd_explore)


def cmd_explore(args) -> int:
    from .. import protocols
    from ..explore import FAULT_KINDS, NETWORKS, REDUCTIONS, STRATEGIES, explore
    from ..explore.search import AUTO

    try:
        spec = protocols.get(args.protocol)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if args.variant not in spec.variants:
        raise UsageError(f"{spec.name} has no variant {args.variant!r} (variants: {', '.join(spec.variants)})")
    if args.network is not None and args.network not in NETWORKS:
        raise UsageError(f"unknown network {args.network!r} (networks: {', '.join(NETWORKS)})")
    if args.strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {args.strategy!r} (strategies: {', '.join(STRATEGIES)})")
    if args.reduction not in ("none", AUTO, *REDUCTIONS):
        raise UsageError(f"unknown reduction {args.reduction!r} (reductions: {AUTO}, none, {', '.join(REDUCTIONS)})")
    depth = parse_number(args.depth, "depth", int, low=0)
    nodes = parse_number(args.nodes, "nodes", int, low=1)
    faults = parse_number(args.faults, "faults", int, low=0)
    max_in_flight = parse_number(args.max_in_flight, "max-in-flight", int, low=0)
    timer_limit = parse_number(args.timer_limit, "timer-limit", int, low=0)
    walks = parse_number(args.walks, "walks", int, low=1)
    workers: int | str = AUTO  # explore() resolves it (auto_workers)
    if args.workers != AUTO:
        workers = parse_number(args.workers, "workers", int, low=1)
        if workers > 1 and args.strategy != "bfs":
            raise UsageError(f"--workers applies to breadth-first search (--strategy bfs), not {args.strategy!r}")
    seed = parse_number(args.seed, "seed", int)
    budget = (None if args.time_budget.lower() == "none"
              else parse_number(args.time_budget, "time-budget", float))
    if budget is not None and budget <= 0:
        raise UsageError(f"--time-budget must be > 0 seconds (or none), got {args.time_budget}")
    max_states = parse_number(args.max_states, "max-states", int, low=1)
    kinds = None
    if args.fault_kinds is not None:
        kinds = [k.strip() for k in args.fault_kinds.split(",") if k.strip()]
        for k in kinds:
            if k not in FAULT_KINDS:
                raise UsageError(f"unknown fault kind {k!r} (fault kinds: {', '.join(FAULT_KINDS)})")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot writes a PNG file; give a name ending in .png, got {args.plot!r}")
    show_progress = not args.no_progress and sys.stderr.isatty()

    try:
        result = explore(
            spec,
            variant=args.variant,
            nodes=nodes,
            depth=depth,
            faults=faults,
            fault_kinds=kinds,
            max_in_flight=max_in_flight,
            timer_limit=timer_limit,
            network=args.network,
            options=parse_options(args.set),
            strategy=args.strategy,
            goal=args.goal,
            time_budget=budget,
            max_states=max_states,
            walks=walks if walks is not None else 1000,
            seed=seed,
            progress="text" if show_progress else False,
            reduction=None if args.reduction == "none" else args.reduction,
            workers=workers,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    run = result.counterexample
    if args.goal is not None and result.goals.get(args.goal) is not None and run is None:
        run = result.witness(args.goal)
    if args.plot and run is not None:
        from ..viz.spacetime import plot_spacetime

        fig = plot_spacetime(run, title=f"{spec.name} ({args.variant}): "
                             + ("counterexample" if result.counterexample is not None else f"goal {args.goal!r}"))
        try:
            fig.savefig(args.plot, dpi=110)
        except OSError as exc:
            raise UsageError(f"cannot write {args.plot}: {exc.strerror or exc}") from None
    if args.save and run is not None:
        try:
            run.save(args.save)
        except OSError as exc:
            raise UsageError(f"cannot write {args.save}: {exc.strerror or exc}") from None

    if args.json:
        text = json.dumps(result.to_dict(), sort_keys=True)
        if args.json == "-":
            print(text)
        else:
            try:
                with open(args.json, "w") as fh:
                    fh.write(text + "\n")
            except OSError as exc:
                raise UsageError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    if args.json != "-":
        print(result.summary(timing=True))
        if args.goal is not None and result.goals.get(args.goal) is not None:
            print(f"  witness for goal {args.goal!r}:")
            for k, ev in enumerate(result.witness_path(args.goal), 1):
                print(f"    {k:2d}. {ev}")
    return 1 if result.verdict == "violation" else 0

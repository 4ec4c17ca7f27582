"""``consensus-lab run``: run one scenario and report what happened."""

from __future__ import annotations

import json
import sys
from typing import Any

from . import UsageError
from ._args import parse_number, parse_options

CONTRACT_PROPERTIES = (
    "linearizable",
    "sequential",
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
    "convergent",
    "no-lost-writes",
)


def register(sub) -> None:
    p = sub.add_parser("run", help="run a protocol in the simulator", description="Run a protocol in the simulator.")
    p.add_argument("protocol", nargs="?", help="protocol name (see --list)")
    p.add_argument("--list", action="store_true", help="list protocol names, one a line")
    p.add_argument("--variants", action="store_true", help="list the protocol's variants ('correct' first)")
    p.add_argument("--nodes", type=str, default=None, help="number of nodes")
    p.add_argument("--seed", type=str, default="0", help="random seed (same seed, same run)")
    p.add_argument("--duration", type=str, default=None, help="simulated seconds (default 10)")
    p.add_argument("--nemesis", default="none",
                   help="none, random, a fault kind (partition, crash, loss, cut, clock-skew, blip, snipe; comma-separated), "
                        "or a script like '1 crash n1; 2 restart n1'")
    p.add_argument("--loss", type=str, default=None, help="message loss probability in [0, 1]")
    p.add_argument("--duplicate", type=str, default=None, help="message duplication probability in [0, 1]")
    p.add_argument("--clients", type=str, default=None, help="number of client processes")
    p.add_argument("--variant", default="correct", help="protocol variant (see --variants)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="protocol option (repeatable)")
    p.add_argument("--check", default=None, metavar="PROP,PROP",
                   help="consistency checks on the history: " + ", ".join(CONTRACT_PROPERTIES))
    p.add_argument("--json", default=None, metavar="FILE|-", help="write the result as one JSON object")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="save the space-time diagram")
    p.add_argument("--save", default=None, metavar="FILE.json", help="save the whole run (trace included) for replay")
    p.add_argument("--replay", default=None, metavar="FILE.json", help="re-run a saved run and compare traces")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from .. import protocols
    from ..runner import ScenarioError, replay, run
    from ..sim import NemesisError, NetworkConfig, RunFileError, Scenario

    if args.list:
        for name in protocols.names():
            print(name)
        return 0
    if args.replay:
        try:
            new, same = replay(args.replay)
        except (RunFileError, ScenarioError, NemesisError) as exc:
            raise UsageError(str(exc)) from None
        print(f"replayed {args.replay}: {'identical trace' if same else 'TRACE DIFFERS'} ({new.trace_hash[:16]})")
        print(new.summary())
        return 0 if same and new.ok else 1
    if not args.protocol:
        raise UsageError("name a protocol (consensus-lab run --list shows them)")
    try:
        spec = protocols.get(args.protocol)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if args.variants:
        for name in spec.variants:
            print(name)
        return 0

    nodes = parse_number(args.nodes, "nodes", int, low=1)
    seed = parse_number(args.seed, "seed", int)
    duration = parse_number(args.duration, "duration", float)
    if duration is not None and duration <= 0:
        raise UsageError(f"--duration must be > 0, got {args.duration}")
    loss = parse_number(args.loss, "loss", float, low=0, high=1)
    dup = parse_number(args.duplicate, "duplicate", float, low=0, high=1)
    clients = parse_number(args.clients, "clients", int, low=0)
    checks = [c.strip() for c in args.check.split(",") if c.strip()] if args.check else []
    for c in checks:
        if c not in CONTRACT_PROPERTIES:
            raise UsageError(f"unknown check {c!r} (checks: {', '.join(CONTRACT_PROPERTIES)})")
    if args.plot and not args.plot.lower().endswith(".png"):
        raise UsageError(f"--plot writes a PNG file; give a name ending in .png, got {args.plot!r}")

    network = NetworkConfig(loss=loss or 0.0, duplicate=dup or 0.0)
    workload = spec.workload
    if clients is not None:
        import dataclasses

        workload = dataclasses.replace(workload, clients=clients)
    try:
        scenario = Scenario(
            protocol=spec.name,
            nodes=nodes,
            seed=seed,
            duration=duration if duration is not None else 10.0,
            network=network,
            workload=workload if clients is not None else None,
            nemesis=args.nemesis,
            variant=args.variant,
            options=tuple(sorted(parse_options(args.set).items())),
        )
        result = run(scenario, progress=_progress() if sys.stderr.isatty() else None)
    except (ScenarioError, NemesisError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")

    check_results: dict[str, dict[str, Any]] = {}
    for c in checks:
        holds, detail = _check(c, result, spec)
        check_results[c] = {"holds": bool(holds), "detail": detail}
    result.checks = check_results

    if args.plot:
        from ..viz.spacetime import plot_spacetime

        fig = plot_spacetime(result)
        try:
            fig.savefig(args.plot, dpi=110)
        except OSError as exc:
            raise UsageError(f"cannot write {args.plot}: {exc.strerror or exc}") from None
    if args.save:
        try:
            result.save(args.save)
        except OSError as exc:
            raise UsageError(f"cannot write {args.save}: {exc.strerror or exc}") from None

    failed = bool(result.violations) or any(not v["holds"] for v in check_results.values())
    if args.json:
        obj = _json_result(result, check_results)
        text = json.dumps(obj, sort_keys=True)
        if args.json == "-":
            print(text)
        else:
            try:
                with open(args.json, "w") as fh:
                    fh.write(text + "\n")
            except OSError as exc:
                raise UsageError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    if args.json != "-":
        print(result.summary())
        for v in result.violations:
            print(f"  VIOLATION {v}")
        for name, c in check_results.items():
            print(f"  check {name}: {'holds' if c['holds'] else 'VIOLATED'} - {c['detail']}")
        for name, t in result.goals.items():
            print(f"  goal {name}: {f'reached at t={t:.3f}' if t is not None else 'not reached'}")
        if result.violations:
            print(f"  replay: consensus-lab run {_replay_args(args)}")
    return 1 if failed else 0


def _replay_args(args) -> str:
    parts = [args.protocol]
    for flag in ("nodes", "seed", "duration", "loss", "duplicate", "clients"):
        v = getattr(args, flag)
        if v is not None:
            parts.append(f"--{flag} {v}")
    if args.nemesis != "none":
        parts.append(f"--nemesis '{args.nemesis}'")
    if args.variant != "correct":
        parts.append(f"--variant {args.variant}")
    parts += [f"--set {s}" for s in args.set]
    return " ".join(parts)


def _progress():
    def show(now: float, total: float) -> None:
        sys.stderr.write(f"\rsimulating: {now:8.2f} / {total:g} s ({100 * now / total:5.1f}%)")
        sys.stderr.flush()

    return show


def _check(name: str, result, spec) -> tuple[bool, str]:
    from ..properties import check_property

    try:
        return check_property(name, result, spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _json_result(result, checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from ..sim import schedule_to_script, to_jsonable

    sc = result.scenario
    return {
        "protocol": sc.protocol_name,
        "variant": sc.variant,
        "seed": sc.seed,
        "nodes": len(result.node_ids),
        "duration": sc.duration,
        "nemesis": sc.nemesis,
        "schedule": schedule_to_script(result.schedule),
        "trace_hash": result.trace_hash,
        "violations": [
            {"invariant": v.invariant, "time": v.time, "message": v.message, "events": v.events[-10:]}
            for v in result.violations
        ],
        "checks": checks,
        "goals": result.goals,
        "stats": to_jsonable(result.stats),
    }

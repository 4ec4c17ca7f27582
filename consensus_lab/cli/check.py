"""``consensus-lab check``: is a recorded history consistent?

    consensus-lab check HISTORY_FILE... --model MODEL [--consistency LEVEL]
                    [--initial VALUE] [--nil-reads {value,unknown}]
                    [--independent {auto,yes,no}] [--format FORMAT]
                    [--timeout S] [--max-memory MB] [--json FILE|-]

Every file is read first (a malformed file stops everything with exit code 2
and ``file:line: problem``), then each history is checked.  See ``_EPILOG`` for
the exit codes and conventions (it is what ``check --help`` prints).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from consensus_lab.checkers._edn import EDNError, read_forms
from consensus_lab.checkers.formats import (
    FORMATS,
    HistoryFormatError,
    ParsedHistory,
    read_history_file,
)
from consensus_lab.checkers.independent import (
    INDEPENDENT_MODES,
    AmbiguousShapeError,
    unwrap_independent,
)
from consensus_lab.checkers.levels import (
    CONSISTENCY_LEVELS,
    HOLDS,
    UNKNOWN_STATUS,
    VIOLATED,
    check_consistency,
)
from consensus_lab.checkers.models import MODELS, NIL_READS, REGISTER_MODELS, Model, get_model
from consensus_lab.cli import UsageError
from consensus_lab.history import Op, freeze, pair_operations

__all__ = ["register", "run", "EXIT_INTERNAL"]

#: exit code of an internal error (a bug in the checker): never 0 or 1, which are verdicts
EXIT_INTERNAL = 4

_EPILOG = """\
exit codes:
  0  every history is consistent (at the chosen level)
  1  at least one history is not
  2  bad input: a one-line error naming the file and line (nothing is checked)
  3  none is inconsistent, but at least one verdict is 'unknown' (a time or memory
     budget ran out, or the exact search refuses a history that large)
  4  internal error of the checker (a bug: please report it); never 0 or 1

models (Jepsen's operation names):
  register        read, write                       one register per :key
  cas-register    read, write, cas [old new]        cas that reports :fail did nothing
  kv              get/put/append, read/write/cas    one register per :key; nil and "" are empty
  set             add, read -> set                  decided in O(n log n), no search
  append          append, read -> list
  multi-register  txn [[:read k v] [:write k v]..]  Knossos's multi-register
  mutex           acquire, release                  Knossos's mutex

conventions:
  - ok happened, fail did not, info (or no completion) may have happened at any
    moment after its invocation, or never.
  - Registers start at nil; --initial VALUE (EDN, e.g. 0) starts every register there
    (Jepsen tests often start at 0).
  - A completed read of nil is read as the value nil (--nil-reads value, the default).
    Knossos's cas-register reads it as "value unknown": --nil-reads unknown makes
    such a read constrain nothing.
  - Jepsen's independent workloads write values as [key value] tuples; with
    --independent auto (default) they are recognised and checked per key when a
    read invocation names its key ([k nil]); if all values are pairs and nothing
    settles it, the check refuses and asks for --independent yes or no.
  - A file with only nemesis events has zero client operations: trivially
    consistent (with a note). An empty file is bad input.
  - Before searching, two pre-checks refute at once a read of a value no write
    could have produced and a read that would precede the write it saw; the
    verdict names the pre-check that fired.
  - Default budgets: no time limit, at most 2048 MB of memory growth per history.

consistency levels (--consistency):
  linearizable, sequential      against --model (sequential: exact search, <= 60 operations)
  causal                        causal memory (Bouajjani et al. 2017); causal-convergence and
                                weak-causal too; register histories, each value written once per key
  read-your-writes, monotonic-reads, monotonic-writes, writes-follow-reads
                                session guarantees, per key, a session being a process
  read-committed, snapshot-isolation, serializable, strict-serializable
                                Elle-style, on :txn histories (list-append [:append k v] [:r k [..]]
                                or rw-register [:w k v] [:r k v]); the verdict names the anomaly
                                (G0, G1a, G1b, G1c, G-single, G-nonadjacent, G2) and its cycle

--json: one object per history and line: file, verdict, seconds, consistency, holds,
  checker_verdict (the checker's own words, e.g. "not causal"), model, operations, detail.
  verdict is linearizable / not linearizable / unknown for --consistency linearizable, and
  holds / violated / unknown for every other level.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "check",
        help="check recorded histories for linearizability (or another consistency level)",
        description="Decide whether each history is consistent (linearizable by default) "
                    "with respect to a model.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="HISTORY_FILE")
    p.add_argument("--model", choices=list(MODELS), default=None,
                   help="the sequential object (required for linearizable and sequential)")
    p.add_argument("--consistency", choices=CONSISTENCY_LEVELS, default="linearizable", metavar="LEVEL",
                   help=f"what to check: {', '.join(CONSISTENCY_LEVELS)} (default: linearizable)")
    p.add_argument("--initial", metavar="VALUE", default=None,
                   help="start value of every register, in EDN (default: nil)")
    p.add_argument("--nil-reads", choices=NIL_READS, default="value",
                   help="a completed read of nil: the value nil (default) or 'unknown' (Knossos)")
    p.add_argument("--independent", choices=INDEPENDENT_MODES, default="auto",
                   help="values are Jepsen's [key value] tuples: auto-detect (default), yes, no")
    p.add_argument("--format", choices=FORMATS, help="file format (default: detected from content)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="time budget per history in seconds (verdict 'unknown' when it runs out)")
    p.add_argument("--max-memory", type=float, default=2048, metavar="MB",
                   help="memory budget per history in MB (default 2048; verdict 'unknown' when exceeded)")
    p.add_argument("--json", metavar="FILE", help="write JSON lines to FILE ('-' for stdout)")
    p.set_defaults(func=run)


def _parse_initial(text: str) -> Any:
    try:
        forms = [v for _, v in read_forms(text)]
    except EDNError as exc:
        raise UsageError(f"--initial {text!r}: {exc.msg}") from None
    if len(forms) != 1:
        raise UsageError(f"--initial needs one EDN value (such as 0, nil or \"x\"), got {text!r}")
    return freeze(forms[0])


def _model(args: argparse.Namespace) -> Model:
    name = args.model
    if name is None:
        if args.consistency in ("linearizable", "sequential"):
            raise UsageError(f"--consistency {args.consistency} needs --model (one of {', '.join(MODELS)})")
        name = "kv"  # session, causal and isolation checks look at keys and values only
    options: dict[str, Any] = {}
    if args.initial is not None or args.nil_reads != "value":
        if name not in REGISTER_MODELS:
            raise UsageError(f"--initial and --nil-reads apply to the models {', '.join(REGISTER_MODELS)}, "
                             f"not {name!r}")
        options = {"initial": None if args.initial is None else _parse_initial(args.initial),
                   "nil_reads": args.nil_reads}
    return get_model(name, **options)


def _validate(events: list[Op], lines: list[int], path: str, model: Model) -> None:
    ops = pair_operations(events)
    # map each operation back to the line of its invocation
    invoke_lines = [line for ev, line in zip(events, lines, strict=True) if ev.type == "invoke"]
    for op in ops:
        problem = model.validate(op)
        if problem:
            raise UsageError(f"{path}:{invoke_lines[op.index]}: {problem}")


def _read(name: str, args: argparse.Namespace, model: Model) -> tuple[ParsedHistory, list[Op]]:
    try:
        parsed = read_history_file(name, args.format)
    except HistoryFormatError as exc:
        where = f"{exc.file}:{exc.line}" if exc.line else exc.file
        raise UsageError(f"{where}: {exc.msg}") from None
    try:
        events = unwrap_independent(parsed.events, args.independent)
    except AmbiguousShapeError as exc:
        raise UsageError(f"{name}: {exc}") from None
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith("event "):
            pos = int(msg.split()[1].rstrip(":"))
            msg = f"{parsed.lines[pos]}: {msg.split(': ', 1)[1]}"
        raise UsageError(f"{name}:{msg} (--independent {args.independent})") from None
    if args.model is not None or args.consistency in ("linearizable", "sequential"):
        _validate(events, parsed.lines, name, model)
    return parsed, events


#: the JSON verdict of the default level (the command-line contract)
_LINEARIZABLE_WORDS = {HOLDS: "linearizable", VIOLATED: "not linearizable", UNKNOWN_STATUS: "unknown"}


def json_verdict(level: str, status: str) -> str:
    """The ``verdict`` of a JSON record: the contract's words for ``linearizable``,
    else the level-independent ``holds`` / ``violated`` / ``unknown`` (the checker's
    own words go to ``checker_verdict``)."""
    if status not in _LINEARIZABLE_WORDS:
        raise ValueError(f"unknown status {status!r}")
    return _LINEARIZABLE_WORDS[status] if level == "linearizable" else status


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (UsageError, KeyboardInterrupt, BrokenPipeError):
        raise
    except Exception as exc:  # a bug: say so in one line, and never with a verdict's exit code
        print(f"consensus-lab: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def _run(args: argparse.Namespace) -> int:
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be a positive, finite number of seconds, got {args.timeout}")
    if not (math.isfinite(args.max_memory) and args.max_memory > 0):
        raise UsageError(f"--max-memory must be a positive, finite number of MB, got {args.max_memory}")
    model = _model(args)
    histories = [(name, *_read(name, args, model)) for name in args.files]

    out: TextIO | None = None
    if args.json == "-":
        out = sys.stdout
    elif args.json:
        try:
            out = Path(args.json).open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc.strerror}") from None
    statuses = []
    opts: dict[str, Any] = {}
    if args.timeout is not None:
        opts["timeout"] = args.timeout
    if args.consistency == "linearizable":
        opts["max_memory"] = int(args.max_memory * 2**20)
    try:
        for name, parsed, events in histories:
            v = check_consistency(events, args.consistency, model, **opts)
            statuses.append(v.status)
            label = v.verdict + (f" ({v.budget} budget)" if v.status == UNKNOWN_STATUS and v.budget else "")
            record = {
                "file": name,
                "verdict": json_verdict(args.consistency, v.status),
                "checker_verdict": v.verdict,
                "seconds": round(v.seconds, 6),
                "consistency": args.consistency,
                "holds": None if v.status == UNKNOWN_STATUS else v.status == HOLDS,
                "model": model.name,
                "operations": v.operations,
                "detail": v.detail,
            }
            if v.budget:
                record["budget"] = v.budget
            if parsed.skipped:
                record["skipped"] = parsed.skipped
            if out is not None:
                print(json.dumps(record), file=out, flush=True)
            if out is not sys.stdout:
                print(f"{name}: {label} ({v.seconds:.3f} s)", flush=True)
                if v.status != HOLDS or not v.operations:
                    print(f"  {v.detail}", flush=True)
    finally:
        if out is not None and out is not sys.stdout:
            out.close()
    if "violated" in statuses:
        return 1
    return 3 if UNKNOWN_STATUS in statuses else 0

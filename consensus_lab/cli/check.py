"""``consensus-lab check``: is a recorded history linearizable?

    consensus-lab check HISTORY_FILE... --model {register,cas-register,kv,set,append}
                    [--format {json,jepsen-edn,jepsen-log}] [--timeout S] [--json -]

Every file is read first (a malformed file stops everything with exit code 2
and ``file:line: problem``), then each history is checked.  Exit code 0 when
all are linearizable, 1 when any is not; an ``unknown`` verdict (a budget ran
out) also gives 1, because the history was not shown to be linearizable.  With ``--json -`` each file gives one JSON line with ``file``,
``verdict``, ``seconds`` (and ``model``, ``operations``, ``detail``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from consensus_lab.checkers.formats import (
    FORMATS,
    HistoryFormatError,
    ParsedHistory,
    read_history_file,
)
from consensus_lab.checkers.linearizability import LINEARIZABLE, check_linearizable
from consensus_lab.checkers.models import MODELS, get_model
from consensus_lab.cli import UsageError
from consensus_lab.history import pair_operations

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "check",
        help="check recorded histories for linearizability",
        description="Decide whether each history is linearizable with respect to a model.",
    )
    p.add_argument("files", nargs="+", metavar="HISTORY_FILE")
    p.add_argument("--model", required=True, choices=list(MODELS), help="the sequential object")
    p.add_argument("--format", choices=FORMATS, help="file format (default: detected from content)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="time budget per history in seconds (verdict 'unknown' when it runs out)")
    p.add_argument("--json", metavar="FILE", help="write JSON lines to FILE ('-' for stdout)")
    p.set_defaults(func=run)


def _validate(parsed: ParsedHistory, path: str, model_name: str) -> None:
    model = get_model(model_name)
    ops = pair_operations(parsed.events)
    # map each operation back to the line of its invocation
    invoke_lines = [line for ev, line in zip(parsed.events, parsed.lines, strict=True) if ev.type == "invoke"]
    for op in ops:
        problem = model.validate(op)
        if problem:
            raise UsageError(f"{path}:{invoke_lines[op.index]}: {problem}")


def run(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    histories = []
    for name in args.files:
        try:
            parsed = read_history_file(name, args.format)
        except HistoryFormatError as exc:
            where = f"{exc.file}:{exc.line}" if exc.line else exc.file
            raise UsageError(f"{where}: {exc.msg}") from None
        _validate(parsed, name, args.model)
        histories.append((name, parsed))

    out: TextIO | None = None
    if args.json == "-":
        out = sys.stdout
    elif args.json:
        try:
            out = Path(args.json).open("w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.json}: {exc.strerror}") from None
    worst = 0
    try:
        for name, parsed in histories:
            result = check_linearizable(parsed.events, args.model, timeout=args.timeout)
            if result.verdict != LINEARIZABLE:
                worst = 1
            record = {
                "file": name,
                "verdict": result.verdict,
                "seconds": round(result.seconds, 6),
                "model": args.model,
                "operations": len(result.operations),
                "detail": result.detail,
            }
            if out is not None:
                print(json.dumps(record), file=out, flush=True)
            if out is not sys.stdout:
                print(f"{name}: {result.verdict} ({result.seconds:.3f} s)", flush=True)
                if result.verdict != LINEARIZABLE:
                    print(f"  {result.detail}", flush=True)
    finally:
        if out is not None and out is not sys.stdout:
            out.close()
    return worst

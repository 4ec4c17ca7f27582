"""``consensus-lab release SOLUTIONS_DIR EXERCISES_DIR``: write the student notebooks."""

from __future__ import annotations

import argparse
import sys

from . import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "release",
        help="make the student notebooks from the solutions",
        description="Strip the solution regions of every notebook in SOLUTIONS_DIR into stubs, drop "
        "instructor-only material, and write the student notebooks to EXERCISES_DIR (which then holds "
        "exactly those notebooks).",
    )
    p.add_argument("solutions", metavar="SOLUTIONS_DIR")
    p.add_argument("exercises", metavar="EXERCISES_DIR")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..grading.release import ReleaseError, release

    if not Path(args.solutions).is_dir():
        raise UsageError(f"solutions directory {args.solutions} does not exist")
    out = Path(args.exercises)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{args.exercises} exists and is not a directory")
    try:
        written = release(args.solutions, args.exercises)
    except ReleaseError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {args.exercises}: {exc.strerror or exc}") from None
    for path in written:
        print(path, file=sys.stdout)
    return 0

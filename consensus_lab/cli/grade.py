"""``consensus-lab grade SUBMISSIONS_DIR --out GRADEBOOK.csv ...``: grade a class, safely."""

from __future__ import annotations

import argparse
import os
import sys

from . import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "grade",
        help="grade submitted notebooks in a sandbox",
        description="Grade every submitted notebook: the answer cells run in sandboxed processes, "
        "every verdict is computed by the grader, and a gradebook CSV is written "
        "(student,exercise,points,max_points,status,seconds,reason).",
    )
    p.add_argument("submissions", metavar="SUBMISSIONS_DIR",
                   help="a folder per student holding their notebooks (or <student>_<notebook> files)")
    p.add_argument("--out", metavar="GRADEBOOK.csv", help="the gradebook to write (needed unless --replay)")
    p.add_argument("--hidden", metavar="DIR", help="the instructor's hidden checks (*.json)")
    p.add_argument("--feedback", metavar="DIR", help="write a feedback file per student here")
    p.add_argument("--gradescope", metavar="RESULTS.json", help="write Gradescope results (one student)")
    p.add_argument("--jobs", type=int, default=None, metavar="J", help="submissions graded at once (default: cores)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="wall-clock seconds per submission (default 120)")
    p.add_argument("--replay", nargs=3, metavar=("STUDENT", "EXERCISE", "CHECK"),
                   help="instead of grading: re-run one check (a number as in the feedback, or its name; hidden "
                   "checks too, with --hidden) for one student, in the sandbox, and show what happened")
    p.add_argument("--seed", type=int, default=None, help="with --replay: this seed only")
    p.add_argument("--plot", metavar="FILE.png", help="with --replay: save a space-time diagram of the run")
    p.add_argument("--isolation", choices=("full", "userns", "rlimits"), default=None,
                   help="the sandbox's isolation (default: the strongest this machine allows; it is "
                   "recorded in the gradebook's isolation column)")
    p.add_argument("--allow-weaker-isolation", action="store_true",
                   help="grade even in a mode weaker than this machine allows, or in rlimits for a class "
                   "(answers can then read what the grading user can read)")
    p.set_defaults(func=_run)


def _replay(args: argparse.Namespace) -> int:
    from ..grading.feedback import replay_submission
    from ..grading.registry import HiddenChecksError
    from ..grading.sandbox import SandboxError

    student, exercise, check = args.replay
    if args.plot is not None and not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
        raise UsageError(f"cannot write the picture {args.plot} (its directory does not exist)")
    try:
        passed = replay_submission(args.submissions, student, exercise, check, hidden=args.hidden, seed=args.seed,
                                   plot=args.plot, timeout=args.timeout)
    except (ValueError, KeyError, HiddenChecksError, SandboxError) as exc:
        raise UsageError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    return 0 if passed else 1


def _run(args: argparse.Namespace) -> int:
    from ..grading.grader import GradingError, discover, grade, limits_for, terminal_progress
    from ..grading.registry import HiddenChecksError
    from ..grading.sandbox import SandboxError, choose_isolation, isolation_summary

    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be > 0 seconds, got {args.timeout}")
    if not os.path.isdir(args.submissions):
        raise UsageError(f"submissions directory {args.submissions} does not exist")
    if args.hidden is not None and not os.path.isdir(args.hidden):
        raise UsageError(f"hidden checks directory {args.hidden} does not exist")
    if args.replay is not None:
        return _replay(args)
    if args.out is None:
        raise UsageError("--out GRADEBOOK.csv is needed (or --replay STUDENT EXERCISE CHECK)")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if os.path.isdir(args.out) or not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise UsageError(f"cannot write the gradebook {args.out} (its directory is missing or not writable)")
    if args.hidden is not None and not os.path.isdir(args.hidden):
        raise UsageError(f"hidden checks directory {args.hidden} does not exist")
    if args.hidden is not None:
        from ..grading.registry import load_hidden
        from ..grading.selfcheck import scale_problems

        try:
            hidden = load_hidden(args.hidden)
        except HiddenChecksError as exc:
            raise UsageError(str(exc)) from None
        for problem in scale_problems(hidden):  # students were told otherwise in their notebooks
            print(f"consensus-lab grade: warning: {problem}", file=sys.stderr)
    students = {s.student for s in discover(args.submissions)}
    if args.gradescope is not None and len(students) > 1:
        raise UsageError(f"--gradescope writes one student's results.json; the submissions hold {len(students)} students")
    try:
        mode = choose_isolation(args.isolation, students=len(students), allow_weaker=args.allow_weaker_isolation)
    except SandboxError as exc:
        raise UsageError(str(exc)) from None
    print(f"consensus-lab grade: isolation {isolation_summary(mode)}", file=sys.stderr)
    limits = limits_for(args.timeout)
    try:
        results = grade(args.submissions, out=args.out, hidden=args.hidden, feedback=args.feedback,
                        gradescope=args.gradescope, jobs=jobs, timeout=args.timeout, limits=limits,
                        isolation=mode, allow_weaker=args.allow_weaker_isolation, progress=terminal_progress())
    except (GradingError, HiddenChecksError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write the results: {exc.strerror or exc}") from None
    students = len({r.student for r in results})
    print(f"consensus-lab grade: {len(results)} submissions of {students} students graded; gradebook {args.out}",
          file=sys.stderr)
    return 0

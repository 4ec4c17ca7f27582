"""Check by hand that tests kill given mutants (docs/mutation.md), without a mutmut run.

Runs one test file (or a ``-k`` selection of it, plus any ``--with`` files) against mutmut's
copy of the library in ``mutants/``, once clean and then once per mutant.  Each mutant runs
in a forked child of the clean run's process (mutmut's trampolines read
``MUTANT_UNDER_TEST`` at every call, and the library is imported once), so a mutant cannot
leak state into the next one, and with ``--timeout`` a mutant that loops forever is killed
after that many seconds and counted as ``timeout`` instead of hanging the check.  The test
files are copied next to the mutants' tests under names of their own (with the process id),
so a mutmut run or another check going on at the same time is not disturbed; they are removed
afterwards.

    python benchmarks/mutation_check.py tests/test_mutation_kills.py -k budget NAME [NAME ...]
    python benchmarks/mutation_check.py tests/test_mutation_kills_checker.py \\
        --with tests/test_linearizability.py --timeout 60 \\
        --glob 'consensus_lab.checkers.linearizability.xǁ_PartitionSearchǁrun__mutmut_*'

``--glob PATTERN`` (repeatable) adds every mutant whose name matches (``fnmatch``), read from
mutmut's ``.meta`` files in ``mutants/``, in the order of their numbers; ``--list`` only
prints the names.  Prints ``killed`` (with the first failing test), ``SURVIVED`` or
``timeout`` per mutant and a count at the end.  Exit code 0 when the clean run passes and
every mutant is killed, 1 when one survives or times out, 2 on bad input (no ``mutants/``, no
mutant named, a failing clean run).  Mutants of code that runs only at import time cannot be
checked this way (nor by mutmut).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import json
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path


def mutant_names(mutants: Path, patterns: list[str]) -> list[str]:
    """Every mutant named in ``mutants/**/*.py.meta`` that matches one of ``patterns``."""
    names: set[str] = set()
    for meta in mutants.rglob("*.py.meta"):
        keys = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        names.update(k for k in keys if any(fnmatch.fnmatchcase(k, p) for p in patterns))

    def order(name: str) -> tuple[str, int]:
        base, _, number = name.rpartition("__mutmut_")
        return base, int(number) if number.isdigit() else -1

    return sorted(names, key=order)


class _FirstFailure:
    """A pytest plugin that remembers the first failing test."""

    def __init__(self) -> None:
        self.failed = ""

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 (pytest's hook)
        if report.failed and not self.failed:
            self.failed = report.nodeid.rpartition("::")[2]


def _run_in_child(run, mutant: str, timeout: float | None) -> tuple[str, str]:
    """Run ``run(mutant)`` in a forked child: (status, first failing test)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a timeout ends what it started too
        os.close(read)
        code, failed = 3, ""
        try:
            os.setpgid(0, 0)
            code, failed = run(mutant)
            os.write(write, failed.encode()[:512])
        finally:
            os._exit(code)
    os.close(write)
    deadline = None if timeout is None else time.monotonic() + timeout
    status = None
    try:
        while status is None:
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                status = code
            elif deadline is not None and time.monotonic() > deadline:
                break
            else:
                time.sleep(0.02)
    finally:  # a timeout, or the check itself stopped (Ctrl-C, SIGTERM): end the child too
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
    if status is None:
        return "timeout", ""
    with os.fdopen(read, "rb") as pipe:
        failed = pipe.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code in (0, 1):
        return ("SURVIVED" if code == 0 else "killed"), failed
    return f"error (pytest exit {code})", failed  # no verdict: a test file gone, Ctrl-C, ...


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tests", type=Path, help="the test file to run (copied into mutants/tests/)")
    ap.add_argument("names", nargs="*", help="mutant names, as `mutmut show` takes them")
    ap.add_argument("-k", dest="select", default="", help="pytest -k expression")
    ap.add_argument("--with", dest="also", type=Path, action="append", default=[],
                    help="another test file to run too (repeatable)")
    ap.add_argument("--glob", action="append", default=[],
                    help="add every mutant whose name matches this pattern (repeatable)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per mutant; a mutant still running then counts as timeout")
    ap.add_argument("--list", action="store_true", help="only print the mutants' names")
    ap.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder")
    args = ap.parse_intermixed_args(argv)
    files = [args.tests, *args.also]
    missing = [str(f) for f in files if not f.is_file()]
    if not (args.mutants / "tests").is_dir() or missing:
        print(f"mutation_check: need {args.mutants}/tests/ (run `make mutate` once) and "
              f"{', '.join(missing) or 'the test files'}", file=sys.stderr)
        return 2
    if args.timeout is not None and not args.timeout > 0:
        print("mutation_check: --timeout must be > 0 seconds", file=sys.stderr)
        return 2
    names = list(dict.fromkeys([*args.names, *mutant_names(args.mutants, args.glob)]))
    if not names:
        print("mutation_check: no mutant named or matched", file=sys.stderr)
        return 2
    if args.list:
        print(*names, sep="\n")
        return 0
    import pytest

    copies = []
    for i, f in enumerate(files):
        copy = (args.mutants / "tests" / f"_mutation_check_{os.getpid()}_{i}_{f.name}").resolve()
        shutil.copyfile(f, copy)
        copies.append(copy)
    os.chdir(args.mutants)
    sys.path.insert(0, ".")
    cmd = ["-q", "-x", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:randomly",
           *(f"tests/{c.name}" for c in copies), *(["-k", args.select] if args.select else [])]

    def run(mutant: str) -> tuple[int, str]:
        os.environ["MUTANT_UNDER_TEST"] = mutant
        first = _FirstFailure()
        with contextlib.redirect_stdout(io.StringIO()):
            return int(pytest.main(cmd, plugins=[first])), first.failed

    counts = {"killed": 0, "SURVIVED": 0, "timeout": 0, "error": 0}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that the child is ended too
    try:
        if run("")[0] != 0:
            print("mutation_check: the tests fail without any mutant", file=sys.stderr)
            return 2
        for name in names:
            status, failed = _run_in_child(run, name, args.timeout)
            counts[re.match(r"\w+", status).group()] += 1
            by = f"  ({failed})" if failed and status == "killed" else ""
            print(f"{status:<8}", name + by, flush=True)
    finally:
        for copy in copies:
            copy.unlink(missing_ok=True)
    errors = f", {counts['error']} error" if counts["error"] else ""
    print(f"mutation_check: {counts['killed']} killed, {counts['SURVIVED']} survived, "
          f"{counts['timeout']} timeout{errors}, of {len(names)}", flush=True)
    return 0 if counts["killed"] == len(names) else 1


if __name__ == "__main__":
    sys.exit(main())

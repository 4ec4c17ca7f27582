"""Check by hand that a test kills given mutants (docs/mutation.md), without a mutmut run.

Runs one test file (or a ``-k`` selection of it) against mutmut's copy of the library in
``mutants/``, once clean and once with each named mutant active, all in one process (mutmut's
trampolines read ``MUTANT_UNDER_TEST`` at every call).  The test file is copied next to the
mutants' tests under a temporary name, so a mutmut run going on at the same time is not
disturbed; it is removed afterwards.

    python benchmarks/mutation_check.py tests/test_mutation_kills.py -k budget NAME [NAME ...]

Prints ``killed`` or ``SURVIVED`` per mutant.  Exit code 0 when the clean run passes and every
mutant is killed, 1 when one survives, 2 on bad input (no ``mutants/``, a failing clean run).
Mutants of code that runs only at import time cannot be checked this way (nor by mutmut).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tests", type=Path, help="the test file to run (copied into mutants/tests/)")
    ap.add_argument("names", nargs="+", help="mutant names, as `mutmut show` takes them")
    ap.add_argument("-k", dest="select", default="", help="pytest -k expression")
    ap.add_argument("--mutants", type=Path, default=Path("mutants"), help="mutmut's folder")
    args = ap.parse_args(argv)
    if not (args.mutants / "tests").is_dir() or not args.tests.is_file():
        print(f"mutation_check: need {args.mutants}/tests/ (run `make mutate` once) and "
              f"{args.tests}", file=sys.stderr)
        return 2
    import pytest

    copy = (args.mutants / "tests" / f"_mutation_check_{args.tests.name}").resolve()
    shutil.copyfile(args.tests, copy)
    os.chdir(args.mutants)
    sys.path.insert(0, ".")
    cmd = ["-q", "-x", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:randomly",
           f"tests/{copy.name}", *(["-k", args.select] if args.select else [])]

    def run(mutant: str) -> int:
        os.environ["MUTANT_UNDER_TEST"] = mutant
        with contextlib.redirect_stdout(io.StringIO()):
            return int(pytest.main(cmd))

    try:
        if run("") != 0:
            print("mutation_check: the tests fail without any mutant", file=sys.stderr)
            return 2
        survived = 0
        for name in args.names:
            code = run(name)
            survived += code != 1
            print("killed  " if code == 1 else f"SURVIVED (pytest exit {code})", name, flush=True)
    finally:
        copy.unlink()
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())

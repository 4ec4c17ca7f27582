"""The kill rate per module from mutmut's results (``make mutate``; docs/mutation.md).

Reads the ``mutants/**/*.py.meta`` files mutmut 3 writes (one per mutated module:
each mutant's exit code) and prints one row per module: killed / tested, survivors,
timeouts, mutants no test reaches, and mutants not run yet (``make mutate`` can run
a subset: ``MUTANTS='consensus_lab.protocols.raft.*'``).

    python benchmarks/mutation_report.py [MUTANTS_DIR] [--survivors]

``--survivors`` also lists the surviving mutants by name (``mutmut show NAME`` prints
the diff of one).  Exit code 0 whenever the results could be read; 2 when there are none.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py); anything else counts as "suspicious".
STATUS = {
    1: "killed", 3: "killed",
    0: "survived",
    5: "no tests", 33: "no tests",
    34: "skipped",
    36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
    37: "killed",  # caught by the type checker (none configured here)
    -11: "crashed", -9: "crashed",
    None: "not run",
}
COLUMNS = ("killed", "survived", "timeout", "no tests", "not run", "other")


def module_name(meta: Path, root: Path) -> str:
    return str(meta.relative_to(root)).removesuffix(".py.meta").replace("/", ".")


def read(root: Path) -> dict[str, dict[str, str]]:
    """module -> mutant name -> status."""
    out = {}
    for meta in sorted(root.rglob("*.py.meta")):
        for attempt in range(5):  # a run going on rewrites the file: read it again
            try:
                codes = json.loads(meta.read_text())["exit_code_by_key"]
                break
            except json.JSONDecodeError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
        out[module_name(meta, root)] = {k: STATUS.get(v, "other") for k, v in codes.items()}
    return out


def table(results: dict[str, dict[str, str]]) -> list[str]:
    head = f"{'module':48} {'kill rate':>16} " + " ".join(f"{c:>9}" for c in COLUMNS[1:])
    lines = [head, "-" * len(head)]
    total: Counter[str] = Counter()
    for module, statuses in results.items():
        counts = Counter(s if s in COLUMNS else "other" for s in statuses.values())
        total += counts
        lines.append(row(module, counts))
    lines += ["-" * len(head), row("all", total)]
    return lines


def row(name: str, counts: Counter[str]) -> str:
    """Kill rate over the mutants run that some test reaches (killed + survived + timeout)."""
    tested = counts["killed"] + counts["survived"] + counts["timeout"]
    rate = f"{counts['killed']}/{tested} {100 * counts['killed'] / tested:5.1f}%" if tested else "-"
    return f"{name:48} {rate:>16} " + " ".join(f"{counts[c]:>9}" for c in COLUMNS[1:])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mutants", nargs="?", default="mutants", help="mutmut's folder (default: mutants)")
    ap.add_argument("--survivors", action="store_true", help="list the surviving mutants by name")
    args = ap.parse_args(argv)
    root = Path(args.mutants)
    results = read(root) if root.is_dir() else {}
    if not results:
        print(f"mutation_report: no mutmut results under {root}/ (run `make mutate` first)",
              file=sys.stderr)
        return 2
    print("\n".join(table(results)))
    if args.survivors:
        for statuses in results.values():
            for name, status in statuses.items():
                if status == "survived":
                    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

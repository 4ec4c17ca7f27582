"""How fast does `consensus-lab grade` get through a class?

Generates a class -- by default 100 students, one notebook each, the nine
exercises in turn -- with a realistic mix: mostly correct answers, some
partly correct (a classic mistake each), some broken (syntax error, stub,
not a notebook) and some hostile (endless loop, fork bomb, memory hog,
exit, patched grader, nodes sharing a global).  Grades it with
``--jobs`` = the number of cores, the instructor's hidden checks included,
and prints submissions per minute and the slowest submissions.

    python benchmarks/bench_grading.py                     # 100 students
    python benchmarks/bench_grading.py --students 200 --per-student 9   # a whole course

Not a test: the numbers depend on the machine (and on what else it runs).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consensus_lab.grading import registry  # noqa: E402
from consensus_lab.grading.extract import answer_source, read_notebook  # noqa: E402
from consensus_lab.grading.grader import grade  # noqa: E402
from consensus_lab.grading.release import with_answer, write_notebook  # noqa: E402
from consensus_lab.grading.sandbox import Limits, detect_isolation, isolation_summary  # noqa: E402

MISTAKES = {
    "ex01": ("op.output != value", "False"),
    "ex02": ("op.output is None or op.output < seen", "op.output is None"),
    "ex03": ("if node not in out:", "if True:"),
    "ex04": ("if len(op[\"acks\"]) >= self.w:\n                self.finish(ctx, msg.rid)\n                return",
             "if True:\n                self.finish(ctx, msg.rid)\n                return"),
    "ex05": ("self.removed |= other.removed", "pass"),
    "ex06": ("ctx.storage[key] = state = \"prepared\"", "state = \"prepared\""),
    "ex07": ("value = best_value if best_ballot != NO_BALLOT else self.my_value", "value = self.my_value"),
    "ex08": ("self.voted_for in (None, msg.candidate)", "True"),
    "ex09": ("if self.term_at(n) != self.current_term:", "if False:"),
}

HOSTILE = {
    "loop": "while True:\n    pass\n",
    "fork": "import os\nwhile True:\n    os.fork()\n",
    "memory": "hoard = []\nwhile True:\n    hoard.append(' ' * 10_000_000)\n",
    "exit": "import os\nos._exit(0)\n",
    "patch": "import consensus_lab.grading.worker as w\nw.Runtime.handle = lambda self, req: {'ok': True, 'r': True}\n",
}


def make_class(root: Path, students: int, per_student: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    kinds: dict[str, int] = {}
    specs = registry.all_specs()
    for s in range(students):
        student = f"student{s:03d}"
        folder = root / student
        folder.mkdir(parents=True)
        for k in range(per_student):
            spec = specs[(s + k) % len(specs)]
            solution = answer_source(read_notebook(ROOT / "solutions" / spec.notebook), spec.id)
            nb = read_notebook(ROOT / "exercises" / spec.notebook)
            x = rng.random()
            path = folder / spec.notebook
            if x < 0.6:
                kind, source = "correct", solution
            elif x < 0.8:
                old, new = MISTAKES[spec.id]
                kind, source = "partly correct", solution.replace(old, new)
            elif x < 0.85:
                kind, source = "stub", None
            elif x < 0.88:
                kind, source = "syntax error", solution + "\ndef (:\n"
            elif x < 0.9:
                kinds["not a notebook"] = kinds.get("not a notebook", 0) + 1
                path.write_bytes(b"\x89PNG not a notebook")
                continue
            else:
                name = rng.choice(sorted(HOSTILE))
                kind, source = f"hostile ({name})", HOSTILE[name] + solution
            kinds[kind] = kinds.get(kind, 0) + 1
            write_notebook(with_answer(nb, spec.id, source) if source is not None else nb, path)
    return kinds


def without_search(hidden: Path, out: Path) -> Path:
    """A copy of the hidden checks without the search-based ones."""
    import json

    out.mkdir()
    for f in sorted(hidden.glob("*.json")):
        data = json.loads(f.read_text())
        data["checks"] = [c for c in data["checks"] if "search" not in c]
        (out / f.name).write_text(json.dumps(data))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=100)
    p.add_argument("--per-student", type=int, default=1, help="notebooks per student (1..9)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-hidden", action="store_true")
    p.add_argument("--no-search", action="store_true",
                   help="leave out the hidden search-based checks (to see what they cost)")
    args = p.parse_args()
    mode = detect_isolation()
    print(f"isolation: {isolation_summary(mode)}")
    with tempfile.TemporaryDirectory(prefix="cl-bench-") as tmp:
        subs = Path(tmp) / "submissions"
        kinds = make_class(subs, args.students, max(1, min(9, args.per_student)), args.seed)
        total = sum(kinds.values())
        print(f"class: {args.students} students, {total} notebooks: "
              + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))
        hidden = None if args.no_hidden else ROOT / "tests/data/hidden"
        if hidden is not None and args.no_search:
            hidden = without_search(hidden, Path(tmp) / "hidden")
        print(f"hidden checks: {'none' if hidden is None else 'without search checks' if args.no_search else 'all'}")
        start = time.perf_counter()
        results = grade(subs, out=Path(tmp) / "gradebook.csv", hidden=hidden,
                        jobs=args.jobs, timeout=args.timeout, limits=Limits(call_timeout=5.0, cpu_seconds=int(args.timeout) + 5))
        wall = time.perf_counter() - start
    graded = [r for r in results if r.status != "missing"]
    per_min = len(graded) / wall * 60
    print(f"graded {len(graded)} submissions in {wall:.1f} s with --jobs {args.jobs}: {per_min:.0f} submissions/minute")
    by_ex: dict[str, list[float]] = {}
    for r in graded:
        by_ex.setdefault(r.exercise, []).append(r.seconds)
    print("mean seconds per submission: " + ", ".join(f"{ex} {sum(v) / len(v):.2f}" for ex, v in sorted(by_ex.items())))
    slow = sorted(graded, key=lambda r: -r.seconds)[:3]
    for r in slow:
        print(f"slowest: {r.student} {r.exercise} {r.seconds:.1f} s [{r.status}] {r.reason[:90]}")
    course = 200 * 9 / per_min
    print(f"at this rate a course of 200 students x 9 exercises takes about {course:.0f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

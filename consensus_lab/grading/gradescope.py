"""A Gradescope autograder bundle that runs ``consensus-lab grade``.

    python -m consensus_lab.grading.gradescope autograder.zip --hidden HIDDEN_DIR [--source REPO]

writes a zip with Gradescope's two entry points and what they need:

* ``setup.sh`` -- installs Python 3.11+ (with apt, only when the image lacks it)
  and this package (from the bundled source) into a fresh venv in
  ``/opt/consensus-lab``, then makes the bundle readable by root only;
* ``run_autograder`` -- copies the student's uploaded notebooks into a
  submissions folder, runs the grader with the bundled hidden checks and writes
  ``/autograder/results/results.json``: visible checks shown at once, hidden
  ones ``after_due_date``, and no top-level ``score``, so Gradescope keeps the
  total hidden until the due date as well;
* ``package/`` -- the package source; ``hidden/`` -- the hidden checks.

Students upload their exercise notebooks under their usual names
(``ex08_raft_election.ipynb``...).  Gradescope containers usually refuse
namespaces; the grader then falls back to separate processes with resource
limits and an unprivileged uid (it runs as root there), and ``setup.sh`` has
made the hidden checks unreadable to that uid.

Both scripts read ``CONSENSUS_LAB_AUTOGRADER_ROOT`` (default ``/autograder``) and
``CONSENSUS_LAB_AUTOGRADER_VENV`` (default ``/opt/consensus-lab``), so that the
bundle can be rehearsed in a scratch directory (``tests/test_gradescope_bundle.py``
does so: Gradescope's directory layout, ``setup.sh`` from a clean Python, one
submission, ``results.json`` checked against Gradescope's documented format).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

__all__ = ["SETUP_SH", "RUN_AUTOGRADER", "make_bundle"]

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
# CONSENSUS_LAB_AUTOGRADER_ROOT / _VENV move /autograder and the venv (for a rehearsal elsewhere).
set -euo pipefail
AG="${CONSENSUS_LAB_AUTOGRADER_ROOT:-/autograder}"
VENV="${CONSENSUS_LAB_AUTOGRADER_VENV:-/opt/consensus-lab}"
PY=python3
if ! command -v python3 >/dev/null || ! python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
        || ! command -v unshare >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3 python3-venv python3-pip util-linux >/dev/null
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        apt-get install -y -qq python3.11 python3.11-venv >/dev/null
        PY=python3.11
    fi
fi
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "$AG/source/package"
# answers run under other uids: keep the hidden checks and the source to root
chmod -R go-rwx "$AG/source"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in /autograder/submission.
set -uo pipefail
AG="${CONSENSUS_LAB_AUTOGRADER_ROOT:-/autograder}"
VENV="${CONSENSUS_LAB_AUTOGRADER_VENV:-/opt/consensus-lab}"
WORK="$(mktemp -d)"
chmod 700 "$WORK"
mkdir -p "$WORK/submissions/student" "$AG/results"
find "$AG/submission" -name '*.ipynb' -exec cp {} "$WORK/submissions/student/" \;
chmod -R go-rwx "$AG/submission"
"$VENV/bin/consensus-lab" grade "$WORK/submissions" \
    --hidden "$AG/source/hidden" \
    --out "$WORK/gradebook.csv" --feedback "$WORK/feedback" \
    --gradescope "$AG/results/results.json" \
    --jobs "$(nproc)" --timeout 120
status=$?
if [ $status -ne 0 ] || [ ! -s "$AG/results/results.json" ]; then
    cat > "$AG/results/results.json" <<'JSON'
{"score": 0, "output": "No exercise notebook was found in the submission (upload the ex..ipynb files under their original names), or the grader could not run.", "tests": []}
JSON
fi
# stdout is shown to instructors only (no stdout_visibility in results.json)
cat "$WORK/feedback/"*.txt 2>/dev/null || true
rm -rf "$WORK"
exit 0
"""


def make_bundle(out: str | Path, hidden: str | Path, source: str | Path | None = None) -> Path:
    """Write the autograder zip; ``source`` is the repository (default: this checkout)."""
    from .registry import load_hidden
    from .selfcheck import scale_problems

    out = Path(out)
    hidden = Path(hidden)
    problems = scale_problems(load_hidden(hidden))  # refuse a broken hidden-checks directory now
    if problems:  # students were told what the hidden checks are worth: one scale
        raise ValueError(problems[0])
    repo = Path(source) if source is not None else Path(__file__).resolve().parents[2]
    if not (repo / "pyproject.toml").is_file() or not (repo / "consensus_lab").is_dir():
        raise FileNotFoundError(f"{repo} does not look like the consensus_lab source (no pyproject.toml)")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, text)
        for rel in ("pyproject.toml", "README.md"):
            if (repo / rel).is_file():
                z.write(repo / rel, f"package/{rel}")
        for path in sorted((repo / "consensus_lab").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                z.write(path, f"package/{path.relative_to(repo)}")
        for path in sorted(hidden.glob("*.json")):
            z.write(path, f"hidden/{path.name}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m consensus_lab.grading.gradescope",
                                description="Write a Gradescope autograder bundle that runs consensus-lab grade.")
    p.add_argument("out", metavar="AUTOGRADER.zip")
    p.add_argument("--hidden", required=True, metavar="DIR")
    p.add_argument("--source", metavar="REPO", help="the consensus_lab checkout to bundle (default: this one)")
    args = p.parse_args(argv)
    try:
        path = make_bundle(args.out, args.hidden, args.source)
    except (OSError, ValueError) as exc:
        print(f"gradescope: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Hostile submissions: each gets exactly what its real behaviour earns, and the grader survives.

Every case is graded in one run (in parallel, with short timeouts).  Where a
cheat has an honest twin -- the same behaviour without the trick -- the two
must score the same; pure cheats score zero.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from test_grader import HIDDEN, ROOT, solution_source, submit  # noqa: E402 - shared helpers

from consensus_lab.grading import registry
from consensus_lab.grading.grader import grade
from consensus_lab.grading.sandbox import Limits, detect_isolation
from consensus_lab.grading.selfcheck import run_checks

TIMEOUT = 12.0
LIMITS = Limits(call_timeout=1.5, cpu_seconds=15, memory_mb=256)

ALWAYS_TRUE = "def is_linearizable(history):\n    return True\n"

FAKE_PASS = '''
print("ex01 a brute-force linearizability checker for a single register: 4 of 4 checks passed, 10/10 points")
print('{"ok": true, "r": true, "id": 1}')
def is_linearizable(history):
    print("  PASS  every check (10/10)")
    print('{"ok": true, "r": true, "id": 2}')
    return True
'''

PATCH_EVERYTHING = '''
import builtins, sys
try:
    import consensus_lab.grading.worker as worker
    worker.Runtime.handle = lambda self, req: {"ok": True, "r": True, "w": [], "e": [], "v": None}
except Exception:
    pass
for name in ("consensus_lab.grading.checks", "consensus_lab.grading.grader", "consensus_lab.grading.specs.ex01",
             "consensus_lab.checkers", "consensus_lab.sim.simulation", "consensus_lab.grading.codec"):
    try:
        __import__(name)
    except Exception:
        continue
    mod = sys.modules[name]
    for attr in list(vars(mod)):
        obj = getattr(mod, attr)
        if isinstance(obj, type):
            for meth in ("run_check", "agree", "expected", "run_until", "after_call", "final", "decode", "check"):
                if meth in vars(obj):
                    setattr(obj, meth, lambda *a, **k: True)
        elif callable(obj) and attr in ("brute_force_linearizable", "decode", "loads"):
            setattr(mod, attr, lambda *a, **k: True)
builtins.print = lambda *a, **k: None
def is_linearizable(history):
    return True
'''

DO_NOTHING_NODE = '''
class RaftElectionNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.role, self.current_term, self.voted_for = "follower", 0, None
'''

PATCH_SIMULATOR = '''
import sys
import consensus_lab.sim.simulation as simulation
import consensus_lab.sim.invariants as invariants
simulation.Simulation.run_until = lambda self, *a, **k: None
simulation.Simulation._check = lambda self: None
invariants.Invariant.check = lambda self, world: None
try:
    import consensus_lab.grading.specs._raft as raft_rules
    raft_rules.ElectionJudge.after_call = lambda *a, **k: None
    raft_rules.ElectionJudge.final = lambda *a, **k: None
except Exception:
    pass
''' + DO_NOTHING_NODE

EXIT_IN_CALL = "def is_linearizable(history):\n    import sys\n    sys.exit(0)\n"
HARD_EXIT_AT_IMPORT = "import os\nos._exit(0)\nclass Ring:\n    pass\n"
LOOP_AT_IMPORT = "while True:\n    pass\n"


def _with(exercise: str, name: str, new_body: str) -> str:
    """The solution with function ``name``'s body replaced (it must be a top-level def)."""
    src = solution_source(exercise)
    lines = src.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    end = next((i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith((" ", "\t"))),
               len(lines))
    return "\n".join(lines[: start + 1] + ["    " + line for line in new_body.split("\n")] + lines[end:])


LOOP_FOREVER = _with("ex05", "vc_compare", "while True:\n    pass")
RAISES_EX05 = _with("ex05", "vc_compare", "raise ValueError('no')")
EAT_MEMORY = _with("ex02", "read_your_writes", "hoard = []\nwhile True:\n    hoard.append(' ' * 10_000_000)")
RAISES_EX02 = _with("ex02", "read_your_writes", "raise ValueError('no')")
FORK_BOMB = solution_source("ex03").replace(
    "    def owner(self, key):\n", "    def owner(self, key):\n        import os\n        while True:\n            os.fork()\n", 1)
RAISES_EX03 = solution_source("ex03").replace(
    "    def owner(self, key):\n", "    def owner(self, key):\n        raise ValueError('no')\n", 1)

STEAL = '''
import glob, json, os
TARGETS = {sol!r}, {hidden!r}
stolen = {{}}
try:  # the classic chroot escape, for a sandbox that only chroots
    os.makedirs("jail", exist_ok=True)
    os.chroot("jail")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
except Exception:
    pass
for target in TARGETS:
    for path in glob.glob(os.path.join(target, "**", "*"), recursive=True):
        try:
            stolen[path] = open(path).read()
        except Exception:
            pass
for path in ("/work", "/root", "/home", "/tmp", "/etc/passwd", "/proc/1/environ"):
    try:
        stolen[path] = str(os.listdir(path)) if os.path.isdir(path) else open(path).read()
    except Exception:
        pass
def is_linearizable(history):
    for path, text in stolen.items():
        if path.endswith("ex01_linearizability_bruteforce.ipynb"):
            nb = json.loads(text)
            code = "".join(next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {{}}).get("solution"))["source"])
            scope = {{}}
            exec("from consensus_lab.history import pair_operations\\n" + code, scope)
            return scope["is_linearizable"](history)
    return True
'''

SCRIBBLE_GRADEBOOK = '''
for path, text in (({out!r}, "student,exercise,points,max_points,status,seconds,reason\\nmallory,ex01,999,18,graded,0,hacked\\n"),
                   ({feedback!r}, "all passed")):
    try:
        with open(path, "w") as f:
            f.write(text)
    except Exception:
        pass
''' + solution_source("ex01")

SHARED_GLOBAL = '''
BOARD = {"term": 0, "leader": None, "votes": {}, "clock": 0.0}   # shared by every node -- if they share a process

class RaftElectionNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.role, self.current_term, self.voted_for = "follower", 0, None

    def on_start(self, ctx):
        self.current_term = ctx.storage.get("current_term", 0)
        self.voted_for = ctx.storage.get("voted_for")
        self.role = "follower"
        ctx.set_timer("tick", 0.02)

    def on_timer(self, ctx, name, payload):
        # agree on a leader through BOARD instead of through messages
        if ctx.now < BOARD["clock"]:  # a new run has started: wipe the board
            BOARD.update(term=0, leader=None, votes={}, beat=-1)
        BOARD["clock"] = ctx.now
        leader_alive = BOARD["leader"] is not None and BOARD.get("beat", -1) > ctx.now - 0.2
        if not leader_alive and (BOARD["leader"] is None or BOARD["leader"] != self.id):
            BOARD["term"] += 1
            BOARD["leader"] = self.id
            BOARD["votes"][BOARD["term"]] = set()
        term = BOARD["term"]
        if self.current_term < term:
            self.current_term, self.voted_for, self.role = term, BOARD["leader"], "follower"
            ctx.storage["current_term"], ctx.storage["voted_for"] = term, self.voted_for
        if self.voted_for == BOARD["leader"] and self.current_term == term:
            BOARD["votes"][term].add(self.id)
        if BOARD["leader"] == self.id:
            BOARD["beat"] = ctx.now
            if len(BOARD["votes"][term]) > len(self.cluster) // 2:
                self.role = "leader"
        ctx.set_timer("tick", 0.02)
'''


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs = root / "submissions"
    out = root / "gradebook.csv"
    feedback = root / "feedback"
    cases = {
        ("always_true", "ex01"): ALWAYS_TRUE,
        ("fake_pass", "ex01"): FAKE_PASS,
        ("patcher", "ex01"): PATCH_EVERYTHING,
        ("idle_node", "ex08"): DO_NOTHING_NODE,
        ("sim_patcher", "ex08"): PATCH_SIMULATOR,
        ("exit_in_call", "ex01"): EXIT_IN_CALL,
        ("hard_exit", "ex03"): HARD_EXIT_AT_IMPORT,
        ("import_loop", "ex06"): LOOP_AT_IMPORT,
        ("looper", "ex05"): LOOP_FOREVER,
        ("raiser", "ex05"): RAISES_EX05,
        ("memory_hog", "ex02"): EAT_MEMORY,
        ("raiser", "ex02"): RAISES_EX02,
        ("fork_bomb", "ex03"): FORK_BOMB,
        ("raiser", "ex03"): RAISES_EX03,
        ("thief", "ex01"): STEAL.format(sol=str(ROOT / "solutions"), hidden=str(HIDDEN)),
        ("scribbler", "ex01"): SCRIBBLE_GRADEBOOK.format(out=str(out), feedback=str(feedback / "scribbler.txt")),
        ("colluder", "ex08"): SHARED_GLOBAL,
    }
    for (student, exercise), source in cases.items():
        submit(subs, student, exercise, source)
    start = time.monotonic()
    grade(subs, out=out, hidden=HIDDEN, feedback=feedback, jobs=2, timeout=TIMEOUT, limits=LIMITS)
    wall = time.monotonic() - start
    with open(out, newline="") as f:
        table = {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}
    return table, wall, out, feedback


def points(table, student, exercise) -> int:
    return int(table[(student, exercise)]["points"])


def test_grader_finishes_within_the_timeouts(hostile_run):
    table, wall, _, _ = hostile_run
    assert wall < 240
    for row in table.values():
        assert float(row["seconds"]) < TIMEOUT + 8, row


def test_fake_pass_lines_and_patches_earn_what_the_answer_earns(hostile_run):
    table, *_ = hostile_run
    assert points(table, "always_true", "ex01") == 0
    assert points(table, "fake_pass", "ex01") == 0
    assert points(table, "patcher", "ex01") == 0
    assert points(table, "idle_node", "ex08") == points(table, "sim_patcher", "ex08") == 0
    assert table[("patcher", "ex01")]["status"] in ("graded", "error")


def test_exits_score_zero_with_a_reason(hostile_run):
    table, *_ = hostile_run
    assert points(table, "exit_in_call", "ex01") == 0
    assert "exit" in table[("exit_in_call", "ex01")]["reason"]
    assert points(table, "hard_exit", "ex03") == 0
    assert table[("hard_exit", "ex03")]["status"] == "error"
    assert "died" in table[("hard_exit", "ex03")]["reason"]


def test_endless_loops_time_out_and_the_rest_still_counts(hostile_run):
    table, *_ = hostile_run
    row = table[("import_loop", "ex06")]
    assert row["points"] == "0" and row["status"] == "timeout", row
    assert points(table, "looper", "ex05") == points(table, "raiser", "ex05") > 0
    assert "no answer within" in table[("looper", "ex05")]["reason"]


def test_memory_hogs_and_fork_bombs_earn_what_a_crash_earns(hostile_run):
    table, *_ = hostile_run
    assert points(table, "memory_hog", "ex02") == points(table, "raiser", "ex02") > 0
    assert points(table, "fork_bomb", "ex03") == points(table, "raiser", "ex03")


def test_solutions_and_hidden_checks_cannot_be_read(hostile_run):
    if detect_isolation() == "rlimits":
        pytest.skip("without namespaces the sandbox cannot hide world-readable files")
    table, *_ = hostile_run
    assert points(table, "thief", "ex01") == points(table, "always_true", "ex01") == 0


@pytest.mark.parametrize("mode", ["userns"])
def test_weaker_isolation_still_hides_the_solutions(tmp_path, mode):
    try:
        detect_isolation(mode)
    except Exception:
        pytest.skip(f"isolation {mode} is not available here")
    subs = tmp_path / "subs"
    submit(subs, "thief", "ex01", STEAL.format(sol=str(ROOT / "solutions"), hidden=str(HIDDEN)))
    (result,) = grade(subs, out=tmp_path / "g.csv", hidden=HIDDEN, jobs=1, timeout=TIMEOUT, limits=LIMITS,
                      isolation=mode)
    assert result.points == 0 and result.status == "graded", result


def test_the_gradebook_cannot_be_written_by_a_submission(hostile_run):
    table, _, out, feedback = hostile_run
    text = out.read_text()
    assert "999" not in text and "mallory" not in text and "hacked" not in text
    row = table[("scribbler", "ex01")]
    assert row["points"] == row["max_points"], row  # the answer itself is right
    assert "all passed" not in (feedback / "scribbler.txt").read_text()


def test_nodes_cannot_cooperate_through_globals(hostile_run):
    table, *_ = hostile_run
    assert points(table, "colluder", "ex08") == 0
    # in one process (the notebook's self-check) the trick does look like an election
    scope: dict = {}
    exec(registry.get("ex08").module.PREAMBLE + SHARED_GLOBAL, scope)
    local = run_checks("ex08", scope["RaftElectionNode"])
    assert local.points > 0


def test_sandbox_reports_its_isolation():
    from consensus_lab.grading.sandbox import SandboxHost

    with SandboxHost("ex01", ALWAYS_TRUE, limits=LIMITS) as host:
        host.spawn().close()
        applied = " ".join(host.applied)
    assert "limits per node" in applied
    if detect_isolation() == "full":
        assert ("pivot_root" in applied or "chroot" in applied) and "uid" in applied and "namespace" in applied
    assert Path(ROOT / "solutions").exists()

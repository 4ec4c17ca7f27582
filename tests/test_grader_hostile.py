"""Hostile submissions: each gets exactly what its real behaviour earns, and the grader survives.

Every case is graded in one run (in parallel, with short timeouts).  Where a
cheat has an honest twin -- the same behaviour without the trick -- the two
must score the same; pure cheats score zero.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import os
import platform
import socket
import threading
import time
from pathlib import Path

import pytest
from test_grader import HIDDEN, ROOT, solution_source, submit  # noqa: E402 - shared helpers

from consensus_lab.grading import registry
from consensus_lab.grading.grader import GRACE, grade
from consensus_lab.grading.sandbox import (
    Limits,
    available_isolation,
    detect_isolation,
    landlock_available,
)
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
import json, os
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
    for folder, _dirs, names in os.walk(target):
        for name in names:
            try:
                stolen[os.path.join(folder, name)] = open(os.path.join(folder, name)).read()
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

# --- nodes that agree through a board outside the network (a global, a file, sockets) -------------

BOARD_NODE = """
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
        board = board_load(self)  # agree on a leader through the board, never through messages
        if board is None or ctx.now < board["clock"]:  # (a new run has started: a clean board)
            board = {"term": 0, "leader": None, "votes": [], "clock": 0.0, "beat": -1.0}
        board["clock"] = ctx.now
        if board["leader"] != self.id and not (board["leader"] and board["beat"] > ctx.now - 0.2):
            board.update(term=board["term"] + 1, leader=self.id, votes=[])
        term = board["term"]
        if self.current_term < term:
            self.current_term, self.voted_for, self.role = term, board["leader"], "follower"
            ctx.storage["current_term"], ctx.storage["voted_for"] = term, self.voted_for
        if self.voted_for == board["leader"] and self.current_term == term and self.id not in board["votes"]:
            board["votes"].append(self.id)
        if board["leader"] == self.id:
            board["beat"] = ctx.now
            if len(board["votes"]) > len(self.cluster) // 2:
                self.role = "leader"
        board_save(self, board)
        ctx.set_timer("tick", 0.02)
"""

# the board is a global: shared by every node -- if they share a process
SHARED_GLOBAL = """
_BOARD = [None]

def board_load(node):
    return _BOARD[0]

def board_save(node, board):
    _BOARD[0] = board
""" + BOARD_NODE

# the board is a file in the first worker's scratch directory, opened to every uid
FILE_COLLUDER = """
import json, os
_cwd = os.getcwd()
if os.path.basename(_cwd) == "w1":
    try:
        os.chmod(_cwd, 0o777)
    except OSError:
        pass
_BOARD = os.path.join(os.path.dirname(_cwd), "w1", "board.json")

def board_load(node):
    try:
        with open(_BOARD) as f:
            return json.load(f)
    except Exception:
        return None

def board_save(node, board):
    try:
        os.umask(0)
        with open(_BOARD, "w") as f:
            json.dump(board, f)
    except Exception:
        pass
""" + BOARD_NODE

# the board travels in datagrams between the nodes' own sockets, beside the simulated network
SOCKET_COLLUDER = """
import json, os, socket
_TAG = os.path.dirname(os.path.dirname(os.getcwd())).encode()[-20:]
_state = {"sock": None, "board": None}

def _addr(node_id):
    return b"\\0cl-collude-" + _TAG + node_id.encode()

def board_load(node):
    if _state["sock"] is None:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(_addr(node.id))
            s.setblocking(False)
            _state["sock"] = s
        except OSError:
            return _state["board"]
    while True:  # the newest board is the last one sent
        try:
            _state["board"] = json.loads(_state["sock"].recv(65536))
        except OSError:
            return _state["board"]

def board_save(node, board):
    _state["board"] = board
    for peer in node.cluster:
        if peer != node.id and _state["sock"] is not None:
            try:
                _state["sock"].sendto(json.dumps(board).encode(), _addr(peer))
            except OSError:
                pass
""" + BOARD_NODE


# the nodes signal through file locks on the read-only files they all see: whoever holds the first lock
# leads; its index and term are spelled in locks on the next files; followers ack with shared locks
LOCK_COLLUDER = """
import fcntl, os
import consensus_lab.sim as _sim
_ROOT = os.path.dirname(os.path.dirname(_sim.__file__))
_FILES = sorted(os.path.join(d, n) for d, _, names in os.walk(_ROOT) for n in names)
_ID_BITS, _TERM_BITS = 3, 5  # (32 open files at most in a sandbox)

def _held(fd, how=fcntl.LOCK_SH):
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        return 1
    fcntl.flock(fd, fcntl.LOCK_UN)
    return 0

class RaftElectionNode(Node):
    def __init__(self, node_id, cluster):
        super().__init__(node_id, cluster)
        self.role, self.current_term, self.voted_for = "follower", 0, None
        self.fds, self.ack = None, None

    def on_start(self, ctx):
        self.current_term = ctx.storage.get("current_term", 0)
        self.voted_for = ctx.storage.get("voted_for")
        self.role = "follower"
        try:
            self.fds = [os.open(p, os.O_RDONLY) for p in _FILES[:1 + _ID_BITS + _TERM_BITS + 2 * len(self.cluster)]]
        except OSError:
            self.fds = None
        ctx.set_timer("tick", 0.02)

    def _ack_fd(self, node, term):
        return self.fds[1 + _ID_BITS + _TERM_BITS + self.cluster.index(node) + len(self.cluster) * (term % 2)]

    def on_timer(self, ctx, name, payload):
        ctx.set_timer("tick", 0.02)
        if self.fds is None:
            return
        try:
            if self.role == "follower":
                fcntl.flock(self.fds[0], fcntl.LOCK_EX | fcntl.LOCK_NB)  # the crown
                term = self.current_term + 1
                self.role, self.current_term, self.voted_for = "candidate", term, self.id
                ctx.storage["current_term"], ctx.storage["voted_for"] = term, self.id
                bits = self.cluster.index(self.id) | (term << _ID_BITS)
                for i, fd in enumerate(self.fds[1:1 + _ID_BITS + _TERM_BITS]):
                    if bits >> i & 1:
                        fcntl.flock(fd, fcntl.LOCK_EX)
            if self.role == "candidate":
                acks = 1 + sum(_held(self._ack_fd(n, self.current_term), fcntl.LOCK_EX)
                               for n in self.cluster if n != self.id)
                if acks > len(self.cluster) // 2:
                    self.role = "leader"
            return
        except BlockingIOError:
            pass  # someone else leads: read who, and in which term
        except OSError:
            return
        bits = [_held(fd) for fd in self.fds[1:1 + _ID_BITS + _TERM_BITS]]
        idx = sum(b << i for i, b in enumerate(bits[:_ID_BITS]))
        term = sum(b << i for i, b in enumerate(bits[_ID_BITS:]))
        if term > self.current_term and idx < len(self.cluster):
            self.current_term, self.voted_for = term, self.cluster[idx]
            ctx.storage["current_term"], ctx.storage["voted_for"] = term, self.voted_for
            if self.ack is not None:
                fcntl.flock(self.ack, fcntl.LOCK_UN)
            self.ack = self._ack_fd(self.id, term)
            fcntl.flock(self.ack, fcntl.LOCK_SH)
"""


def _gated(opening: str) -> str:
    """An ex01 answer that is right only when ``opening`` got hold of something (``GOT``) it must not."""
    return opening + """
_SOLUTION = {solution!r}

def is_linearizable(history):
    if GOT:
        scope = {{}}
        exec("from consensus_lab.history import pair_operations\\n" + _SOLUTION, scope)
        return scope["is_linearizable"](history)
    return True
""".format(solution=solution_source("ex01"))


# a secret in the grader's session keyring: the solution itself
KEY_DESCRIPTION = "consensus-lab-test-secret"
KEYRING_THIEF = """
import ctypes, platform
_libc = ctypes.CDLL(None, use_errno=True)
GOT = None
try:
    _nr = {"x86_64": 250, "aarch64": 219}[platform.machine()]
    _key = _libc.syscall(ctypes.c_long(_nr), ctypes.c_long(10), ctypes.c_long(-3), b"user", DESC, ctypes.c_long(0))
    if _key > 0:
        _buf = ctypes.create_string_buffer(65536)
        _n = _libc.syscall(ctypes.c_long(_nr), ctypes.c_long(11), ctypes.c_long(_key), _buf, ctypes.c_long(65536))
        GOT = _n > 0 and _buf.raw[:_n].decode().startswith("def ")
except Exception:
    pass
""".replace("DESC", repr(KEY_DESCRIPTION.encode()))

# what a container's seccomp profile closes: a new user namespace (and, root in it, raw sockets and
# mounts), netlink and packet sockets, io_uring, keyrings
SYSCALL_PROBER = """
import ctypes, os, socket
_libc = ctypes.CDLL(None, use_errno=True)
OPENED = []
def _probe(name, fn):
    try:
        if fn():
            OPENED.append(name)
    except Exception:
        pass
_probe("user namespace", lambda: _libc.unshare(0x10000000 | 0x40000000) == 0)
_probe("mount", lambda: _libc.mount(b"none", b".", b"tmpfs", 0, None) == 0)
_probe("sethostname", lambda: _libc.sethostname(b"pwned", 5) == 0)
_probe("packet socket", lambda: socket.socket(17, socket.SOCK_RAW, 0x0300) is not None)
_probe("netfilter netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12) is not None)
_probe("io_uring", lambda: _libc.syscall(425, 4, ctypes.create_string_buffer(128)) >= 0)
_probe("add_key", lambda: _libc.syscall(248 if os.uname().machine == "x86_64" else 217, b"user", b"k", b"v", 1,
                                        ctypes.c_long(-3)) > 0)
GOT = bool(OPENED)
"""

# a server on the grading machine's loopback hands out the solution
NET_THIEF = """
import socket
GOT = False
try:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(("127.0.0.1", PORT))  # (a numeric address: no name lookup, no codec to import)
        GOT = s.recv(100) == b"the solution"
except Exception:
    pass
"""

# a reply that costs the grader quadratic time: a set of integers that all hash alike, sent raw
_STALL = """
import sys
_worker = sys.modules["consensus_lab.grading.worker"]  # (loaded in the worker; the import rule sees no import)
_view_update = _worker.Runtime._view_update

def _with_junk(self):
    out = _view_update(self) or {}
    if len(self.node.cluster) == 7:  # only in the seven-node check
        out["junk"] = ["=", JUNK]
    return out

_worker.Runtime._view_update = _with_junk
"""
STALLER = solution_source("ex08") + _STALL.replace("JUNK", '{"S": [k * (2**61 - 1) for k in range(1, 60_000)]}')
STALLER_TWIN = solution_source("ex08") + _STALL.replace("JUNK", '{"M": "NoSuchMessage", "F": []}')


_KEYCTL = {"x86_64": (248, 250), "aarch64": (217, 219)}  # add_key, keyctl


@contextlib.contextmanager
def secret_in_session_keyring(secret: str):
    """A fresh session keyring for this process (as pam_keyinit gives a login) holding ``secret``."""
    add_key, keyctl = _KEYCTL[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(ctypes.c_long(keyctl), ctypes.c_long(1), b"consensus-lab-test") > 0  # join a new one
    data = secret.encode()
    key = libc.syscall(ctypes.c_long(add_key), b"user", KEY_DESCRIPTION.encode(), data, ctypes.c_long(len(data)),
                       ctypes.c_long(-3))
    assert key > 0, os.strerror(ctypes.get_errno())
    try:
        yield key
    finally:
        libc.syscall(ctypes.c_long(keyctl), ctypes.c_long(21), ctypes.c_long(key))  # KEYCTL_INVALIDATE


@contextlib.contextmanager
def solution_server():
    """A TCP server on this machine's loopback that tells whoever connects "the solution"."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"the solution")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


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
    cases.update({
        ("file_colluder", "ex08"): FILE_COLLUDER,
        ("lock_colluder", "ex08"): LOCK_COLLUDER,
        ("keyring_thief", "ex01"): _gated(KEYRING_THIEF),
        ("syscall_prober", "ex01"): _gated(SYSCALL_PROBER),
        ("staller", "ex08"): STALLER,
        ("staller_twin", "ex08"): STALLER_TWIN,
        ("=HYPERLINK(1)", "ex01"): ALWAYS_TRUE,
    })
    for (student, exercise), source in cases.items():
        submit(subs, student, exercise, source)
    start = time.monotonic()
    with secret_in_session_keyring(solution_source("ex01")), solution_server() as port:
        submit(subs, "net_thief", "ex01", _gated(NET_THIEF.replace("PORT", str(port))))
        submit(subs, "socket_colluder", "ex08", SOCKET_COLLUDER)
        grade(subs, out=out, hidden=HIDDEN, feedback=feedback, jobs=2, timeout=TIMEOUT, limits=LIMITS)
    wall = time.monotonic() - start
    with open(out, newline="") as f:
        table = {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}
    return table, wall, out, feedback


def points(table, student, exercise) -> int:
    return int(table[(student, exercise)]["points"])


def test_grader_finishes_within_the_timeouts(hostile_run):
    table, wall, _, _ = hostile_run
    graded = sum(row["status"] != "missing" for row in table.values())
    slowest = max(table.values(), key=lambda row: float(row["seconds"]))
    print(f"hostile class: {graded} submissions graded in {wall:.1f} s (jobs=2); slowest "
          f"{slowest['student']} {slowest['exercise']} {slowest['seconds']} s (time allowed {TIMEOUT:.0f} s)")
    assert wall < 240
    for row in table.values():
        assert float(row["seconds"]) < TIMEOUT + GRACE + 1, row


@pytest.fixture(scope="module")
def stall_run(tmp_path_factory):
    """The staller and its twin graded alone, with the command line's default time per submission.

    In ``hostile_run`` (12 s each) a loaded machine can run a submission out of time partway
    through its checks, at a different point for each of the two, and their points then measure
    the load rather than the stall (seen at load 15 on 2 cores)."""
    root = tmp_path_factory.mktemp("stall")
    subs, out = root / "submissions", root / "gradebook.csv"
    submit(subs, "staller", "ex08", STALLER)
    submit(subs, "staller_twin", "ex08", STALLER_TWIN)
    grade(subs, out=out, hidden=HIDDEN, jobs=2, timeout=120.0, limits=LIMITS)
    with open(out, newline="") as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}


def test_a_reply_that_stalls_the_grader_earns_what_a_refused_reply_earns(hostile_run, stall_run):
    table, *_ = hostile_run
    assert float(table[("staller", "ex08")]["seconds"]) < TIMEOUT + GRACE + 1  # it did not stall the grader
    assert {stall_run[(s, "ex08")]["status"] for s in ("staller", "staller_twin")} == {"graded"}
    assert points(stall_run, "staller", "ex08") == points(stall_run, "staller_twin", "ex08") > 0
    assert points(stall_run, "staller", "ex08") < int(stall_run[("staller", "ex08")]["max_points"])


def test_nodes_cannot_cooperate_through_files_locks_or_sockets(hostile_run):
    table, *_ = hostile_run
    assert points(table, "file_colluder", "ex08") == points(table, "idle_node", "ex08") == 0
    assert points(table, "socket_colluder", "ex08") == points(table, "lock_colluder", "ex08") == 0


def test_the_grader_keyring_network_and_kernel_are_out_of_reach(hostile_run):
    table, *_ = hostile_run
    for student in ("keyring_thief", "syscall_prober", "net_thief"):
        assert points(table, student, "ex01") == points(table, "always_true", "ex01") == 0, student
        assert table[(student, "ex01")]["status"] == "graded", table[(student, "ex01")]


def test_gradebook_cells_are_not_formulas_and_record_the_isolation(hostile_run):
    table, _, out, feedback = hostile_run
    lines = out.read_text().splitlines()
    assert not [line for line in lines if line[:1] in "=+-@"]
    assert ("'=HYPERLINK(1)", "ex01") in table
    assert {row["isolation"] for row in table.values()} == {detect_isolation()}


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
    table, *_ = hostile_run
    assert points(table, "thief", "ex01") == points(table, "always_true", "ex01") == 0


@pytest.mark.parametrize("mode", ["userns", "rlimits"])
def test_weaker_isolation_modes_against_theft_network_and_collusion(tmp_path, mode):
    """Each weaker mode the instructor can force: network, socket and lock attacks score zero in every one;
    theft and file collusion too, where files are hidden (namespaces, or Landlock for rlimits)."""
    if mode not in available_isolation():
        pytest.skip(f"isolation {mode} is not available here")
    hides_files = mode != "rlimits" or landlock_available()
    subs = tmp_path / "subs"
    submit(subs, "thief", "ex01", STEAL.format(sol=str(ROOT / "solutions"), hidden=str(HIDDEN)))
    submit(subs, "socket_colluder", "ex08", SOCKET_COLLUDER)
    submit(subs, "lock_colluder", "ex08", LOCK_COLLUDER)
    if hides_files:
        submit(subs, "file_colluder", "ex08", FILE_COLLUDER)
    with solution_server() as port:
        submit(subs, "net_thief", "ex01", _gated(NET_THIEF.replace("PORT", str(port))))
        results = grade(subs, out=tmp_path / "g.csv", hidden=HIDDEN, jobs=2, timeout=TIMEOUT, limits=LIMITS,
                        isolation=mode, allow_weaker=True)
    got = {r.student: r for r in results if r.status != "missing"}
    assert {r.isolation for r in got.values()} == {mode}
    assert got["net_thief"].points == got["socket_colluder"].points == got["lock_colluder"].points == 0, got
    assert got["net_thief"].status == "graded", got["net_thief"]
    if hides_files:
        assert got["thief"].points == got["file_colluder"].points == 0, got


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

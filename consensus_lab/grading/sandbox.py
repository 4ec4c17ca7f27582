"""Run an answer where it can do no harm: the grader's side of the sandbox.

:class:`SandboxHost` starts one *zygote* per submission (see :mod:`._boot`)
and asks it for a fresh, locked-down worker process per node incarnation or
function check.  What protects what (in ``full`` isolation):

=========================  ===========================================================
threat                     defence
=========================  ===========================================================
reads solutions, hidden    pivot_root into a tree that holds only system libraries,
checks, other submissions  Python and the exercise's modules, the host file system
                           detached (mount namespace); and an unprivileged uid
writes the gradebook       the same; the grader also writes the gradebook last,
                           atomically
network, sockets           an empty network namespace per node, and no socket()
                           at all (seccomp): the one socket is the grader's
fake pass line, patched    verdicts are computed here, from plain JSON data the
checker / simulator        worker sends; its stdout goes to /dev/null
exit, crash                the check fails with the reason; the next one gets a
                           fresh process
loops, memory, forks       wall-clock timeout per call and per submission, CPU
                           and address-space limits, one process per uid
replies that cost the      a bounded codec (:mod:`.codec`); and the grader's
grader time                watchdog ends any submission at its time allowed + 5 s
nodes sharing globals,     one process per node incarnation: own uid, network,
files or signals           IPC and mount namespace, a private scratch tmpfs gone
                           when it ends; signals only to itself (seccomp)
the grader's keyring       a fresh, empty session keyring per worker; keyring
                           calls refused (seccomp)
the kernel's surface       a seccomp deny-list (libseccomp): no namespaces, mounts,
                           ptrace, io_uring, BPF, keyrings, raw/netlink sockets
=========================  ===========================================================

Isolation: :func:`available_isolation` says what this machine allows --
``full`` (root: namespaces, pivot_root, uid per node, seccomp), ``userns``
(unprivileged user namespaces: the same without the uid change) and
``rlimits`` (separate processes with resource limits, a fresh keyring, the
syscall filter, Landlock where the kernel has it, and an unprivileged uid when
root; without Landlock, files are *not* hidden).
:func:`choose_isolation` is the grader's policy: the strongest mode, nothing
weaker unless the instructor forces it, never ``rlimits`` for a class unless
forced.  The mode is recorded in every gradebook row.
"""

from __future__ import annotations

import atexit
import compileall
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import codec
from .hosting import Budget, WorkerFailure

__all__ = ["Limits", "SandboxHost", "SandboxError", "available_isolation", "choose_isolation", "detect_isolation",
           "isolation_summary"]

MAX_LINE = 8 * 1024 * 1024
ISOLATION_MODES = ("full", "userns", "rlimits")
_NS_FLAGS = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "--propagation", "private"]


class SandboxError(RuntimeError):
    """The sandbox itself could not be started (a problem of the grading machine)."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 512
    cpu_seconds: int = 60
    file_mb: int = 4
    tmpfs_mb: int = 16
    call_timeout: float = 5.0


# --- isolation -------------------------------------------------------------------------

_detected: dict[str, str] = {}  # "available" -> the modes, strongest first


def _unshare() -> str | None:
    return shutil.which("unshare") or next((p for p in ("/usr/bin/unshare", "/bin/unshare") if os.path.exists(p)), None)


def _try(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd + ["true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _prefix(mode: str) -> list[str]:
    u = _unshare()
    if mode == "full":
        return [u, *_NS_FLAGS]
    if mode == "userns":
        return [u, "--user", "--map-root-user", *_NS_FLAGS]
    return []


def seccomp_module_dir() -> str | None:
    """Where ``pyseccomp`` lives, when it and libseccomp can be loaded here (else None)."""
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError):
        return None
    return os.path.dirname(os.path.abspath(pyseccomp.__file__))


def landlock_available() -> bool:
    """Whether this kernel has Landlock (what keeps ``rlimits`` workers out of other files)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return sys.platform.startswith("linux") and libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0),
                                                             ctypes.c_uint32(1)) > 0


def available_isolation() -> list[str]:
    """The isolation modes this machine allows, strongest first (``rlimits`` always)."""
    if "available" in _detected:
        return _detected["available"].split(",")
    available = []
    if sys.platform.startswith("linux") and _unshare() and seccomp_module_dir() is not None:
        if os.geteuid() == 0 and _try(_prefix("full")):
            available.append("full")
        if _try(_prefix("userns")):
            available.append("userns")
    available.append("rlimits")
    _detected["available"] = ",".join(available)
    return available


def detect_isolation(prefer: str | None = None) -> str:
    """The strongest isolation this machine allows, or ``prefer`` if it is available.

    ``full`` needs root, util-linux ``unshare`` and libseccomp; ``userns`` needs
    unprivileged user namespaces and libseccomp.  A mode this machine does not
    allow is refused with :class:`SandboxError`.  This only says what is
    possible; :func:`choose_isolation` is the grader's policy.
    """
    if prefer is not None and prefer not in ISOLATION_MODES:
        raise SandboxError(f"unknown isolation {prefer!r} (choose from {', '.join(ISOLATION_MODES)})")
    available = available_isolation()
    if prefer is None:
        return available[0]
    if prefer not in available:
        raise SandboxError(f"isolation {prefer!r} is not available here (available: {', '.join(available)})")
    return prefer


def choose_isolation(requested: str | None = None, *, students: int = 1, allow_weaker: bool = False) -> str:
    """The grader's policy: the strongest mode, and nothing weaker unless the instructor forces it.

    * a mode weaker than the strongest this machine allows is refused unless
      ``allow_weaker`` (a test failure on a machine that allows ``full`` is
      exactly what this prevents from passing silently);
    * ``rlimits`` -- where answers can read what the grading user can read and
      talk through shared files -- is refused for more than one student unless
      ``allow_weaker``, even when it is the best this machine offers (one
      student grading their own notebook, as on Gradescope, is allowed).
    """
    best = detect_isolation()
    mode = detect_isolation(requested)
    force = "; pass --allow-weaker-isolation to grade in it anyway"
    if ISOLATION_MODES.index(mode) > ISOLATION_MODES.index(best) and not allow_weaker:
        raise SandboxError(f"isolation {mode} is weaker than {best}, which this machine allows{force}")
    if mode == "rlimits" and students > 1 and not allow_weaker:
        guard = ("only Landlock keeps answers from the solutions, the hidden checks and other students' "
                 "notebooks" if landlock_available() else "answers could read the solutions, the hidden checks "
                 "and other students' notebooks")
        raise SandboxError(f"only rlimits isolation is possible here (no namespaces or no libseccomp): {guard}; "
                           "run as root or enable user namespaces" + force)
    return mode


def isolation_summary(mode: str) -> str:
    root = os.geteuid() == 0
    return {
        "full": "full: namespaces (mount, network, PID, IPC, UTS), pivot_root into a read-only tree, and per "
                "node an unprivileged uid, a private scratch tmpfs, a fresh keyring, a syscall filter and "
                "resource limits",
        "userns": "userns: user, mount, network, PID, IPC and UTS namespaces, pivot_root into a read-only "
                  "tree, and per node a private scratch tmpfs, a fresh keyring, a syscall filter and resource "
                  "limits (no separate uid per node)",
        "rlimits": "rlimits: separate processes with resource limits and a fresh keyring" + (
            ", an unprivileged uid per node" if root else "") + (
            ", a syscall filter" if seccomp_module_dir() else "") + (
            ", Landlock (files only under Python, the libraries and the node's own directory)"
            if landlock_available() else
            "; WARNING: answers can read what that uid can read and share files"),
    }[mode]


# --- the package copy the sandbox imports ------------------------------------------------------

_copies: dict[str, Path] = {}
_STUB_INIT = '"""consensus_lab, as seen by graded code: only what an answer may import."""\n'


def package_copy(exercise_id: str) -> Path:
    """A read-only copy of the modules an answer may import, for one exercise."""
    if exercise_id in _copies:
        return _copies[exercise_id]
    src = Path(__file__).resolve().parents[1]
    base = Path(tempfile.mkdtemp(prefix=f"cl-pkg-{exercise_id}-"))
    dst = base / "consensus_lab"
    (dst / "sim").mkdir(parents=True)
    (dst / "grading" / "exercises").mkdir(parents=True)
    (dst / "__init__.py").write_text(_STUB_INIT)
    (dst / "grading" / "__init__.py").write_text(_STUB_INIT)
    files = ["history.py", "testing.py", "grading/codec.py", "grading/worker.py", "grading/exercises/__init__.py",
             f"grading/exercises/{exercise_id}.py"]
    files += [f"sim/{p.name}" for p in sorted((src / "sim").glob("*.py"))]
    for rel in files:
        shutil.copy2(src / rel, dst / rel)
    compileall.compile_dir(str(dst), quiet=1)
    for root, _dirs, names in os.walk(base):
        os.chmod(root, 0o755)
        for n in names:
            os.chmod(os.path.join(root, n), 0o644)
    _copies[exercise_id] = base
    atexit.register(shutil.rmtree, base, True)
    return base


def _python_dirs() -> list[str]:
    dirs = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    return sorted(dirs)


def _python() -> str:
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)


_BOOT = (Path(__file__).with_name("_boot.py")).read_text()
_uid_counter = [0]


# --- workers -------------------------------------------------------------------------------


class _RemoteWorker:
    def __init__(self, host: SandboxHost, sock: socket.socket, pid: int) -> None:
        self.host = host
        self.sock = sock
        self.pid = pid
        self.buf = b""
        self.n = 0
        self.dead = False

    def request(self, req: dict) -> dict:
        if self.dead:
            raise WorkerFailure("the answer's process is gone")
        budget = self.host.budget
        timeout = budget.for_call()
        if timeout is not None and timeout <= 0:
            self._kill()
            raise WorkerFailure("the time allowed for this submission ran out", timeout=True)
        self.n += 1
        req = dict(req, id=self.n)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.sock.settimeout(timeout)
            self.sock.sendall(codec.dumps(req))
            line = self._read_line(deadline)
        except TimeoutError:
            self._kill()
            raise WorkerFailure(self._timeout_text(timeout), timeout=True) from None
        except OSError:
            self._kill()
            raise WorkerFailure(self._gone_text()) from None
        try:
            reply = codec.loads(line)
        except codec.CodecError as exc:
            self._kill()
            raise WorkerFailure(f"the answer's process broke the protocol ({exc})") from None
        if type(reply) is not dict or reply.get("id") != self.n:
            self._kill()
            raise WorkerFailure("the answer's process broke the protocol (an unexpected reply)")
        if self.buf:
            self._kill()
            raise WorkerFailure("the answer's process sent data nobody asked for")
        if reply.get("exit"):
            self._kill()
        return reply

    def _timeout_text(self, timeout: float | None) -> str:
        if self.host.budget.expired():
            return "the time allowed for this submission ran out"
        return f"no answer within {timeout:.1f} s (an endless loop?)"

    def _gone_text(self) -> str:
        return "the answer's process died (it exited, crashed, or ran out of memory or CPU time)"

    def _read_line(self, deadline: float | None) -> bytes:
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                return line
            if len(self.buf) > MAX_LINE:
                raise OSError("reply too large")
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                raise TimeoutError
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("closed")
            self.buf += chunk

    def _kill(self) -> None:
        if not self.dead:
            self.dead = True
            self.host._kill_worker(self.pid)
            try:
                self.sock.close()
            except OSError:
                pass

    def close(self) -> None:
        self._kill()


class SandboxHost:
    """One submission's sandbox: a zygote, and workers on demand."""

    def __init__(self, exercise_id: str, source: str, *, budget: Budget | None = None, limits: Limits = Limits(),
                 isolation: str | None = None) -> None:
        self.exercise_id = exercise_id
        self.source = source
        self.limits = limits
        self.budget = budget or Budget(None, limits.call_timeout)
        if self.budget.call_timeout is None:
            self.budget.call_timeout = limits.call_timeout
        self.isolation = detect_isolation(isolation)
        self.applied: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._ctl: socket.socket | None = None
        self._ctl_buf = b""
        self._dir: str | None = None
        self._stderr: Any = None

    # --- the zygote --------------------------------------------------------------------
    def _start(self) -> None:
        mode = self.isolation
        self._dir = tempfile.mkdtemp(prefix="cl-sbx-")
        os.chmod(self._dir, 0o711)
        root = os.path.join(self._dir, "root")
        work = os.path.join(self._dir, "work")
        os.mkdir(root, 0o700)
        os.mkdir(work, 0o711)
        drop_uid = os.geteuid() == 0 and mode != "userns"
        _uid_counter[0] += 1
        uid_base = 200_000 + ((os.getpid() % 500) * 40 + _uid_counter[0] % 40) * 1000
        if mode != "rlimits" and seccomp_module_dir() is None:
            raise SandboxError(f"isolation {mode} needs libseccomp and pyseccomp, which cannot be loaded")
        parent, child = socket.socketpair()
        cfg = {
            "mode": mode,
            "root": root,
            "work": work,
            "package": str(package_copy(self.exercise_id)),
            "python_dirs": _python_dirs(),
            "exercise": self.exercise_id,
            "control_fd": child.fileno(),
            "uid_base": uid_base,
            "drop_uid": drop_uid,
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_mb": self.limits.file_mb,
            "tmpfs_mb": self.limits.tmpfs_mb,
            "max_line": MAX_LINE,
            "debug": bool(os.environ.get("CONSENSUS_LAB_SANDBOX_DEBUG")),
            "seccomp": seccomp_module_dir() or "",
        }
        cmd = _prefix(mode) + [_python(), "-I", "-S", "-c", _BOOT, json.dumps(cfg)]
        self._stderr = None if cfg["debug"] else tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(cmd, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True,
                                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        except OSError as exc:
            raise SandboxError(f"cannot start the sandbox: {exc}") from None
        finally:
            child.close()
        self._ctl = parent
        try:
            ready = json.loads(self._ctl_line(time.monotonic() + 30)[0])
        except (OSError, TimeoutError, ValueError):
            ready = {"ready": False, "error": self._stderr_text() or "no answer from the sandbox"}
        if not ready.get("ready"):
            self.close()
            raise SandboxError(f"the sandbox did not start: {ready.get('error', '?')}")
        self.applied = list(ready.get("applied", []))

    def _stderr_text(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read()[-500:].decode(errors="replace").strip()
        except (OSError, AttributeError):
            return ""

    def _ctl_line(self, deadline: float) -> tuple[bytes, list[int]]:
        fds: list[int] = []
        while b"\n" not in self._ctl_buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            r, _, _ = select.select([self._ctl], [], [], left)
            if not r:
                raise TimeoutError
            data, new_fds, _flags, _addr = socket.recv_fds(self._ctl, 65536, 4)
            fds += new_fds
            if not data:
                raise OSError("the sandbox closed its control channel")
            self._ctl_buf += data
        i = self._ctl_buf.index(b"\n")
        line, self._ctl_buf = self._ctl_buf[:i], self._ctl_buf[i + 1:]
        return line, fds

    def _control(self, req: dict) -> tuple[dict, list[int]]:
        assert self._ctl is not None
        try:
            self._ctl.sendall(json.dumps(req).encode() + b"\n")
            line, fds = self._ctl_line(time.monotonic() + 20)
            return json.loads(line), fds
        except (OSError, TimeoutError, ValueError) as exc:
            raise SandboxError(f"the sandbox stopped answering ({exc or type(exc).__name__})") from None

    def _kill_worker(self, pid: int) -> None:
        if self._ctl is None:
            return
        try:
            self._control({"op": "kill", "pid": pid})
        except SandboxError:
            pass

    # --- the host interface ------------------------------------------------------------------
    def spawn(self) -> _RemoteWorker:
        """A fresh worker with the answer loaded (raises StudentError if it does not load)."""
        from .hosting import call_worker

        if self._proc is None:
            self._start()
        reply, fds = self._control({"op": "spawn"})
        if not reply.get("ok") or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            raise SandboxError("the sandbox could not make a worker")
        w = _RemoteWorker(self, socket.socket(fileno=fds[0]), int(reply["pid"]))
        try:
            call_worker(w, {"op": "load", "source": self.source})
        except BaseException:
            w.close()
            raise
        return w

    def close(self) -> None:
        if self._ctl is not None:
            try:
                self._ctl.close()
            except OSError:
                pass
            self._ctl = None
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self._proc.kill()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._dir is not None:
            remove_tree(self._dir)
            self._dir = None

    def __enter__(self) -> SandboxHost:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def remove_tree(path: str) -> None:
    """Remove a scratch tree, even when a worker left files it could not be asked to delete."""
    def onerror(func, p, exc_info):  # noqa: ARG001
        try:
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=onerror)

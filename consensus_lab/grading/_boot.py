"""The sandbox's first process (the *zygote*): standard library (and ``pyseccomp``) only.

The grader starts it as ``python -I -S -c <this file's text> <config JSON>``,
inside fresh mount, network, PID, IPC and UTS namespaces when it can.  It
builds the workers' syscall filter with libseccomp first (the library stays
mapped), then, as (namespace) root, a tiny root file system -- the system
libraries, the Python installation and a copy of the few ``consensus_lab``
modules an answer may import, all read-only -- and ``pivot_root``\\ s into
it, detaching the host's file system: the solutions, the hidden checks, the
submissions and the gradebook are simply not there.  Then it imports the
exercise's modules and waits on its control socket.

It never runs student code.  For each node incarnation (or function check)
the grader asks it for a *worker*: it forks; the child enters its own network,
IPC and mount namespaces, mounts a private scratch tmpfs (gone when the
worker ends), sets resource limits (address space, CPU time, one process,
file size, open files, no core dumps), joins a fresh empty session keyring,
drops to its own unprivileged uid, loads the syscall filter, and serves
requests on a socket whose other end the zygote hands to the grader.
Workers of one submission cannot see each other's memory, files, sockets or
signals, and a restarted node keeps only what the grader hands back as
``ctx.storage``.
"""

import ctypes
import errno
import json
import os
import platform
import resource
import signal
import socket
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}  # syscall numbers
_KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING = 1
PR_SET_PDEATHSIG = 1
PR_GET_SECCOMP = 21
PR_SET_NO_NEW_PRIVS = 38

# What a worker may not do (seccomp, EPERM): make namespaces or mounts, touch keyrings, trace or signal
# other processes, open any socket (its one socket to the grader is inherited), use io_uring, BPF,
# perf, kernel modules or other machine-wide knobs -- nor anything two nodes could signal each other
# with beside the network: file locks and leases (on the read-only files they all see), inotify,
# page-cache probes, System V IPC and POSIX message queues.  Everything else is allowed: plain Python needs it.
DENIED_SYSCALLS = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "add_key", "keyctl", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "socket", "socketpair",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init", "open_by_handle_at", "name_to_handle_at",
    "flock", "inotify_init", "inotify_init1", "inotify_add_watch", "mincore", "cachestat",
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop",
    "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr",
    "mknod", "mknodat", "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "syslog", "acct", "quotactl", "vhangup", "iopl", "ioperm", "modify_ldt",
    "uselib", "personality", "lookup_dcookie", "setgroups", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setfsuid", "setfsgid",
)
# clone may make threads and processes (RLIMIT_NPROC bounds them), never namespaces
_CLONE_NEW_ANY = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET} | CLONE_NEWTIME
DENY = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
# fcntl commands that reach other processes: record locks (F_GETLK, F_SETLK, F_SETLKW, and the
# open-file-description ones), leases, dnotify, F_SETOWN-style signal routing
_FCNTL_SHARED = (5, 6, 7, 36, 37, 38, 1024, 1025, 1026, 8, 15, 10)  # ... F_SETOWN=8, F_SETOWN_EX=15, F_SETSIG=10

_libc = None
FILTER = None  # the syscall filter, built by the zygote when the sandbox uses one
LANDLOCK_ABI = 0  # the kernel's Landlock version (0: none), for rlimits workers


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def unshare(flags):
    _check(_c().unshare(ctypes.c_int(flags)), "unshare")


def mount(src, target, fstype, flags, data):
    _check(_c().mount(src.encode() if src else None, target.encode(), fstype.encode() if fstype else None,
                      ctypes.c_ulong(flags), data.encode() if data else None), f"mount {target}")


def _locked_flags(path):
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
                   (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def join_fresh_keyring():
    """Leave the grader's session keyring for a new, empty, anonymous one (``keyctl new_session``)."""
    nr = _KEYCTL.get(platform.machine())
    if nr is None:
        raise OSError("no keyctl syscall number for this machine")
    if _c().syscall(nr, KEYCTL_JOIN_SESSION_KEYRING, None) < 0:
        e = ctypes.get_errno()
        if e in (errno.ENOSYS, errno.EPERM):
            return  # no keyrings in this kernel, or keyctl already refused to us (a container's seccomp
            # profile): then no keyring is reachable from here either
        raise OSError(e, f"keyctl join_session_keyring: {os.strerror(e)}")


def seccomp_filter():
    """The worker's syscall deny-list, built once with libseccomp (``pyseccomp``), loaded per worker."""
    import pyseccomp as seccomp

    f = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            f.add_rule(DENY, name)
        except (OSError, RuntimeError, ValueError):
            pass  # a call this architecture does not have
    for cmd in _FCNTL_SHARED:
        f.add_rule(DENY, "fcntl", seccomp.Arg(1, seccomp.EQ, cmd))
    # clone3 hides its flags from seccomp: ENOSYS makes the C library fall back to clone, checked here
    f.add_rule(0x00050000 | errno.ENOSYS, "clone3")
    bit = 1
    while bit <= _CLONE_NEW_ANY:
        if _CLONE_NEW_ANY & bit:
            f.add_rule(DENY, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, bit, bit))
        bit <<= 1
    return f


# Landlock (no namespaces needed): where an rlimits worker may open files at all
_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446  # on every architecture
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1, 2, 4, 8
_LL_TRUNCATE = 1 << 14


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    """The kernel's Landlock ABI version, 0 when it has none (or it is disabled)."""
    abi = _c().syscall(ctypes.c_long(_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return max(abi, 0)


def landlock_restrict(abi, read_only, read_write):
    """Allow opening files only beneath ``read_only`` (read, list, execute) and ``read_write`` (anything);
    every other path -- the solutions, other submissions, /tmp, /proc -- is refused (EACCES)."""
    handled = (1 << {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)) - 1
    attr = ctypes.c_uint64(handled)
    rs = _c().syscall(ctypes.c_long(_LANDLOCK_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(8),
                      ctypes.c_uint32(0))
    if rs < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        for paths, access in ((read_only, _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR), (read_write, handled)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue  # (a path this machine does not have)
                try:
                    allowed = access
                    if not os.path.isdir(path):  # a file takes file rights only
                        allowed &= _LL_EXECUTE | _LL_WRITE_FILE | _LL_READ_FILE | _LL_TRUNCATE
                    rule = _PathBeneath(allowed & handled, fd)
                    if _c().syscall(ctypes.c_long(_LANDLOCK_ADD_RULE), ctypes.c_int(rs), ctypes.c_int(1),
                                    ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                        raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
                finally:
                    os.close(fd)
        if _c().syscall(ctypes.c_long(_LANDLOCK_RESTRICT_SELF), ctypes.c_int(rs), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(rs)


def load_seccomp(f):
    """In the worker: signals only to itself, then the filter (irrevocable)."""
    import pyseccomp as seccomp

    me = os.getpid()
    f.add_rule(DENY, "kill", seccomp.Arg(0, seccomp.NE, me))
    f.add_rule(DENY, "tgkill", seccomp.Arg(0, seccomp.NE, me))
    f.load()
    if _c().prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2:
        raise OSError("the syscall filter did not take effect")


def _mkdirs(path):
    parts = [p for p in path.split("/") if p]
    cur = ""
    for p in parts:
        cur += "/" + p
        if not os.path.lexists(cur):
            os.mkdir(cur, 0o755)


def build_root(cfg, applied):
    root = cfg["root"]
    mount("none", "/", None, MS_REC | MS_PRIVATE, None)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,mode=0755")

    def bind(src, rel):
        dst = root + rel
        if os.path.isdir(src):
            _mkdirs(dst)
        else:
            _mkdirs(os.path.dirname(dst))
            open(dst, "a").close()
        mount(src, dst, None, MS_BIND | MS_REC, None)
        try:
            mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(src), None)
        except OSError:
            applied.append(f"(could not make {rel} read-only)")

    for d in ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"):
        if os.path.islink(d):
            _mkdirs(os.path.dirname(root + d))
            os.symlink(os.readlink(d), root + d)
        elif os.path.isdir(d):
            bind(d, d)
    for prefix in cfg["python_dirs"]:
        if not any(prefix == d or prefix.startswith(d + "/") for d in ("/usr", "/lib", "/lib64", "/bin")):
            bind(prefix, prefix)
    bind(cfg["package"], "/cl")
    _mkdirs(root + "/dev")
    for name in ("null", "zero", "urandom", "random"):
        if os.path.exists("/dev/" + name):
            bind("/dev/" + name, "/dev/" + name)
    _mkdirs(root + "/work")  # each worker mounts its own private tmpfs here
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    nr = _PIVOT_ROOT.get(platform.machine())
    os.chdir(root)
    if nr is not None and _c().syscall(nr, b".", b".") == 0:
        # the host's file system is detached, not merely out of reach: even root in a user
        # namespace cannot climb back out, as it could from a chroot
        _check(_c().umount2(b".", MNT_DETACH), "umount the old root")
        os.chdir("/")
        applied.append("pivot_root into a read-only tree (system libraries, Python, the exercise's modules); "
                       "the host file system detached")
    else:
        os.chroot(root)
        os.chdir("/")
        applied.append("chroot into a read-only tree (system libraries, Python, the exercise's modules)")


def become_worker(cfg, sock, k, devnull):
    """In the forked child: lock down, then serve.  Never returns."""
    try:
        keep = {sock.fileno(), devnull}
        for fd in range(3, 1024):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if cfg.get("debug"):
            cfg["debug_fd"] = os.dup(2)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        mode = cfg["mode"]
        uid = cfg["uid_base"] + k if cfg["drop_uid"] else None
        if mode in ("full", "userns"):
            # its own network, IPC and mount namespaces, and a private scratch tmpfs over /work that
            # vanishes with it: no other node, and no later incarnation of this one, can see its files
            unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS)
            mount("tmpfs", "/work", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={cfg['tmpfs_mb']}m,mode=0700")
            work = "/work"
            if uid is not None:
                os.chown(work, uid, uid)
        else:
            work = os.path.join(cfg["work"], f"w{k}")
            os.mkdir(work, 0o700)
            if uid is not None:
                os.chown(work, uid, uid)
        os.chdir(work)
        os.environ.clear()
        os.environ.update({"HOME": work, "TMPDIR": work, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        mb = 1024 * 1024
        limits = [
            (resource.RLIMIT_AS, cfg["memory_mb"] * mb),
            (resource.RLIMIT_CPU, cfg["cpu_seconds"]),
            (resource.RLIMIT_FSIZE, cfg["file_mb"] * mb),
            (resource.RLIMIT_NOFILE, 32),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, 1),
        ]
        for what, value in limits:
            hard = value + 1 if what == resource.RLIMIT_CPU else value
            resource.setrlimit(what, (value, hard))
        join_fresh_keyring()  # not the grader's session keyring (Kerberos tickets, secrets...)
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        _check(_c().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _c().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # (after setuid, which clears it)
        if mode == "rlimits" and LANDLOCK_ABI:
            system = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/dev/urandom", "/dev/random"]
            landlock_restrict(LANDLOCK_ABI, system + cfg["python_dirs"] + [cfg["package"]],
                              [work, "/dev/null", "/dev/zero"])
        if FILTER is not None:
            load_seccomp(FILTER)
        if os.getppid() == 1 and mode == "rlimits":
            os._exit(0)  # the zygote is already gone
        sys.stdout = open(os.devnull, "w")
        sys.stderr = open(os.devnull, "w")
        sys.stdin = None
        sys.dont_write_bytecode = True
        from consensus_lab.grading.worker import serve

        rfile = sock.makefile("rb")
        wfile = sock.makefile("wb")
        serve(rfile, wfile, cfg["exercise"], cfg["max_line"])
    except BaseException as exc:  # noqa: BLE001 - the grader sees the socket close
        if cfg.get("debug"):
            import traceback

            os.write(cfg["debug_fd"], traceback.format_exc().encode())
        del exc
    os._exit(0)


def main():
    cfg = json.loads(sys.argv[1])
    ctl = socket.socket(fileno=cfg["control_fd"])
    applied = ["a separate process per node incarnation and per check"]
    devnull = os.open("/dev/null", os.O_RDWR)
    try:
        global FILTER, LANDLOCK_ABI
        mode = cfg["mode"]
        if cfg.get("seccomp"):  # before pivot_root: libseccomp is loaded now and stays mapped
            sys.path.insert(0, cfg["seccomp"])
            FILTER = seccomp_filter()
            sys.path.remove(cfg["seccomp"])
        if mode in ("full", "userns"):
            build_root(cfg, applied)
            sys.path.insert(0, "/cl")
            applied.append("network, IPC, mount, PID and UTS namespaces for the submission; a network, IPC "
                           "and mount namespace per node, with a private scratch tmpfs removed when it ends")
        else:
            sys.path.insert(0, cfg["package"])
            os.chdir(cfg["work"])
            LANDLOCK_ABI = landlock_abi()
            if LANDLOCK_ABI:
                applied.append("Landlock per node: files open only under Python, the system libraries, the "
                               "exercise's modules and the node's own scratch directory")
        applied.append("a fresh, empty session keyring per node")
        if FILTER is not None:
            applied.append("a syscall filter per node (seccomp: no namespaces, mounts, keyrings, sockets, "
                           "ptrace, io_uring, signals to other processes)")
        if cfg["drop_uid"]:
            applied.append("an unprivileged uid per node")
        applied.append(f"limits per node: {cfg['memory_mb']} MB address space, {cfg['cpu_seconds']} s CPU, "
                       f"1 process, {cfg['file_mb']} MB files, 32 open files")
        sys.dont_write_bytecode = True
        import consensus_lab.grading.worker as worker

        worker.exercise_module(cfg["exercise"])
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel
        rfile = ctl.makefile("rb")
        ctl.sendall((json.dumps({"ready": True, "applied": applied}) + "\n").encode())
    except BaseException as exc:  # noqa: BLE001
        try:
            ctl.sendall((json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}) + "\n").encode())
        finally:
            os._exit(3)
    k = 0
    while True:
        line = rfile.readline(4096)
        if not line:
            os._exit(0)
        try:
            req = json.loads(line)
        except ValueError:
            os._exit(4)
        if req.get("op") == "spawn":
            k += 1
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                parent_end.close()
                ctl.close()
                become_worker(cfg, child_end, k, devnull)
            child_end.close()
            socket.send_fds(ctl, [(json.dumps({"ok": True, "pid": pid}) + "\n").encode()], [parent_end.fileno()])
            parent_end.close()
        elif req.get("op") == "kill":
            try:
                os.kill(int(req["pid"]), signal.SIGKILL)
            except (OSError, ValueError, KeyError):
                pass
            ctl.sendall(b'{"ok": true}\n')
        else:
            os._exit(5)


main()

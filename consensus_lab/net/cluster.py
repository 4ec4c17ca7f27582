"""A cluster of real node processes on 127.0.0.1, and the faults a harness injects.

:class:`Cluster` starts one ``consensus-lab serve`` process per node (each in
its own session, so a signal to a node never reaches the harness), knows their
ports and data directories, and does to them what Jepsen's nemeses do:

* ``kill`` -- ``SIGKILL``; ``restart`` starts the same command again on the same
  data directory (only what the node fsynced survives);
* ``pause`` / ``resume`` -- ``SIGSTOP`` / ``SIGCONT`` (a long GC pause);
* ``partition`` -- tells every node which peers to ignore (the runtime's link
  filter); ``heal`` clears it.  A node that restarts gets its filter again;
* ``skew`` -- moves one node's ``ctx.clock()``.

Use it as a context manager: every process is ended on the way out, also when
the code inside raises.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from .. import protocols
from .client import Client
from .host import cluster_digest
from .wire import decode_frame, encode_frame, protocol_types

__all__ = ["ProcessCluster", "Cluster", "ClusterError", "free_ports"]


class ClusterError(RuntimeError):
    """A node process that would not start (its last error line says why)."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free on 127.0.0.1 a moment ago.

    They are drawn below the kernel's ephemeral range, so that the outgoing
    connections of nodes already running cannot take a port before the node it
    was chosen for binds it.
    """
    low, high = _ephemeral_range()
    lo, hi = (10000, low) if low - 10000 >= 1000 else (high + 1, 65535)
    rng = random.SystemRandom()
    ports: list[int] = []
    while len(ports) < n:
        p = rng.randrange(lo, hi)
        if p in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        ports.append(p)
    return ports


class ProcessCluster:
    """Processes named ``n1..nN`` with data under ``run_dir/<node>/``, and the faults on them.

    Subclasses say how a node is started (:meth:`command`), how to tell it is
    ready (:meth:`probe`), how to cut links (:meth:`partition`) and how a client
    talks to it (:meth:`client`).
    """

    #: the fault kinds this kind of cluster can inject
    faults: tuple[str, ...] = ("kill", "pause")

    def __init__(self, n: int, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.names = [f"n{i + 1}" for i in range(n)]
        self.epoch = time.monotonic()
        self.procs: dict[str, subprocess.Popen | None] = dict.fromkeys(self.names)
        self.paused: set[str] = set()
        self.skew: dict[str, float] = dict.fromkeys(self.names, 0.0)

    def command(self, name: str) -> list[str]:
        raise NotImplementedError

    async def probe(self, name: str) -> bool:
        """Does the node answer?"""
        raise NotImplementedError

    async def after_start(self, name: str) -> None:
        """Re-apply what a fresh process must know (link filter, clock skew)."""

    def client(self, name: str, *, timeout: float, deadline: float, first: str | None = None) -> Any:
        raise NotImplementedError

    async def partition(self, groups: Iterable[Iterable[str]]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot cut links")

    async def heal(self) -> None:
        if "partition" in self.faults:
            await self.partition([self.names])

    async def set_skew(self, name: str, offset: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot skew clocks")

    # --- processes --------------------------------------------------------------------------

    def data_dir(self, name: str) -> Path:
        return self.run_dir / name

    def start(self, names: Iterable[str] | None = None) -> None:
        for name in names or self.names:
            d = self.data_dir(name)
            d.mkdir(parents=True, exist_ok=True)
            with open(d / "stderr.log", "ab") as err, open(d / "stdout.log", "ab") as out:
                self.procs[name] = subprocess.Popen(
                    self.command(name), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                    start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )

    def alive(self, name: str) -> bool:
        p = self.procs.get(name)
        return p is not None and p.poll() is None

    async def wait_ready(self, names: Iterable[str] | None = None, *, timeout: float = 20.0) -> None:
        """Wait until each node answers :meth:`probe`, then :meth:`after_start` it."""
        for name in names or self.names:
            end = time.monotonic() + timeout
            while True:
                p = self.procs[name]
                if p is None or p.poll() is not None:
                    raise ClusterError(f"node {name} exited at start: {self.last_error(name)}")
                if await self.probe(name):
                    break
                if time.monotonic() > end:
                    raise ClusterError(f"node {name} did not answer within {timeout:g} s")
                await asyncio.sleep(0.05)
            await self.after_start(name)

    def last_error(self, name: str) -> str:
        path = self.data_dir(name) / "stderr.log"
        lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        return lines[-1] if lines else "no error output"

    # --- faults -----------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        p = self.procs.get(name)
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
        self.paused.discard(name)
        self.procs[name] = None

    async def restart(self, *names: str) -> None:
        """Start the named nodes that are down again (all at once) and wait until they answer."""
        down = [n for n in names if not self.alive(n)]
        if down:
            self.start(down)
            await self.wait_ready(down)

    def pause(self, name: str) -> None:
        if self.alive(name):
            self.procs[name].send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            self.paused.add(name)

    def resume(self, name: str) -> None:
        if name in self.paused and self.alive(name):
            self.procs[name].send_signal(signal.SIGCONT)  # type: ignore[union-attr]
        self.paused.discard(name)

    # --- the end ----------------------------------------------------------------------------

    def stop(self) -> None:
        """End every process (resume the paused ones first, so SIGTERM is seen)."""
        for name, p in self.procs.items():
            if p is None or p.poll() is not None:
                continue
            if name in self.paused:
                p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        end = time.monotonic() + 3.0
        for p in self.procs.values():
            if p is None:
                continue
            try:
                p.wait(max(0.05, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.paused.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Cluster(ProcessCluster):
    """``n`` nodes of ``protocol`` as ``consensus-lab serve`` processes."""

    faults = ("kill", "pause", "partition", "clock")

    def __init__(
        self,
        protocol: str,
        n: int,
        run_dir: str | Path,
        *,
        variant: str = "correct",
        options: Mapping[str, Any] | None = None,
        seed: int = 0,
        disk: str = "fsync",
        flush_interval: float = 1.0,
        record: bool = False,
    ) -> None:
        super().__init__(n, run_dir)
        self.record = record
        self.spec = protocols.get(protocol)
        self.protocol, self.variant, self.seed = protocol, variant, seed
        self.options = dict(options or {})
        self.disk, self.flush_interval = disk, flush_interval
        self.peers = {name: ("127.0.0.1", p) for name, p in zip(self.names, free_ports(n), strict=True)}
        probe = self.spec.make_node(self.names[0], tuple(self.names),
                                    self.spec.resolve_options(self.options), variant)
        self.types = protocol_types(type(probe))
        self.blocked: dict[str, frozenset[str]] = {name: frozenset() for name in self.names}

    def command(self, name: str) -> list[str]:
        peers = ",".join(f"{n}={h}:{p}" for n, (h, p) in self.peers.items())
        cmd = [sys.executable, "-m", "consensus_lab.cli", "serve", self.protocol, "--node", name,
               "--peers", peers, "--data-dir", str(self.data_dir(name)), "--variant", self.variant,
               "--seed", str(self.seed), "--disk", self.disk,
               "--flush-interval", str(self.flush_interval), "--epoch", repr(self.epoch)]
        for k, v in self.options.items():
            cmd += ["--set", f"{k}={v}"]
        return cmd + (["--record-messages"] if self.record else [])

    async def probe(self, name: str) -> bool:
        return await self.control(name, "status", timeout=0.5) is not None

    async def after_start(self, name: str) -> None:
        if self.blocked[name]:
            await self.control(name, "block", peers=sorted(self.blocked[name]))
        if self.skew[name]:
            await self.control(name, "clock", offset=self.skew[name])

    def client(self, name: str, *, timeout: float, deadline: float, first: str | None = None) -> Client:
        return Client(name, self.peers, self.types, timeout=timeout, deadline=deadline, first=first)

    async def control(self, name: str, op: str, *, timeout: float = 0.5, **fields: Any) -> Any:
        """Send one control command; the node's answer, or None if it did not answer."""
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(*self.peers[name]), timeout)
        except (TimeoutError, OSError):
            return None
        try:
            w.write(encode_frame("ctl", self.types, op=op, **fields))
            await w.drain()
            line = await asyncio.wait_for(r.readline(), timeout)
            kind, f = decode_frame(line, self.types) if line else ("", {})
            return f.get("r") if kind == "ack" else None
        except (TimeoutError, OSError, ValueError):
            return None
        finally:
            w.close()

    async def partition(self, groups: Iterable[Iterable[str]]) -> None:
        side = {n: frozenset(g) for g in map(frozenset, groups) for n in g}
        for name in self.names:
            self.blocked[name] = frozenset(self.names) - side.get(name, frozenset([name]))
        await asyncio.gather(*(self.control(n, "block", peers=sorted(self.blocked[n]))
                               for n in self.names if self.alive(n)))

    async def set_skew(self, name: str, offset: float) -> None:
        self.skew[name] = offset
        await self.control(name, "clock", offset=offset)

    @property
    def digest(self) -> str:
        return cluster_digest(self.peers)

"""One protocol node as an OS process: asyncio sockets, timers on the event loop, a disk.

:class:`NodeHost` drives an unchanged node class exactly as the simulator does:
it feeds the node messages, timers and client requests one at a time, then
applies the effects the handler left in ``ctx`` (send, set/cancel a timer,
reply).  Only the world around the node is real:

* messages travel over TCP between processes on loopback, one JSON line each
  (:mod:`consensus_lab.net.wire`); a message to a peer that cannot be reached
  is lost, as in the simulator's lossy network -- the protocols retry;
* timers are ``loop.call_later`` handles (re-arming a name replaces it);
* ``ctx.now`` is seconds on the machine's monotonic clock since the cluster's
  epoch, the same for every process on the machine; ``ctx.clock()`` adds the
  skew the harness sets;
* ``ctx.storage`` is a :class:`~consensus_lab.net.storage.DiskStorage` in the
  node's data directory, fsynced before the handler goes on;
* with ``record`` every message sent and received is logged (type and id), so
  that a space-time diagram can be drawn from a real run;
* a *link filter* drops messages to and from the peers the harness blocked:
  that is how a partition is made without touching the machine's network.

The node's own log (``node.log`` in its data directory) has one JSON line per
start, per change of the scalar fields of ``state_view()`` (role, term, vote,
leader, commit index for Raft; a list such as the log by its length) and per error; the harness reads it to check
properties that a client history cannot show (two leaders in one term).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import protocols
from ..sim.clients import ClientRequest
from ..sim.node import CancelTimer, Context, Node, Reply, Send, SetTimer
from .storage import DiskStorage
from .wire import WireError, decode_frame, encode_frame, protocol_types

__all__ = ["NodeHost", "parse_peers", "cluster_digest", "HostError"]

_QUEUE = 1024  # frames waiting for one peer; past that a message is lost
_CONNECT_TIMEOUT = 0.3


class HostError(ValueError):
    """A node that cannot be started as asked (bad peers, port in use, bad data dir)."""


def parse_peers(text: str) -> dict[str, tuple[str, int]]:
    """``"n1=127.0.0.1:7001,n2=127.0.0.1:7002"`` -> ``{"n1": ("127.0.0.1", 7001), ...}``."""
    out: dict[str, tuple[str, int]] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, addr = item.partition("=")
        host, sep2, port = addr.rpartition(":")
        if not sep or not sep2 or not name or not host or not port.isdigit():
            raise HostError(f"peer {item!r} is not NAME=HOST:PORT")
        if name in out:
            raise HostError(f"peer {name!r} is listed twice")
        p = int(port)
        if not 0 < p < 65536:
            raise HostError(f"peer {name!r}: port {p} is out of range")
        out[name] = (host, p)
    if not out:
        raise HostError("the peer list is empty")
    return out


def cluster_digest(peers: Mapping[str, tuple[str, int]]) -> str:
    """A short fingerprint of a peer list: nodes started with different lists disagree."""
    text = ",".join(f"{n}={h}:{p}" for n, (h, p) in sorted(peers.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class _Peer:
    """The sending side of the link to one peer: a queue and a reconnecting writer."""

    def __init__(self, host: NodeHost, name: str, addr: tuple[str, int]) -> None:
        self.host, self.name, self.addr = host, name, addr
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(_QUEUE)
        self.writer: asyncio.StreamWriter | None = None
        self.task = asyncio.get_running_loop().create_task(self._pump())

    def put(self, frame: bytes) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.host.lost += 1

    async def _pump(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                if self.writer is None:
                    _, self.writer = await asyncio.wait_for(
                        asyncio.open_connection(*self.addr), _CONNECT_TIMEOUT
                    )
                    self.writer.write(self.host.hello)
                self.writer.write(frame)
                await self.writer.drain()
            except (TimeoutError, OSError):
                self.host.lost += 1  # the peer is down or unreachable: the message is lost
                if self.writer is not None:
                    self.writer.close()
                self.writer = None


class NodeHost:
    """Runs one node of ``protocol`` as a server on ``peers[node_id]``."""

    def __init__(
        self,
        protocol: str,
        node_id: str,
        peers: Mapping[str, tuple[str, int]],
        data_dir: str | Path,
        *,
        variant: str = "correct",
        options: Mapping[str, Any] | None = None,
        seed: int = 0,
        disk: str = "fsync",
        flush_interval: float = 1.0,
        epoch: float | None = None,
        record: bool = False,
    ) -> None:
        try:
            self.spec = protocols.get(protocol)
        except KeyError as exc:
            raise HostError(str(exc).strip("'\"")) from None
        if variant not in self.spec.variants:
            raise HostError(f"protocol {protocol!r} has no variant {variant!r} "
                            f"(variants: {', '.join(self.spec.variants)})")
        if node_id not in peers:
            raise HostError(f"node {node_id!r} is not in its own peer list ({', '.join(peers)})")
        try:
            self.options = self.spec.resolve_options(dict(options or {}))
        except ValueError as exc:
            raise HostError(str(exc)) from None
        self.protocol, self.node_id, self.variant = protocol, node_id, variant
        self.peers = dict(peers)
        self.cluster = tuple(sorted(self.peers))
        self.digest = cluster_digest(self.peers)
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.epoch = time.monotonic() if epoch is None else epoch
        probe = self.spec.make_node(node_id, self.cluster, self.options, variant)
        self.types = protocol_types(type(probe))
        self.storage = DiskStorage(self.data_dir, self.types, mode=disk)
        self.flush_interval = flush_interval
        self.seed = seed
        self.record = record  # log every message sent and received (for a space-time diagram)
        self._sent = 0
        self.blocked: frozenset[str] = frozenset()
        self.lost = 0
        self.hello = encode_frame("ctl", self.types, op="hello", src=node_id, cluster=self.digest)
        self._log = os.open(self.data_dir / "node.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._view: dict[str, Any] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._waiting: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self.node: Node | None = None
        self.ctx: Context | None = None

    # --- time and the log -------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.epoch

    def log(self, event: str, **fields: Any) -> None:
        rec = {"t": round(self.now(), 6), "node": self.node_id, "event": event, **fields}
        os.write(self._log, json.dumps(rec, default=repr, sort_keys=True).encode() + b"\n")

    def _log_view(self) -> None:
        view: dict[str, Any] = {}
        for k, v in self.node.state_view().items():  # type: ignore[union-attr]
            if v is None or isinstance(v, int | float | str | bool):
                view[k] = v
            elif isinstance(v, list | tuple):
                view[f"{k}_len"] = len(v)  # a log is summed up by its length
        if view != self._view:
            self._view = view
            self.log("view", **view)

    # --- driving the node -------------------------------------------------------------------

    def _call(self, handler: str, *args: Any) -> None:
        ctx = self.ctx
        assert ctx is not None and self.node is not None
        ctx._now = self.now()
        try:
            getattr(self.node, handler)(ctx, *args)
        except Exception as exc:  # a node that raises is a crashed process, as on a real machine
            self.log("error", handler=handler, error=f"{type(exc).__name__}: {exc}",
                     where=traceback.format_exc(limit=-3))
            print(f"consensus-lab serve: node {self.node_id} raised in {handler}: "
                  f"{type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            os._exit(70)
        self._apply(ctx.take_effects())
        self._log_view()

    def _apply(self, effects: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        for e in effects:
            if type(e) is Send:
                if e.dst not in self.peers:
                    self.lost += 1
                elif e.dst == self.node_id:
                    loop.call_soon(self._deliver, self.node_id, e.msg)
                else:
                    self._send(e.dst, e.msg)
            elif type(e) is SetTimer:
                old = self._timers.pop(e.name, None)
                if old is not None:
                    old.cancel()
                self._timers[e.name] = loop.call_later(e.delay, self._fire, e.name, e.payload)
            elif type(e) is CancelTimer:
                old = self._timers.pop(e.name, None)
                if old is not None:
                    old.cancel()
            elif type(e) is Reply:
                req = e.request
                writer = self._waiting.pop((req.client, req.seq), None)
                if writer is not None and not writer.is_closing():
                    writer.write(encode_frame("rep", self.types, req=req, r=e.result))

    def _send(self, dst: str, msg: Any) -> None:
        mid = None
        if self.record:
            self._sent += 1
            mid = f"{os.getpid()}.{self._sent}"
            self.log("send", peer=dst, id=mid, type=type(msg).__name__)
        if dst in self.blocked:  # the link filter: lost on the way out
            self.lost += 1
            if self.record:
                self.log("drop", peer=dst, id=mid, type=type(msg).__name__)
            return
        self._links[dst].put(encode_frame("msg", self.types, src=self.node_id, m=msg, id=mid))

    def _fire(self, name: str, payload: Any) -> None:
        self._timers.pop(name, None)
        self._call("on_timer", name, payload)

    def _deliver(self, src: str, msg: Any) -> None:
        if src in self.blocked:
            self.lost += 1
            return
        self._call("on_message", src, msg)

    # --- connections ------------------------------------------------------------------------

    async def _serve_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer: str | None = None
        try:
            while line := await reader.readline():
                try:
                    kind, f = decode_frame(line, self.types)
                except WireError as exc:
                    self.log("bad-frame", error=str(exc), peer=peer)
                    break
                if kind == "msg":
                    if peer is None or f.get("src") != peer:
                        self.log("bad-frame", error="message before hello or from another node")
                        break
                    if self.record:
                        self.log("drop" if peer in self.blocked else "recv", peer=peer,
                                 id=f.get("id"), type=type(f["m"]).__name__)
                    self._deliver(peer, f["m"])
                elif kind == "req":
                    req = f.get("req")
                    if not isinstance(req, ClientRequest):
                        self.log("bad-frame", error="req frame without a ClientRequest")
                        break
                    self._waiting[(req.client, req.seq)] = writer
                    self._call("on_client_request", req)
                elif kind == "ctl":
                    if f.get("op") == "hello":
                        if f.get("cluster") != self.digest or f.get("src") not in self.peers:
                            msg = (f"peer {f.get('src')!r} was started with another peer list "
                                   f"(cluster {f.get('cluster')} vs {self.digest}); refusing it")
                            self.log("bad-peer", error=msg)
                            print(f"consensus-lab serve: {msg}", file=sys.stderr, flush=True)
                            break
                        peer = f["src"]
                        continue
                    writer.write(encode_frame("ack", self.types, r=self._control(f)))
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # ValueError: a line over the stream limit
        finally:
            writer.close()

    def _control(self, f: dict[str, Any]) -> Any:
        """The harness's commands: the link filter, clock skew, a status probe."""
        op = f.get("op")
        if op == "block":
            self.blocked = frozenset(f.get("peers") or ())
            self.log("block", peers=sorted(self.blocked))
            return "ok"
        if op == "clock":
            assert self.ctx is not None
            self.ctx._clock_offset = float(f.get("offset", 0.0))
            self.ctx._clock_drift = float(f.get("drift", 0.0))
            self.log("clock", offset=self.ctx._clock_offset, drift=self.ctx._clock_drift)
            return "ok"
        if op == "status":
            return {"node": self.node_id, "pid": os.getpid(), "lost": self.lost,
                    "unsynced": self.storage.unsynced, "view": dict(self._view)}
        return f"unknown control operation {op!r}"

    # --- the process ------------------------------------------------------------------------

    def _flush_loop(self) -> None:
        self.storage.flush()
        asyncio.get_running_loop().call_later(self.flush_interval, self._flush_loop)

    async def serve(self, *, ready: asyncio.Event | None = None) -> None:
        host, port = self.peers[self.node_id]
        try:
            server = await asyncio.start_server(self._serve_conn, host, port, limit=8 * 1024 * 1024)
        except OSError as exc:
            raise HostError(f"node {self.node_id} cannot listen on {host}:{port}: "
                            f"{exc.strerror or exc}") from None
        self._links = {p: _Peer(self, p, a) for p, a in self.peers.items() if p != self.node_id}
        rng = random.Random(f"{self.seed}/{self.node_id}/{os.getpid()}")
        self.node = self.spec.make_node(self.node_id, self.cluster, self.options, self.variant)
        self.ctx = Context(self.node_id, rng, self.storage)
        self.log("start", pid=os.getpid(), protocol=self.protocol, variant=self.variant,
                 durable=sorted(self.storage))
        self._call("on_start")
        self._flush_loop()
        if ready is not None:
            ready.set()
        print(f"ready {self.node_id} {host}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()
        self.storage.flush()
        self.log("stop")

"""A client of a real cluster, with the simulator's request/reply rules.

One :class:`Client` is one Jepsen *process*: it runs one operation at a time.
An operation is a :class:`~consensus_lab.sim.ClientRequest` ``(client, seq, f,
key, value, attempt)``; a retry keeps ``seq`` so the service can recognise it
and apply it once.  The node answers ``Ok`` (or a plain value), ``Fail`` or
``Redirect(leader)``:

* ``Redirect`` -> ask the named leader (or the next node) at once;
* no answer within ``timeout`` (node down, paused, partitioned) -> the next node;
* ``deadline`` passed -> give up: the outcome is ``info``, unknown, and -- as in
  Jepsen -- this process is spent; the caller starts a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from ..sim.clients import ClientRequest, Fail, Ok, Redirect
from .wire import WireError, decode_frame, encode_frame

__all__ = ["Client", "Outcome"]

Outcome = tuple[str, Any]  # ("ok", value) | ("fail", reason) | ("info", None)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class Client:
    """Talks to the nodes at ``addrs``; ``types`` are the protocol's wire types."""

    def __init__(
        self,
        name: str,
        addrs: Mapping[str, tuple[str, int]],
        types: Mapping[str, type],
        *,
        timeout: float = 0.5,
        deadline: float = 2.0,
        first: str | None = None,
    ) -> None:
        self.name, self.addrs, self.types = name, dict(addrs), types
        self.timeout, self.deadline = timeout, deadline
        self.order = sorted(self.addrs)
        self.target = first if first in self.addrs else self.order[0]
        self.seq = 0
        self.attempts = 0  # every send, redirects and timeouts included
        self._conns: dict[str, _Conn] = {}

    async def _conn(self, node: str) -> _Conn:
        conn = self._conns.get(node)
        if conn is None or conn.writer.is_closing():
            r, w = await asyncio.open_connection(*self.addrs[node], limit=8 * 1024 * 1024)
            conn = self._conns[node] = _Conn(r, w)
        return conn

    def _drop(self, node: str) -> None:
        conn = self._conns.pop(node, None)
        if conn is not None:
            conn.writer.close()

    def _next(self, after: str) -> str:
        return self.order[(self.order.index(after) + 1) % len(self.order)]

    async def _ask(self, node: str, req: ClientRequest, budget: float) -> Any:
        """The node's answer to ``req``, or ``None`` when none came within ``budget``."""
        try:
            conn = await asyncio.wait_for(self._conn(node), budget)
            conn.writer.write(encode_frame("req", self.types, req=req))
            await conn.writer.drain()
            end = time.monotonic() + budget
            while (left := end - time.monotonic()) > 0:
                line = await asyncio.wait_for(conn.reader.readline(), left)
                if not line:
                    raise ConnectionError("closed")
                kind, f = decode_frame(line, self.types)
                got = f.get("req")
                if kind == "rep" and isinstance(got, ClientRequest) and got.seq == req.seq:
                    return f.get("r")
        except (TimeoutError, OSError, WireError, ValueError):
            pass
        self._drop(node)  # a late answer on this connection would confuse the next request
        return None

    async def call(self, f: str, key: Any = None, value: Any = None) -> Outcome:
        """Run one operation to its end: ok, fail or info."""
        self.seq += 1
        give_up = time.monotonic() + self.deadline
        node, attempt = self.target, 0
        while (left := give_up - time.monotonic()) > 0:
            req = ClientRequest(self.name, self.seq, f, key, value, attempt)
            self.attempts += 1
            result = await self._ask(node, req, min(self.timeout, left))
            attempt += 1
            if isinstance(result, Redirect):
                if result.leader in self.addrs and result.leader != node:
                    node = result.leader
                else:  # no leader known yet: try the next node after a short pause
                    node = self._next(node)
                    await asyncio.sleep(min(0.02, max(0.0, give_up - time.monotonic())))
                continue
            if result is None:
                node = self._next(node)
                continue
            self.target = node
            if isinstance(result, Fail):
                return ("fail", result.reason)
            return ("ok", result.value if isinstance(result, Ok) else result)
        return ("info", None)

    def close(self) -> None:
        for node in list(self._conns):
            self._drop(node)

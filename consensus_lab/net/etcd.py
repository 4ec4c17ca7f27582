"""A real etcd cluster under the same harness: the system the course's Raft is compared with.

Debian's ``etcd-server`` package (etcd 3.4) provides ``/usr/bin/etcd``.
:class:`EtcdCluster` starts ``n`` members on loopback, each with its own client
and peer port and data directory, and :class:`EtcdClient` speaks etcd's v3 JSON
gateway (``/v3/kv/range``, ``/v3/kv/put``, ``/v3/kv/txn``) with the same
operations as the course's key-value services: ``read`` (a linearizable range
request, etcd's default), ``write`` and ``cas`` (a transaction comparing the
value, or the key's absence when the expected value is ``None``).

The faults are the process ones, ``kill`` and ``pause``: etcd has no link filter
of ours, and cutting its links would need network namespaces or a firewall.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import shutil
import time
from pathlib import Path
from typing import Any

from .cluster import ProcessCluster, free_ports

__all__ = ["EtcdCluster", "EtcdClient", "etcd_binary"]


def etcd_binary() -> str | None:
    """The etcd executable, or None when it is not installed (``apt-get install etcd-server``)."""
    return shutil.which("etcd")


def _b64(v: Any) -> str:
    return base64.b64encode(str(v).encode()).decode()


def _value(text_b64: str) -> Any:
    text = base64.b64decode(text_b64).decode()
    try:
        return int(text)
    except ValueError:
        return text


class EtcdCluster(ProcessCluster):
    """``n`` etcd members on 127.0.0.1 (client and peer port each)."""

    faults = ("kill", "pause")

    def __init__(self, n: int, run_dir: str | Path) -> None:
        binary = etcd_binary()
        if binary is None:
            raise FileNotFoundError("etcd is not installed (apt-get install etcd-server)")
        super().__init__(n, run_dir)
        self.binary = binary
        ports = free_ports(2 * n)
        self.client_ports = dict(zip(self.names, ports[:n], strict=True))
        self.peer_ports = dict(zip(self.names, ports[n:], strict=True))
        self.token = f"consensus-lab-{ports[0]}"

    def command(self, name: str) -> list[str]:
        cluster = ",".join(f"{m}=http://127.0.0.1:{p}" for m, p in self.peer_ports.items())
        c, p = self.client_ports[name], self.peer_ports[name]
        return [self.binary, "--name", name, "--data-dir", str(self.data_dir(name) / "etcd"),
                "--listen-client-urls", f"http://127.0.0.1:{c}",
                "--advertise-client-urls", f"http://127.0.0.1:{c}",
                "--listen-peer-urls", f"http://127.0.0.1:{p}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{p}",
                "--initial-cluster", cluster, "--initial-cluster-token", self.token,
                "--initial-cluster-state", "new", "--log-level", "warn"]

    async def probe(self, name: str) -> bool:
        try:
            status, _ = await asyncio.to_thread(
                _post, self.client_ports[name], "/v3/maintenance/status", {}, 0.5)
        except (OSError, ValueError):
            return False
        return status == 200

    def client(self, name: str, *, timeout: float, deadline: float, first: str | None = None) -> EtcdClient:
        return EtcdClient(self.client_ports, timeout=timeout, deadline=deadline, first=first)


def _post(port: int, path: str, body: dict[str, Any], timeout: float) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


class EtcdClient:
    """One client process of an etcd cluster, with the course clients' retry rules."""

    def __init__(self, ports: dict[str, int], *, timeout: float, deadline: float,
                 first: str | None = None) -> None:
        self.ports = ports
        self.order = sorted(ports)
        self.target = first if first in ports else self.order[0]
        self.timeout, self.deadline = timeout, deadline

    def _request(self, f: str, key: Any, value: Any) -> tuple[str, dict[str, Any]]:
        k = _b64(key)
        if f in ("read", "get"):
            return "/v3/kv/range", {"key": k}
        if f in ("write", "put"):
            return "/v3/kv/put", {"key": k, "value": _b64(value)}
        if f == "cas":
            expected, new = value
            cmp = ({"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
                   if expected is None else
                   {"key": k, "target": "VALUE", "result": "EQUAL", "value": _b64(expected)})
            return "/v3/kv/txn", {"compare": [cmp], "success": [{"request_put": {"key": k, "value": _b64(new)}}]}
        raise ValueError(f"etcd client: no operation {f!r}")

    async def call(self, f: str, key: Any = None, value: Any = None) -> tuple[str, Any]:
        path, body = self._request(f, key, value)
        give_up = time.monotonic() + self.deadline
        node = self.target
        while (left := give_up - time.monotonic()) > 0:
            try:
                status, out = await asyncio.to_thread(_post, self.ports[node], path, body,
                                                      min(self.timeout, left))
            except (OSError, ValueError):
                status, out = 0, {}
            if status == 200:
                self.target = node
                if f in ("read", "get"):
                    kvs = out.get("kvs") or []
                    return ("ok", _value(kvs[0]["value"]) if kvs else None)
                if f == "cas":
                    return ("ok", None) if out.get("succeeded") else ("fail", "compare failed")
                return ("ok", None)
            node = self.order[(self.order.index(node) + 1) % len(self.order)]
            await asyncio.sleep(0.01)
        return ("info", None)

    def close(self) -> None:
        """Nothing to close: every request has its own connection."""

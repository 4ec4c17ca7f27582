"""``ctx.storage`` on a real disk: a journal of writes, fsynced before the node goes on.

A node's durable state is a key-value map (the simulator's
:class:`~consensus_lab.sim.Storage`).  Here every write is also appended to
``journal.jsonl`` in the node's data directory, one JSON line per write::

    {"set": KEY, "v": VALUE}      {"del": KEY}

In the default mode (``"fsync"``) the line is written and ``os.fsync``-ed before
``storage[key] = value`` returns, so the simulator's rule "durable before the
handler goes on" -- and with it "persist before you reply" -- holds on a real
machine too.  On start the journal is replayed; a torn last line (the process
was killed in the middle of a write) is cut off, anything else unreadable is a
corrupt data directory.  When the journal grows past a few thousand lines it is
rewritten as a fresh journal of the current contents (written to a temporary
file, fsynced, renamed).

The ``"lying"`` mode is a disk that acknowledges writes it has not made durable:
writes are kept in memory and reach the file only at :meth:`flush`, which the
host calls every ``flush_interval`` seconds.  A ``kill -9`` loses every write
since the last flush, exactly as a node that replies before its fsync would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..grading import codec
from ..sim.node import Storage

__all__ = ["DiskStorage", "CorruptDataDir", "DISK_MODES"]

DISK_MODES = ("fsync", "lying")
_COMPACT_AFTER = 4096


class CorruptDataDir(ValueError):
    """The data directory holds something this storage did not write."""


class DiskStorage(Storage):
    """A :class:`Storage` whose contents live in ``data_dir/journal.jsonl``."""

    __slots__ = ("_path", "_types", "_mode", "_pending", "_lines", "_fh")

    def __init__(self, data_dir: str | Path, types: dict[str, type], *, mode: str = "fsync") -> None:
        if mode not in DISK_MODES:
            raise ValueError(f"disk mode {mode!r} is not one of {', '.join(DISK_MODES)}")
        super().__init__()
        self._types = types
        self._mode = mode
        self._pending: list[bytes] = []
        self._path = Path(data_dir) / "journal.jsonl"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lines = self._replay()
        self._fh = open(self._path, "ab")  # noqa: SIM115 -- kept open for the node's life

    # --- reading the journal back -------------------------------------------------------

    def _replay(self) -> int:
        if not self._path.exists():
            return 0
        raw = self._path.read_bytes()
        lines = raw.split(b"\n")
        complete, torn = lines[:-1], lines[-1]
        count = 0
        for i, line in enumerate(complete, 1):
            try:
                rec = json.loads(line)
                if "set" in rec:
                    self._data[rec["set"]] = codec.decode(rec["v"], self._types)
                else:
                    self._data.pop(rec["del"], None)
            except (ValueError, KeyError, TypeError, codec.CodecError) as exc:
                raise CorruptDataDir(f"{self._path}: line {i} is not a storage record ({exc})") from None
            count += 1
        if torn:  # killed mid-write: that write never completed, so it never happened
            with open(self._path, "r+b") as fh:
                fh.truncate(len(raw) - len(torn))
                os.fsync(fh.fileno())
        return count

    # --- writing ------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"storage keys must be strings on a real disk, got {key!r}")
        super().__setitem__(key, value)
        self._write({"set": key, "v": codec.encode(value, self._types)})

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._write({"del": key})

    def _write(self, rec: dict[str, Any]) -> None:
        line = json.dumps(rec, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        if self._mode == "lying":
            self._pending.append(line)
            return
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._lines += 1
        if self._lines > _COMPACT_AFTER:
            self._compact()

    def flush(self) -> None:
        """Make every acknowledged write durable (the lying disk's late fsync)."""
        if not self._pending:
            return
        self._fh.write(b"".join(self._pending))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._lines += len(self._pending)
        self._pending.clear()
        if self._lines > _COMPACT_AFTER:
            self._compact()

    @property
    def unsynced(self) -> int:
        """Writes acknowledged but not yet on disk (always 0 in fsync mode)."""
        return len(self._pending)

    def _compact(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            for k, v in self._data.items():
                rec = {"set": k, "v": codec.encode(v, self._types)}
                fh.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        self._fh.close()
        os.replace(tmp, self._path)
        dfd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._fh = open(self._path, "ab")  # noqa: SIM115
        self._lines = len(self._data)

    def close(self) -> None:
        self._fh.close()

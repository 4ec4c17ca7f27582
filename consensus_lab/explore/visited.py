"""The visited set of breadth-first search, stored compactly.

A state's fingerprint is a 16-byte digest (BLAKE2b).  In a Python ``set`` each
one costs a ``bytes`` object (49 bytes, 64 with the allocator's rounding) plus
its slot in the set's table (16 bytes, at most 60 % full): about 90 bytes per
state.  :class:`FingerprintSet` keeps the 16 bytes themselves in one
``bytearray`` used as an open-addressing hash table (linear probing, at most
2/3 full, grown by doubling): 24 to 48 bytes per state, 32 on average.  A
lookup is a few bytecodes more than a ``set``'s -- under a microsecond against
the tens of microseconds a transition takes -- and the answers are exactly a
set's: whole digests are compared, never a shortened hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["FingerprintSet"]

_WIDTH = 16  # bytes per fingerprint
_EMPTY = bytes(_WIDTH)


class FingerprintSet:
    """A set of 16-byte fingerprints: ``fp in s``, ``s.add(fp)``, ``len(s)``."""

    __slots__ = ("_table", "_mask", "_count", "_zero")

    def __init__(self, items: Iterable[bytes] = (), capacity: int = 1024) -> None:
        slots = 8
        while slots * 2 < capacity * 3:
            slots *= 2
        self._table = bytearray(slots * _WIDTH)
        self._mask = slots - 1
        self._count = 0
        self._zero = False  # the all-zero digest marks an empty slot, so it is kept aside
        for fp in items:
            self.add(fp)

    def _slot(self, fp: bytes) -> tuple[int, bool]:
        """(byte offset of ``fp``'s slot or of the empty slot where it would go, found)."""
        if len(fp) != _WIDTH:
            raise ValueError(f"a fingerprint is {_WIDTH} bytes, got {len(fp)}")
        table = self._table
        mask = self._mask
        i = int.from_bytes(fp[:8], "little") & mask  # digests are uniform: their bytes are a hash
        while True:
            off = i * _WIDTH
            here = table[off:off + _WIDTH]
            if here == fp:
                return off, True
            if here == _EMPTY:
                return off, False
            i = (i + 1) & mask

    def __contains__(self, fp: object) -> bool:
        if type(fp) is not bytes or len(fp) != _WIDTH:
            return False
        if fp == _EMPTY:
            return self._zero
        return self._slot(fp)[1]

    def insert(self, fp: bytes) -> bool:
        """Add ``fp``; True if it was not in the set (one probe where ``in`` then ``add`` take two)."""
        if len(fp) != _WIDTH or fp == _EMPTY:
            n = self._count
            self.add(fp)
            return self._count != n
        table = self._table
        mask = self._mask
        i = int.from_bytes(fp[:8], "little") & mask
        while True:
            off = i * _WIDTH
            here = table[off:off + _WIDTH]
            if here == fp:
                return False
            if here == _EMPTY:
                break
            i = (i + 1) & mask
        table[off:off + _WIDTH] = fp
        self._count += 1
        if (self._count + 1) * 3 > (mask + 1) * 2:
            self._grow()
        return True

    def add(self, fp: bytes) -> None:
        if fp == _EMPTY:
            if not self._zero:
                self._zero = True
                self._count += 1
            return
        off, found = self._slot(fp)
        if found:
            return
        self._table[off:off + _WIDTH] = fp
        self._count += 1
        if (self._count + 1) * 3 > (self._mask + 1) * 2:
            self._grow()

    def _grow(self) -> None:
        old = self._table
        self._table = bytearray(len(old) * 2)
        self._mask = (self._mask + 1) * 2 - 1
        table, mask = self._table, self._mask
        for off in range(0, len(old), _WIDTH):
            fp = old[off:off + _WIDTH]
            if fp != _EMPTY:
                i = int.from_bytes(fp[:8], "little") & mask
                while table[i * _WIDTH:i * _WIDTH + _WIDTH] != _EMPTY:
                    i = (i + 1) & mask
                table[i * _WIDTH:i * _WIDTH + _WIDTH] = fp

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[bytes]:
        if self._zero:
            yield _EMPTY
        t = self._table
        for off in range(0, len(t), _WIDTH):
            fp = bytes(t[off:off + _WIDTH])
            if fp != _EMPTY:
                yield fp

    @property
    def nbytes(self) -> int:
        """Bytes of the table (the memory the set holds, bar a few dozen bytes of object)."""
        return len(self._table)

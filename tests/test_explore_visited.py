"""The compact visited set answers as a Python set of the same fingerprints would."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab.explore.visited import FingerprintSet
from consensus_lab.testing import examples

fingerprints = st.binary(min_size=16, max_size=16)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(fingerprints, max_size=300), st.lists(fingerprints, max_size=50))
def test_it_is_a_set(added, probes):
    fs, ref = FingerprintSet(capacity=4), set()  # small, so that it grows many times
    for k, fp in enumerate(added):
        assert (fp in fs) == (fp in ref)
        if k % 2:
            fs.add(fp)
        else:
            assert fs.insert(fp) == (fp not in ref)
        ref.add(fp)
        assert len(fs) == len(ref)
    for fp in probes + added:
        assert (fp in fs) == (fp in ref)
    assert sorted(fs) == sorted(ref)


def test_colliding_slots_and_the_zero_digest():
    # the same first 8 bytes: the same home slot, told apart by the other 8
    same_home = [bytes(8) + bytes([i]) * 8 for i in range(1, 40)]
    fs = FingerprintSet(same_home)
    assert all(fp in fs for fp in same_home) and len(fs) == 39
    assert bytes(8) + b"\xff" * 8 not in fs
    zero = bytes(16)
    assert zero not in fs
    assert fs.insert(zero) and not fs.insert(zero)
    fs.add(zero)
    assert zero in fs and len(fs) == 40


def test_memory_per_fingerprint_is_small():
    fs = FingerprintSet()
    n = 20_000
    for i in range(n):
        fs.add(hashlib.blake2b(str(i).encode(), digest_size=16).digest())
    assert len(fs) == n
    assert fs.nbytes / n <= 16 * 3  # a set of bytes objects takes about 90 bytes per fingerprint


def test_fingerprints_are_sixteen_bytes():
    fs = FingerprintSet()
    with pytest.raises(ValueError, match="16 bytes"):
        fs.add(b"short")
    assert b"short" not in fs and "x" not in fs

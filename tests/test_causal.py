"""Causal consistency (Bouajjani et al., POPL 2017): named histories and a
differential test of every level against the brute-force definition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab.checkers import check_sequential, history_from_text
from consensus_lab.checkers.brute import brute_force_causal
from consensus_lab.checkers.causal import NotDifferentiatedError, check_causal
from consensus_lab.checkers.sessions import check_session_guarantees
from consensus_lab.testing import examples


def seq_history(*ops: tuple[int, str, str, object]) -> list:
    """Operations one after another: (process, f, key, value)."""
    lines = []
    for p, f, key, value in ops:
        v = "nil" if value is None else value
        lines.append(f"{p} invoke {f} {v if f == 'write' else 'nil'} {key}")
        lines.append(f"{p} ok {f} {v} {key}")
    return history_from_text("\n".join(lines))


# Two writers, two readers who see the writes in opposite orders ("IRIW").
IRIW = seq_history((0, "write", "x", 1), (1, "write", "x", 2),
                   (2, "read", "x", 1), (2, "read", "x", 2),
                   (3, "read", "x", 2), (3, "read", "x", 1))

# Process 0 writes x then y; process 1 sees y's write but then the old x.
STALE_CAUSE = seq_history((0, "write", "x", 1), (0, "write", "y", 1),
                          (1, "read", "y", 1), (1, "read", "x", None))


def test_causal_but_not_sequential() -> None:
    r = check_causal(IRIW)
    assert r.holds and r.verdict == "causal (causal memory)"
    assert not check_sequential(IRIW, "register").holds
    conv = check_causal(IRIW, mode="convergence")  # no single order of the writes
    assert not conv.holds and conv.pattern == "CyclicCF"
    assert brute_force_causal(IRIW, "memory") and not brute_force_causal(IRIW, "convergence")


def test_session_guarantees_hold_but_not_causal() -> None:
    sessions = check_session_guarantees(STALE_CAUSE)
    assert all(s.holds for s in sessions.values())
    for mode in ("weak", "memory", "convergence"):
        r = check_causal(STALE_CAUSE, mode=mode)
        assert not r.holds and r.pattern == "WriteCOInitRead"
        assert r.witness == [0, 3]  # the write of x, the read that missed it
    assert "#3 x:r->nil" in check_causal(STALE_CAUSE).detail


def test_named_patterns() -> None:
    thin = seq_history((0, "write", "x", 1), (1, "read", "x", 7))
    assert check_causal(thin).pattern == "ThinAirRead"
    overwritten = seq_history((0, "write", "x", 1), (0, "write", "x", 2), (1, "read", "x", 2),
                              (1, "read", "x", 1))
    assert check_causal(overwritten, mode="weak").pattern == "WriteCORead"
    cyclic = seq_history((0, "read", "x", 2), (1, "read", "y", 1))
    cyclic += seq_history((0, "write", "y", 1), (1, "write", "x", 2))
    assert check_causal(cyclic).pattern == "CyclicCO"


def test_needs_unique_writes() -> None:
    twice = seq_history((0, "write", "x", 1), (1, "write", "x", 1))
    with pytest.raises(NotDifferentiatedError, match="written twice"):
        check_causal(twice)


@st.composite
def small_histories(draw: st.DrawFn) -> list:
    """Up to 8 operations of 2-4 processes on 1-2 keys; writes unique, reads
    mostly of something written to the key (else nil), in a random interleaving."""
    n = draw(st.integers(2, 8))
    procs = draw(st.integers(2, 4))
    keys = ["x", "y"][: draw(st.integers(1, 2))]
    ops, written = [], {k: [] for k in keys}
    counter = 1
    for _ in range(n):
        p = draw(st.integers(0, procs - 1))
        k = draw(st.sampled_from(keys))
        if draw(st.booleans()):
            ops.append((p, "write", k, counter))
            written[k].append(counter)
            counter += 1
        else:
            ops.append((p, "read", k, None))
    # reads see any value ever written to their key (also later ones), or nil
    final = []
    for p, f, k, v in ops:
        if f == "read":
            v = draw(st.sampled_from(written[k])) if written[k] and draw(st.integers(0, 4)) else None
        final.append((p, f, k, v))
    return seq_history(*final)


@settings(max_examples=examples(400), deadline=None)
@given(small_histories())
def test_polynomial_checker_agrees_with_brute_force(history: list) -> None:
    for mode in ("weak", "memory", "convergence"):
        assert check_causal(history, mode=mode).holds == brute_force_causal(history, mode), mode


@settings(max_examples=examples(150), deadline=None)
@given(small_histories())
def test_levels_are_ordered(history: list) -> None:
    """Sequential implies CM and CCv; each of them implies CC."""
    weak, mem, conv = (check_causal(history, mode=m).holds for m in ("weak", "memory", "convergence"))
    if check_sequential(history, "register").holds:
        assert mem and conv
    assert weak or not (mem or conv)


def test_consistency_levels_on_files(tmp_path, capsys) -> None:  # noqa: ANN001
    from consensus_lab.cli import main
    from consensus_lab.history import history_to_json

    iriw = tmp_path / "iriw.json"
    iriw.write_text(history_to_json(IRIW))
    stale = tmp_path / "stale.json"
    stale.write_text(history_to_json(STALE_CAUSE))
    assert main(["check", str(iriw), "--consistency", "causal"]) == 0
    assert main(["check", str(iriw), "--consistency", "causal-convergence"]) == 1
    assert main(["check", str(iriw), "--consistency", "sequential", "--model", "register"]) == 1
    assert main(["check", str(iriw), "--consistency", "linearizable"]) == 2  # needs --model
    for level in ("read-your-writes", "monotonic-reads", "monotonic-writes", "writes-follow-reads"):
        assert main(["check", str(stale), "--consistency", level]) == 0, level
    capsys.readouterr()
    assert main(["check", str(stale), "--consistency", "causal", "--json", "-"]) == 1
    import json

    record = json.loads(capsys.readouterr().out)
    assert record["holds"] is False and "WriteCOInitRead" in record["detail"]
    twice = tmp_path / "twice.json"
    twice.write_text(history_to_json(seq_history((0, "write", "x", 1), (1, "write", "x", 1))))
    assert main(["check", str(twice), "--consistency", "causal"]) == 3

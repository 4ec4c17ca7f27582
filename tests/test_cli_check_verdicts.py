"""``consensus-lab check --json``: the ``verdict`` field keeps to fixed words at
every consistency level (the contract's for linearizable, holds / violated /
unknown for the others); the checker's own words go to ``checker_verdict``."""

from __future__ import annotations

import json

import pytest

from consensus_lab.checkers import history_from_text
from consensus_lab.checkers.levels import CONSISTENCY_LEVELS
from consensus_lab.cli import main
from consensus_lab.cli.check import json_verdict
from consensus_lab.history import history_to_json

REGISTER = {
    "good": "0 invoke write 1 x\n0 ok write 1 x\n1 invoke read nil x\n1 ok read 1 x",
    # one anomaly for each register level: process 0 reads nothing after its own writes
    # (read-your-writes), process 1 reads 2 then 1 (monotonic reads and writes), process 2
    # sees y = 3, written after a read of x = 2, and then the initial x (writes follow reads)
    "stale": "\n".join(f"{p} invoke {f} {'nil' if f == 'read' else v} {k}\n{p} ok {f} {v} {k}" for p, f, k, v in (
        (0, "write", "x", 1), (0, "write", "x", 2), (1, "read", "x", 2), (1, "write", "y", 3),
        (1, "read", "x", 1), (2, "read", "y", 3), (2, "read", "x", "nil"), (0, "read", "x", "nil"))),
    # the same value written twice: the causal checkers cannot tell the writes apart
    "twice": "0 invoke write 1 x\n0 ok write 1 x\n1 invoke write 1 x\n1 ok write 1 x",
}
#: the write guarantees need reads that name every write they saw (a grow-only set): process 1
#: sees 2 without 1 (monotonic writes), process 2 sees 3 without the 2 it followed
SETS = {
    "good": REGISTER["good"],
    "stale": "0 invoke add 1 x\n0 ok add 1 x\n0 invoke add 2 x\n0 ok add 2 x\n1 invoke read nil x\n"
             "1 ok read #{2} x\n1 invoke add 3 x\n1 ok add 3 x\n2 invoke read nil x\n2 ok read #{1 3} x",
}
TXN = {
    "good": "0 invoke txn [[:append x 1]]\n0 ok txn [[:append x 1]]\n"
            "1 invoke txn [[:r x nil]]\n1 ok txn [[:r x [1]]]",
    # an aborted read (G1a): violates every isolation level
    "aborted": "0 invoke txn [[:append x 1]]\n0 fail txn [[:append x 1]]\n"
               "1 invoke txn [[:r x nil]]\n1 ok txn [[:r x [1]]]",
}
ISOLATION = ("read-committed", "snapshot-isolation", "serializable", "strict-serializable")
WORDS = {"linearizable": ("linearizable", "not linearizable", "unknown")}


def records(tmp_path, capsys, level: str) -> list[dict]:  # noqa: ANN001
    files = []
    histories = TXN if level in ISOLATION else SETS if level in ("monotonic-writes", "writes-follow-reads") \
        else REGISTER
    for name, text in histories.items():
        path = tmp_path / f"{name}.json"
        path.write_text(history_to_json(history_from_text(text)))
        files.append(str(path))
    model = ["--model", "register"] if level in ("linearizable", "sequential") else []
    capsys.readouterr()
    main(["check", *files, "--consistency", level, *model, "--json", "-"])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("level", CONSISTENCY_LEVELS)
def test_every_level_writes_a_verdict_in_fixed_words(tmp_path, capsys, level) -> None:  # noqa: ANN001
    held, violated, unknown = WORDS.get(level, ("holds", "violated", "unknown"))
    out = records(tmp_path, capsys, level)
    assert len(out) >= 2
    for r in out:
        expected = unknown if r["holds"] is None else held if r["holds"] else violated
        assert r["verdict"] == expected, (level, r)
        assert r["checker_verdict"] and r["consistency"] == level
    verdicts = [r["verdict"] for r in out]
    assert verdicts[0] == held and verdicts[1] == violated, (level, out)
    if level in ("causal", "causal-convergence", "weak-causal"):
        assert verdicts[2] == unknown  # the same value written twice: no answer, in fixed words too
    if level not in WORDS:  # the checker's own words are kept, and differ from the fixed ones
        assert any(r["checker_verdict"] not in ("holds", "violated", "unknown") for r in out)


def test_json_verdict_refuses_an_unknown_status() -> None:
    assert json_verdict("causal", "violated") == "violated"
    assert json_verdict("linearizable", "holds") == "linearizable"
    with pytest.raises(ValueError):
        json_verdict("causal", "not causal")

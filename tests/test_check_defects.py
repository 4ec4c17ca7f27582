"""Regression tests for the seven defects of issue 19, each on a history written here.

Every test below failed on the checker before the fix (wrong verdict, traceback,
endless search, accepted bad argument or wrong exit code).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from consensus_lab.checkers import check_linearizable, history_from_text, parse_history
from consensus_lab.checkers import linearizability as lin
from consensus_lab.checkers.generate import register_history, set_history
from consensus_lab.checkers.independent import AmbiguousShapeError, unwrap_independent
from consensus_lab.cli import main
from consensus_lab.history import FrozenMap, Op


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def edn(*events: str) -> str:
    return "\n".join("{" + e + "}" for e in events) + "\n"


# --- 1. independent [k v] tuples ----------------------------------------------

# Two keys, each linearizable on its own; read as ONE register holding pairs, the
# read of [1 5] after the write of [2 7] is impossible.
INDEPENDENT = edn(
    ":process 0, :type :invoke, :f :write, :value [1 5]",
    ":process 0, :type :ok, :f :write, :value [1 5]",
    ":process 1, :type :invoke, :f :write, :value [2 7]",
    ":process 1, :type :ok, :f :write, :value [2 7]",
    ":process 2, :type :invoke, :f :read, :value [1 nil]",
    ":process 2, :type :ok, :f :read, :value [1 5]",
    ":process 3, :type :invoke, :f :cas, :value [2 [7 8]]",
    ":process 3, :type :info, :f :cas, :value [2 [7 8]]",
)


def test_independent_history_is_checked_per_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "indep.edn", INDEPENDENT)
    assert main(["check", path, "--model", "cas-register"]) == 0
    assert "linearizable" in capsys.readouterr().out
    # the same file forced to be one register is the (right) answer to another question
    assert main(["check", path, "--model", "cas-register", "--independent", "no"]) == 1
    events = unwrap_independent(parse_history(INDEPENDENT).events)
    assert [(e.key, e.value) for e in events[:2]] == [(1, 5), (1, 5)]
    assert events[6].key == 2 and events[6].value == (7, 8)
    assert events[7].key == 2  # the info completion keeps its invocation's key


def test_kv_model_reads_independent_tuples_too(tmp_path: Path) -> None:
    path = write(tmp_path, "indep.edn", INDEPENDENT.replace(":f :cas, :value [2 [7 8]]", ":f :write, :value [2 8]"))
    assert main(["check", path, "--model", "kv"]) == 0


def test_ambiguous_pairs_are_refused_with_the_flag_to_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edn(
        ":process 0, :type :invoke, :f :write, :value [1 5]",
        ":process 0, :type :ok, :f :write, :value [1 5]",
        ":process 1, :type :invoke, :f :read, :value nil",
        ":process 1, :type :ok, :f :read, :value [1 5]",
    )
    path = write(tmp_path, "pairs.edn", text)
    assert main(["check", path, "--model", "register"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--independent yes" in err and "--independent no" in err
    assert main(["check", path, "--model", "register", "--independent", "no"]) == 0
    with pytest.raises(AmbiguousShapeError):
        unwrap_independent(parse_history(text).events)


# --- 2. EDN maps and sets as values ---------------------------------------------


def test_maps_and_sets_as_values_and_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edn(
        ':process 0, :type :invoke, :f :write, :key {:table "t", :id 1}, :value {:name "a", :tags #{1 2}}',
        ':process 0, :type :ok, :f :write, :key {:table "t", :id 1}, :value {:name "a", :tags #{1 2}}',
        ':process 1, :type :invoke, :f :read, :key {:id 1, :table "t"}, :value nil',
        ':process 1, :type :ok, :f :read, :key {:id 1, :table "t"}, :value {:tags #{2 1}, :name "a"}',
    )
    path = write(tmp_path, "maps.edn", text)
    assert main(["check", path, "--model", "register"]) == 0
    stale = write(tmp_path, "stale.edn", text.replace('{:tags #{2 1}, :name "a"}', '{:tags #{2}, :name "a"}'))
    assert main(["check", stale, "--model", "register"]) == 1
    events = parse_history(text).events
    assert isinstance(events[0].value, FrozenMap) and hash(events[0].value) == hash(events[3].value)


def test_json_objects_as_values(tmp_path: Path) -> None:
    events = [
        {"process": 0, "type": "invoke", "f": "write", "value": {"a": [1, {"b": 2}]}},
        {"process": 0, "type": "ok", "f": "write", "value": {"a": [1, {"b": 2}]}},
        {"process": 1, "type": "invoke", "f": "read", "value": None},
        {"process": 1, "type": "ok", "f": "read", "value": {"a": [1, {"b": 2}]}},
    ]
    path = write(tmp_path, "h.json", json.dumps({"events": events}))
    assert main(["check", path, "--model", "register"]) == 0


# --- 3. bounded memory ----------------------------------------------------------


def test_set_history_with_many_indeterminate_adds_is_decided_fast() -> None:
    t0 = time.perf_counter()
    r = check_linearizable(set_history(300, 60), "set", timeout=10)
    assert r.verdict == "linearizable", r.detail
    assert time.perf_counter() - t0 < 2
    # a completed add the final read missed: refuted, and the culprits are named
    h = set_history(300, 60)
    read = h[-61]
    h[-61] = Op(read.process, "ok", "read", None, read.value - {100})
    bad = check_linearizable(h, "set", timeout=10)
    assert bad.verdict == "not linearizable" and "did not see 100" in bad.detail


def test_memory_budget_gives_unknown_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    r = check_linearizable(hopeless_history(), "register", max_memory=1, prechecks=False, timeout=30)
    assert r.verdict == "unknown" and r.budget == "memory"
    assert r.detail.startswith("unknown (memory budget)")

    def boom(self: object):  # noqa: ANN202
        raise MemoryError
        yield

    monkeypatch.setattr(lin._PartitionSearch, "run", boom)
    r = check_linearizable(hopeless_history(), "register", prechecks=False)
    assert r.verdict == "unknown" and r.budget == "memory"


def test_max_memory_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "h.txt", to_text(hopeless_history()))
    assert main(["check", path, "--model", "register", "--max-memory", "0.001", "--timeout", "30"]) == 3
    assert "unknown (memory budget)" in capsys.readouterr().out
    assert main(["check", path, "--model", "register", "--max-memory", "nan"]) == 2


# --- 4. cheap refutations ---------------------------------------------------------


def test_read_of_a_value_nobody_wrote_is_refuted_without_search() -> None:
    h = register_history()
    i = next(i for i, e in enumerate(h) if e.type == "ok" and e.f == "read" and i > 1000)
    h[i] = Op(h[i].process, "ok", "read", None, 123456)
    r = check_linearizable(h, "register", timeout=5)
    assert r.verdict == "not linearizable" and r.precheck == "unwritten value"
    assert "pre-check 'unwritten value'" in r.detail and "123456" in r.detail
    assert r.seconds < 1 and r.states == 0


def test_read_that_must_precede_the_write_it_saw_is_refuted() -> None:
    h = history_from_text("""
        0 invoke read nil
        0 ok     read 5
        1 invoke write 5
        1 info   write 5
    """)
    r = check_linearizable(h, "register")
    assert r.precheck == "future read" and r.unplaceable == [0]
    assert "pre-check 'future read'" in r.detail


# --- 5. --timeout nan / inf -----------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-3"])
def test_timeout_must_be_positive_and_finite(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    path = write(tmp_path, "h.edn", INDEPENDENT)
    assert main(["check", path, "--model", "cas-register", f"--timeout={value}"]) == 2
    assert "--timeout must be a positive, finite number" in capsys.readouterr().err
    with pytest.raises(ValueError, match="finite"):
        check_linearizable([], "register", timeout=float(value))


# --- 6. zero client operations ----------------------------------------------------------


def test_only_nemesis_events_is_trivially_linearizable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = edn(":process :nemesis, :type :info, :f :start, :value nil",
               ":process :nemesis, :type :info, :f :start, :value [:isolated {\"n1\" #{\"n2\"}}]")
    path = write(tmp_path, "nemesis.edn", text)
    assert main(["check", path, "--model", "cas-register", "--json", "-"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verdict"] == "linearizable" and record["operations"] == 0 and record["skipped"] == 2
    assert "no client operations" in record["detail"]
    as_json = write(tmp_path, "nemesis.json", json.dumps([{"process": "nemesis", "type": "info", "f": "kill"}]))
    assert main(["check", as_json, "--model", "register"]) == 0
    empty = write(tmp_path, "empty.edn", "\n")
    assert main(["check", empty, "--model", "register"]) == 2


# --- 7. exit codes: unknown is 3, an internal error never 0 or 1 --------------------------


def hopeless_history(n: int = 22) -> list[Op]:
    """Many concurrent writes, then reads of 98, 99, 98 one after another, whose
    writers are indeterminate: not linearizable, no pre-check applies, and the
    search must try every subset of the writes."""
    h = [Op(p, "invoke", "write", None, p) for p in range(n)]
    h += [Op(98, "invoke", "write", None, 98), Op(99, "invoke", "write", None, 99)]
    h += [Op(p, "ok", "write", None, p) for p in range(n)]
    for v in (98, 99, 98):
        h += [Op(200 + v, "invoke", "read"), Op(200 + v, "ok", "read", None, v)] if v == 99 else [
            Op(300 + len(h), "invoke", "read"), Op(300 + len(h), "ok", "read", None, v)]
    return h


def to_text(h: list[Op]) -> str:
    return "".join(f"{e.process}\t:{e.type}\t:{e.f}\t{'nil' if e.value is None else e.value}\n" for e in h)


def test_unknown_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "history.txt", to_text(hopeless_history()))
    assert main(["check", path, "--model", "register", "--timeout", "0.3"]) == 3
    assert "unknown (time budget)" in capsys.readouterr().out
    good = write(tmp_path, "good.edn", INDEPENDENT)
    assert main(["check", good, path, "--model", "cas-register", "--timeout", "0.3"]) == 3


def test_internal_error_exits_4_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import consensus_lab.cli.check as check_cli

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("checker bug")

    monkeypatch.setattr(check_cli, "check_consistency", broken)
    path = write(tmp_path, "h.edn", INDEPENDENT)
    assert main(["check", path, "--model", "cas-register"]) == check_cli.EXIT_INTERNAL == 4
    err = capsys.readouterr().err
    assert err == "consensus-lab: internal error: RuntimeError: checker bug\n"

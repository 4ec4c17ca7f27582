"""Every history format a Jepsen user has, each read from a fixture in tests/data/histories.

The fixtures are small files written for these tests (tests/data/histories/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensus_lab.checkers import check_linearizable, detect_format, load_history, parse_history
from consensus_lab.checkers.formats import read_history_file
from consensus_lab.checkers.models import get_model
from consensus_lab.cli import main

DATA = Path(__file__).parent / "data" / "histories"

CASES = [
    # file, format, model, exit code of `check`
    ("knossos-tuples.edn", "jepsen-edn", "cas-register", 0),
    ("knossos-tuples-lines.edn", "jepsen-edn", "register", 1),
    ("jepsen-modern.log", "jepsen-log", "cas-register", 0),
    ("history.txt", "history-txt", "cas-register", 1),
    ("nemesis.json", "json", "register", 0),
    ("bom.edn", "jepsen-edn", "register", 0),
    ("multi-register.edn", "jepsen-edn", "multi-register", 0),
    ("multi-register-torn.edn", "jepsen-edn", "multi-register", 1),
    ("mutex.edn", "jepsen-edn", "mutex", 0),
    ("mutex-double.edn", "jepsen-edn", "mutex", 1),
]


@pytest.mark.parametrize(("name", "fmt", "model", "code"), CASES)
def test_fixture_reads_and_checks(name: str, fmt: str, model: str, code: int,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / name
    text = path.read_text(encoding="utf-8")
    assert detect_format(text, path) == fmt
    parsed = read_history_file(path)
    assert parsed.format == fmt and parsed.events
    assert main(["check", str(path), "--model", model]) == code
    assert main(["check", str(path), "--model", model, "--format", fmt]) == code
    capsys.readouterr()


def test_knossos_tuples_become_events() -> None:
    parsed = read_history_file(DATA / "knossos-tuples.edn")
    assert parsed.skipped == 1  # the nemesis tuple
    ev = parsed.events
    assert (ev[0].process, ev[0].type, ev[0].f, ev[0].value) == (0, "invoke", "write", 1)
    assert ev[4].value == (1, 2)
    lines = read_history_file(DATA / "knossos-tuples-lines.edn").events
    assert [e.type for e in lines] == ["invoke", "invoke", "ok", "ok", "invoke", "ok"]


def test_raw_jepsen_log_skips_set_up_lines() -> None:
    parsed = read_history_file(DATA / "jepsen-modern.log")
    assert len(parsed.events) == 10 and parsed.skipped == 2
    assert parsed.lines[0] == 5  # the first operation's line, after four set-up lines
    info = parsed.events[5]
    assert (info.type, info.f) == ("info", "cas")
    fail = parsed.events[9]
    assert (fail.type, fail.value) == ("fail", None)  # "nil\t:not-found": the error is dropped


def test_history_txt_is_tab_separated_with_an_error_column() -> None:
    parsed = read_history_file(DATA / "history.txt")
    assert parsed.skipped == 1 and len(parsed.events) == 8
    assert parsed.events[5].value == (1, 2)
    r = check_linearizable(parsed.events, "cas-register")
    assert r.precheck == "unwritten value"  # the failed cas never wrote 2


def test_json_nemesis_events_are_skipped_and_bom_ignored() -> None:
    parsed = read_history_file(DATA / "nemesis.json")
    assert parsed.skipped == 2 and [e.process for e in parsed.events] == [0, 0, 1, 1]
    assert load_history(DATA / "bom.edn")[0].value == 1
    with_bom = "\ufeff" + json.dumps([{"process": 0, "type": "invoke", "f": "read"}])
    assert parse_history(with_bom).format == "json"


def test_nil_reads_and_initial_value_switches(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "knossos-tuples-lines.edn")  # write 1, read 1, then read nil
    assert main(["check", path, "--model", "register"]) == 1
    assert main(["check", path, "--model", "register", "--nil-reads", "unknown"]) == 0
    events = load_history(path)
    assert not check_linearizable(events, get_model("register")).ok
    assert check_linearizable(events, get_model("register", nil_reads="unknown")).ok
    # a register that starts at 0: a first read of 0 is legal only with --initial 0
    zero = parse_history("{:process 0, :type :invoke, :f :read, :value nil}\n"
                         "{:process 0, :type :ok, :f :read, :value 0}\n").events
    assert not check_linearizable(zero, "register").ok
    assert check_linearizable(zero, get_model("register", initial=0)).ok
    capsys.readouterr()


def test_other_files_get_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {
        "x.csv": ("a,b,c\n1,2,3\n", "x.csv:1: bad JSON"),
        "x.log": ("hello world\nnothing here\n", "x.log:1: not a Jepsen log line"),
        "x.txt": ("0\t:invoke\t:read\tnil\n0\t:done\t:read\tnil\n", "x.txt:2: type :done is not one of"),
        "x.edn": ("[0 :invoke :read nil]\n[0 :ok :read [1 2\n", "x.edn:2: bad EDN"),
        "y.edn": ("[[0 :invoke :read]] 3\n", "expected a map"),
    }
    for name, (text, message) in bad.items():
        path = tmp_path / name
        path.write_text(text)
        assert main(["check", str(path), "--model", "register"]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (name, err)
    with_initial = tmp_path / "ok.edn"
    with_initial.write_text((DATA / "mutex.edn").read_text())
    assert main(["check", str(with_initial), "--model", "mutex", "--initial", "0"]) == 2
    assert "--initial and --nil-reads apply to" in capsys.readouterr().err
    assert main(["check", str(DATA / "bom.edn"), "--model", "register", "--initial", "[1"]) == 2
    assert "--initial" in capsys.readouterr().err


def test_txn_that_is_not_a_list_of_micro_ops_is_bad_input(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.edn"
    path.write_text("{:process 0, :type :invoke, :f :txn, :value [[:inc :x 1]]}\n"
                    "{:process 0, :type :ok, :f :txn, :value [[:inc :x 1]]}\n")
    assert main(["check", str(path), "--model", "multi-register"]) == 2
    assert "t.edn:1: a txn needs a value" in capsys.readouterr().err

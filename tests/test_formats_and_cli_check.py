"""History files (our JSON, Jepsen EDN, Jepsen logs) and `consensus-lab check`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from consensus_lab.checkers import (
    HistoryFormatError,
    detect_format,
    history_from_text,
    load_history,
    parse_history,
)
from consensus_lab.cli import main
from consensus_lab.history import Op, history_to_json

LOG = """\
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:ok\t:read\t1
INFO  jepsen.util - 2   :invoke :cas    [1 2]
INFO  jepsen.util - 2   :info   :cas    :timed-out
INFO  jepsen.util - 3\t:invoke\t:read\tnil
INFO  jepsen.util - 3\t:fail\t:read\t:timed-out
"""

EDN = """\
{:process 0, :type :invoke, :f :append, :key "9", :value "x 0 0 y"}
{:process 0, :type :ok, :f :append, :key "9", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "9", :value nil}
{:process 1, :type :ok, :f :get, :key "9", :value "x 0 0 y"}
"""

BAD_EDN = EDN.replace('{:process 1, :type :ok, :f :get, :key "9", :value "x 0 0 y"}',
                      '{:process 1, :type :ok, :f :get, :key "9" :value')

STALE = [Op(0, "invoke", "write", None, 1), Op(0, "ok", "write", None, 1),
         Op(1, "invoke", "read"), Op(1, "ok", "read", None, None)]


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- reading -----------------------------------------------------------------


def test_jepsen_log_is_read_with_tabs_and_spaces() -> None:
    parsed = parse_history(LOG)
    assert parsed.format == "jepsen-log"
    ev = parsed.events
    assert ev[0] == Op(0, "invoke", "write", None, 1, 1.0)
    assert ev[4].value == (1, 2)  # EDN vector -> tuple
    assert ev[5].type == "info" and ev[5].value is None  # ":timed-out" is an outcome, not a value
    assert parsed.lines == list(range(1, 9))


def test_jepsen_edn_one_map_a_line_or_one_vector() -> None:
    one = parse_history(EDN).events
    assert one[3] == Op(1, "ok", "get", "9", "x 0 0 y", 4.0)
    vector = "[" + EDN.replace("\n", " ") + "]"
    assert [(e.process, e.type, e.f, e.key, e.value) for e in parse_history(vector).events] == [
        (e.process, e.type, e.f, e.key, e.value) for e in one
    ]


def test_edn_nemesis_events_are_skipped() -> None:
    text = '{:process :nemesis, :type :info, :f :start, :value nil}\n' + EDN
    assert len(parse_history(text).events) == 4


def test_our_json_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, "h.json", history_to_json(STALE))
    assert load_history(path) == STALE
    lines = "\n".join(json.dumps(e.to_dict()) for e in STALE)
    assert load_history(write(tmp_path, "h.jsonl", lines)) == STALE


def test_format_detection() -> None:
    assert detect_format(LOG) == "jepsen-log"
    assert detect_format(EDN) == "jepsen-edn"
    assert detect_format(history_to_json(STALE)) == "json"
    assert detect_format("", "x.edn") == "jepsen-edn"


def test_malformed_edn_names_the_line() -> None:
    with pytest.raises(HistoryFormatError) as info:
        parse_history(BAD_EDN, filename="h.txt")
    assert info.value.line == 4
    assert str(info.value).startswith("h.txt:4: ")


def test_broken_line_in_the_middle_is_named() -> None:
    lines = EDN.splitlines()
    lines[1] = lines[1].replace("}", "")
    with pytest.raises(HistoryFormatError, match=r"^h.txt:2: bad EDN: '\{' is never closed"):
        parse_history("\n".join(lines), filename="h.txt")
    lines = EDN.splitlines()
    lines[2] = '{:process 1, :type :invoke, :f :get, :key "9" :value}'
    with pytest.raises(HistoryFormatError, match=r"^h.txt:3: bad EDN: a map needs an even number"):
        parse_history("\n".join(lines), filename="h.txt")


def test_unpaired_completion_names_its_line() -> None:
    text = LOG + "INFO  jepsen.util - 7\t:ok\t:read\t1\n"
    with pytest.raises(HistoryFormatError, match=r":9: process 7 completes"):
        parse_history(text, filename="h.log")


def test_bad_json_event_names_its_line() -> None:
    text = '{"events": [\n  {"process": 0, "type": "invoke", "f": "read"},\n  {"process": 0, "f": "read"}\n]}'
    with pytest.raises(HistoryFormatError, match=r"h.json:3: event has no 'type'"):
        parse_history(text, filename="h.json")


def test_history_from_text() -> None:
    h = history_from_text("""
        0 invoke add 1 "k"   ; a comment
        1 invoke read nil "k"
        0 ok add 1 "k"
        1 ok read #{1} "k"
    """)
    assert h[3] == Op(1, "ok", "read", "k", frozenset({1}), 3.0)
    with pytest.raises(HistoryFormatError, match="<text>:2: expected"):
        history_from_text("0 invoke write 1\n0 ok")
    with pytest.raises(HistoryFormatError, match="<text>:1: process 0 completes"):
        history_from_text("0 ok write 1")


# --- the command -------------------------------------------------------------


def test_check_exit_codes_and_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.log", LOG)
    stale = write(tmp_path, "stale.json", history_to_json(STALE))
    assert main(["check", good, "--model", "cas-register"]) == 0
    capsys.readouterr()
    assert main(["check", good, stale, "--model", "cas-register", "--json", "-"]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["file"], r["verdict"]) for r in records] == [(good, "linearizable"), (stale, "not linearizable")]
    assert all(isinstance(r["seconds"], float) for r in records)


def test_check_kv_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "c.txt", EDN)
    assert main(["check", path, "--model", "kv", "--format", "jepsen-edn", "--timeout", "5"]) == 0
    assert "linearizable" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "text", "extra", "message"),
    [
        ("bad.txt", BAD_EDN, [], "bad.txt:4: bad EDN"),
        ("c.txt", EDN, ["--format", "jepsen-log"], "c.txt:1: not a Jepsen log line"),
        ("h.log", LOG, ["--format", "json"], "h.log:1: bad JSON"),
        ("empty.json", "", [], "empty.json:1: no operations found"),
    ],
)
def test_bad_input_exits_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, extra: list[str], message: str
) -> None:
    path = write(tmp_path, name, text)
    assert main(["check", path, "--model", "kv", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_missing_file_and_wrong_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nope.log"), "--model", "register"]) == 2
    assert "nope.log: no such file" in capsys.readouterr().err
    path = write(tmp_path, "h.log", LOG)
    assert main(["check", path, "--model", "register"]) == 2
    assert "h.log:5: model 'register' has no operation 'cas'" in capsys.readouterr().err
    assert main(["check", path, "--model", "queue"]) == 2
    assert main(["check", path, "--model", "kv", "--timeout", "-1"]) == 2


def test_check_as_a_subprocess(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.txt", BAD_EDN)
    proc = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "check", bad, "--model", "kv"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"consensus-lab: error: {bad}:4: bad EDN: '{{' is never closed"
    assert proc.stdout == ""

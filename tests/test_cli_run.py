"""The ``consensus-lab run`` contract, driven as a user (and an outside checker) would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from consensus_lab.cli import main


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_and_variants(capsys):
    code, out, _ = cli(capsys, "run", "--list")
    assert code == 0 and "broadcast" in out.split()
    code, out, _ = cli(capsys, "run", "broadcast", "--variants")
    assert code == 0 and out.split()[0] == "correct" and "ack-before-store" in out.split()


def test_json_has_the_contract_keys(capsys):
    code, out, _ = cli(capsys, "run", "broadcast", "--seed", "3", "--nemesis", "random", "--json", "-")
    assert code == 0
    obj = json.loads(out)
    for key in ("protocol", "variant", "seed", "nodes", "trace_hash", "violations", "checks", "stats"):
        assert key in obj
    assert obj["protocol"] == "broadcast" and obj["seed"] == 3 and obj["nodes"] == 3
    assert obj["violations"] == [] and len(obj["trace_hash"]) == 64


def test_same_command_same_trace_hash(capsys):
    args = ("run", "broadcast", "--seed", "5", "--nemesis", "crash", "--loss", "0.1", "--json", "-")
    a = json.loads(cli(capsys, *args)[1])
    b = json.loads(cli(capsys, *args)[1])
    assert a["trace_hash"] == b["trace_hash"]


def test_a_violation_exits_1_and_says_how_to_replay(capsys):
    code, out, _ = cli(capsys, "run", "broadcast", "--variant", "ack-before-store", "--nemesis", "crash", "--seed", "2")
    assert code == 1
    assert "VIOLATION durability" in out and "replay: consensus-lab run broadcast --seed 2" in out


def test_plot_and_save_and_replay(capsys, tmp_path):
    png, saved = tmp_path / "d.png", tmp_path / "r.json"
    code, _, _ = cli(capsys, "run", "broadcast", "--duration", "2", "--plot", str(png), "--save", str(saved))
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = cli(capsys, "run", "--replay", str(saved))
    assert code == 0 and "identical trace" in out


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["run", "nope"], "unknown protocol 'nope'"),
        (["run"], "name a protocol"),
        (["run", "broadcast", "--nodes", "0"], "--nodes must be at least 1"),
        (["run", "broadcast", "--nodes", "two"], "--nodes must be a whole number"),
        (["run", "broadcast", "--loss", "1.5"], "--loss must be at most 1"),
        (["run", "broadcast", "--loss", "-0.1"], "--loss must be at least 0"),
        (["run", "broadcast", "--duration", "0"], "--duration must be > 0"),
        (["run", "broadcast", "--nemesis", "1 explode n1"], "unknown nemesis action"),
        (["run", "broadcast", "--nemesis", "sometimes"], "unknown nemesis 'sometimes'"),
        (["run", "broadcast", "--nemesis", "1 crash n7"], "unknown node 'n7'"),
        (["run", "broadcast", "--variant", "typo"], "no variant 'typo'"),
        (["run", "broadcast", "--set", "novalue"], "--set takes KEY=VALUE"),
        (["run", "broadcast", "--set", "x=1"], "no option 'x'"),
        (["run", "broadcast", "--check", "magic"], "unknown check 'magic'"),
        (["run", "broadcast", "--plot", "out.svg"], "ending in .png"),
        (["run", "--replay", "/no/such/file.json"], "cannot read run file"),
        (["run", "broadcast", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, args, fragment):
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unreadable_trace_file_is_exit_2(capsys, tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("garbage")
    code, _, err = cli(capsys, "run", "--replay", str(bad))
    assert code == 2 and "not a saved run" in err


def test_console_entry_point_runs_as_a_process():
    out = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "run", "nope"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("consensus-lab: error: unknown protocol")
    assert "Traceback" not in out.stderr

"""``benchmarks/mutation_report.py``: the kill rate per module from mutmut's ``.meta`` files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_report_counts_each_module_and_lists_the_survivors(tmp_path, capsys):
    report = load("mutation_report")
    meta = tmp_path / "consensus_lab" / "protocols" / "toy.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {f"consensus_lab.protocols.toy.x_f__mutmut_{i}": code
             for i, code in enumerate([1, 1, 3, 0, -24, 33, None], 1)}
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    assert report.main([str(tmp_path), "--survivors"]) == 0
    lines = capsys.readouterr().out.splitlines()
    [row] = [line for line in lines if line.startswith("consensus_lab.protocols.toy ")]
    # killed 3 of 5 reached (a timeout is not a kill); survived, timeout, no tests, not run, other
    assert row.split()[1:] == ["3/5", "60.0%", "1", "1", "1", "1", "0"]
    assert lines[-1] == "consensus_lab.protocols.toy.x_f__mutmut_4"


def test_the_report_and_the_check_refuse_a_missing_folder(tmp_path, capsys):
    assert load("mutation_report").main([str(tmp_path / "none")]) == 2
    assert load("mutation_check").main([str(tmp_path / "t.py"), "x", "--mutants",
                                        str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "no mutmut results" in err and "need" in err


@pytest.mark.parametrize("code", [1, 3])
def test_mutmut_exit_codes_1_and_3_are_kills(code):
    assert load("mutation_report").STATUS[code] == "killed"


def test_the_check_expands_a_glob_and_counts_kills_survivors_and_timeouts(tmp_path):
    """A toy mutants folder: mutant 1 is killed, 2 survives, 3 loops forever (a timeout)."""
    import subprocess
    import sys

    mutants = tmp_path / "mutants"
    (mutants / "tests").mkdir(parents=True)
    (mutants / "toy.py").write_text(
        "import os\n\n\ndef f():\n"
        "    m = os.environ.get('MUTANT_UNDER_TEST', '')\n"
        "    while m.endswith('_3'):\n        pass\n"
        "    return 2 if m.endswith('_1') else 1\n")
    names = [f"toy.x_f__mutmut_{i}" for i in (3, 1, 2)]
    (mutants / "toy.py.meta").write_text(json.dumps(
        {"exit_code_by_key": {**dict.fromkeys(names), "toy.x_g__mutmut_1": None}}))
    test = tmp_path / "test_toy.py"
    test.write_text("import toy\n\n\ndef test_f_is_one():\n    assert toy.f() == 1\n")
    script = str(ROOT / "benchmarks" / "mutation_check.py")
    run = subprocess.run([sys.executable, script, str(test), "--mutants", str(mutants),
                          "--glob", "toy.x_f__*", "--timeout", "8"],
                         capture_output=True, text=True, timeout=120)
    lines = run.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["killed", "SURVIVED", "timeout"]
    assert [line.split()[-1] for line in lines[1:3]] == names[2:] + names[:1]
    assert "(test_f_is_one)" in lines[0] and "toy.x_f__mutmut_1" in lines[0]
    assert lines[3] == "mutation_check: 1 killed, 1 survived, 1 timeout, of 3"
    assert run.returncode == 1 and not list((mutants / "tests").iterdir())
    listed = subprocess.run([sys.executable, script, str(test), "toy.x_g__mutmut_1", "--mutants",
                             str(mutants), "--glob", "toy.x_f__mutmut_[12]", "--list"],
                            capture_output=True, text=True, timeout=60)
    assert listed.stdout.split() == ["toy.x_g__mutmut_1", *names[1:]]

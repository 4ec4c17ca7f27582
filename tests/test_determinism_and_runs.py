"""Same scenario and seed, same trace: in this process, in others, under any hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from consensus_lab import NetworkConfig, Run, Scenario, replay, run
from consensus_lab.sim import RunFileError

SCENARIO = dict(protocol="broadcast", nodes=5, seed=11, duration=6.0, nemesis="random",
                network=NetworkConfig(loss=0.1, duplicate=0.05))

_CHILD = """
import sys
from consensus_lab import run, NetworkConfig
r = run("broadcast", nodes=5, seed=11, duration=6.0, nemesis="random",
        network=NetworkConfig(loss=0.1, duplicate=0.05))
print(r.trace_hash, len(r.trace))
"""


def test_same_seed_same_trace_in_process():
    a, b = run(**SCENARIO), run(**SCENARIO)
    assert a.trace_hash == b.trace_hash
    assert a.trace.to_json() == b.trace.to_json()
    assert run(**{**SCENARIO, "seed": 12}).trace_hash != a.trace_hash


def test_same_trace_in_separate_processes_with_different_hash_seeds():
    here = run(**SCENARIO)
    outs = set()
    for hash_seed in ("0", "1", "12345", "random"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True)
        outs.add(out.stdout.strip())
    assert outs == {f"{here.trace_hash} {len(here.trace)}"}


def test_every_event_kind_shows_up_in_a_busy_run():
    r = run(**{**SCENARIO, "nemesis": "random"})
    kinds = set(r.trace.kinds())
    assert {"send", "deliver", "drop", "duplicate", "timer", "request", "reply", "invoke", "complete"} <= kinds


def test_save_load_replay(tmp_path):
    r = run(**SCENARIO)
    path = r.save(tmp_path / "run.json")
    back = Run.load(path)
    assert back.trace_hash == r.trace_hash
    assert back.history == r.history
    assert back.scenario == r.scenario
    assert back.schedule == r.schedule
    new, same = replay(path)
    assert same and new.trace_hash == r.trace_hash


def test_load_refuses_damaged_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RunFileError, match="not JSON"):
        Run.load(bad)
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(RunFileError, match="not a saved run"):
        Run.load(bad)
    r = run("broadcast", duration=1.0)
    data = r.to_dict()
    data["trace"][3]["t"] = 99.0
    bad.write_text(json.dumps(data))
    with pytest.raises(RunFileError, match="altered"):
        Run.load(bad)
    with pytest.raises(RunFileError, match="cannot read"):
        Run.load(tmp_path / "missing.json")


def test_scenario_repr_is_pasteable():
    sc = Scenario(protocol="broadcast", nodes=4, seed=3, nemesis="crash")
    from consensus_lab.sim import Latency, Workload  # noqa: F401  (names the repr may use)

    again = eval(repr(sc), {"Scenario": Scenario, "NetworkConfig": NetworkConfig})
    assert again == sc

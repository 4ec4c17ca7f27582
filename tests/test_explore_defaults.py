"""The command line's defaults: ``--reduction auto`` and ``--workers auto`` (2 processes where
2 cores are free; the notebook API keeps ``reduction=None, workers=1``), and that neither changes a
verdict or a shortest counterexample."""

from __future__ import annotations

import inspect
import json

import pytest

from consensus_lab.cli import build_parser, main
from consensus_lab.explore import explore, make_world
from consensus_lab.explore import search as search_mod
from consensus_lab.explore.search import auto_reduction, auto_workers


def cli_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["explore", *argv, "--json", "-"])
    return code, json.loads(capsys.readouterr().out)


def test_the_command_line_defaults_are_auto_and_the_api_defaults_are_unchanged():
    args = build_parser().parse_args(["explore", "paxos"])
    assert (args.reduction, args.workers) == ("auto", "auto")
    params = inspect.signature(explore).parameters
    assert params["reduction"].default is None and params["workers"].default == 1  # lessons 05 and 09 count states


@pytest.mark.parametrize("protocol, kw, chosen, fragment", [
    ("twopc", {}, "symmetry", "nodes n2, n3 interchangeable"),
    ("raft", {}, "symmetry", "nodes n1, n2, n3 interchangeable"),
    ("paxos", {"nodes": 5}, "symmetry", "nodes n3, n4, n5 interchangeable"),
    ("paxos", {}, None, "proposers n1, n2 are not interchangeable"),
    ("multi-paxos", {}, None, "ballots break ties by node id"),
    ("twopc", {"variant": "article"}, None, "coin flip"),
    ("broadcast", {}, None, "declares no interchangeable nodes"),
])
def test_auto_reduction_says_what_it_chose_and_why(protocol, kw, chosen, fragment):
    world, _ = make_world(protocol, **kw)
    got, note = auto_reduction(world)
    assert got == chosen and fragment in note and "\n" not in note
    assert note.startswith(f"{chosen or 'none'} (auto;")


def test_auto_workers(monkeypatch):
    monkeypatch.setattr(search_mod.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert auto_workers("bfs") == 2 and auto_workers("dfs") == 1 and auto_workers("random") == 1
    monkeypatch.setattr(search_mod.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert auto_workers("bfs") == 1


def test_cli_default_is_the_symmetric_search_and_auto_workers_give_the_same_answer(capsys, monkeypatch):
    """The default reduction with ``--workers auto`` gives the verdict and shortest counterexample
    of the plain one-process search, and exactly the states, transitions and path of
    ``--reduction symmetry --workers 1``."""
    monkeypatch.setattr(search_mod.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    code, auto = cli_json(capsys, "twopc", "--variant", "no-vote-log")  # the defaults: auto, auto
    assert code == 1 and auto["reduction"] == "symmetry" and auto["workers"] == 2
    assert auto["reduction_note"].startswith("symmetry (auto;")
    code1, one = cli_json(capsys, "twopc", "--variant", "no-vote-log", "--reduction", "symmetry", "--workers", "1")
    assert code1 == 1 and one["workers"] == 1 and one["reduction_note"] == ""
    same = ("verdict", "states", "transitions", "counterexample_length", "path", "violation")
    assert {k: auto[k] for k in same} == {k: one[k] for k in same}
    plain = explore("twopc", variant="no-vote-log", progress=False)
    assert auto["counterexample_length"] == plain.counterexample_length
    assert auto["violation"]["invariant"] == plain.violation.invariant
    assert auto["states"] < plain.states  # the reduction did reduce


def test_cli_default_without_symmetry_is_the_plain_search(capsys, monkeypatch):
    monkeypatch.setattr(search_mod.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    code, auto = cli_json(capsys, "paxos", "--variant", "ignore-accepted")
    plain = explore("paxos", variant="ignore-accepted", progress=False)
    assert code == 1 and auto["reduction"] is None and "not interchangeable" in auto["reduction_note"]
    assert auto["workers"] == 2 and plain.workers == 1
    assert (auto["states"], auto["transitions"], auto["counterexample_length"]) == (
        plain.states, plain.transitions, plain.counterexample_length)
    assert auto["path"] == [str(s) for s in plain.path]


def test_cli_summary_says_when_two_processes_searched(capsys, monkeypatch):
    monkeypatch.setattr(search_mod.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    for argv, processes in ((["twopc", "--variant", "no-vote-log"], True),
                            (["twopc", "--variant", "no-vote-log", "--workers", "1"], False),
                            (["paxos", "--variant", "article"], False)):  # 2 states: never split
        assert main(["explore", *argv]) == 1
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("  explored "))
        assert line.endswith("states/s; 2 processes)") is processes, line


def test_cli_summary_names_the_reduction(capsys):
    code = main(["explore", "paxos", "--depth", "2", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("  reduction: "))
    assert "none (auto; symmetry reduction does not apply to paxos (correct)" in line
    code = main(["explore", "paxos", "--depth", "2", "--reduction", "none"])
    assert code == 0 and "reduction:" not in capsys.readouterr().out


def test_explicit_choices_still_win(capsys):
    assert main(["explore", "paxos", "--reduction", "symmetry"]) == 2  # asked for, refused with the reason
    assert "proposers n1, n2 are not interchangeable" in capsys.readouterr().err
    code, d = cli_json(capsys, "twopc", "--depth", "3", "--strategy", "dfs")
    assert code == 0 and d["workers"] == 1 and d["reduction"] == "symmetry"
    assert main(["explore", "twopc", "--workers", "2", "--strategy", "dfs"]) == 2
    assert main(["explore", "twopc", "--reduction", "auto+symmetry"]) == 2
    assert "unknown reduction" in capsys.readouterr().err


def test_api_accepts_auto():
    r = explore("twopc", variant="uncertain-abort", reduction="auto", workers="auto", progress=False)
    assert r.reduction == "symmetry" and r.reduction_note.startswith("symmetry (auto;")
    assert "  reduction: symmetry (auto;" in r.summary()
    assert r.counterexample_length == explore("twopc", variant="uncertain-abort", progress=False).counterexample_length
    with pytest.raises(ValueError, match="workers must be"):
        explore("twopc", depth=1, progress=False, workers="many")


# --- steps known before they are judged (ExploreWorld.skip_known) ---------------------------------

def _answer(r) -> tuple:
    return (r.verdict, r.states, r.transitions, r.depth, r.counterexample_length, [str(s) for s in r.path],
            r.goals)


@pytest.mark.parametrize("kw", [
    dict(protocol="paxos", variant="ignore-accepted"),
    dict(protocol="twopc", variant="no-vote-log"),
    dict(protocol="raft", depth=5),
    dict(protocol="twopc", variant="no-decision-log", reduction="symmetry"),
    dict(protocol="paxos", depth=5, workers=2),
])
def test_skipping_known_steps_changes_nothing_but_the_work(kw, monkeypatch):
    from consensus_lab.explore.world import ExploreWorld

    skipped = {"n": 0}
    real_step = ExploreWorld.step

    def step(self, s, a, rec=None):
        ns = real_step(self, s, a, rec)
        skipped["n"] += ns.fp is None
        return ns

    monkeypatch.setattr(ExploreWorld, "step", step)
    on = explore(progress=False, time_budget=None, **kw)
    if kw.get("workers", 1) == 1:
        assert skipped["n"] > 0  # the shortcut was taken
    monkeypatch.setattr(ExploreWorld, "skip_known", lambda self, on: setattr(self, "known", None))
    skipped["n"] = 0
    off = explore(progress=False, time_budget=None, **kw)
    assert skipped["n"] == 0
    assert _answer(on) == _answer(off)


def test_known_steps_are_not_skipped_outside_breadth_first_search():
    world, _ = make_world("paxos", depth=3)
    assert world.known is None
    r = explore("paxos", depth=4, strategy="dfs", progress=False)
    assert r.verdict == "no violation" and r._world.known is None
    b = explore("paxos", depth=4, progress=False)
    assert b._world.known is None  # turned off again when the search ends (replays judge every step)

"""Challenges: every one is solved by its script, none by doing nothing; one colour per name."""

from __future__ import annotations

import html

import pytest

from consensus_lab import challenges
from consensus_lab.challenges import Challenge, Prediction, Progress, Verdict

ALL = challenges.all_challenges()


def test_every_lesson_has_a_challenge():
    assert challenges.lessons() == [f"{i:02d}" for i in range(12)]
    assert all(challenges.for_lesson(c.lesson) for c in ALL)
    assert challenges.for_lesson(5) == challenges.for_lesson("05")


@pytest.mark.parametrize("challenge", ALL, ids=[c.id for c in ALL])
def test_script_solves_and_nothing_does_not(challenge: Challenge):
    lab = challenge.lab()
    assert not challenge.evaluate(lab).solved, "doing nothing must not solve it"
    assert not lab.solved
    challenge.solve(lab)
    v = challenge.evaluate(lab)
    assert v.solved, v.detail
    assert lab.solved  # the box checked after the last action and shows the banner
    box = lab.challenge_box
    assert "Solved" in box.w_banner.value and html.escape(challenge.demonstrated[:30]) in box.w_banner.value


def test_challenge_fields_are_complete():
    for c in ALL:
        assert c.goal and c.demonstrated and c.script, c.id
        assert c.goal.count(". ") <= 1, f"{c.id}: the goal is one sentence"
        assert c.hints, c.id


def test_hints_unlock_after_failed_checks_and_prediction_waits():
    c = challenges.get("05-block-participant")
    lab = c.lab()
    box = lab.challenge_box
    lab.predict(0)
    assert "the answer is" not in box.w_banner.value  # not revealed before acting
    assert not lab.check()
    assert box.progress.hints == c.hints[:1] and "hint 1" in box.w_hints.value
    assert "the answer is" not in box.w_banner.value
    c.solve(lab)
    assert lab.solved
    assert "the answer is" in box.w_banner.value and "you predicted" in box.w_banner.value
    assert box.progress.guess == 0


def test_progress_without_widgets():
    calls = []

    def check(lab):
        calls.append(lab)
        return lab["done"]

    c = Challenge(id="99-toy", title="t", goal="g", make=lambda challenge=None: {"done": False}, check=check,
                  hints=("a", "b"), prediction=Prediction("q", ("x", "y"), 1, "why"))
    p = Progress(c)
    lab = {"done": False}
    assert p.update(lab, attempt=True) == Verdict(False)
    assert p.hints == ("a",) and not p.revealed
    p.update(lab, attempt=True)
    p.update(lab, attempt=True)
    assert p.hints == ("a", "b") and p.revealed
    lab["done"] = True
    assert p.update(lab).solved and p.solved
    with pytest.raises(ValueError):
        Prediction("q", ("x",), 3, "")


def test_unknown_challenge_is_one_line_error():
    with pytest.raises(KeyError, match="no challenge 'nope'"):
        challenges.get("nope")


def test_capstone_coordinator_is_the_one_the_story_crashes():
    from consensus_lab.challenges import scenario

    assert scenario._capstone()[1] == scenario._CAP_COORD


def test_figure_8_timeline_is_the_kept_run():
    from consensus_lab.challenges import scenario
    from consensus_lab.protocols.raft_scenarios import kept_run
    from consensus_lab.sim.nemesis import Heal, Partition

    sched = [(t, a) for t, a in kept_run("commit-previous-term").schedule if isinstance(a, (Partition, Heal))]
    want = [(t, min(a.groups, key=len)[0] if isinstance(a, Partition) else None) for t, a in sched]
    assert tuple(want[: len(scenario.FIG8_FAULTS)]) == scenario.FIG8_FAULTS


def test_skew_button_sets_a_clock_and_prints_as_a_script():
    lab = challenges.lab("03-lww-skew")
    lab.w_node.value = "n2"
    lab.w_skew.value = -0.5
    lab.buttons["Skew"].click()
    assert "cl-ok" in lab.w_status.value
    assert "skew n2 -0.5" in lab.script()
    lab.skew("n9", 1.0)
    assert "cl-warn" in lab.w_status.value and "unknown node" in lab.w_status.value


def test_small_labs_report_bad_input_in_one_line_and_bugs_with_a_traceback():
    from consensus_lab.widgets.history_lab import HistoryLab
    from consensus_lab.widgets.model_lab import ModelLab
    from consensus_lab.widgets.placement_lab import PlacementLab

    h = HistoryLab()
    h.complete(0)
    assert "cl-warn" in h.w_status.value and "no open operation" in h.w_status.value
    h.invoke(0, "write", "x")
    assert "whole number" in h.w_status.value and not h.ops
    p = PlacementLab()
    p.kill("n1").kill("n1")
    assert "already down" in p.w_status.value
    m = ModelLab()
    m.set(n=99)
    assert "cl-warn" in m.w_status.value and m.settings()["n"] == 5

    def boom() -> str:
        raise RuntimeError("a bug")

    p._do("n1", boom)
    assert "cl-error" in p.w_status.value and "Traceback" in p.w_status.value
    with pytest.raises(ValueError, match="no challenge"):
        p.check()


def test_model_lab_marks_a_simulation_for_other_settings_stale():
    from consensus_lab.widgets.model_lab import ModelLab

    m = ModelLab(seeds=5)
    m.simulate()
    assert m.simulated() is not None
    m.set(p_down=0.2)
    assert m.simulated() is None and "Simulate again" in m.w_table.value


def test_explorer_lab_steps_and_refuses_to_step_before_a_search():
    from consensus_lab.widgets.explorer_lab import ExplorerLab

    x = ExplorerLab()
    x.next()
    assert "press Search" in x.w_status.value
    x.choose("nope")
    assert "no twin" in x.w_status.value
    x.search()
    n = len(x.steps)
    assert n == len(x.result.path) and x.position == 1
    x.prev()
    assert x.position == 1
    x.last()
    assert x.at_violation and "✘" in x.w_steps.value and x.w_picture.value
    x.next()
    assert x.position == n


def test_scenario_lab_for_challenge_is_the_challenge_lab():
    from consensus_lab.widgets import ScenarioLab

    lab = ScenarioLab.for_challenge("06-stop-livelock")
    assert isinstance(lab, ScenarioLab) and lab.challenge is challenges.get("06-stop-livelock")
    assert "Challenge 06-stop-livelock" in lab._repr_mimebundle_()["text/plain"]


@pytest.mark.parametrize("script, solved, says", [
    ((("run", 0.1), ("crash", "n1"), ("run", 0.4)), False, "already knew the outcome"),
    ((("run", 0.005), ("crash", "n1"), ("run", 0.4)), False, "no participant had voted yes"),
    ((("run", 0.03), ("crash", "n1"), ("run", 0.1)), False, "has not asked"),
    ((("run", 0.03), ("crash", "n1"), ("run", 0.4), ("restart", "n1")), False, "n1 is back"),
])
def test_termination_challenge_needs_the_right_moment_and_the_asking(script, solved, says):
    c = challenges.get("05-termination-cannot-help")
    lab = c.lab()
    challenges.run_script(lab, script)
    v = c.evaluate(lab)
    assert v.solved == solved and says in v.detail


@pytest.mark.parametrize("fix, how", [
    (("reset", {"options": {"backoff": True}}), "randomized backoff"),
    (("reset", {"options": {"backoff": False, "proposers": 1}}), "distinguished proposer"),
    (("crash", "n1"), "n1 silenced"),
])
def test_livelock_challenge_is_solved_by_any_fix_but_only_after_a_livelock(fix, how):
    c = challenges.get("06-livelock-and-stop")
    lab = c.lab()
    challenges.run_script(lab, (fix, ("run", 1.0)))
    assert not c.evaluate(lab).solved  # a value chosen without a duel first proves nothing
    lab = c.lab()
    challenges.run_script(lab, (("reset", {"options": {"backoff": False}}), ("run", 1.0), fix, ("run", 0.5)))
    v = c.evaluate(lab)
    assert v.solved and how in v.detail, v.detail

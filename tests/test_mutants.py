"""The mutation score of the checks: every single-bug mutant loses points, the reference keeps all.

Graded in this process (``LocalHost``): the same spec and check code the sandboxed
grader runs, visible checks and the hidden ones in ``tests/data/hidden``.  The
table of mutants is ``tests/mutants.py`` (``python tests/mutants.py`` prints the
score per exercise).
"""

from __future__ import annotations

import pytest
from mutants import HARMLESS, HIDDEN, MUTANTS, grade

from consensus_lab.grading import registry


@pytest.mark.parametrize("exercise", registry.EXERCISE_IDS)
def test_the_reference_keeps_full_marks_visible_and_hidden(exercise):
    points, most, results = grade(exercise)
    assert points == most, [(r.name, r.message) for r in results if not r.passed]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_every_mutant_loses_points(mutant):
    points, most, results = grade(mutant.exercise, mutant.edits)  # every check: the feedback of each must build
    assert points < most, f"{mutant.id} ({mutant.why}) keeps full marks"
    lost = [r for r in results if r.points < r.max_points]
    assert lost[0].message and lost[0].hint and lost[0].kind  # it says what broke, and a hint for that


@pytest.mark.parametrize("mutant", HARMLESS, ids=[m.id for m in HARMLESS])
def test_harmless_edits_keep_full_marks(mutant):
    points, most, results = grade(mutant.exercise, mutant.edits)
    assert points == most, [(r.name, r.message) for r in results if not r.passed]


def test_every_exercise_has_five_mutants_and_the_named_bugs_are_there():
    per = {ex: sum(m.exercise == ex for m in MUTANTS) for ex in registry.EXERCISE_IDS}
    assert min(per.values()) >= 5, per
    names = {m.id for m in MUTANTS}
    assert {"ex06-revote-on-duplicate", "ex06-no-inquire-handling", "ex06-no-resend-after-restart",
            "ex06-no-inquire-no-resend", "ex08-vote-term-unchecked"} <= names
    assert len(names) == len(MUTANTS)


@pytest.mark.parametrize("exercise", [ex for ex in registry.EXERCISE_IDS if registry.get(ex).kind == "node"])
def test_nodes_that_do_nothing_earn_nothing(exercise):
    """Every node check expects something to happen (answers, a leader): idle nodes score 0."""
    from mutants import answers

    from consensus_lab.grading.hosting import LocalHost

    def nothing(self, *args):
        return None

    idle = {name: type("Idle", (cls,), {h: nothing for h in ("on_start", "on_message", "on_timer",
                                                                "on_client_request")})
            for name, cls in answers(exercise).items()}
    spec = registry.get(exercise)
    host = LocalHost(spec.id, idle)
    for check in list(spec.visible_checks()) + registry.load_hidden(HIDDEN).get(spec.id, []):
        assert spec.run_check(check, host).points == 0, check.name


@pytest.mark.slow
@pytest.mark.parametrize("exercise", [ex for ex in registry.EXERCISE_IDS if registry.get(ex).kind == "node"])
def test_stress_hidden_checks_are_fair_the_reference_passes_more_seeds(exercise):
    """A harsh check must still pass a correct answer on seeds it was not tuned on
    (10 more seeds each; 40 under ``make stress``)."""
    import os

    from mutants import answers

    from consensus_lab.grading.hosting import LocalHost

    spec = registry.get(exercise)
    host = LocalHost(spec.id, answers(exercise))
    for check in registry.load_hidden(HIDDEN).get(spec.id, []):
        if "search" in check.params:  # no seeds: a search covers its bounds (see test_search_checks.py)
            continue
        for seed in range(200, 240 if os.environ.get("CONSENSUS_LAB_STRESS") else 210):
            problem = spec.run_once(host, check.params, seed).problem
            assert problem is None, f"{check.name}, seed {seed}: {problem.message}"

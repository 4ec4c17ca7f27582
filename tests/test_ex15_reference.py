"""Exercise 15's judge: the grader's breadth-first search against a dumb enumeration of schedules.

The grader trusts ``specs.ex15.reference`` to know the shortest counterexample and the number of
distinct states within a bound; here it is compared, on small models, with following every schedule
of at most ``depth`` actions one by one (no seen set, no cleverness).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab.grading.exercises.ex15 import make_model
from consensus_lab.grading.specs.ex15 import reference, replay
from consensus_lab.testing import examples


def every_schedule(model, depth):
    """(the length of the shortest bad schedule or None, the states reached within depth)."""
    seen = {model.initial()}
    level = [model.initial()]
    if model.violation(model.initial()):
        return 0, seen
    for d in range(1, depth + 1):
        level = [model.step(s, a) for s in level for a in model.actions(s)]
        seen.update(level)
        if any(model.violation(s) for s in level):
            return d, seen
    return None, seen


MODELS = st.one_of(
    st.builds(lambda v, c: ("lost-update", {"variant": v, "clients": c}),
              st.sampled_from(["read-write", "lock"]), st.integers(1, 3)),
    st.builds(lambda v: ("mutex", {"variant": v}), st.sampled_from(["naive", "peterson", "turn-first"])),
    st.builds(lambda v, m, ch, cap: ("alternating-bit", {"variant": v, "messages": m, "channel": ch, "capacity": cap}),
              st.sampled_from(["bit", "no-bit"]), st.integers(1, 2), st.sampled_from(["fifo", "reorder"]),
              st.integers(1, 2)),
    st.builds(lambda seed, size, deg, bad, start: ("random-graph", {"seed": seed, "size": size, "degree": deg,
                                                                    "bad": bad, "bad_start": start}),
              st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 3), st.integers(0, 3), st.booleans()),
)


@settings(max_examples=examples(150), deadline=None)
@given(MODELS, st.integers(0, 6))
def test_the_reference_agrees_with_every_schedule(model_spec, depth):
    name, params = model_spec
    model = make_model(name, params)
    path, states, _ = reference(model, depth)
    shortest, seen = every_schedule(model, depth)
    if shortest is None:
        assert path is None and states == len(seen)
    else:
        assert path is not None and len(path) == shortest
        k, end, why = replay(model, path)
        assert k is None and model.violation(end), why


def test_the_twins_break_and_the_correct_variants_hold():
    """Every broken twin has a counterexample of the expected length; the correct variants have none."""
    cases = [("lost-update", {"variant": "read-write"}, 4), ("lost-update", {"variant": "lock"}, None),
             ("mutex", {"variant": "naive"}, 4), ("mutex", {"variant": "turn-first"}, 6),
             ("mutex", {"variant": "peterson"}, None),
             ("alternating-bit", {"variant": "no-bit"}, 4), ("alternating-bit", {"variant": "bit"}, None),
             ("alternating-bit", {"variant": "bit", "channel": "reorder"}, 7)]
    for name, params, length in cases:
        path, _, _ = reference(make_model(name, params), 20)
        assert (None if path is None else len(path)) == length, (name, params, path)

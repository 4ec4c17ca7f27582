"""The checks themselves: references agree with the library, and broken answers are caught.

These run in-process (the self-check's host) -- the sandbox is tested in
test_grader*.py.  Each broken twin below is one classic mistake; the test pins
which check catches it, so a change that blinds a check shows up here.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from consensus_lab.grading import registry
from consensus_lab.grading.extract import answer_source, clear_solutions, read_notebook
from consensus_lab.grading.hosting import LocalHost
from consensus_lab.grading.selfcheck import as_protocol, format_report, replay, run_checks
from consensus_lab.grading.specs._histories import register_history, session_history

ROOT = Path(__file__).resolve().parents[1]


def answer(exercise: str, *edits: tuple[str, str]) -> list:
    """The reference solution's objects, after replacing text (each edit must apply)."""
    spec = registry.get(exercise)
    src = answer_source(read_notebook(ROOT / "solutions" / spec.notebook), spec.id)
    for old, new in edits:
        assert old in src, old
        src = src.replace(old, new)
    scope: dict = {}
    exec(spec.module.PREAMBLE + "\n" + src, scope)
    return [scope[n] for n in spec.interface]


def failed(exercise: str, *edits: tuple[str, str]) -> set[str]:
    report = run_checks(exercise, *answer(exercise, *edits))
    return {r.name for r in report.results if not r.passed}


@pytest.mark.parametrize("exercise", registry.EXERCISE_IDS)
def test_reference_solutions_pass_every_visible_check(exercise):
    report = run_checks(exercise, *answer(exercise))
    assert report.passed, format_report(report)


@pytest.mark.parametrize("exercise", registry.EXERCISE_IDS)
def test_stubs_report_not_implemented_without_raising(exercise, capsys):
    spec = registry.get(exercise)
    src = answer_source(read_notebook(ROOT / "solutions" / spec.notebook), spec.id)
    scope: dict = {}
    exec(spec.module.PREAMBLE + clear_solutions(src)[0], scope)
    report = run_checks(exercise, *[scope[n] for n in spec.interface])
    assert report.not_implemented and report.points == 0
    assert "not implemented yet" in format_report(report)


BROKEN = [
    ("ex01", [("if op.f == \"read\" and op.status == \"ok\" and op.output != value:", "if False:")],
     {"the textbook cases"}),
    ("ex01", [("ops = [op for op in pair_operations(history) if op.status != \"fail\"]",
               "ops = pair_operations(history)")], {"failed and indeterminate operations"}),
    ("ex02", [("op.output is None or op.output < seen", "op.output is None")], {"monotonic reads on random histories"}),
    ("ex02", [("last_write[op.key] = op.value", "pass")], {"the textbook cases"}),
    ("ex03", [("(stable_hash(key), \"\")", "(stable_hash(key), \"~\")")], set()),
    ("ex03", [("i % len(self.points)", "min(i, len(self.points) - 1)")], {"owners with one point per node"}),
    ("ex03", [("if node not in out:", "if True:")], {"preference lists"}),
    ("ex04", [("if len(op[\"acks\"]) >= self.w:\n                self.finish(ctx, msg.rid)\n                return",
               "if True:\n                self.finish(ctx, msg.rid)\n                return")], {"read repair"}),
    ("ex04", [("            ctx.send(src, WriteAck(msg.rid, msg.version))",
               "            ctx.send(src, WriteAck(msg.rid, msg.version))\n            ctx.storage['version'] = ctx.storage.get('version', NO_VERSION)")],
     set()),
    ("ex05", [("return \"concurrent\"", "return \"before\"")], {"comparing vector clocks"}),
    ("ex05", [("self.removed |= other.removed", "pass")], {"OR-Set replicas converge"}),
    ("ex06", [("ctx.storage[key] = state = \"prepared\"", "state = \"prepared\"")],
     {"commit and abort, no faults", "participants vote after logging", "a participant crashes", "the coordinator crashes"}),
    ("ex07", [("value = best_value if best_ballot != NO_BALLOT else self.my_value", "value = self.my_value")],
     {"acceptors crash and restart", "partitions and lost messages"}),
    ("ex07", [("                ctx.storage[\"promised\"] = ballot\n                accepted_ballot",
               "                accepted_ballot")], {"one value is chosen, no faults"}),
    ("ex08", [("grant = msg.term == self.current_term and self.voted_for in (None, msg.candidate)",
               "grant = msg.term == self.current_term")],
     {"a leader is elected", "heartbeats keep the leader", "the leader crashes", "partitions"}),
    ("ex08", [("            ctx.broadcast(self.peers, AppendEntries(self.current_term, self.id))\n            ctx.set_timer(\"heartbeat\", HEARTBEAT)\n        ### END",
               "            pass\n        ### END")], {"heartbeats keep the leader"}),
    ("ex09", [("if self.term_at(n) != self.current_term:", "if False:")], {"the commit rule"}),
    ("ex09", [("        self.waiting[self.last_index()] = request", "        ctx.reply(request, Ok(self.last_index()))")],
     {"commands are replicated and committed"}),
    ("ex09", [("if index <= self.last_index() and self.log[index - 1].term != entry.term:\n                del self.log[index - 1:]",
               "if False:\n                pass")], {"the commit rule"}),
]


@pytest.mark.parametrize("exercise, edits, caught_by", [b for b in BROKEN if b[2] is not None],
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BROKEN) if b[2] is not None])
def test_broken_twins_are_caught(exercise, edits, caught_by):
    got = failed(exercise, *edits)
    if caught_by:
        assert caught_by & got, got  # at least one of the checks meant for this mistake fails
    else:
        assert got == set(), "this edit is harmless and must stay unpunished"


def test_ex01_reference_is_the_library_brute_force_and_histories_are_mixed():
    spec = registry.get("ex01")
    from consensus_lab.checkers import check_linearizable

    rng = random.Random(5)
    verdicts = []
    for _ in range(60):
        h = register_history(rng, 3, 7, p_fail=0.1, p_info=0.2)
        fast = check_linearizable(h, "register").ok
        verdicts.append(fast)
        assert spec.expected(type("C", (), {"args": [h]})()) == fast
    assert 10 < sum(verdicts) < 55


def test_ex02_reference_agrees_with_the_library_session_checkers():
    from consensus_lab.checkers import check_monotonic_reads, check_read_your_writes
    from consensus_lab.grading import _reference

    rng = random.Random(7)
    for _ in range(150):
        h = session_history(rng, 3, 16, keys=2, sticky=0.3, p_write=0.35)
        version = lambda key, value: value  # noqa: E731 - values are versions in this exercise
        assert _reference.read_your_writes(h) == check_read_your_writes(h, version=version).holds
        assert _reference.monotonic_reads(h) == check_monotonic_reads(h, version=version).holds


def test_generated_inputs_are_the_same_every_time():
    for ex in ("ex01", "ex02", "ex03", "ex05"):
        spec = registry.get(ex)
        for check in spec.visible_checks():
            a = [(c.fn, repr(c.args)) for c in spec.cases(check)]
            b = [(c.fn, repr(c.args)) for c in spec.cases(check)]
            assert a == b


def test_node_runs_are_deterministic_per_seed():
    spec = registry.get("ex09")
    host = LocalHost("ex09", dict(zip(spec.interface, answer("ex09"), strict=True)))
    check = spec.visible_checks()[2]
    a = spec.run_once(host, check.params, 4, keep_run=True).run.trace_hash
    b = spec.run_once(host, check.params, 4, keep_run=True).run.trace_hash
    assert a == b


def test_replay_shows_a_failing_run_and_as_protocol_runs_in_the_simulator(capsys):
    from consensus_lab import run

    (node,) = answer("ex08", ("        ctx.storage[\"voted_for\"] = self.voted_for\n", ""))
    r = replay("ex08", node, check=1, seed=2)
    out = capsys.readouterr().out
    assert "FAIL" in out and "persist the term and the vote" in out
    assert r is not None and r.trace_hash
    spec = as_protocol("ex08", *answer("ex08"))
    good = run(spec, nodes=5, seed=3, duration=2.0, nemesis="crash,partition")
    assert good.ok, good.violations[:1]
    bad = run(as_protocol("ex08", node), nodes=3, seed=2, duration=1.5)
    assert not bad.ok and "persist the term and the vote" in str(bad.violations[0])
    assert replay("ex01", *answer("ex01"), check=2) is None
    assert "agree with the reference" in capsys.readouterr().out


def test_hidden_checks_load_and_validate(tmp_path):
    from consensus_lab.grading.registry import HiddenChecksError, load_hidden

    hidden = load_hidden(ROOT / "tests" / "data" / "hidden")
    assert set(hidden) == set(registry.EXERCISE_IDS)
    assert all(c.hidden and c.points > 0 for cs in hidden.values() for c in cs)
    (tmp_path / "x.json").write_text('{"exercise": "ex08", "checks": [{"name": "n", "points": 1, "nodes": 99}]}')
    with pytest.raises(HiddenChecksError, match="nodes"):
        load_hidden(tmp_path)
    (tmp_path / "x.json").write_text('{"exercise": "ex42", "checks": []}')
    with pytest.raises(HiddenChecksError, match="unknown exercise"):
        load_hidden(tmp_path)


def test_the_explorer_runs_answer_nodes_directly_and_finds_a_double_vote():
    from consensus_lab.explore import explore

    (good,) = answer("ex08")
    assert explore(as_protocol("ex08", good, direct=True), depth=5, progress=False).verdict == "no violation"
    (bad,) = answer("ex08", ("grant = msg.term == self.current_term and self.voted_for in (None, msg.candidate)",
                             "grant = msg.term == self.current_term"))
    result = explore(as_protocol("ex08", bad, direct=True), depth=8, progress=False)
    assert result.verdict == "violation" and result.counterexample_length <= 8
    assert "election safety" in result.summary()

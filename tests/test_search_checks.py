"""Search-based checks: the explorer on the answer's nodes, stepped in the grader's worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutants import MUTANTS, answers, source

from consensus_lab.grading import codec, registry
from consensus_lab.grading.hosting import LocalHost
from consensus_lab.grading.sandbox import Limits, SandboxHost, detect_isolation
from consensus_lab.grading.search import run_search
from consensus_lab.grading.worker import Runtime

HIDDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "hidden"
MUTANT = {m.id: m for m in MUTANTS}
PROTOCOLS = ("ex00", "ex06", "ex07", "ex08", "ex09", "ex11", "ex14", "ex12", "ex13", "ex16", "ex17")
SLOW_SEARCHES = ("ex12", "ex13", "ex16")  # 2-10 s each on a loaded machine: the other tests grade them anyway


def search_check(exercise: str):
    (check,) = [c for c in registry.load_hidden(HIDDEN)[exercise] if "search" in c.params]
    return check


def test_every_protocol_exercise_has_one_search_check_that_validates():
    for ex in PROTOCOLS:
        assert search_check(ex).points >= 1
    spec = registry.get("ex08")
    from consensus_lab.grading.checks import Check

    for bad in ({"depth": 4, "max_states": 10**7}, {"nodes": 9}, {"colour": 1}, {"strategy": "psychic"},
                {"requests": [{"f": "append", "targets": ["n7"]}]}):
        with pytest.raises(ValueError):
            spec.validate_check(Check("s", 1, params={"search": bad}))


def test_a_step_is_stateless_and_agrees_with_the_node_itself():
    (cls,) = answers("ex08").values()
    rt = Runtime("ex08", {"RaftElectionNode": cls})
    types = rt.types
    empty = codec.encode({}, types)
    base = {"op": "step", "node": "n1", "cluster": ["n1", "n2", "n3"], "options": codec.encode({}, types),
            "now": 0.0, "clock": 0.0}
    start = rt.handle({**base, "vars": None, "storage": empty, "h": "on_start", "args": []})
    assert start["ok"] and start["e"][0][0] == "timer"
    storage = codec.encode({"current_term": 0, "voted_for": None}, types)
    fire = {**base, "vars": start["vars"], "storage": storage, "h": "on_timer",
            "args": [codec.encode("election", types), None]}
    one, two = rt.handle(fire), rt.handle(fire)  # nothing survives a step: the same question, the same answer
    assert one == two and one["ok"]
    variables = codec.decode(one["vars"], types)
    assert variables["role"] == "candidate" and variables["current_term"] == 1
    assert ["=", "current_term", 1] in one["w"]
    sends = [e for e in one["e"] if e[0] == "send"]
    assert [e[1] for e in sends] == ["n2", "n3"]


@pytest.mark.parametrize("exercise", [pytest.param(e, marks=pytest.mark.slow) if e in SLOW_SEARCHES else e
                                      for e in PROTOCOLS])
def test_the_reference_keeps_full_marks_on_the_search_check(exercise):
    spec = registry.get(exercise)
    check = search_check(exercise)
    r = spec.run_check(check, LocalHost(spec.id, answers(exercise)))
    assert (r.points, r.status) == (check.points, "pass"), r.message


@pytest.mark.parametrize("mutant", ["ex08-vote-term-unchecked", "ex08-vote-twice", "ex06-commit-on-first-yes",
                                    "ex06-presumed-commit", "ex06-timeout-commits", "ex07-own-value",
                                    "ex09-no-consistency-check", "ex09-conflicts-kept", "ex00-no-dedup",
                                    "ex00-delivered-not-stored", "ex14-gateway-in-rid", "ex14-no-dedup",
                                    "ex14-fail-without-asking", "ex14-ok-on-any-outcome",
                                    "ex14-cancel-not-recorded", "ex11-no-fencing", "ex11-highest-not-stored",
                                    "ex11-ok-when-refused", "ex12-reply-at-propose", "ex13-reads-in-the-log"])
def test_the_search_catches_mutants_with_the_shortest_schedule_every_time(mutant):
    m = MUTANT[mutant]
    spec = registry.get(m.exercise)
    check = search_check(m.exercise)
    host = LocalHost(spec.id, answers(m.exercise, m.edits))
    first = spec.run_check(check, host)
    again = spec.run_check(check, host)
    assert first.points == 0 and first.status == "fail"
    assert (first.message, first.evidence) == (again.message, again.evidence)  # deterministic: no seeds, no luck
    steps = [e for e in first.evidence if e[0].isdigit()]
    assert steps and steps[0].startswith("1. ") and first.evidence[-1].startswith("-> broken: ")
    assert first.kind in first.evidence[-1] and first.hint


def test_vote_term_unchecked_is_caught_by_search_not_by_the_seeds_of_the_election_checks():
    """The mutant the issue found surviving 86 % of the time: the seeded checks catch it on some seeds
    only; the search finds its 7-step schedule whatever the seeds."""
    m = MUTANT["ex08-vote-term-unchecked"]
    spec = registry.get("ex08")
    host = LocalHost(spec.id, answers("ex08", m.edits))
    r = spec.run_check(search_check("ex08"), host)
    assert r.kind == "election safety" and len([e for e in r.evidence if e[0].isdigit()]) == 7
    assert "Vote(term=1, granted=True)" in "\n".join(r.evidence)


def test_the_prev_term_mutant_survives_every_seeded_check_and_falls_to_the_search():
    """The mutant that was HARD (no seeded check kills it): only the search check takes points."""
    from mutants import grade

    m = MUTANT["ex09-no-consistency-check"]
    points, most, results = grade("ex09", m.edits)
    lost = [r.name for r in results if r.points < r.max_points]
    assert lost == [search_check("ex09").name], lost
    (r,) = [r for r in results if r.name in lost]
    assert r.kind == "committed entries agree" and "cut the link" in "\n".join(r.evidence)
    assert points == most - r.max_points



@pytest.mark.parametrize(("mutant", "rule", "steps"), [
    ("ex14-gateway-in-rid", "one request id per operation", 2), ("ex14-no-dedup", "exactly once", 4),
    ("ex14-fail-without-asking", "Fail only once cancelled", 7), ("ex14-ok-on-any-outcome", "Ok only once applied", 9),
    ("ex14-cancel-not-recorded", "Fail only once cancelled", 9), ("ex11-no-fencing", "fencing", 9),
    ("ex11-highest-not-stored", "fencing", 9), ("ex11-ok-when-refused", "answer what the storage decided", 10),
    ("ex12-reply-at-propose", "answer only committed operations", 2),
    ("ex13-reads-in-the-log", "reads without a log entry", 2),
    pytest.param("ex12-no-dedup", "answers agree with the log", 7, marks=pytest.mark.slow),
    pytest.param("ex12-dedup-table-not-updated", "answers agree with the log", 7, marks=pytest.mark.slow),
    pytest.param("ex12-append-is-put", "answers agree with the log", 4, marks=pytest.mark.slow),
    pytest.param("ex13-no-confirmation", "linearizability", 5, marks=pytest.mark.slow),
    ("ex16-install-log-not-stored", "the stored log matches the snapshot", 14),
    pytest.param("ex16-install-not-stored", "acknowledged entries stay stored", 16, marks=pytest.mark.slow),
    pytest.param("ex16-install-no-last-applied", "no handler raises", 15, marks=pytest.mark.slow),
    pytest.param("ex16-compact-at-commit", "no handler raises", 11, marks=pytest.mark.slow)])
def test_a_search_judged_by_the_rules_of_the_seeded_runs(mutant, rule, steps):
    """The search checks of ex11, ex14, ex12, ex13 and ex16 break the rules of their judges (FencingRules,
    LedgerRules, KVRules, SnapshotRules, through JudgedSteps) with the shortest schedule found (random walks:
    the shortest of its walks); the feedback's hint is the rule's."""
    m = MUTANT[mutant]
    spec = registry.get(m.exercise)
    check = search_check(m.exercise)
    bad = run_search(spec, LocalHost(spec.id, answers(spec.id, m.edits)), check.params)
    assert bad.problem is not None and bad.problem.kind == rule, bad.problem
    assert len(bad.result.path) == steps
    assert spec.hint_for(check, bad.problem) == spec.hints.get(rule, check.hint)


@pytest.mark.parametrize("exercise", ["ex11", "ex14", pytest.param("ex13", marks=pytest.mark.slow)])
def test_a_judged_search_explores_every_schedule_of_the_reference_within_its_bounds(exercise):
    spec = registry.get(exercise)
    check = search_check(exercise)
    good = run_search(spec, LocalHost(spec.id, answers(exercise)), check.params)
    assert good.problem is None and good.result.verdict == "no violation", good.result.verdict
    assert 1000 < good.result.states < check.params["search"]["max_states"]  # the whole space, not the cap

@pytest.mark.parametrize(("mutant", "rule", "steps"), [
    ("ex17-vote-before-logged", "a vote is a logged promise", 2),
    ("ex17-decision-not-logged", "act only on a logged decision", 3),
    pytest.param("ex17-finish-not-installed", "per-key linearizability", 4, marks=pytest.mark.slow),
    pytest.param("ex17-no-locks", "isolation", 6, marks=pytest.mark.slow)])
def test_the_capstone_search_judges_every_group_by_the_rules_of_the_seeded_runs(mutant, rule, steps):
    """ex17's random walks (two shard groups of two, two conflicting transactions and a read) find these
    mutants with the judge's own rules (TxnRules), on every node's committed log and on the clients'
    history: the rule is named, the steps are numbered, the hint is the rule's."""
    m = MUTANT[mutant]
    spec = registry.get("ex17")
    check = search_check("ex17")
    r = spec.run_check(check, LocalHost(spec.id, answers(spec.id, m.edits)))
    assert (r.points, r.status, r.kind) == (0, "fail", rule), r.message
    numbered = [e for e in r.evidence if e[0].isdigit()]
    assert len(numbered) == steps and numbered[0].startswith("1. ") and r.evidence[-1].startswith(f"-> broken: {rule}")
    assert f"a schedule of {steps} steps" in r.message and r.hint == spec.hints.get(rule, check.hint)


def _log(*steps):
    from consensus_lab.grading.exercises.ex17 import Entry, Step

    return tuple(Entry(1, Step(*s)) for s in steps)


def test_the_capstone_rules_on_committed_logs_are_exact():
    """TxnRules.committed/atomic on hand-made logs (shard 0: n1, n2; shard 1: n3, n4): a presumed abort
    logged after a commit is harmless (the first decision entry wins); two different first decisions, a
    commit finished against an abort or without a prepare, and an uncommitted tail are told apart."""
    from consensus_lab.grading.checks import Violation
    from consensus_lab.grading.specs.ex17 import TxnRules

    groups = (("n1", "n2"), ("n3", "n4"))
    prep = ("prepare", "t", ((("a", 1),), 1))
    coord = _log(prep, ("decision", "t", "commit"), ("decision", "t", "abort"))
    part = _log(prep, ("finish", "t", "commit"))
    rules = TxnRules(groups)
    rules.committed("n3", coord, 3, 0.0)
    rules.committed("n1", part, 2, 0.0)
    rules.atomic(0.0)  # commit, then a presumed abort that lost: fine

    def broken(*logs) -> str:
        rules = TxnRules(groups)
        with pytest.raises(Violation) as got:
            for nid, log, ci in logs:
                rules.committed(nid, log, ci, 0.0)
            rules.atomic(0.0)
        return got.value.rule

    assert broken(("n3", coord, 3), ("n4", _log(prep, ("decision", "t", "abort")), 2)) == "a decision is final"
    assert broken(("n3", _log(prep, ("decision", "t", "abort")), 2), ("n1", part, 2)) == "atomicity"
    assert broken(("n1", _log(("finish", "t", "commit")), 1), ("n3", coord, 2)) == "atomicity"
    assert broken(("n3", coord, 1), ("n1", part, 2)) == "atomicity"  # the decision is not committed yet
    rules = TxnRules(groups)
    rules.committed("n3", coord, 1, 0.0)
    rules.committed("n1", part, 1, 0.0)  # the finish is not committed: nothing to judge yet
    rules.atomic(0.0)


LIAR = '''
    @property
    def role(self):
        return "follower"  # whatever it does, it tells the grader it follows

    @role.setter
    def role(self, value):
        self.real_role = value
'''


def test_a_node_that_reports_a_harmless_view_is_judged_by_what_it_sends():
    m = MUTANT["ex08-vote-twice"]
    src = source("ex08", m.edits)
    head = "class RaftElectionNode(Node):\n"
    assert src.count(head) == 1
    src = src.replace(head, head + LIAR)
    src = src.replace('self.role == "leader"', 'self.real_role == "leader"').replace(
        'self.role != "leader"', 'self.real_role != "leader"').replace(
        'self.role == "candidate"', 'self.real_role == "candidate"').replace(
        'self.role != "follower"', 'self.real_role != "follower"')
    scope: dict = {}
    spec = registry.get("ex08")
    exec(spec.module.PREAMBLE + src, scope)  # noqa: S102 - a test answer
    r = spec.run_check(search_check("ex08"), LocalHost("ex08", {"RaftElectionNode": scope["RaftElectionNode"]}))
    assert r.points == 0 and r.kind == "election safety", r.message


class _LyingWorker:
    """A worker that answers every step with a node that did nothing and is fine."""

    def request(self, req):
        view = {"role": ["=", "follower"], "current_term": ["=", 0], "voted_for": ["=", None]}
        return {"ok": True, "w": [], "e": [], "v": view, "vars": {"D": []}}

    def close(self):
        pass


class _LyingHost(LocalHost):
    def spawn(self):
        return _LyingWorker()


def test_a_worker_cannot_fake_no_violation():
    spec = registry.get("ex08")
    r = spec.run_check(search_check("ex08"), _LyingHost("ex08", {}))
    assert r.points == 0 and r.kind == "progress"


PATCHER = '''
try:  # patch the explorer (if the sandbox let it be imported): its own process's, not the grader's
    import consensus_lab.explore.search as _s
    _s.explore = lambda *a, **k: None
except ImportError:
    pass
print('{"ok": true, "verdict": "no violation", "id": 1}')
'''


@pytest.mark.skipif(detect_isolation() == "rlimits", reason="needs a sandbox with namespaces")
def test_in_the_sandbox_reference_passes_and_a_patching_mutant_is_still_caught():
    spec = registry.get("ex08")
    check = search_check("ex08")
    limits = Limits(call_timeout=4.0, cpu_seconds=60)
    with SandboxHost("ex08", source("ex08"), limits=limits, isolation=detect_isolation()) as host:
        good = run_search(spec, host, check.params, host.budget)
    assert good.problem is None and good.calls > 50
    bad_src = PATCHER + source("ex08", MUTANT["ex08-vote-twice"].edits)
    with SandboxHost("ex08", bad_src, limits=limits, isolation=detect_isolation()) as host:
        r = spec.run_check(check, host, host.budget)
    assert r.points == 0 and r.kind == "election safety", r.message


@pytest.mark.skipif(detect_isolation() == "rlimits", reason="needs a sandbox with namespaces")
def test_the_instructor_replays_a_search_check_with_the_schedule_and_its_picture(tmp_path):
    import subprocess
    import sys

    from consensus_lab.grading.extract import read_notebook
    from consensus_lab.grading.release import with_answer, write_notebook

    root = Path(__file__).resolve().parents[1]
    spec = registry.get("ex06")
    (tmp_path / "subs" / "carol").mkdir(parents=True)
    nb = read_notebook(root / "exercises" / spec.notebook)
    write_notebook(with_answer(nb, "ex06", source("ex06", MUTANT["ex06-commit-on-first-yes"].edits)),
                   tmp_path / "subs" / "carol" / spec.notebook)
    png = tmp_path / "ce.png"
    r = subprocess.run([sys.executable, "-m", "consensus_lab.cli", "grade", str(tmp_path / "subs"), "--replay",
                        "carol", "ex06", search_check("ex06").name, "--hidden", str(HIDDEN), "--plot", str(png)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    out = r.stdout
    assert ": fail (" in out and "atomic commitment" in out and "what led to it:" in out
    assert "1. client c0 sends commit('t', 2) to n1" in out and "-> broken: atomic commitment" in out
    assert png.stat().st_size > 10_000


def test_a_paxos_node_that_hides_its_decision_is_judged_by_its_answers():
    m = MUTANT["ex07-own-value"]
    src = source("ex07", m.edits)
    head = "class PaxosNode(Node):\n"
    assert src.count(head) == 1
    hide = ("\n    @property\n    def decided(self):\n        return None  # tells the grader nothing\n\n"
            "    @decided.setter\n    def decided(self, value):\n        self.really = value\n")
    src = src.replace(head, head + hide).replace("self.decided", "self.really").replace(
        "def really(self)", "def decided(self)").replace("@really.setter", "@decided.setter").replace(
        'ctx.storage["decided"] = value', "pass  # nor in storage")
    assert src.count("nor in storage") == 1
    scope: dict = {}
    spec = registry.get("ex07")
    exec(spec.module.PREAMBLE + src, scope)  # noqa: S102 - a test answer
    r = spec.run_check(search_check("ex07"), LocalHost("ex07", {"PaxosNode": scope["PaxosNode"]}))
    assert r.points == 0 and r.kind == "agreement", r.message


def test_kv_rules_judge_an_answer_by_the_committed_log_run_once():
    """KVRules (ex12/ex13, seeded runs and search alike): an answer must come from a committed entry of
    its own operation, and a get must equal the log up to it with every operation run once."""
    from consensus_lab.grading.checks import Violation
    from consensus_lab.grading.exercises.ex12 import Command, Entry
    from consensus_lab.grading.specs.ex12 import KVRules
    from consensus_lab.grading.specs.ex13 import ReadIndexRules
    from consensus_lab.sim.clients import ClientRequest, Ok

    a = Command("c0", 1, "append", "x", "a")
    log = (Entry(1, None), Entry(1, a), Entry(2, a), Entry(2, Command("c1", 1, "get", "x", None)))  # a retried
    stored = {"n1": log, "n2": log, "n3": log[:1]}
    get = ClientRequest("c1", 1, "get", "x")

    def broken(rules, nid, request, result, logs):
        with pytest.raises(Violation) as caught:
            rules.answered(nid, request, result, logs, 0.5)
        return caught.value

    KVRules().answered("n1", get, Ok("a"), stored, 0.5)  # the retry ran once: "a"
    v = broken(KVRules(), "n1", get, Ok("aa"), stored)
    assert v.rule == "answers agree with the log" and "gives 'a'" in v.message
    v = broken(KVRules(), "n1", get, Ok("a"), {"n1": log, "n2": log[:3], "n3": log[:1]})
    assert v.rule == "answer only committed operations" and "only 1 of 3" in v.message
    v = broken(KVRules(), "n2", ClientRequest("c2", 1, "put", "x", "z"), Ok(), stored)
    assert v.rule == "answer only committed operations" and "holds no command" in v.message
    rules = KVRules()
    rules.answered("n1", get, Ok("a"), stored, 0.5)
    assert broken(rules, "n2", get, Ok("b"), None).rule == "exactly once"
    ReadIndexRules().answered("n1", get, Ok("anything"), stored, 0.5)  # part B: reads are judged by the history
    assert broken(ReadIndexRules(), "n1", ClientRequest("c0", 1, "append", "x", "a"), Ok(),
                  {"n1": log, "n2": (), "n3": ()}).rule == "answer only committed operations"


def test_judged_steps_remembers_each_nodes_storage_on_its_own():
    """``watched = None`` judges every node's storage, each against its own last judged storage
    (a write at n2 is not a write at n1); a violation names the rule."""
    from types import SimpleNamespace

    from consensus_lab.grading.checks import Violation
    from consensus_lab.grading.hosting import _ABSENT
    from consensus_lab.grading.specs._judged_steps import JudgedSteps

    class Watch(JudgedSteps):
        watched = None

        def __init__(self):
            super().__init__()
            self.writes = []

        def storage_changed(self, before, store, world, node_id):
            self.writes.append((node_id, {k: None if v is _ABSENT else v for k, v in before.items()}))
            if store.get("x", 0) < 0:
                raise Violation("x stays positive", f"{node_id} stored x = {store['x']}")

    inv = Watch()
    world = SimpleNamespace(nodes={"n1": None, "n2": None}, now=0.0, storage={"n1": {"x": 1}, "n2": {}})
    assert inv.check(world) is None and inv.writes == [("n1", {"x": None})]
    world.storage["n2"] = {"x": 2}
    assert inv.check(world) is None and inv.writes[1:] == [("n2", {"x": None})]  # n1 wrote nothing new
    world.storage["n1"] = {"x": -1}
    assert inv.check(world) == "n1 stored x = -1" and inv.name == "x stays positive"
    assert inv.writes[2:] == [("n1", {"x": 1})]

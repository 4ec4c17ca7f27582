"""Challenges played in the small labs of lessons 01, 02, 04, 08, 09 and 10."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core import Challenge, Prediction, Verdict

__all__ = ["CHALLENGES"]


def _lazy(module: str, cls: str):
    """A factory for a small lab that imports ipywidgets only when a lab is built."""

    def make(**kw: Any) -> Any:
        from importlib import import_module

        return getattr(import_module(f"consensus_lab.widgets.{module}"), cls)(**kw)

    return make


_two_clients_lab = _lazy("two_clients_lab", "TwoClientsLab")
_history_lab = _lazy("history_lab", "HistoryLab")
_placement_lab = _lazy("placement_lab", "PlacementLab")
_model_lab = _lazy("model_lab", "ModelLab")
_explorer_lab = _lazy("explorer_lab", "ExplorerLab")
_lock_lab = _lazy("lock_lab", "LockLab")


def _on_last_run(judge: Callable[[Any], Verdict]) -> Callable[[Any], Verdict]:
    """A predicate over the two-clients lab's last run (none yet: press Run)."""

    def check(lab: Any) -> Verdict:
        return Verdict(False, "press Run first") if lab.story is None else judge(lab.story)

    return check


@_on_last_run
def _did_it_happen(s: Any) -> Verdict:
    if not s.indeterminate:
        return Verdict(False, "A got its answer, so A knows: lose n1's answer to A")
    if s.concurrent:
        return Verdict(False, "B writes x=2 too, so B's read cannot speak for A's write: let B only read")
    if s.read.value != 1:
        return Verdict(False, f"A gave up, but B read x={'nil' if s.read.value is None else s.read.value}: "
                              "B cannot tell either. Let B's read see A's write")
    return Verdict(True, f"A gave up at t={s.write.ret:.2f} s not knowing; n1 had applied x=1 at "
                         f"t={s.applied_at['n1']:.2f} s, and B read it at t={s.read.ret:.2f} s.")


@_on_last_run
def _stale_after_ack(s: Any) -> Verdict:
    if not s.acknowledged_before_read:
        return Verdict(False, "no write was acknowledged before B's read began: let A get its answer")
    if not s.stale:
        return Verdict(False, f"B read x={'nil' if s.read.value is None else s.read.value}, which is fresh: "
                              "move the replicas further apart")
    return Verdict(True, f"A's write was acknowledged at t={s.write.ret:.2f} s; B's read began at "
                         f"t={s.read.call:.2f} s and returned nil, because x=1 reached n2 only at "
                         f"t={s.applied_at['n2']:.2f} s.")


def _sequential_not_linearizable(lab: Any) -> Verdict:
    v = lab.verdicts()
    if not v:
        return Verdict(False, "the history is empty")
    if lab._open_any():
        return Verdict(False, "complete every operation first")
    if not v["sequential"][0]:
        return Verdict(False, "not even sequentially consistent: some process's reads cannot be explained")
    if v["linearizable"][0]:
        return Verdict(False, "still linearizable: a read must miss a write that finished before the read began")
    return Verdict(True, f"{v['linearizable'][1]}, yet {v['sequential'][1]}.")


def _eventual_only(lab: Any) -> Verdict:
    gap = [p for p, (ev, q) in lab.readable().items() if ev and not q]
    if not gap:
        return Verdict(False, "every partition is readable by both stores, or by neither")
    return Verdict(True, f"partition(s) {', '.join(map(str, gap))}: one replica is still up, so the eventual store "
                         f"answers (maybe stale); the majority-quorum store cannot.")


def _formula_vs_2pc(lab: Any) -> Verdict:
    f = lab.formulas()
    s = lab.settings()
    if s["p_rack_down"] > 0:
        return Verdict(False, "keep racks out of it here (P(rack down) = 0)")
    if f["2pc"] >= 0.5:
        return Verdict(False, f"2PC still commits with probability {f['2pc']:.2f}")
    if f["majority"] < 0.99:
        return Verdict(False, f"a majority is up only with probability {f['majority']:.3f}")
    sim = lab.simulated()
    if sim is None:
        return Verdict(False, "the formulas agree: now press Simulate to measure it")
    if sim["2pc"].lo >= 0.5:
        return Verdict(False, "the simulated 2PC interval lies above 0.5: simulate again with more seeds?")
    return Verdict(True, f"n = {s['n']}, p = {s['p_down']}: 2PC commits {f['2pc']:.2f} (simulated "
                         f"{sim['2pc'].p:.2f}), a majority quorum {f['majority']:.3f} (simulated {sim['majority'].p:.2f}).")


def _stepped_to_violation(lab: Any) -> Verdict:
    if lab.result is None:
        return Verdict(False, "press Search first")
    if not lab.steps:
        return Verdict(False, f"the search found no violation ({lab.result.verdict})")
    if not lab.at_violation:
        return Verdict(False, f"step on: you are at step {lab.position} of {len(lab.steps)}")
    v = lab.result.violation
    return Verdict(True, f"{lab.result.protocol} {lab.result.variant}: '{v.invariant}' breaks after "
                         f"{len(lab.steps)} steps, the fewest that can break it.")


def _fenced(lab: Any) -> Verdict:
    unsafe = [s for s in lab.stories if not s.fencing and s.unsafe_writes]
    if not unsafe:
        return Verdict(False, "first, without fencing, let A's stale write through (pause longer than the "
                              "session timeout)")
    pause = unsafe[-1]
    later = [s for s in lab.stories[lab.stories.index(pause) + 1:] if s.fencing]
    if not later:
        return Verdict(False, "A's stale write got through. Now turn fencing on and run the same story")
    s = later[-1]
    refused = [w for w in s.writes if not w[3]]
    if not refused or s.unsafe_writes:
        return Verdict(False, "with fencing on, A's write must come after B took the lock")
    t, who, token, _ = refused[0]
    return Verdict(True, f"without fencing the storage took {pause.unsafe_writes[0][1]}'s write from a lost lock; "
                         f"with fencing it refused token {token} at t = {t:.2f}.")


CHALLENGES: list[Challenge] = [
    Challenge(
        id="01-did-it-happen",
        title="did my write happen?",
        goal="Make client A give up on a write that did take effect, and let B's read show that it did.",
        make=_two_clients_lab,
        check=_did_it_happen,
        script=(("set", {"lose_reply": True}), ("run",)),
        demonstrated="Partial failure: a client that hears nothing cannot tell a lost request from a lost "
                     "answer or a dead replica; its write may have happened, and only someone else can find "
                     "out.",
        hints=("Tick 'lose n1's answer to A' and press Run.",
               "If B reads nil, the replicas are too far apart for B to see A's write: bring them closer."),
        prediction=Prediction("n1's answer to A is lost on the way, and A gives up. What can A conclude?",
                              ("its write did not happen", "its write happened",
                               "nothing: it may or may not have happened"), 2,
                              "A's silence looks the same whether the request, the answer or n1 itself was "
                              "lost; here n1 had applied x=1, and B's read shows it."),
    ),
    Challenge(
        id="01-stale-after-ack",
        title="a read that comes too soon",
        goal="Move the replicas apart until B's read, begun after A's write was acknowledged, returns the old "
             "value.",
        make=_two_clients_lab,
        check=_stale_after_ack,
        script=(("set", {"delay": 150}), ("run",)),
        demonstrated="Latency: a replica that answers at once and passes writes on later lets a reader see the "
                     "past, even though nothing failed; only waiting (which costs time) prevents it.",
        hints=("A's write reaches n1 at t=0.14 s; B's read reaches n2 at t=0.24 s.",
               "Set 'replicas apart' above 100 ms and press Run."),
        prediction=Prediction("A's write is acknowledged at t=0.18 s and B reads at n2 at t=0.2 s. Can B's "
                              "read miss it?", ("no: it came later", "yes, if the replicas are far enough apart",
                                                "only if something fails"), 1,
                              "n1 applies x=1 at 0.14 s and passes it on; B's read reaches n2 at 0.24 s, so a "
                              "Replicate slower than 100 ms arrives after it."),
    ),
    Challenge(
        id="02-sequential-not-linearizable",
        title="sequential but not linearizable",
        goal="Build a history that is sequentially consistent but not linearizable.",
        make=_history_lab,
        check=_sequential_not_linearizable,
        script=(("invoke", 0, "write", 1), ("complete", 0), ("invoke", 1, "read"), ("complete", 1, None)),
        demonstrated="Sequential consistency may reorder operations of different processes; linearizability "
                     "must respect real time: a read that starts after a write finished has to see it.",
        hints=("Linearizability adds one rule to sequential consistency: real-time order. Break only that rule.",
               "p0: write 1 (Invoke, Complete). Then p1: read, Complete with value nil."),
        prediction=Prediction("A read begins after write(1) has finished and returns nil. Which promise still "
                              "holds?", ("linearizability", "sequential consistency", "neither"), 1,
                              "Sequential consistency may put the read before the write: each process's own "
                              "order is all it keeps."),
    ),
    Challenge(
        id="04-eventual-only",
        title="readable only for the eventual store",
        goal="Kill nodes until some partition can still be read by the eventual store but not by the "
             "majority-quorum store.",
        make=_placement_lab,
        check=_eventual_only,
        script=(("kill", "n1"), ("kill", "n2")),
        demonstrated="With 3 replicas a majority quorum needs 2 alive: it gives up availability to stay "
                     "consistent, where an eventual store still answers (possibly stale).",
        hints=("Killing one node never does it: every partition keeps 2 of its 3 replicas.",
               "Find two nodes that share a partition, and kill both."),
        prediction=Prediction("How many of the 5 nodes must die before some partition is unavailable to the "
                              "majority-quorum store?", ("1", "2", "3"), 1,
                              "Two nodes that hold replicas of the same partition leave it one of three."),
    ),
    Challenge(
        id="08-majority-beats-2pc",
        title="when 2PC is a coin flip and a quorum is not",
        goal="Find n and p for which 2PC commits less than half the time while a majority quorum is up 99% of "
             "the time, and confirm it with Simulate.",
        make=_model_lab,
        check=_formula_vs_2pc,
        script=(("set", {"n": 7, "p_down": 0.1}), ("simulate",)),
        demonstrated="2PC needs every participant (probability (1-p)^n falls fast with n); a majority quorum "
                     "needs only more than half, so adding nodes makes it more available, not less.",
        hints=("2PC's formula is (1 - p)^n: with p = 0.1 it falls below 0.5 at n = 7.",
               "Set n = 7, p = 0.1 and press Simulate."),
        prediction=Prediction("Adding nodes (same p) makes a majority quorum…",
                              ("less available", "more available", "no different"), 1,
                              "More nodes, more ways to still have a majority."),
    ),
    Challenge(
        id="09-shortest-counterexample",
        title="read the shortest counterexample",
        goal="Let breadth-first search find the shortest schedule that breaks twopc uncertain-abort, and step to "
             "the step where the invariant breaks.",
        make=_explorer_lab,
        check=_stepped_to_violation,
        script=(("choose", "twopc uncertain-abort"), ("search",), ("last",)),
        demonstrated="Breadth-first search tries schedules shortest first, so the first violation it meets is a "
                     "shortest counterexample: here an uncertain participant times out and aborts alone.",
        hints=("Pick the twin, press Search and wait for the bar.", "Then Next until the invariant breaks (or Last)."),
        prediction=Prediction("How many steps does the shortest counterexample of uncertain-abort need?",
                              ("3", "6", "12"), 1,
                              "Request, two Prepares, two Votes (Commit decided), then n2's timer: six."),
    ),
    Challenge(
        id="10-fencing",
        title="fence off the paused client",
        goal="Without fencing, make the paused client's write land after it lost the lock; then turn fencing "
             "on and watch the storage refuse it.",
        make=_lock_lab,
        check=_fenced,
        script=(("set", {"pause": 3.5}), ("run",), ("set", {"fencing": True}), ("run",)),
        demonstrated="A lock service cannot stop a paused client from acting on an expired lock; a fencing "
                     "token checked by the storage can.",
        hints=("A's session expires 2 s after its last heartbeat: pause longer than that.",
               "Pause 3.5 s, Run story; tick fencing tokens, Run story again."),
        prediction=Prediction("A pauses longer than its session timeout, then writes. Without fencing the "
                              "storage…", ("refuses the write", "accepts it", "waits for A to renew"), 1,
                              "The storage knows nothing about locks: it takes any write."),
    ),
]

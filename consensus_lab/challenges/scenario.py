"""Challenges played in the scenario lab (lessons 00, 01, 03, 05, 06, 07, 11).

Each predicate reads the lab's :class:`~consensus_lab.widgets.LabSession`:
the faults made by hand (``session.log``), the snapshots of every node's
``state_view()`` and the client history.  A predicate asks for what the
student did *and* what it caused, so merely running the scenario never
solves one.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..properties import evaluate, final_states, indeterminate_writes, stale_reads
from ..sim.nemesis import ClockSkew, Crash, Heal, Partition
from .core import Challenge, Prediction, Verdict

__all__ = ["CHALLENGES"]


def _scenario_lab(scenario: Any, **kw: Any) -> Any:
    from ..widgets.lab import ScenarioLab

    return ScenarioLab(scenario, **kw)


def _lab(scenario: Any, **kw: Any):
    return partial(_scenario_lab, scenario, **kw)


def _by_hand(lab: Any, kind: type) -> list[tuple[float, Any]]:
    """(time, action) of every fault of this kind made by hand."""
    return [(e.time, e.action) for e in lab.session.log if isinstance(e.action, kind)]


def _partition_spans(lab: Any) -> list[tuple[float, float, Any]]:
    """(start, end, groups) of each hand-made partition; end is now for one still in place."""
    spans, open_ = [], None
    for e in lab.session.log:
        if isinstance(e.action, (Partition, Heal)) and open_ is not None:
            spans.append((open_[0], e.time, open_[1]))
            open_ = None
        if isinstance(e.action, Partition):
            open_ = (e.time, e.action.groups)
    if open_ is not None:
        spans.append((open_[0], lab.session.now, open_[1]))
    return spans


def _views(lab: Any, t: float | None = None) -> dict[str, Any]:
    return lab.session.snapshot_at(t).views


# --- 00: how we watch -------------------------------------------------------------------------

def _missed_for_good(lab: Any) -> Verdict:
    heals = _by_hand(lab, Heal)
    if not heals:
        return Verdict(False, "no partition has been healed yet")
    s = lab.session
    healed = heals[-1][0]
    if s.now < healed + 0.3 or s.sim.links.blocked:
        return Verdict(False, "after Heal, let at least 0.3 s pass with the network whole")
    before, now = _views(lab, s.now - 0.3), _views(lab)
    if any(v is None for v in now.values()):
        return Verdict(False, "restart every node first: a down node misses values anyway")
    known = {x for v in before.values() if v is not None for x in v["values"]}
    for n, v in now.items():
        missing = sorted(known - set(v["values"]), key=repr)
        if missing:
            return Verdict(True, f"{n} still lacks {missing[:3]} although the network has been whole for "
                                 f"{s.now - healed:.2f} s.")
    return Verdict(False, "every node has every value: no message was lost for good")


# --- 01: partial failure ----------------------------------------------------------------------

def _indeterminate(lab: Any) -> Verdict:
    crashes = _by_hand(lab, Crash)
    if not crashes:
        return Verdict(False, "crash a node first")
    first = crashes[0][0]
    hits = [(w, seen) for w, seen in indeterminate_writes(lab.session.history_until()) if w.call >= first - 0.5]
    if not hits:
        return Verdict(False, "no write has been left without an answer yet: Run a little after the crash")
    w, seen = hits[0]
    fate = "a later read shows it took effect" if seen else "no read has shown whether it took effect"
    return Verdict(True, f"write({w.value}) at t = {w.call:.3f}: its client gave up; {fate}.")


def _both_writes_kept(lab: Any) -> Verdict:
    s = lab.session
    acked = sorted({op.value for op in s.history_until() if op.type == "ok" and op.f == "write"}, key=repr)
    if len(acked) < 2:
        return Verdict(False, "Run until both clients' writes are acknowledged")
    if not s.finished and s.now < 0.6:
        return Verdict(False, "Run on: let the replicas exchange what they hold")
    held = final_states(s.to_run())
    for node, data in held.items():
        v = (data or {}).get("x")
        kept = set(v) if isinstance(v, tuple) else {v}
        missing = [a for a in acked if a not in kept]
        if missing:
            return Verdict(False, f"{node} holds x = {v!r}: acknowledged write(s) {missing} were thrown away")
    policy = dict(s.scenario.options).get("conflict")
    return Verdict(True, f"with conflict={policy} every replica keeps x = {held[s.node_ids[0]]['x']!r}: "
                         "both concurrent writes survive, as siblings for the reader to merge.")


def _two_writers() -> Any:
    from ..sim import Workload

    return Workload(clients=2, keys=("x",), mix=(("write", 1.0),), think=0.001, max_ops=1, start=0.1, sticky=False)


def _concurrent_lab(**kw: Any) -> Any:
    return _scenario_lab("gossip", nodes=3, seed=1, duration=1.0, workload=_two_writers(),
                         options={"conflict": "lww"}, **kw)


# --- 03: quorums -------------------------------------------------------------------------------

def _stale_in_partition(lab: Any) -> Verdict:
    spans = _partition_spans(lab)
    stale = stale_reads(lab.session.history_until())
    if not spans:
        return Verdict(False, "cut the network first" + (" (the stale reads so far came without any fault: "
                                                        "R + W ≤ N is stale even then)" if stale else ""))
    for read, missed in stale:
        if any(a <= read.call <= b for a, b, _ in spans):
            return Verdict(True, f"read at t = {read.call:.3f} returned {read.output!r} although write("
                                 f"{missed.value}) had finished at t = {missed.ret:.3f}, during the partition.")
    return Verdict(False, "no read that began during your partition has returned an old value yet: Run longer")


def _quorum_safe(lab: Any) -> Verdict:
    opts = dict(lab.scenario.options)
    n = len(lab.session.node_ids)
    r, w = int(opts.get("r", 2)), int(opts.get("w", 2))
    if r + w <= n:
        return Verdict(False, f"R = {r}, W = {w}: R + W = {r + w} ≤ N = {n}, so a read quorum can miss the "
                              "last write quorum")
    held = _linearizable_through_partition(lab)
    if not held.solved:
        return held
    return Verdict(True, f"R = {r}, W = {w} > N - R: every read quorum overlaps every write quorum; "
                         f"the history through your partition is linearizable.")


def _linearizable_through_partition(lab: Any) -> Verdict:
    """A hand-made partition held for 1 s or more, and the whole history linearizable."""
    if not any(b - a >= 1.0 for a, b, _ in _partition_spans(lab)):
        return Verdict(False, "now test it: keep a partition in place for at least 1 s")
    res = lab.session.verdict()
    if res is None or res.verdict != "linearizable":
        return Verdict(False, f"the history is {res.verdict if res else 'unchecked'}")
    return Verdict(True)


def _sync_reads_fresh(lab: Any) -> Verdict:
    mode = dict(lab.scenario.options).get("read_mode", "local")
    if mode != "sync":
        return Verdict(False, f"reads are {mode!r}: set the option read_mode=sync and Reset")
    held = _linearizable_through_partition(lab)
    if not held.solved:
        return held
    return Verdict(True, "with sync-then-read every read reflects the writes committed before it began, "
                         "partition or not: the history is linearizable.")


def _lww_lost(lab: Any) -> Verdict:
    skews = _by_hand(lab, ClockSkew)
    if not skews:
        return Verdict(False, "no clock has been skewed yet")
    s = lab.session
    key = len(s.rows)
    cached = getattr(lab, "_lww_cache", None)
    if cached is None or cached[0] != key:
        cached = lab._lww_cache = (key, evaluate("no-lost-writes", s.to_run()))
    res = cached[1]
    if res.status != "violated":
        return Verdict(False, "no acknowledged write is lost yet: a bigger skew, or Run longer")
    return Verdict(True, f"{res.detail}: the node with the slow clock stamps its writes in the past, and "
                         "last-writer-wins keeps the 'later' older write.")


# --- 05: two-phase commit ---------------------------------------------------------------------

def _blocked(lab: Any) -> Verdict:
    s = lab.session
    crashes = [t for t, a in _by_hand(lab, Crash) if a.node == "n1"]
    if not crashes:
        return Verdict(False, "the coordinator n1 has not crashed")
    if s.is_up("n1"):
        return Verdict(False, "n1 is back: restart only after the participants have waited")
    if s.now < crashes[-1] + 0.3:
        return Verdict(False, "let the participants wait at least 0.3 s (Run)")
    stuck = sorted(n for n, v in _views(lab).items()
                   if v is not None and "prepared" in v.get("state", {}).values())
    if not stuck:
        return Verdict(False, "no participant is waiting: crash n1 after the votes, before the decision")
    return Verdict(True, f"{', '.join(stuck)} voted yes and have waited {s.now - crashes[-1]:.2f} s: they may "
                         "neither commit nor abort until n1 comes back.")


def _termination_useless(lab: Any) -> Verdict:
    s = lab.session
    crashes = [t for t, a in _by_hand(lab, Crash) if a.node == "n1"]
    if not crashes:
        return Verdict(False, "the coordinator n1 has not crashed")
    at = crashes[-1]
    if s.is_up("n1"):
        return Verdict(False, "n1 is back: keep it down while the participants try to finish without it")
    parts = [n for n in s.node_ids if n != "n1"]
    then = _views(lab, at)
    uncertain = [n for n in parts if then.get(n) is not None and "prepared" in then[n].get("state", {}).values()]
    if not uncertain:
        knew = [n for n in parts if then.get(n) is not None
                and {"committed", "aborted"} & set(then[n].get("state", {}).values())]
        if knew:
            return Verdict(False, f"when n1 crashed, {', '.join(knew)} already knew the outcome: crash n1 after "
                                  "the votes and before its decision goes out")
        return Verdict(False, "when n1 crashed no participant had voted yes, so each may abort alone: crash n1 "
                              "after the votes")
    now = _views(lab)
    decided = sorted(n for n in parts if now.get(n) is not None
                     and {"committed", "aborted"} & set(now[n].get("state", {}).values()))
    if decided:
        return Verdict(False, f"{', '.join(decided)} decided: someone knew the outcome and the termination "
                              "protocol helped. Crash n1 before its decision reaches anyone")
    asked = {(e.peer, e.node) for e in s.sim.trace if e.kind == "deliver" and e.time > at
             and e.msg_type == "DecisionRequest" and e.peer in parts and e.node in parts}
    missing = [(a, b) for a in uncertain for b in parts if a != b and (a, b) not in asked]
    if missing:
        a, b = missing[0]
        return Verdict(False, f"{a} has not asked {b} yet: Run on (an uncertain participant asks every "
                              f"{dict(s.scenario.options).get('ask_timeout', 0.15)} s)")
    n = sum(1 for e in s.sim.trace if e.kind == "deliver" and e.time > at and e.msg_type == "DecisionRequest"
            and e.peer in parts and e.node in parts)
    return Verdict(True, f"after n1 crashed at t = {at:.3f} s, {', '.join(uncertain)} asked each other {n} times; "
                         "each was uncertain too and could not answer, so all still wait for n1.")


# --- 06: Paxos --------------------------------------------------------------------------------


def _notes(lab: Any) -> dict[str, Any]:
    """Where a predicate keeps what it saw in earlier runs of the same attempt."""
    box = getattr(lab, "challenge_box", None)
    return box.progress.notes if box is not None else lab.__dict__.setdefault("_challenge_notes", {})


def _top_ballot(views: dict[str, Any]) -> int:
    nums = [int(str(v["ballot"]).strip("()").split(",")[0]) for v in views.values()
            if v is not None and v.get("ballot")]
    return max(nums, default=0)


def _livelock_then_stopped(lab: Any) -> Verdict:
    s = lab.session
    opts = dict(s.scenario.options)
    backoff = opts.get("backoff", True) not in (False, "off", "false")
    chosen = s.snapshot_at().goals.get("a value is chosen")
    notes = _notes(lab)
    proposers = int(opts.get("proposers", 2))
    silenced = [a.node for _, a in _by_hand(lab, Crash) if a.node in ("n1", "n2")[:proposers]]
    top = _top_ballot(_views(lab))
    if not backoff and proposers > 1 and chosen is None and not silenced and s.now >= 0.5 and top >= 10:
        notes["livelock"] = (s.now, top)
        return Verdict(False, f"livelock: {s.now:.1f} s, ballots up to {top}, nothing chosen. Now stop it")
    if "livelock" not in notes:
        if chosen is not None:
            return Verdict(False, f"a value was chosen at t = {chosen:.3f} s: "
                                  + ("randomized backoff kept the proposers apart. Turn it off (backoff=off, "
                                     "Reset)" if backoff else "make both proposers duel, from the start"))
        return Verdict(False, "first make them duel: options backoff=off, Reset, then Run 0.5 s or more"
                       if backoff else "Run on (0.5 s or more): do the ballots ever stop climbing?")
    if chosen is None:
        return Verdict(False, "still nothing chosen: stop the duel (randomized backoff, or one proposer only)")
    if backoff:
        how = "randomized backoff, which lets one proposer finish while the other waits"
    elif silenced:
        how = f"{silenced[-1]} silenced, leaving one proposer (as a distinguished proposer would)"
    else:
        how = "a single proposer (proposers=1): a distinguished proposer"
    t, top_seen = notes["livelock"]
    return Verdict(True, f"after a duel of {t:.1f} s with ballots up to {top_seen} and nothing chosen, "
                         f"{how}: a value was chosen at t = {chosen:.3f} s.")


def _livelock_ended(lab: Any) -> Verdict:
    when = lab.session.snapshot_at().goals.get("a value is chosen")
    if when is None:
        return Verdict(False, "no value is chosen yet")
    return Verdict(True, f"a value was chosen at t = {when:.3f}.")


# --- 07: Raft ---------------------------------------------------------------------------------

def _no_leader_anywhere(lab: Any) -> Verdict:
    s = lab.session
    n = len(s.node_ids)
    for a, b, groups in reversed(_partition_spans(lab)):
        if b != s.now:
            continue
        big = [g for g in groups if len(g) > n // 2]
        if big:
            return Verdict(False, f"{','.join(big[0])} is a majority of {n}: it can elect a leader")
        if b - a < 1.0:
            return Verdict(False, "keep the split for at least 1 s (Run), to give elections a chance")
        top = max((v["term"] for v in _views(lab, a).values() if v is not None), default=0)
        for snap in s.snapshots:
            if snap.time < a:
                continue
            for node, v in snap.views.items():
                if v is not None and v.get("role") == "leader" and v.get("term", 0) > top:
                    return Verdict(False, f"{node} became leader of term {v['term']} during the split")
        terms = max((v["term"] for v in _views(lab).values() if v is not None), default=0)
        return Verdict(True, f"for {b - a:.2f} s no group held a majority of {n}; candidates reached term "
                             f"{terms} and nobody won.")
    return Verdict(False, "split the network (and keep it split)")


# figure 8 of the Raft paper, by hand: the fault timeline of raft_scenarios.kept_run("commit-previous-term"),
# one node cut off at a time (tests check the two agree), as lab actions from time 0
FIG8_FAULTS = ((0.456, "n5"), (0.659, None), (0.739, "n3"), (0.833, None), (0.949, "n4"), (1.283, None),
               (1.33, "n3"))
_FIG8_BREAKS = 1.5586  # when the twin's run breaks leader completeness


def _fig8_script() -> tuple[tuple[Any, ...], ...]:
    out: list[tuple[Any, ...]] = []
    now = 0.0
    for t, node in FIG8_FAULTS:
        out.append(("run", round(t - now, 4)))
        rest = ",".join(f"n{i}" for i in range(1, 6) if f"n{i}" != node)
        out.append(("partition", f"{node}|{rest}") if node else ("heal",))
        now = t
    out.append(("run", 0.3))
    return tuple(out)


def _fig8_scenario(variant: str) -> Any:
    from ..protocols.raft_scenarios import kept_run

    return kept_run("commit-previous-term").scenario.replace(nemesis="none", variant=variant)


def _fig8_lab(variant: str):
    def make(**kw: Any) -> Any:
        return _scenario_lab(_fig8_scenario(variant), window=0.5, **kw)

    return make


def _cut_one_at_a_time(lab: Any) -> int:
    """How many hand-made partitions cut off a single node."""
    return sum(1 for _, a in _by_hand(lab, Partition) if min(len(g) for g in a.groups) == 1)


def _fig8_broken(lab: Any) -> Verdict:
    if _cut_one_at_a_time(lab) < 2:
        return Verdict(False, "cut nodes off one at a time (the hints give the timeline)")
    bad = [v for v in lab.session.sim.violations if v.invariant in ("leader completeness", "state machine safety")]
    if not bad:
        return Verdict(False, "no committed entry has been lost yet")
    return Verdict(True, f"{bad[0].invariant} broke at t = {bad[0].time:.4f}: {bad[0].message}.")


def _fig8_refused(lab: Any) -> Verdict:
    s = lab.session
    if s.scenario.variant != "correct":
        return Verdict(False, "this one is about the correct Raft")
    if _cut_one_at_a_time(lab) < len([f for f in FIG8_FAULTS if f[1]]):
        return Verdict(False, "make the same cuts as in figure 8 (the hints give the timeline)")
    if s.now < _FIG8_BREAKS:
        return Verdict(False, f"run past t = {_FIG8_BREAKS} s, where the twin broke")
    if s.sim.violations:
        return Verdict(False, f"{s.sim.violations[0]}")
    commits = {n: v["commit_index"] for n, v in _views(lab).items() if v is not None}
    return Verdict(True, f"same faults, no violation: commit indexes {commits}.")


# --- 11: the capstone -------------------------------------------------------------------------

def _finished_by_group(lab: Any, coordinator: str) -> Verdict:
    s = lab.session
    crashes = [t for t, a in _by_hand(lab, Crash) if a.node == coordinator]
    if not crashes:
        return Verdict(False, f"crash the coordinator {coordinator} while the transaction is in doubt")
    at = crashes[0]
    before = _views(lab, at - 1e-4)
    doubt = sorted({t for v in before.values() if v is not None for t in v.get("in_doubt", [])})
    if not doubt:
        return Verdict(False, "when you crashed it, no transaction was in doubt: Reset and crash it earlier")
    if s.is_up(coordinator):
        return Verdict(False, f"{coordinator} is back up: this challenge is about finishing without it")
    left = sorted({t for v in _views(lab).values() if v is not None for t in v.get("in_doubt", [])})
    if set(doubt) & set(left):
        return Verdict(False, f"{', '.join(doubt)} still in doubt: Run on")
    return Verdict(True, f"{', '.join(doubt)} was in doubt when {coordinator} crashed; the coordinator's Raft "
                         f"group elected a new leader, which finished it with {coordinator} still down.")


def _capstone() -> tuple[Any, str, float]:
    from ..protocols._sharded_txn_analysis import coordinator_crash

    story = coordinator_crash("correct")
    return story.scenario.replace(nemesis="none"), story.coordinator, story.crash_at


def _make_capstone(**kw: Any) -> Any:
    sc, _coord, at = _capstone()
    return _scenario_lab(sc, at=at, **kw)


_CAP_COORD = "n7"  # coordinator_crash("correct") picks n7, the leader of group 2 (tests check this)


def _scenarios() -> dict[str, Any]:
    from ..protocols import paxos, twopc

    return {"twopc": twopc.STORIES["all-yes"].replace(duration=2.0),
            "paxos": paxos.STORIES["duelling-livelock"]}


def _twopc_lab(**kw: Any) -> Any:
    return _scenario_lab(_scenarios()["twopc"], at=0.03, **kw)


def _twopc_lab_from_start(**kw: Any) -> Any:
    return _scenario_lab(_scenarios()["twopc"], at=0.0, **kw)


def _paxos_duel_lab(**kw: Any) -> Any:
    from ..protocols import paxos

    return _scenario_lab(paxos.STORIES["duelling-backoff"].replace(duration=3.0), at=0.0, window=0.3, **kw)


def _paxos_lab(**kw: Any) -> Any:
    return _scenario_lab(_scenarios()["paxos"], at=0.3, window=0.3, **kw)


CHALLENGES: list[Challenge] = [
    Challenge(
        id="00-lose-for-good",
        title="a message lost for good",
        goal="In the broadcast without retries, cut a node off, heal the network, and leave a node without a "
             "value for good.",
        make=_lab("broadcast", nodes=3, seed=7, duration=3.0, variant="no-retry", at=0.2),
        check=_missed_for_good,
        script=(("partition", "n1|n2,n3"), ("run", 0.5), ("heal",), ("run", 0.5)),
        demonstrated="A message lost once is lost for ever unless someone resends it: the correct broadcast "
                     "retries until it is acknowledged.",
        hints=("Pick the split n1 | n2,n3 and press Partition while clients are adding values.",
               "Run +0.5 s, Heal, then Run +0.5 s: what did n1 add during the split?"),
        prediction=Prediction("If n1 is cut off while it adds values, and the network heals, do the others "
                              "get those values?", ("yes, once the network heals", "no, never", "only some"),
                              1, "no-retry sends each value once; a message lost in the partition is never sent "
                              "again."),
    ),
    Challenge(
        id="01-indeterminate-write",
        title="a write nobody can vouch for",
        goal="Crash a node while clients write, so that a client gives up on a write and cannot know whether "
             "it took effect.",
        make=_lab("quorum", nodes=3, seed=4, duration=4.0, at=0.5),
        check=_indeterminate,
        script=(("crash", "n1"), ("run", 1.5)),
        demonstrated="Partial failure: a timeout tells the client nothing about whether its write happened.",
        hints=("Pick a node and press Crash, then Run +1 s.",
               "Look at the client history: an operation that ends 'info' is one whose fate is unknown."),
        prediction=Prediction("A client's write times out. Did the write happen?",
                              ("no", "yes", "the client cannot tell"), 2,
                              "A timeout means no answer arrived, not that nothing happened."),
    ),
    Challenge(
        id="01-concurrent-writes",
        title="two writes at once",
        goal="Two clients write x at the same moment and the last-writer-wins store keeps only one: change the "
             "conflict policy so that neither acknowledged write is thrown away.",
        make=_concurrent_lab,
        check=_both_writes_kept,
        script=(("reset", {"options": {"conflict": "vv"}}), ("run",)),
        demonstrated="Concurrent updates have no 'last' one: last-writer-wins silently picks one and drops "
                     "the other; version vectors detect the concurrency and keep both.",
        hints=("Run to the end first and read the replicas' x in the state table.",
               "Type conflict=vv in the options box, press Reset, then Run to the end."),
        prediction=Prediction("Both writes (x=1, x=2) are acknowledged at the same moment at different replicas. "
                              "Under last-writer-wins the replicas end up with…",
                              ("both values", "one of them", "neither"), 1,
                              "Each write has a timestamp; the higher one wins everywhere and the other vanishes."),
    ),
    Challenge(
        id="03-stale-quorum",
        title="a stale read from R = W = 1",
        goal="With R = W = 1 on 3 replicas, make a read that starts during a partition return an old value.",
        make=_lab("quorum", nodes=3, seed=1, duration=6.0, options={"r": 1, "w": 1}, at=0.5),
        check=_stale_in_partition,
        script=(("partition", "n1|n2,n3"), ("run", 1.5)),
        demonstrated="With R + W ≤ N, a read quorum need not overlap the last write quorum: it can miss a "
                     "finished write.",
        hints=("Press Partition with the split n1 | n2,n3, then Run.",
               "Watch the client history: a read that returns an old value turns the verdict red."),
        prediction=Prediction("R = W = 1, N = 3: can a read miss a write that has finished?",
                              ("no, never", "only during a partition", "yes, even without faults"), 2,
                              "One replica answers each; nothing forces it to be the one that has the write."),
    ),
    Challenge(
        id="03-quorum-overlap",
        title="R and W that no partition can fool",
        goal="Choose R and W (options r=… w=…, then Reset) so that no partition can give a stale read, and "
             "keep a partition for 1 s to test it.",
        make=_lab("quorum", nodes=3, seed=1, duration=6.0, options={"r": 1, "w": 1}, at=0.5),
        check=_quorum_safe,
        script=(("reset", {"options": {"r": 2, "w": 2}}), ("partition", "n1|n2,n3"), ("run", 1.2)),
        demonstrated="R + W > N: any read quorum and any write quorum share a replica, so a read always meets "
                     "the newest finished write (the minority side just cannot answer).",
        hints=("Type r=2 w=2 in the options box and press Reset.",
               "Then Partition n1 | n2,n3 and Run +1 s or more."),
    ),
    Challenge(
        id="03-lww-skew",
        title="a write lost to a slow clock",
        goal="In the last-writer-wins store, set one node's clock back and make an acknowledged write vanish.",
        make=_lab("gossip", nodes=3, seed=1, duration=4.0, options={"conflict": "lww"}, at=0.3),
        check=_lww_lost,
        script=(("skew", "n1", -1.0), ("run", 1.5)),
        demonstrated="Last-writer-wins trusts timestamps: a write stamped by a clock that runs behind loses to "
                     "an older write, though both were acknowledged.",
        hints=("Pick n1, put -1 in 'clock ±s', press Skew.", "Then Run +1 s and look for lost writes."),
        prediction=Prediction("n1's clock runs 1 s behind. A write acknowledged by n1 after a write elsewhere…",
                              ("wins, it is newer", "can be lost", "is refused"), 1,
                              "Its timestamp is older than the other write's, so LWW throws it away."),
    ),
    Challenge(
        id="05-block-participant",
        title="block the participants",
        goal="Crash the coordinator n1 after the participants voted yes and before it decides, and leave "
             "them waiting.",
        make=_twopc_lab,
        check=_blocked,
        script=(("crash", "n1"), ("run", 0.5)),
        demonstrated="Two-phase commit blocks: a participant that voted yes must wait for the coordinator; "
                     "asking the other participants does not help when none of them knows the decision.",
        hints=("The lab starts just after the votes arrived: pick n1 and press Crash.",
               "Then Run +0.5 s and look at the participants' state: 'prepared', and stuck."),
        prediction=Prediction("The coordinator crashes after the yes votes, before deciding. The participants…",
                              ("commit (everyone said yes)", "abort after a timeout", "wait for the coordinator"),
                              2, "Another coordinator might have decided commit or abort: aborting alone could "
                                 "break atomicity, committing too."),
    ),
    Challenge(
        id="05-termination-cannot-help",
        title="asking around does not help",
        goal="Crash the coordinator n1 at a moment when the termination protocol cannot help, and let the "
             "participants ask each other until you see that none of them can decide.",
        make=_twopc_lab_from_start,
        check=_termination_useless,
        script=(("run", 0.03), ("crash", "n1"), ("run", 0.4)),
        demonstrated="The cooperative termination protocol only helps if some participant knows the outcome "
                     "(or has not voted): when all voted yes and none heard the decision, asking around "
                     "returns only more uncertainty, and 2PC blocks.",
        hints=("The votes reach n1 at about t = 0.023 s; its decision goes out at about t = 0.075 s. Step or "
               "Run +0.1 s carefully, and crash n1 in between.",
               "Run +0.03 s (Step a few times), Crash n1, then Run +0.5 s and look at the DecisionRequest arrows "
               "between n2 and n3."),
        prediction=Prediction("After n1 crashes, the participants ask each other for the outcome (the "
                              "termination protocol). Do they get unstuck?",
                              ("yes, one of them decides for the others", "no, if none of them heard the decision",
                               "yes, they vote again without n1"), 1,
                              "An uncertain participant has nothing to tell: only one that knows the outcome, or "
                              "has not voted yet (and may abort), can help."),
    ),
    Challenge(
        id="06-livelock-and-stop",
        title="cause the duel, then end it",
        goal="Turn randomized backoff off so that the two proposers pre-empt each other for half a second with "
             "nothing chosen, then stop the duel and get a value chosen.",
        make=_paxos_duel_lab,
        check=_livelock_then_stopped,
        script=(("reset", {"options": {"backoff": False}}), ("run", 1.0), ("crash", "n2"), ("run", 0.5)),
        demonstrated="Paxos is always safe but not always live: duelling proposers can raise their ballots for "
                     "ever. Randomized backoff or a single distinguished proposer lets one ballot finish.",
        hints=("Type backoff=off in the options box, press Reset, then Run +1 s: watch the ballots climb.",
               "To stop it: crash one of the proposers (n1 or n2), or Reset with backoff=on, or with proposers=1; "
               "then Run."),
        prediction=Prediction("Without backoff, two proposers start at the same moment. What happens?",
                              ("a value is chosen quickly", "they pre-empt each other and nothing is chosen",
                               "two different values are chosen"), 1,
                              "Each Prepare with a higher ballot makes the acceptors refuse the other's Accepts; "
                              "Paxos never chooses two values, but it need not finish."),
    ),
    Challenge(
        id="06-stop-livelock",
        title="stop the duel",
        goal="Two proposers without backoff pre-empt each other for ever: get a value chosen.",
        make=_paxos_lab,
        check=_livelock_ended,
        script=(("crash", "n2"), ("run", 0.5)),
        demonstrated="Paxos is safe but not live with duelling proposers: silence one (or add randomized "
                     "backoff, which is what the correct variant does) and a value is chosen at once.",
        hints=("Run +1 s first: do the ballots ever stop climbing?",
               "Crash one of the two proposers (n1 or n2), then Run."),
        prediction=Prediction("Two proposers keep raising their ballots. If one of them crashes…",
                              ("a value is chosen soon", "nothing changes", "the safety invariant breaks"), 0,
                              "With one proposer left, its next ballot meets no competition."),
    ),
    Challenge(
        id="07-split-no-leader",
        title="a split with no leader",
        goal="Split four Raft nodes so that no side can elect a leader, and keep it so for a second.",
        make=_lab("raft", nodes=4, seed=7, duration=10.0, at=1.0),
        check=_no_leader_anywhere,
        script=(("partition", "n1,n2|n3,n4"), ("run", 1.2)),
        demonstrated="A leader needs votes from a majority: with 4 nodes split 2 | 2 no side has 3, terms climb "
                     "and nobody wins (the old leader stays, but cannot commit anything).",
        hints=("A majority of 4 is 3. Which split leaves no side with 3?",
               "Pick the split n1,n2 | n3,n4, press Partition, then Run +1 s."),
        prediction=Prediction("Split 4 nodes 2 | 2. Which side elects a new leader?",
                              ("the side with the old leader", "the other side", "neither", "both"), 2,
                              "Each side has 2 votes; winning needs 3."),
    ),
    Challenge(
        id="07-figure-8",
        title="figure 8 by hand",
        goal="With the commit-previous-term twin, cut nodes off one at a time, as in figure 8 of the Raft paper, "
             "until a leader lacks an entry that was already committed.",
        make=_fig8_lab("commit-previous-term"),
        check=_fig8_broken,
        script=_fig8_script(),
        demonstrated="A leader that commits an entry of an earlier term by counting its replicas can lose it: "
                     "a node that never had it wins a later election. Figure 8, caught by the invariants.",
        hints=("The timeline: at t = 0.456 cut n5 off, heal at 0.659; cut n3 at 0.739, heal at 0.833; cut n4 at "
               "0.949, heal at 1.283; cut n3 at 1.33; then Run.",
               "Use Run with small amounts (or Step) to reach each moment; the split menu offers each node alone."),
        prediction=Prediction("An entry from an older term sits on a majority, and the leader counts it as "
                              "committed. Can a later leader lack it?", ("no, a majority has it", "yes"), 1,
                              "A majority has it now, but a candidate whose log ends in a higher term can still "
                              "win votes from the others."),
    ),
    Challenge(
        id="07-figure-8-refused",
        title="the correct Raft refuses",
        goal="Make the same cuts with the correct Raft and run past the moment the twin broke: nothing is lost.",
        make=_fig8_lab("correct"),
        check=_fig8_refused,
        script=_fig8_script(),
        demonstrated="Raft commits an entry of an earlier term only once an entry of the leader's own term is "
                     "stored on a majority after it, so the figure-8 schedule loses nothing.",
        hints=("The same timeline as in 07-figure-8.", "Then Run past t = 1.56 s."),
    ),
    Challenge(
        id="10-stale-follower-read",
        title="a follower that reads stale",
        goal="In the follower-reads system (read_mode=local), cut a follower off and get a stale read from a "
             "read that starts during the partition.",
        make=_lab("raft-follower-reads", nodes=5, seed=1, duration=4.0, options={"read_mode": "local"}, at=0.6),
        check=_stale_in_partition,
        script=(("partition", "n5|n1,n2,n3,n4"), ("run", 1.0)),
        demonstrated="A local (serializable) read answers from the node's own state: a follower that has not "
                     "heard the latest commits, or cannot, answers with an old value.",
        hints=("Pick the split n5 | n1,n2,n3,n4 (n1 leads) and press Partition.", "Run +1 s and read the history."),
        prediction=Prediction("A follower is cut off from the leader and keeps answering reads locally. Its "
                              "answers are…", ("always fresh", "possibly stale", "refused"), 1,
                              "It has no way to learn of newer commits while cut off."),
    ),
    Challenge(
        id="10-sync-reads",
        title="fresh reads through a partition",
        goal="Switch the follower-reads system to read_mode=sync (options, then Reset) and keep a follower cut "
             "off for a second without a single stale read.",
        make=_lab("raft-follower-reads", nodes=5, seed=1, duration=4.0, options={"read_mode": "local"}, at=0.6),
        check=_sync_reads_fresh,
        script=(("reset", {"options": {"read_mode": "sync"}}), ("run", 0.6), ("partition", "n5|n1,n2,n3,n4"),
                ("run", 1.2)),
        demonstrated="Asking the leader for its commit index first (ZooKeeper's sync, etcd's read index) makes "
                     "a follower's read linearizable; a cut-off follower waits instead of answering stale.",
        hints=("Type read_mode=sync in the options box and press Reset.",
               "Run +0.5 s, Partition n5 | n1,n2,n3,n4, then Run +1 s or more."),
    ),
    Challenge(
        id="11-in-doubt-finished",
        title="a transaction in doubt, finished without its coordinator",
        goal=f"Crash the coordinator {_CAP_COORD} while its transaction is in doubt, keep it down, and watch the "
             "transaction finish anyway.",
        make=_make_capstone,
        check=partial(_finished_by_group, coordinator=_CAP_COORD),
        script=(("crash", _CAP_COORD), ("run", 1.5)),
        demonstrated="The coordinator is a Raft group, not a node: its log holds the votes, a new leader takes "
                     "over and decides, so one crash never blocks the participants (plain 2PC would).",
        hints=(f"The lab starts with the votes in: pick {_CAP_COORD} and press Crash.",
               "Run +1 s and look at the in_doubt column of the other shards."),
        prediction=Prediction("The coordinator node crashes with the transaction in doubt. The participants…",
                              ("wait until it restarts", "are finished by its group's new leader", "abort alone"),
                              1, "Its replicas hold the same log and elect a new leader within a second."),
    ),
]

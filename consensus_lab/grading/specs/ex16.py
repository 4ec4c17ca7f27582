"""Exercise 16 judged (capstone C): snapshots, a bounded log, followers that catch up by snapshot.

Part A's rules (one answer per operation, a linearizable history), and after
every handler:

* **a bounded log** -- no node ever stores more than ``LOG_LIMIT`` log entries
  (a service that never compacts fails within a second);
* **snapshots never go back** -- a node's stored snapshot index never
  decreases, and within one incarnation its ``last_applied`` never does (a
  stale ``InstallSnapshot``, late or duplicated, must not roll the state back);
* **replicas agree on every snapshot** -- two snapshots stored at one index
  hold the same state (an entry run twice or lost shows here, at the moment);
* **the stored log matches the snapshot** -- a stored entry at an index and
  term is the entry every other node stored there (Log Matching), and terms
  never go down along the stored log from the snapshot's term on, so the
  snapshot and the log after it are stored together;
* **acknowledged entries stay stored** -- within one term a follower's log
  never shrinks below what it acknowledged to the leader.

With ``expect.caught_up``, at the end every live node has applied as far as the
most advanced one: a follower cut off while the others compacted must have
caught up by installing the leader's snapshot.

These rules live in :class:`SnapshotRules`, which the seeded runs' judge feeds
every handler call and the hidden search check's :class:`SearchRules` every
state of the explorer (every node's storage, its reported ``last_applied``, the
acknowledgements it was seen to send): both break a rule with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..checks import Check, Violation
from ..exercises.ex16 import LOG_LIMIT
from ..hosting import _ABSENT
from ._judged_steps import JudgedSteps
from .ex12 import SLOW, KVJudge
from .ex12 import Spec as PartA


class SnapshotRules:
    """The snapshot rules of a run, one observation at a time, with what they remember (plain data).

    The judge of a seeded run feeds them every handler call; a search check's
    :class:`SearchRules` feeds them what each state adds (every node's storage,
    its view, the acknowledgements it was seen to send) -- the same rules.
    """

    def __init__(self) -> None:
        self.applied: dict[str, tuple[int, float]] = {}  # node -> (last_applied in this incarnation, since)
        self.snapshots: dict[int, tuple] = {}  # index -> (the first snapshot stored at it, by whom, when)
        self.entries: dict[tuple, tuple] = {}  # (index, term) -> (the first entry stored there, by whom, when)
        self.rebuilt: dict[str, str] = {}  # node -> how and when it last rebuilt its state from a snapshot
        self.acked: dict[str, tuple[int, int, float]] = {}  # node -> (term, the highest index it acknowledged, when)

    def stored(self, nid: str, before: Mapping[str, Any], st: Mapping[str, Any], now: float) -> None:
        """``nid`` wrote the keys of ``before`` (their old values); ``st``: its storage now."""
        log = st.get("log", ())
        snap = st.get("snapshot")
        index = getattr(snap, "index", 0)
        if type(log) is tuple and len(log) > LOG_LIMIT:
            raise Violation("a bounded log", f"{nid} stores {len(log)} log entries after its snapshot at index "
                            f"{index} (the limit is {LOG_LIMIT}): the service must compact its log", now)
        old = before.get("snapshot", _ABSENT)
        if old is not _ABSENT and getattr(old, "index", 0) > index:
            raise Violation("snapshots never go back", f"{nid} replaced its snapshot at index {old.index} by one "
                            f"at index {index}: a snapshot older than what it had must be ignored", now)
        if "snapshot" in before and snap is not None and snap != old:
            self.same_state(nid, snap, now)
        if ("log" in before or "snapshot" in before) and type(log) is tuple:
            self.log_matching(nid, index, getattr(snap, "term", 0), log, now)
            self.keeps_what_it_acknowledged(nid, st.get("term"), index + len(log), now)

    def started(self, nid: str) -> None:
        """``nid`` (re)started: what it applied before is gone with its memory."""
        self.applied.pop(nid, None)

    def applied_to(self, nid: str, applied: Any, now: float, where: str = "") -> None:
        """Within one incarnation a node's ``last_applied`` never goes back."""
        if type(applied) is not int:
            return
        was = self.applied.get(nid)
        if was is not None and applied < was[0]:
            raise Violation("snapshots never go back", f"{nid} had applied up to index {was[0]} (since "
                            f"t={was[1]:.3f}) and went back to {applied}{where}: a stale snapshot "
                            f"(late or duplicated) must not roll the state back", now)
        if was is None or applied != was[0]:
            self.applied[nid] = (applied, now)

    def acknowledged(self, nid: str, term: int, index: int, now: float) -> None:
        """``nid`` told the leader of ``term`` that its log holds entries up to ``index``."""
        if _newer_ack(self.acked.get(nid), term, index):
            self.acked[nid] = (term, index, now)

    def same_state(self, nid: str, snap, now: float) -> None:
        """Every replica's snapshot at one index is the same state: entries 1..index, applied once each."""
        first = self.snapshots.setdefault(snap.index, (snap, nid, now))
        if first[0] != snap:
            other, who, when = first
            raise Violation("replicas agree on every snapshot", f"{nid} stored a snapshot at index {snap.index} "
                            f"(term {snap.term}) with state {_short(snap.state)}, but {who} stored one at that index "
                            f"at t={when:.3f} (term {other.term}) with state {_short(other.state)}: the state after "
                            f"entries 1..{snap.index} must be the same everywhere -- was an entry applied twice, "
                            f"lost, or is the state not the one after entry {snap.index}?{self.history_of(nid, who)}",
                            now, nodes=(nid, who))

    def history_of(self, *nodes: str) -> str:
        told = [self.rebuilt[n] for n in dict.fromkeys(nodes) if n in self.rebuilt]
        return f" ({'; '.join(told)})" if told else ""

    def log_matching(self, nid: str, base: int, base_term: Any, log: tuple, now: float) -> None:
        """What a node stores must be a log: the snapshot, then the entries after its index (Log Matching:
        two stored entries with one index and one term are the same entry; terms never go down along a log,
        from the snapshot's on)."""
        term = base_term
        for i, entry in enumerate(log, start=base + 1):
            t = getattr(entry, "term", None)
            if type(t) is int and type(term) is int and t < term:
                raise Violation("the stored log matches the snapshot", f"{nid} now stores, after its snapshot at "
                                f"index {base} (term {base_term}), {_short(entry)} as entry {i}, after an entry of "
                                f"term {term}: terms never go down along a log, so these are not the entries after "
                                f"the snapshot -- store the snapshot and the log after it together", now)
            term = t
            first = self.entries.setdefault((i, t), (entry, nid, now))
            if first[0] != entry:
                raise Violation("the stored log matches the snapshot", f"{nid} now stores, after its snapshot at "
                                f"index {base}, {_short(entry)} as entry {i}, but {first[1]} stored "
                                f"{_short(first[0])} at index {i} of that term at t={first[2]:.3f}: after a restart "
                                f"it would read a log that is not the cluster's -- store the snapshot and the log "
                                f"after it together", now, nodes=(nid, first[1]))

    def keeps_what_it_acknowledged(self, nid: str, term, last: int, now: float) -> None:
        """Within one term a follower's log only grows: the leader counts its acknowledgement towards a commit."""
        acked = self.acked.get(nid)
        if acked is not None and acked[0] == term and last < acked[1]:
            raise Violation("acknowledged entries stay stored", f"{nid} told the leader of term {term} at "
                            f"t={acked[2]:.3f} that its log holds entries up to {acked[1]}, and now stores only up "
                            f"to {last}: the leader may have counted them towards a commit -- ignore a snapshot that is "
                            f"not newer than what you applied, and when you install one, keep the entries after it "
                            f"if your log matches at its index", now)


class SnapshotJudge(KVJudge):
    judges_log = False  # a compacted log does not start at index 1
    suspects = ("an operation applied twice (a duplicate table missing from the snapshot?) or lost (a snapshot "
                "whose state does not match its index?)")

    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.snapshot_rules = SnapshotRules()  # beside part A's ``rules`` (KVRules), which it keeps

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid, rules = node.id, self.snapshot_rules
        st = self.store(nid)
        index = getattr(st.get("snapshot"), "index", 0)
        if handler == "on_start":
            rules.started(nid)
            if node.incarnation and index:
                rules.rebuilt[nid] = f"{nid} restarted from its snapshot at index {index} at t={now:.3f}"
        elif index > getattr(before.get("snapshot"), "index", 0) and any(
                e[0] == "send" and type(e[2]).__name__ == "InstallSnapshotReply" for e in effects):
            rules.rebuilt[nid] = f"{nid} installed a snapshot at index {index} at t={now:.3f}"
        rules.stored(nid, before, st, now)
        rules.applied_to(nid, node.hosted_view.get("last_applied"), now, f" in {handler}")
        for term, index in acknowledgements(effects):
            rules.acknowledged(nid, term, index, now)
        super().after_call(node, handler, before, effects, view_changed, now)

    def final(self) -> str | None:
        problem = super().final()
        if problem or not self.params.get("expect", {}).get("caught_up"):
            return problem
        views = self.live_views()
        top = max((v.get("last_applied", 0) for v in views.values()), default=0)
        behind = sorted(f"{n} (at {v.get('last_applied')})" for n, v in views.items() if v.get("last_applied") != top)
        if behind:
            return (f"at the end, after every fault had healed, {', '.join(behind)} had not caught up with index "
                    f"{top}: a follower that needs entries the leader has compacted must install its snapshot")
        return None


class SearchRules(JudgedSteps):
    """The judge's rules in a search check: every node's storage, the ``last_applied`` its view
    reports and the acknowledgements it was seen to send (:meth:`Spec.observe`) go through the same
    :class:`SnapshotRules`.  A crashed node's next incarnation starts afresh, as after ``on_start``;
    a node's ``last_applied`` is judged once it has acknowledged something (an install always does)."""

    watched = None  # every node's storage

    def __init__(self) -> None:
        super().__init__()
        self.rules = SnapshotRules()

    def check(self, world) -> str | None:
        for nid, node in world.nodes.items():
            if node is None and nid in self.rules.applied:
                self.rules.started(nid)
        return super().check(world)

    def storage_changed(self, before, store, world, node_id) -> None:
        self.rules.stored(node_id, before, store, world.now)

    def observed(self, node_id, facts, store, world) -> None:
        self.rules.applied_to(node_id, world.nodes[node_id].view.get("last_applied"), world.now)
        if "acked" in facts:
            self.rules.acknowledged(node_id, *facts["acked"], world.now)


def acknowledgements(effects: list[tuple]) -> list[tuple[int, int]]:
    """(term, index) of every acknowledgement sent in ``effects``: a successful AppendEntriesReply (its
    match index) or an InstallSnapshotReply (the snapshot's index)."""
    out = []
    for eff in effects:
        msg = eff[2] if eff[0] == "send" else None
        name = type(msg).__name__
        if (name == "AppendEntriesReply" and msg.success) or name == "InstallSnapshotReply":
            out.append((msg.term, msg.match_index if name == "AppendEntriesReply" else msg.index))
    return out


def _newer_ack(was: tuple | None, term: int, index: int) -> bool:
    """An acknowledgement (term, index) replaces ``was`` if it is of another term or goes further."""
    return was is None or was[0] != term or was[1] < index


def _short(value, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


# a follower cut off while the others fill and compact their logs; then every node restarts in turn, so
# that nodes rebuilt from a snapshot (installed, or their own) lead and answer
LAGGARD = ("0.2 partition n1,n2|n3; 1.2 heal; 1.5 crash n3; 1.8 restart n3; 2.0 crash n1; 2.3 restart n1; "
           "2.5 crash n2; 2.9 restart n2")


HINTS = {
    "a bounded log": "In apply, once SNAPSHOT_EVERY entries have been applied since self.snapshot.index, call "
    "self.compact(ctx, index, state).",
    "snapshots never go back": "In install_snapshot, return at once when snapshot.index <= self.last_applied: "
    "a late or duplicated InstallSnapshot is older than what this node has.",
    "replicas agree on every snapshot": "The snapshot at index i is the state after running entry i -- the data "
    "and the duplicate table -- and restore must rebuild both; then every replica's snapshot at i is the same.",
    "acknowledged entries stay stored": "An InstallSnapshot may reach a follower whose log already goes further: "
    "if its log holds the snapshot's entry with the snapshot's term, keep the entries after it.",
    "the stored log matches the snapshot": "When you install a snapshot, store it and the log after it (the "
    "matching suffix, or nothing) in the same handler: storage['snapshot'] and storage['log'] together.",
}


class Spec(PartA):
    id = "ex16"
    title = "capstone C: snapshots, a bounded log"
    notebook = "ex16_capstone_c_snapshots.ipynb"
    judge_class = SnapshotJudge
    hints = HINTS
    checks = (
        Check("the log stays bounded, no faults", 2, hint="In apply, once SNAPSHOT_EVERY entries have been "
              "applied since self.snapshot.index, call self.compact(ctx, index, state) with the state after "
              "that entry.",
              params={"seeds": [1], "expect": {"min_ok": 30}}),
        Check("a lagging follower catches up by snapshot", 3, hint="install_snapshot: store the snapshot and the "
              "log after it, rebuild the service from snapshot.state, set commit_index and last_applied to its "
              "index.",
              params={"seeds": [1, 2], "nemesis": LAGGARD, "expect": {"min_ok": 20, "caught_up": True}}),
        Check("restarts rebuild from the snapshot", 3, hint="A restarted node starts from self.snapshot.state "
              "and applies the entries after it: the duplicate table must be in the snapshot, or a retried "
              "request runs again.",
              params={"seeds": [2, 7], "nemesis": "crash", "nemesis_interval": 0.3,
                      "network": {"latency": SLOW, "duplicate": 0.2}, "workload": {"timeout": 0.1},
                      "expect": {"min_ok": 3}}),
        Check("late and duplicated snapshots", 2, hint="Ignore an InstallSnapshot that is not newer than what you "
              "have applied: it arrives late, or twice.",
              params={"seeds": [4], "nemesis": LAGGARD, "network": {"latency": SLOW, "duplicate": 0.3},
                      "workload": {"timeout": 0.1}, "expect": {"min_ok": 10}}),
    )


    def observe(self, node_id: str, effects: list[tuple], facts: dict[str, Any]) -> dict[str, Any]:
        """What a stepped node was seen to do, for :class:`SearchRules`: ``facts["acked"]``, the newest
        acknowledgement it sent to a leader, (term, the highest index it said its log holds).  (Part A's
        rules are not in this search: its own search check judges them.)"""
        out = facts
        for term, index in acknowledgements(effects):
            if _newer_ack(out.get("acked"), term, index):
                out = {**out, "acked": (term, index)}
        return out

    def search_invariants(self) -> list:
        return [SearchRules()]

SPEC = Spec()

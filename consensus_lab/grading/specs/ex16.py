"""Exercise 16 judged (capstone C): snapshots, a bounded log, followers that catch up by snapshot.

Part A's rules (one answer per operation, a linearizable history), and after
every handler:

* **a bounded log** -- no node ever stores more than ``LOG_LIMIT`` log entries
  (a service that never compacts fails within a second);
* **snapshots never go back** -- a node's stored snapshot index never
  decreases, and within one incarnation its ``last_applied`` never does (a
  stale ``InstallSnapshot``, late or duplicated, must not roll the state back).

With ``expect.caught_up``, at the end every live node has applied as far as the
most advanced one: a follower cut off while the others compacted must have
caught up by installing the leader's snapshot.
"""

from __future__ import annotations

from ..checks import Check, Violation
from ..exercises.ex16 import LOG_LIMIT
from ..hosting import _ABSENT
from .ex12 import SLOW, KVJudge
from .ex12 import Spec as PartA


class SnapshotJudge(KVJudge):
    suspects = ("an operation applied twice (a duplicate table missing from the snapshot?) or lost (a snapshot "
                "whose state does not match its index?)")

    def __init__(self, *a) -> None:
        super().__init__(*a)
        self.applied: dict[str, tuple[int, int, float]] = {}  # node -> (incarnation, last_applied, since)

    def after_call(self, node, handler, before, effects, view_changed, now) -> None:
        nid = node.id
        st = self.store(nid)
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
        applied = node.hosted_view.get("last_applied")
        if type(applied) is int:
            was = self.applied.get(nid)
            if was is not None and was[0] == node.incarnation and applied < was[1]:
                raise Violation("snapshots never go back", f"{nid} had applied up to index {was[1]} (since "
                                f"t={was[2]:.3f}) and went back to {applied} in {handler}: a stale snapshot "
                                f"(late or duplicated) must not roll the state back", now)
            if was is None or was[0] != node.incarnation or applied != was[1]:
                self.applied[nid] = (node.incarnation, applied, now)
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


# a follower cut off while the others fill and compact their logs, then needed for a majority
LAGGARD = "0.3 partition n1,n2|n3; 1.6 heal; 1.8 crash n1; 2.8 restart n1"


class Spec(PartA):
    id = "ex16"
    title = "capstone C: snapshots, a bounded log"
    notebook = "ex16_capstone_c_snapshots.ipynb"
    judge_class = SnapshotJudge
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
              params={"seeds": [2, 3], "nodes": 5, "nemesis": "crash,partition", "nemesis_interval": 0.3,
                      "network": {"loss": 0.1}, "workload": {"timeout": 0.15}, "expect": {"min_ok": 10}}),
        Check("late and duplicated snapshots", 2, hint="Ignore an InstallSnapshot that is not newer than what you "
              "have applied: it arrives late, or twice.",
              params={"seeds": [4], "nemesis": LAGGARD, "network": {"latency": SLOW, "duplicate": 0.3},
                      "workload": {"timeout": 0.1}, "expect": {"min_ok": 10}}),
    )


SPEC = Spec()

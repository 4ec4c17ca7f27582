"""Exercise 8 judged: Raft leader election."""

from __future__ import annotations

from typing import Any

from ..checks import Check, NodeSpec
from ._raft import HINTS, ElectionJudge, RaftSearch, election_view_problem, one_leader_per_term


class Spec(RaftSearch, NodeSpec):
    id = "ex08"
    title = "Raft leader election"
    notebook = "ex08_raft_election.ipynb"
    judge_class = ElectionJudge
    hints = HINTS
    defaults = {"nodes": 3, "duration": 2.5, "quiet": 0.4}
    checks = (
        Check("a leader is elected", 3, hint="A follower that hears nothing for its (random) election "
              "timeout starts an election: new term, vote for itself, RequestVote to every peer.",
              params={"seeds": [1, 2], "duration": 1.5, "expect": {"leader_by": 1.0, "leader_at_end": True}}),
        Check("heartbeats keep the leader", 2, hint="A leader sends AppendEntries every HEARTBEAT seconds and "
              "a follower restarts its election timer when it hears from the current leader.",
              params={"seeds": [3], "nodes": 5, "duration": 2.0, "expect": {"max_leader_terms": 2,
                                                                            "leader_at_end": True}}),
        Check("the leader crashes", 3, hint="Votes and terms are durable: persist them before you answer, "
              "and read them back in on_start so a restarted node cannot vote twice.",
              params={"seeds": [4], "nodes": 5, "nemesis": "crash", "nemesis_interval": 0.5,
                      "expect": {"leader_at_end": True}}),
        Check("partitions", 2, hint="A node that sees a higher term becomes a follower of that term at "
              "once; a stale leader steps down when a reply carries a newer term.",
              params={"seeds": [5], "nodes": 5, "nemesis": "partition", "nemesis_interval": 0.6,
                      "expect": {"leader_at_end": True}}),
    )

    def lab_invariants(self, view: Any = None) -> list:
        return [one_leader_per_term(view or self.module.view)]

    def validate_view(self, view: Any) -> str | None:
        return election_view_problem(view)


SPEC = Spec()

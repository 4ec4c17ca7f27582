"""Every broken twin is found by its protocol's default battery and by the command line's
random nemesis, over plain seeds -- and the rules without a twin of their own are guarded.

``consensus_lab.twin_hunt`` defines the two hunts; ``benchmarks/twin_catch_rates.py`` prints
the rates.  Here: the first seed at which each hunt catches each twin is pinned (a change
that makes a hunt blind to a twin moves or loses it), ``make stress`` measures the rates
over many seeds, and the storage copy is shown to be what catches ``log-by-reference``.
"""

from __future__ import annotations

import pytest

from consensus_lab import protocols
from consensus_lab.protocols.raft_scenarios import KEPT_SEEDS as RAFT_KEPT
from consensus_lab.protocols.raft_scenarios import run_scenario
from consensus_lab.testing import stress_mode
from consensus_lab.twin_hunt import (
    BATTERY_SEEDS,
    EQUIVALENT_RULES,
    catch_rate,
    caught_by_battery,
    caught_by_cli,
)

#: (protocol, twin) -> the first seed at which ``consensus-lab run P --variant V --nemesis random``
#: catches it (None: not within CLI_SEEDS, see CLI_GAPS)
CLI_FIRST = {
    ("twopc", "no-decision-log"): 8,
    ("twopc", "no-vote-log"): 0,
    ("twopc", "timeout-commit"): 0,
    ("twopc", "uncertain-abort"): 0,
    ("paxos", "forget-promise"): 24,
    ("paxos", "ignore-accepted"): 0,
    ("paxos", "first-promise"): 10,
    ("paxos", "minority-learner"): 0,
    ("multi-paxos", "no-recovery"): 0,
    ("multi-paxos", "minority-commit"): 0,
    ("multi-paxos", "local-read"): 0,
    ("raft", "commit-previous-term"): 39,
    ("raft", "volatile-vote"): 6,
    ("raft", "no-up-to-date-check"): 3,
    ("raft", "stale-truncate"): 35,
    ("raft", "log-by-reference"): 2,
    ("twopc", "article"): 0,
    ("paxos", "article"): 0,
    ("raft", "article"): 1,
}
CLI_SEEDS = 150

#: twins the command line's random nemesis does not catch yet, and why (none: raft's random
#: nemesis snipes leaders right after they take a command, which builds figure 8's logs)
CLI_GAPS: dict[tuple[str, str], str] = {}

#: (hunt, protocol, twin) caught, but in under 1% of seeds: the floor ``make stress`` holds them to
#: (none since paxos's random nemesis splits a pair during its opening blips, see ``random_tuning``)
BELOW_TARGET: dict[tuple[str, str, str], tuple[float, str]] = {}

#: (protocol, twin) -> the first seed at which the default battery catches it
BATTERY_FIRST = {
    ("twopc", "no-decision-log"): 0,
    ("twopc", "no-vote-log"): 1,
    ("twopc", "timeout-commit"): 6,
    ("twopc", "uncertain-abort"): 0,
    ("paxos", "forget-promise"): 73,
    ("paxos", "ignore-accepted"): 5,
    ("paxos", "first-promise"): 28,
    ("paxos", "minority-learner"): 0,
    ("twopc", "article"): 0,
    ("paxos", "article"): 0,
}

HUNTED = sorted({p for p, _ in CLI_FIRST})


def test_every_twin_of_the_hunted_protocols_is_in_the_tables():
    for proto in HUNTED:
        twins = set(protocols.get(proto).variants) - {"correct"}
        assert {v for p, v in CLI_FIRST if p == proto} == twins, proto
    assert {k for k, first in CLI_FIRST.items() if first is None} == set(CLI_GAPS)


@pytest.mark.parametrize("key", sorted(k for k, v in CLI_FIRST.items() if v is not None), ids="{0[0]}:{0[1]}".format)
def test_the_command_lines_random_nemesis_catches_the_twin_at_its_first_seed(key):
    proto, twin = key
    first = CLI_FIRST[key]
    assert not any(caught_by_cli(proto, s, twin) for s in range(first)), f"{twin} is caught before seed {first}"
    assert caught_by_cli(proto, first, twin)
    assert not caught_by_cli(proto, first, "correct")  # the same scenario, the correct protocol: safe


@pytest.mark.parametrize("key", sorted(BATTERY_FIRST), ids="{0[0]}:{0[1]}".format)
def test_the_default_battery_catches_the_twin_within_its_seed_count(key):
    proto, twin = key
    first = BATTERY_FIRST[key]
    assert first < BATTERY_SEEDS[proto]
    assert caught_by_battery(proto, first, twin) and not any(caught_by_battery(proto, s, twin) for s in range(first))


def test_the_raft_battery_catches_every_twin_within_its_seed_count():
    twins = set(protocols.get("raft").variants) - {"correct"}
    assert set(RAFT_KEPT) == twins  # tests/test_raft_battery.py replays each at its kept seed
    assert all(seed < BATTERY_SEEDS["raft"] for _, seed in RAFT_KEPT.values())


def test_the_storage_copy_is_what_catches_log_by_reference(monkeypatch):
    """The simulator copies values into durable storage, as a disk does.  A node that stores
    its log once as an object and then changes it in memory loses the changes in a crash;
    with a storage that kept references the same run would look safe."""
    import consensus_lab.sim.node as node

    name, seed = RAFT_KEPT["log-by-reference"]
    assert run_scenario(name, seed, variant="log-by-reference", check=False).violations
    monkeypatch.setattr(node, "_copy_mutable", lambda v: v)  # the mutation: storage keeps references
    assert not run_scenario(name, seed, variant="log-by-reference", check=False).violations


@pytest.mark.parametrize("hunt", ["battery", "cli"])
def test_stress_catch_rates_reach_one_percent(hunt):
    """``make stress``: every twin in at least 1% of 1,000 seeds (200 for Raft's slower runs),
    the known gaps and the twins below target (at their own floor) excepted."""
    if not stress_mode():
        pytest.skip("make stress measures the catch rates over 1,000 seeds per twin")
    short = []
    for proto, twin in sorted(CLI_FIRST):
        if hunt == "cli" and (proto, twin) in CLI_GAPS:
            continue
        c = catch_rate(hunt, proto, twin, range(1000 if proto != "raft" else 200))
        if c.rate < BELOW_TARGET.get((hunt, proto, twin), (0.01,))[0]:
            short.append(f"{proto} {twin}: {len(c.found)}/{c.seeds}")
    assert not short, "twins caught in under 1% of seeds: " + ", ".join(short)


def test_the_follower_commit_bound_matters_only_for_the_leaders_entries(monkeypatch):
    """Why the follower commit bound has no twin (``twin_hunt.EQUIVALENT_RULES``): in runs with one entry per
    AppendEntries the bound often matters (the follower holds more than the message carried), but
    every entry a log-end bound would commit beyond the new ones is the leader's own entry."""
    from consensus_lab.protocols import raft
    from consensus_lab.protocols._raft_messages import AppendEntries, AppendEntriesReply
    from consensus_lab.sim import Scenario
    from consensus_lab.twin_hunt import _run

    sent: dict[tuple, tuple] = {}  # (leader, term, prev, round, n entries) -> the leader's terms when it sent
    counts = {"bound matters": 0, "stale entry under the bound": 0}
    send, handle = raft.RaftNode._send_append_entries, raft.RaftNode.handle_append_entries

    def key(m):
        return (m.leader_id, m.term, m.prev_log_index, m.round, len(m.entries))

    def spy_send(self, ctx, peer):
        send(self, ctx, peer)
        m = ctx.outbox[-1][1]  # the simulator's outbox holds a send as a (dst, msg) pair
        if isinstance(m, AppendEntries):
            sent[key(m)] = self.log.terms()

    def spy_handle(self, ctx, src, m):
        handle(self, ctx, src, m)
        reply = ctx.outbox[-1][1]
        if not (isinstance(reply, AppendEntriesReply) and reply.success):
            return
        last_new, log = reply.match_index, self.log
        if m.leader_commit <= last_new or log.last_index <= last_new:
            return
        counts["bound matters"] += 1
        leader = sent[key(m)]
        for i in range(last_new + 1, min(m.leader_commit, log.last_index) + 1):
            mine = log.term_at(i)
            theirs = leader[i - 1] if i <= len(leader) else "absent"
            if mine is not None and theirs is not None and mine != theirs:
                counts["stale entry under the bound"] += 1

    monkeypatch.setattr(raft.RaftNode, "_send_append_entries", spy_send)
    monkeypatch.setattr(raft.RaftNode, "handle_append_entries", spy_handle)
    small = {"max_entries": 1}
    for seed in range(6):
        _run(Scenario(protocol="raft", seed=seed, nemesis="random", options=small))
    for name in ("figure-8-unreliable", "rejoin", "snapshots"):
        for seed in range(2):
            run_scenario(name, seed, options=small, check=False)
    assert counts["bound matters"] >= 5, counts  # the situation arises ...
    assert counts["stale entry under the bound"] == 0, counts  # ... and the log's end is always the leader's
    assert ("raft", "follower commit bound") in EQUIVALENT_RULES

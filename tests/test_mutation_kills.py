"""Rules that `make mutate` found unguarded: each test kills a mutant that survived the
targeted suite (docs/mutation.md names the mutant each one kills).

Handler tests, one message at a time in a FakeContext, and the linearizability checker's budgets
on small hopeless histories; each runs in milliseconds.
"""

from __future__ import annotations

import dataclasses

import pytest
from _toys import Chatter, Hello, Ticker
from test_check_defects import hopeless_history
from test_multipaxos import leader as mp_leader
from test_multipaxos import node as mp_node
from test_paxos import B1, B2
from test_paxos import node as paxos_node
from test_raft import cmd, make_leader, node, with_log
from test_twopc import WRITES
from test_twopc import participant as twopc_participant

from consensus_lab.checkers import (
    NOT_LINEARIZABLE,
    UNKNOWN,
    check_linearizable,
    linearization_points,
)
from consensus_lab.history import Op
from consensus_lab.protocols._ballot import Ballot
from consensus_lab.protocols.multipaxos import NOOP as MPNOOP
from consensus_lab.protocols.multipaxos import CatchUp as MPCatchUp
from consensus_lab.protocols.multipaxos import Chosen as MPChosen
from consensus_lab.protocols.multipaxos import Command as MPCommand
from consensus_lab.protocols.multipaxos import Entries as MPEntries
from consensus_lab.protocols.multipaxos import Nack as MPNack
from consensus_lab.protocols.multipaxos import Prepare as MPPrepare
from consensus_lab.protocols.multipaxos import Promise as MPPromise
from consensus_lab.protocols.paxos import Accept, Config, PaxosNode, Prepare, Promise
from consensus_lab.protocols.raft import (
    FOLLOWER,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    RequestVote,
    RequestVoteReply,
    durable_view,
)
from consensus_lab.protocols.raft_log import Command, Entry, KVStateMachine, RaftLog, Snapshot
from consensus_lab.sim import (
    ClientRequest,
    Fail,
    Node,
    NodeError,
    Ok,
    Redirect,
    Simulation,
    Workload,
)
from consensus_lab.sim.invariants import invariant
from consensus_lab.sim.nemesis import Crash, Partition, Strike
from consensus_lab.sim.network import Latency, NetworkConfig
from consensus_lab.sim.node import CancelTimer
from consensus_lab.sim.simulation import SimulationError
from consensus_lab.testing import FakeContext

# --- Raft: one vote per term --------------------------------------------------------------------


def test_a_candidate_that_steps_down_in_its_own_term_keeps_its_vote():
    """Stepping down to a leader of the same term is no new term: votedFor stays (on disk too),
    so a second candidate of that term gets no vote."""
    n, ctx = node()
    n.on_timer(ctx, "election", None)  # candidate of term 1, voted for itself
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 0, 0, (), 0))
    assert n.role == FOLLOWER and n.current_term == 1
    assert n.voted_for == "n1" and ctx.storage["vote"] == "n1"
    ctx.clear()
    n.on_message(ctx, "n3", RequestVote(1, "n3", 0, 0))
    assert ctx.sent() == [("n3", RequestVoteReply(1, False))]


def cancelled(ctx) -> list[str]:
    return [e.name for e in ctx.outbox if isinstance(e, CancelTimer)]


def test_a_leader_or_candidate_that_steps_down_stops_its_beat_and_waits_for_a_leader():
    """A follower sends no heartbeats and no vote retries: stepping down cancels the beat,
    and a former leader arms its election timer again."""
    n, ctx = node()
    make_leader(n, ctx)
    n.on_message(ctx, "n2", AppendEntriesReply(7, False))
    assert n.role == FOLLOWER and cancelled(ctx) == ["heartbeat"] and "election" in ctx.timers()
    n, ctx = node()
    n.on_timer(ctx, "election", None)
    ctx.clear()
    n.on_message(ctx, "n2", AppendEntries(1, "n2", 0, 0, (), 0))
    assert n.role == FOLLOWER and cancelled(ctx) == ["heartbeat"]


def test_a_candidate_knows_no_leader_and_says_so_to_clients():
    """After hearing from a leader, a node that starts an election forgets it: its view and its
    redirects name no leader (``None``, not some other falsy name)."""
    n, ctx = node()
    n.on_message(ctx, "n2", AppendEntries(0, "n2", 0, 0, (), 0))
    assert n.leader_id == "n2"
    n.on_timer(ctx, "election", None)
    ctx.clear()
    assert n.state_view()["leader"] is None
    request = ClientRequest("c1", 1, "read", "x", None)
    n.on_client_request(ctx, request)
    assert ctx.replies() == [(request, Redirect(None))]


# --- Raft: the commit rule (5.4.2) and the twins that break it -----------------------------------


@pytest.mark.parametrize("variant", ["commit-previous-term", "article"])
def test_both_twins_that_skip_the_current_term_check_commit_an_older_entry_by_counting(variant):
    """The article's sketch, like the figure-8 twin, commits an entry of an earlier term as soon
    as enough replicas hold it (the correct rule waits: test_raft's
    test_leader_never_commits_an_older_term_entry_by_counting_replicas)."""
    n, ctx = node(variant=variant)
    with_log(n, ctx, [1, 2], term=2)
    make_leader(n, ctx, term=4)
    n.on_message(ctx, "n2", AppendEntriesReply(4, True, 2))
    assert n.commit_index == 2



# --- Paxos: the acceptor's promises ---------------------------------------------------------------


def test_an_acceptor_answers_a_repeated_prepare_with_the_same_promise():
    """Only a *lower* ballot is refused: a duplicated Prepare of the promised ballot gets its
    Promise again (a Nack would send the proposer to a needless higher round)."""
    n, ctx = paxos_node()
    n.on_message(ctx, "n1", Prepare(B1))
    n.on_message(ctx, "n1", Prepare(B1))
    assert ctx.sent() == [("n1", Promise(B1)), ("n1", Promise(B1))]


def test_accepting_a_higher_ballot_is_a_durable_promise_and_the_twins_keep_theirs_volatile():
    """storage["promised"] is the highest ballot promised (lesson 06's durable panel and
    ex07's grader read it): accepting B2 over a promise of B1 promises B2, on disk.
    The forgetful twin keeps no promise on disk, the article's sketch nothing at all."""
    expected = {"correct": {"promised": B2, "accepted": (B2, "y")},
                "forget-promise": {"accepted": (B2, "y")},
                "article": {}}
    for variant, storage in expected.items():
        n, ctx = paxos_node(variant=variant)
        n.on_message(ctx, "n1", Prepare(B1))
        n.on_message(ctx, "n2", Accept(B2, "y"))
        assert dict(ctx.storage.items()) == storage, variant
        assert n.promised == B2 and n.accepted == (B2, "y")


# --- Raft: AppendEntries that reach below a follower's snapshot (section 7) -----------------------


def test_append_entries_below_the_snapshot_skip_the_covered_entries_and_answer_the_round():
    """A follower whose snapshot covers index 3 gets entries from index 2: the covered ones are
    skipped (no consistency check below the snapshot), the rest appended; the reply's match
    index and heartbeat round are exact (the leader's next index and read index rest on them)."""
    f, ctx = node("n3")
    f.on_message(ctx, "n1", InstallSnapshot(1, "n1", 3, 1, Snapshot(3, 1, (("x", 3),), ())))
    assert f.snapshot_index == f.last_log_index == f.commit_index == 3
    ctx.clear()
    covered = (Entry(1, cmd(2)), Entry(1, cmd(3)))
    f.on_message(ctx, "n1", AppendEntries(1, "n1", 1, 1, covered, 3, 5))
    assert ctx.sent() == [("n1", AppendEntriesReply(1, True, 3, round=5))]
    assert f.last_log_index == 3
    ctx.clear()
    more = (Entry(1, cmd(3)), Entry(1, cmd(4)), Entry(1, cmd(5)))
    f.on_message(ctx, "n1", AppendEntries(1, "n1", 2, 1, more, 5, 6))
    assert ctx.sent() == [("n1", AppendEntriesReply(1, True, 5, round=6))]
    assert f.log_terms() == (None, None, None, 1, 1) and f.commit_index == f.last_applied == 5
    assert f.sm.data == {"x": 5} and ctx.storage["log_end"] == 5


def test_a_refusal_still_answers_the_heartbeat_round():
    """A follower that refuses entries (log mismatch) still accepts the leader's term: its reply
    carries the round, which the leader counts to confirm its leadership for read-index reads."""
    n, ctx = node()
    with_log(n, ctx, [1, 2, 2, 2])
    n.on_message(ctx, "n2", AppendEntries(3, "n2", 9, 3, (), 0, 7))  # a gap
    n.on_message(ctx, "n2", AppendEntries(3, "n2", 4, 3, (), 0, 8))  # a conflicting term
    assert ctx.sent() == [("n2", AppendEntriesReply(3, False, 0, 5, None, 7)),
                          ("n2", AppendEntriesReply(3, False, 0, 2, 2, 8))]


def test_a_node_restarts_knowing_the_value_it_learned_and_proposes_nothing():
    """What a learner learned is on disk: after a restart it still knows it, its phase is done,
    and a proposer does not start proposing again."""
    ctx = FakeContext("n1", storage={"learned": "v", "accepted": (B1, "v")})
    n = PaxosNode("n1", ("n1", "n2", "n3"), Config(proposers=("n1", "n2")), "correct")
    n.on_start(ctx)
    assert n.has_learned and n.learned == "v" and n.phase == "done"
    assert "propose" not in ctx.timers()


# --- the twins that keep nothing on disk: they must stay the bug they document --------------------


def test_the_log_by_reference_twin_stores_its_entry_list_once_as_one_object():
    """The twin writes its entry list under one key at boot and never the per-index entries:
    storage copies, as a disk does, so the entries appended later never reach it."""
    n, ctx = node(variant="log-by-reference")
    with_log(n, ctx, [1, 1])
    assert n.log_terms() == (1, 1) and ctx.storage["entries"] == []
    assert "log/1" not in ctx.storage and "log_end" not in ctx.storage


# --- Raft: the log on disk is exactly the log ----------------------------------------------------------


def test_the_log_on_disk_is_exactly_the_log_after_appends_and_a_truncation():
    """Storage holds ``log/1..log_end`` and nothing past it: a truncated suffix is deleted,
    and nothing is written past the last entry (the explorer fingerprints storage as it is:
    stray keys would make equal logs look like different states)."""
    n, ctx = node()
    with_log(n, ctx, [1, 1, 1, 1])

    def on_disk():
        return sorted(k for k in ctx.storage if k.startswith("log/")), ctx.storage["log_end"]

    assert on_disk() == ([f"log/{i}" for i in range(1, 5)], 4)
    n.on_message(ctx, "n2", AppendEntries(2, "n2", 2, 1, (Entry(2, cmd(3)),), 0))
    assert n.log_terms() == (1, 1, 2)
    assert on_disk() == (["log/1", "log/2", "log/3"], 3) and ctx.storage["log/3"].term == 2


# --- the linearizability checker: budgets ----------------------------------------------------------


def test_a_search_without_a_memory_budget_never_measures_memory():
    """``max_memory=None`` means no memory budget: a search long enough to look at its budgets
    between slices (thousands of steps) still ends with a verdict."""
    r = check_linearizable(hopeless_history(8), "register", max_memory=None, prechecks=False,
                           timeout=60)
    assert r.verdict == NOT_LINEARIZABLE and r.budget == "" and r.states > 2048


def test_a_time_budget_names_the_key_it_gave_up_on_and_its_longest_prefix():
    """The verdict ``unknown (time budget)`` says which partition ran out of time, the budget
    it had, and how far its search got (the budget is checked between slices of the search,
    so a budget of a nanosecond stops it after the first slice)."""
    h = [Op(e.process, e.type, e.f, "x", e.value) for e in hopeless_history(8)]
    r = check_linearizable(h, "register", prechecks=False, timeout=1e-9)
    assert r.verdict == UNKNOWN and r.budget == "time" and r.partition == "x"
    assert r.reason == "time budget of 1e-09 s ran out"
    assert r.longest_prefix and set(r.longest_prefix) <= set(range(len(r.operations)))


@pytest.mark.parametrize("key", [None, "x"])
def test_a_memory_budget_names_the_key_it_gave_up_on_and_its_longest_prefix(monkeypatch, key):
    """``unknown (memory budget)``: the process's resident memory (here a stand-in that grows by
    a GB after the first look) outgrew the budget; the result names the partition and how far
    its search got."""
    from consensus_lab.checkers import linearizability

    looks = iter([0, 2**30])
    monkeypatch.setattr(linearizability, "_resident_bytes", lambda: next(looks))
    h = [Op(e.process, e.type, e.f, key, e.value) for e in hopeless_history(8)]
    r = check_linearizable(h, "register", prechecks=False, max_memory=2**20)
    assert r.verdict == UNKNOWN and r.budget == "memory" and r.partition == key
    where = "" if key is None else " on key 'x'"
    assert r.reason == "memory budget of 1 MB ran out" + where
    assert r.longest_prefix and set(r.longest_prefix) <= set(range(len(r.operations)))


def test_a_memory_budget_counts_growth_and_allows_exactly_the_budget(monkeypatch):
    """The budget bounds the growth since the search began, not the process's size: a large
    process that grows by exactly the budget still gets its verdict."""
    from consensus_lab.checkers import linearizability

    looks: list[int] = []

    def resident() -> int:
        looks.append(2**30 if not looks else 2**30 + 2**20)
        return looks[-1]

    monkeypatch.setattr(linearizability, "_resident_bytes", resident)
    r = check_linearizable(hopeless_history(8), "register", prechecks=False, max_memory=2**20)
    assert r.verdict == NOT_LINEARIZABLE and r.budget == ""
    assert len(looks) > 1  # memory was looked at between slices of the search


def test_a_memory_budget_gives_up_on_the_partition_that_remembers_most(monkeypatch):
    """With two keys still searching, the memory verdict names the one whose search remembers
    the most configurations (key ``a``: 12 concurrent writes against 8 on key ``z``)."""
    from consensus_lab.checkers import linearizability

    looks = iter([0, 2**30])
    monkeypatch.setattr(linearizability, "_resident_bytes", lambda: next(looks))
    h = [Op(e.process, e.type, e.f, "a", e.value) for e in hopeless_history(12)]
    h += [Op(e.process + 1000, e.type, e.f, "z", e.value) for e in hopeless_history(8)]
    r = check_linearizable(h, "kv", prechecks=False, max_memory=2**20)
    assert r.verdict == UNKNOWN and r.budget == "memory" and r.partition == "a"


def test_a_states_budget_gives_up_on_the_partition_that_remembers_most_and_names_it():
    """Over ``max_states`` configurations in all: the search drops the partition that remembers
    the most first (key ``a``), and the verdict names the first partition it gave up on."""
    h = [Op(e.process, e.type, e.f, "a", e.value) for e in hopeless_history(12)]
    h += [Op(e.process + 1000, e.type, e.f, "z", e.value) for e in hopeless_history(8)]
    r = check_linearizable(h, "kv", prechecks=False, max_states=500)
    assert r.verdict == UNKNOWN and r.budget == "states" and r.partition == "a"
    assert r.reason == "search gave up on key 'a': more than 500 configurations"


def test_a_states_budget_keeps_searching_the_keys_that_fit_and_names_no_key_without_keys():
    """Dropping the partition that remembers most frees its configurations: key ``z`` (not
    linearizable) fits in what is left and gets its verdict; without keys, no key is named."""
    h = [Op(e.process, e.type, e.f, "a", e.value) for e in hopeless_history(12)]
    h += [Op(e.process + 1000, e.type, e.f, "z", e.value) for e in hopeless_history(8)]
    r = check_linearizable(h, "kv", prechecks=False, max_states=6000)
    assert r.verdict == NOT_LINEARIZABLE and r.partition == "z"
    r = check_linearizable(hopeless_history(12), "register", prechecks=False, max_states=500)
    assert r.reason == "search gave up: more than 500 configurations"



def memo_sizes_at_each_look(monkeypatch) -> list[int]:
    """Record how many configurations a partition's search remembers each time it hands control
    back to ``_search`` (which then looks at its budgets), in order, over all partitions."""
    from consensus_lab.checkers import linearizability

    sizes: list[int] = []
    run = linearizability._PartitionSearch.run

    def recording(self):
        steps = run(self)
        try:
            while True:
                next(steps)
                sizes.append(len(self.memo))
                yield
        except StopIteration as stop:
            return stop.value

    monkeypatch.setattr(linearizability._PartitionSearch, "run", recording)
    return sizes


def test_a_states_budget_of_exactly_what_the_search_remembers_is_enough(monkeypatch):
    """``max_states`` is the most configurations the search may remember: a budget equal to the
    largest number it remembers at a look still gets the verdict; one less gives up."""
    h = hopeless_history(6)
    sizes = memo_sizes_at_each_look(monkeypatch)
    assert check_linearizable(h, "register", prechecks=False).verdict == NOT_LINEARIZABLE
    peak = max(sizes)
    assert check_linearizable(h, "register", prechecks=False, max_states=peak).verdict \
        == NOT_LINEARIZABLE
    r = check_linearizable(h, "register", prechecks=False, max_states=peak - 1)
    assert r.verdict == UNKNOWN and r.budget == "states"


def test_a_states_budget_drops_partitions_until_the_rest_fits(monkeypatch):
    """Three keys over the budget at the first look: dropping the largest (``a``) still leaves
    more than the budget, so the next largest (``b``, the first of two equal ones) goes too, and
    ``c`` is searched to its verdict (the budget counts what the partitions left remember, not
    what the dropped one did)."""
    def keyed(n, key, offset):
        return [Op(e.process + offset, e.type, e.f, key, e.value) for e in hopeless_history(n)]

    h = keyed(9, "a", 0) + keyed(6, "b", 1000) + keyed(6, "c", 2000)
    sizes = memo_sizes_at_each_look(monkeypatch)
    check_linearizable(h, "kv", prechecks=False)
    a, b, c = sizes[:3]  # the first look, in key order
    assert a > b == c and a + b + c > 1000 and b + c > 1000 >= a and c <= 1000
    r = check_linearizable(h, "kv", prechecks=False, max_states=1000)
    assert r.verdict == NOT_LINEARIZABLE and r.partition == "c"


# --- the simulator: crashes and restarts are counted ------------------------------------------------


def test_the_summary_counts_every_crash_and_every_restart():
    """Two crash-restart cycles of one node and one of another: ``summary_stats`` says 3 and 3
    (a no-op restart of a live node, or crash of a crashed one, counts nothing)."""
    sim = Simulation(lambda nid, cl: Ticker(nid, cl), ("n1", "n2", "n3"))
    sim.start()
    for t, n in [(0.2, "n2"), (0.4, "n2"), (0.6, "n3")]:
        sim.run_until(t)
        sim.crash(n)
        sim.crash(n)
        sim.run_until(t + 0.1)
        sim.restart(n)
        sim.restart(n)
    stats = sim.summary_stats()
    assert (stats["crashes"], stats["restarts"]) == (3, 3)


def tickers(**kw) -> Simulation:
    sim = Simulation(lambda nid, cl: Ticker(nid, cl), ("n1", "n2", "n3"), **kw)
    sim.start()
    return sim


def test_a_crash_stops_the_node_is_traced_and_a_restart_boots_it_afresh():
    """The crashed node is gone (``None``) and the trace names it; its pending tick is lost and
    the restarted node ticks again from its own new timer."""
    sim = tickers()
    sim.run_until(0.15)
    sim.crash("n2")
    assert sim.nodes["n2"] is None
    assert [(e.kind, e.node) for e in sim.trace if e.kind == "crash"] == [("crash", "n2")]
    sim.run_until(0.35)
    sim.restart("n2")
    sim.run_until(0.5)
    node = sim.nodes["n2"]
    assert isinstance(node, Ticker) and node.ticks == 1 and node.durable_at_start == 1
    with pytest.raises(Exception, match="unknown node 'n9'"):
        sim.crash("n9")


def test_messages_in_flight_to_a_crashed_node_are_lost_across_every_restart():
    """A message in flight when its receiver crashes is dropped even if the receiver is back
    before it arrives, in the second crash-restart cycle as in the first."""
    sim = tickers()
    lost = []
    for t in (0.101, 0.301):  # just after a tick: n2's and n3's pings to n1 are on their way
        sim.run_until(t)
        flying = [e.msg_id for e in sim.in_flight() if e.node == "n1"]
        assert flying
        lost += flying
        sim.crash("n1")
        sim.restart("n1")
    sim.run_until(0.6)
    rows = [e for e in sim.trace if e.msg_id in lost and e.kind in ("deliver", "drop")]
    assert sorted((e.msg_id, e.kind, e.info) for e in rows) == [(m, "drop", "crashed") for m in sorted(lost)]


def test_a_certain_strike_crashes_the_node_at_once_and_restarts_it_within_its_down_time():
    """``strike 1 D``: after every timer or delivery the node handling it crashes at that same
    instant, and is back between 0.2·D and D later (never sooner, never later)."""
    down = 0.5
    sim = tickers(schedule=[(0.0, Strike(1.0, down))])
    sim.run_until(4.0)
    events = list(sim.trace)
    handled = [(e.node, e.time) for e in events if e.kind in ("timer", "deliver")]
    crashes = [(e.node, e.time) for e in events if e.kind == "crash"]
    assert len(crashes) >= 10 and set(handled) <= set(crashes)
    late = 0
    for n, t in crashes:
        if t > 4.0 - down:
            continue  # its restart may lie beyond the run
        back = min(e.time for e in events if e.kind == "restart" and e.node == n and e.time >= t)
        assert t + 0.2 * down - 1e-9 <= back <= t + down + 1e-9
        late += back > t + 0.6 * down
    assert 0 < late < len(crashes)


def test_a_strike_that_almost_never_happens_crashes_nothing():
    """The strike's probability is the chance per handled event: a tiny one crashes no node."""
    sim = tickers(schedule=[(0.0, Strike(1e-9, 0.5))])
    sim.run_until(2.0)
    kinds = [e.kind for e in sim.trace]
    assert kinds.count("timer") >= 30 and "crash" not in kinds


# --- the simulator's loop (Simulation._run) ------------------------------------------------------


class Relay(Node):
    """n1 arms a timer with a payload; when it fires, pings n2, which answers once."""

    def on_start(self, ctx):
        self.seen = []
        if self.id == "n1":
            ctx.set_timer("go", 0.1, payload="x")

    def on_timer(self, ctx, name, payload):
        self.seen.append((ctx.now, name, payload))
        ctx.send("n2", Hello(0))

    def on_message(self, ctx, src, msg):
        self.seen.append((ctx.now, src, msg))
        if msg.n == 0:
            ctx.send(src, Hello(1))


def kinds_of(sim, *kinds):
    return [e for e in sim.trace if e.kind in kinds]


def test_handlers_get_their_context_sender_message_timer_name_and_payload():
    sim = Simulation(lambda nid, cl: Relay(nid, cl), ("n1", "n2"))
    sim.run_until(1.0)
    (t2, src, msg), = sim.nodes["n2"].seen
    assert (src, msg) == ("n1", Hello(0)) and t2 > 0.1
    (t0, name, payload), (t1, src, msg) = sim.nodes["n1"].seen
    assert (t0, name, payload, src, msg) == (0.1, "go", "x", "n2", Hello(1)) and t1 > t2


class Faulty(Node):
    def on_start(self, ctx):
        ctx.set_timer("boom", 0.2)
        if self.id == "n1":
            ctx.send("n2", Hello(0))

    def on_message(self, ctx, src, msg):
        raise ZeroDivisionError("in a message")

    def on_timer(self, ctx, name, payload):
        raise KeyError("in a timer")


def test_a_handler_that_raises_is_named_with_its_node_event_and_time():
    sim = Simulation(lambda nid, cl: Faulty(nid, cl), ("n1", "n2"))
    with pytest.raises(NodeError, match=r"^node n2 raised ZeroDivisionError in on_message\(Hello from n1\) at t=0\.0") as e:
        sim.run_until(1.0)
    assert isinstance(e.value.__cause__, ZeroDivisionError)
    sim = Simulation(lambda nid, cl: Faulty(nid, cl), ("n2",))
    with pytest.raises(NodeError, match=r"^node n2 raised KeyError in on_timer\('boom'\) at t=0\.2000: 'in a timer'"):
        sim.run_until(1.0)


def test_one_step_is_one_event_and_a_run_includes_its_end_time():
    sim = tickers()
    sim.run_until(0.05)
    assert sim.now == 0.05
    rows = len(list(sim.trace))
    sim.step()
    assert [(e.kind, e.node, e.time) for e in list(sim.trace)[rows:]] == [("timer", "n1", 0.1)]
    sim.run_until(0.1)
    assert [e.node for e in kinds_of(sim, "timer")] == ["n1", "n2", "n3"] and sim.now == 0.1


def test_a_run_stops_at_its_end_even_when_the_rest_is_one_fault():
    sim = Simulation(lambda nid, cl: Chatter(nid, cl, 0), ("n1", "n2"), schedule=[(2.0, Crash("n1"))])
    sim.run_until(1.0)
    assert sim.nodes["n1"] is not None and sim.now == 1.0


def partitioned_tickers() -> Simulation:
    """n3 is cut off just after its third ping left: that ping is dropped when it arrives, the
    later ones as they are sent."""
    return tickers(schedule=[(0.301, Partition((("n1", "n2"), ("n3",))))])


def test_the_counters_add_up_over_several_runs_to_what_the_trace_shows():
    """No crash and no cancelled timer: every event is a timer, a delivery, a drop on arrival or
    the partition."""
    sim = partitioned_tickers()
    for t in (0.1, 0.15, 0.6, 1.0):
        sim.run_until(t)
    sent_at = {e.msg_id: e.time for e in kinds_of(sim, "send")}
    timers, delivered, dropped = (kinds_of(sim, k) for k in ("timer", "deliver", "drop"))
    on_arrival = [e for e in dropped if e.time > sent_at[e.msg_id]]
    assert len(timers) == 30 and len(delivered) >= 10 and len(on_arrival) == 1 and len(dropped) >= 5
    stats = sim.summary_stats()
    assert (stats["timers"], stats["delivered"], stats["dropped"]) == (30, len(delivered), len(dropped))
    assert stats["events"] == 30 + len(delivered) + len(on_arrival) + 1


def test_a_partition_drops_only_the_messages_that_cross_it():
    sim = partitioned_tickers()
    sim.run_until(1.0)
    late = [(e.kind, e.node, e.info) for e in kinds_of(sim, "deliver", "drop") if e.time > 0.301]
    sent_at = {e.msg_id: e.time for e in kinds_of(sim, "send")}
    assert [(e.node, e.info) for e in kinds_of(sim, "drop") if e.time > sent_at[e.msg_id]] == [("n3", "partition")]
    assert set(late) == {("deliver", "n1", None), ("drop", "n3", "partition")}


def test_a_partition_made_between_runs_drops_what_is_in_flight_across_it_and_every_drop_counts():
    sim = tickers()
    sim.run_until(0.101)
    sim.crash("n1")
    sim.restart("n1")  # the two pings in flight are lost on arrival
    sim.run_until(0.301)
    sim.partition([["n1", "n2"], ["n3"]])  # n3's third ping is in flight
    sim.run_until(0.35)
    drops = sorted((e.node, e.info) for e in kinds_of(sim, "drop"))
    assert drops == [("n2", "crashed"), ("n3", "crashed"), ("n3", "partition")]
    assert sim.stats["dropped"] == 3


def test_a_message_dropped_by_hand_is_the_only_one_lost():
    sim = tickers()
    sim.run_until(0.101)
    dropped = sim.drop_next_message(lambda e: e.peer == "n2")  # n3's ping arrives first
    sim.run_until(0.15)
    rows = sorted((e.msg_id, e.kind, e.node, e.info) for e in kinds_of(sim, "deliver", "drop"))
    assert rows == [(dropped.msg_id, "drop", "n2", "dropped by hand"), (dropped.msg_id + 1, "deliver", "n1", None)]


def test_progress_is_told_the_time_of_every_20000th_event():
    sim = tickers()
    seen = []
    sim.run_until(850.0, progress=seen.append)
    times = [e.time for e in kinds_of(sim, "timer", "deliver")]
    assert len(times) == sim.stats["events"] and 40000 <= len(times) < 60000
    assert seen == [times[19999], times[39999]]


def test_violations_are_found_after_the_event_and_stop_the_run_only_if_asked():
    @invariant("n2 ticks at most twice")
    def bounded(world):
        node = world.nodes["n2"]
        return node is not None and node.ticks > 2 and "too many ticks"

    for stop, now in ((False, 1.0), (True, 0.30000000000000004)):
        sim = tickers(invariants=[bounded], stop_on_violation=stop)
        sim.run_until(1.0)
        assert [(v.time, v.message) for v in sim.violations] == [(0.30000000000000004, "too many ticks")]
        assert sim.now == now


# --- Raft's log and state machine (raft_log.py) --------------------------------------------------


def test_a_snapshot_that_disagrees_with_the_log_discards_the_whole_log():
    """Figure 13, InstallSnapshot steps 6 and 7: the entries after the snapshot's index are kept
    only if the log holds that index with the snapshot's term; otherwise the log is discarded,
    even when it is longer than the snapshot."""
    log = RaftLog([Entry(1), Entry(1), Entry(2)])
    log.compact(2, 3)
    assert (log.entries, log.snapshot_index, log.snapshot_term) == ([], 2, 3)
    log = RaftLog([Entry(1), Entry(1), Entry(2)])
    log.compact(2, 1)
    assert (log.entries, log.snapshot_index, log.terms()) == ([Entry(2)], 2, (None, None, 2))


def test_a_snapshot_keeps_the_sessions_and_sorts_the_data_by_key():
    """A snapshot is a value: its data sorted by the keys' repr (keys of any type, ``None``
    too), whatever order they were written in, and it carries the session table, so a retry
    of an operation applied before the snapshot is not applied again after it."""
    sm = KVStateMachine()
    for seq, (key, value) in enumerate([("y", 1), (None, 3), ("x", 2)], 1):
        sm.apply(Command("c1", seq, "write", key, value))
    sm.apply(Command("c2", 1, "append", "x", 5))
    snap = sm.to_snapshot(4, 1)
    assert snap.data == (("x", 7), ("y", 1), (None, 3))
    assert snap.sessions == (("c1", (3, Ok())), ("c2", (1, Ok())))
    again = KVStateMachine.from_snapshot(snap)
    assert again.apply(Command("c2", 1, "append", "x", 5)) == Ok() and again.data["x"] == 7


def test_commands_and_entries_print_as_the_trace_shows_them():
    """``c1#3 write x 5``; a value is shown by its repr and only when there is one."""
    assert str(Command("c1", 3, "write", "x", "v")) == "c1#3 write x 'v'"
    assert str(Command("c2", 1, "read", "x")) == "c2#1 read x"
    assert str(Entry(2, Command("c2", 1, "read", "x"))) == "[2] c2#1 read x"
    assert str(Entry(4)) == "[4] no-op"


def test_the_last_index_of_a_term_looks_at_every_entry_and_at_the_snapshot():
    """The leader's fast backup (a follower's conflicting term) jumps to the last entry of that
    term in its own log: the last entry, the first one, or the snapshot's last index."""
    log = RaftLog([Entry(1), Entry(1), Entry(2), Entry(3), Entry(3)])
    assert [log.last_index_of_term(t) for t in (1, 2, 3, 4)] == [2, 3, 5, None]
    log = RaftLog([Entry(3), Entry(5)], snapshot_index=4, snapshot_term=2)
    assert [log.last_index_of_term(t) for t in (2, 3, 4, 5)] == [4, 5, None, 6]


# --- Raft: what the pictures show (state_view, and durable_view for a crashed node) ----------------


def test_a_node_and_its_disk_show_the_same_fields():
    """A live node's ``state_view`` and a crashed node's ``durable_view`` (read from its disk
    alone; its commit index is the snapshot's) have the same fields, with their values."""
    down = {"role": "down", "term": 0, "vote": None, "leader": None, "log_terms": [],
            "commit_index": 0, "last_applied": 0, "snapshot_index": 0}
    assert durable_view({}) == down  # a node that crashed before writing anything
    f, ctx = node("n3")
    f.on_message(ctx, "n2", RequestVote(2, "n2", 0, 0))
    f.on_message(ctx, "n1", InstallSnapshot(3, "n1", 2, 1, Snapshot(2, 1, (("x", 2),), ())))
    f.on_message(ctx, "n1", AppendEntries(3, "n1", 2, 1, (Entry(3, cmd(3)),), 2))
    assert f.state_view() == {"role": FOLLOWER, "term": 3, "vote": None, "leader": "n1",
                              "log_terms": [None, None, 3], "commit_index": 2,
                              "last_applied": 2, "snapshot_index": 2}
    f.on_message(ctx, "n2", RequestVote(4, "n2", 3, 3))
    assert durable_view(ctx.storage.snapshot()) == {
        **down, "term": 4, "vote": "n2", "log_terms": [None, None, 3],
        "commit_index": 2, "last_applied": 2, "snapshot_index": 2}


# --- the linearizability checker: where the pictures put each linearization point ------------------


def test_linearization_points_sit_midway_in_the_room_the_neighbours_leave():
    """Each point is the middle of [the later of its call and just after the previous point,
    the earlier of its return and just before the next point]; an indeterminate operation ends
    at ``end`` (default: one past the last finite time). Two writes, 0 = [0, 3] and 1 = [1, 2],
    then a read [4, 5]: linearized 1, 0 (read 1) or 0, 1 (read 2)."""
    eps = 1e-6
    w1, w2 = Op(0, "invoke", "write", None, 1), Op(1, "invoke", "write", None, 2)
    writes = [w1, w2, Op(1, "ok", "write", None, 2), Op(0, "ok", "write", None, 1)]
    read = [Op(2, "invoke", "read"), Op(2, "ok", "read", None, 1)]
    r = check_linearizable(writes + read, "register")
    assert r.linearization == [1, 0, 2]
    assert linearization_points(r) == pytest.approx({1: 1.5, 0: (1 + eps + 3) / 2, 2: 4.5},
                                                    abs=1e-9)
    read[1] = Op(2, "ok", "read", None, 2)
    r = check_linearizable(writes + read, "register")
    assert r.linearization == [0, 1, 2]
    assert linearization_points(r) == pytest.approx({0: (2 - eps) / 2, 1: 1.5, 2: 4.5}, abs=1e-9)
    # the second write never answers (ret = inf) and a read returns its value
    h = [w1, Op(0, "ok", "write", None, 1), w2, Op(2, "invoke", "read"), Op(2, "ok", "read", None, 2)]
    r = check_linearizable(h, "register")
    assert r.linearization == [0, 1, 2] and r.operations[1].ret == float("inf")
    assert linearization_points(r) == pytest.approx({0: 0.5, 1: (2 + 4 - eps) / 2, 2: 3.5},
                                                    abs=1e-9)


def test_linearization_points_of_an_unfinished_last_operation_and_of_a_refutation():
    """An operation that never answered and is linearized last ends at ``end``, or one past
    the last finite time; a refuted history gets points along its longest prefix; no
    operations, no points."""
    h = [Op(0, "invoke", "write", None, 1), Op(1, "invoke", "read"), Op(1, "ok", "read", None, 1)]
    r = check_linearizable(h, "register")
    assert r.linearization == [0, 1] and r.operations[0].ret == float("inf")
    assert linearization_points(r) == pytest.approx({0: (0 + 2 - 1e-6) / 2, 1: 1.5}, abs=1e-9)
    # a witness may also place a write that never answered last (it took effect after the read)
    r = check_linearizable(h + [Op(2, "invoke", "write", None, 2)], "register")
    r = dataclasses.replace(r, witness={None: [0, 1, 2]})
    assert r.operations[2].call == 3 and r.operations[2].ret == float("inf")
    assert linearization_points(r)[2] == pytest.approx((3 + 4) / 2)
    assert linearization_points(r, end=7)[2] == pytest.approx((3 + 7) / 2)
    r = check_linearizable(hopeless_history(4), "register", prechecks=False)
    assert r.verdict == NOT_LINEARIZABLE and r.longest_prefix
    assert sorted(linearization_points(r)) == sorted(r.longest_prefix)
    assert linearization_points(check_linearizable([], "register")) == {}


# --- Multi-Paxos ------------------------------------------------------------------------------------


def test_a_multipaxos_leader_steps_down_only_for_a_higher_ballot_and_stops_its_heartbeat():
    """A Nack naming the leader's own ballot (the answer to a stale message of an earlier round)
    deposes nobody; a Nack naming a higher ballot makes it a follower that stops its heartbeat
    and waits for the new leader (n2)."""
    from consensus_lab.protocols import multipaxos as mp
    from consensus_lab.protocols._ballot import Ballot

    n, ctx = mp_leader()
    own = n.lead.ballot
    n.on_message(ctx, "n2", mp.Nack(Ballot(0, "n1"), own))
    assert n.is_leader and not cancelled(ctx)
    n.on_message(ctx, "n2", mp.Nack(own, Ballot(own.round + 1, "n2")))
    assert not n.is_leader and n.leader_hint == "n2" and cancelled(ctx) == ["heartbeat"]
    assert "election" in ctx.timers()


def test_multipaxos_commands_print_as_the_trace_shows_them():
    from consensus_lab.protocols import multipaxos as mp

    assert str(mp.NOOP) == "noop"
    assert str(mp.Command("c1", 2, "write", "x", 5)) == "c1#2 write x 5"
    assert str(mp.Command("c1", 3, "cas", "x", (1, 2))) == "c1#3 cas x (1, 2)"


def test_the_multipaxos_battery_draws_from_the_documented_family():
    """random_scenario: 3 or 5 nodes, one second, a nemesis interval in [0.2, 0.4] to the
    millisecond, and one of two latency laws (exponential around 12 ms, uniform 5-20 ms)."""
    from consensus_lab.protocols import multipaxos as mp
    from consensus_lab.sim import Latency

    laws = (Latency.exponential(0.012, 0.002), Latency.uniform(0.005, 0.02))
    scenarios = [mp.random_scenario(seed) for seed in range(60)]
    assert {s.nodes for s in scenarios} == {3, 5} and {s.duration for s in scenarios} == {1.0}
    assert {s.network.latency for s in scenarios} == set(laws)
    assert all(0.2 <= s.nemesis_interval <= 0.4 for s in scenarios)
    assert all(round(s.nemesis_interval, 3) == s.nemesis_interval for s in scenarios)
    assert len({s.nemesis_interval for s in scenarios}) > 30


# --- 2PC: the participant ---------------------------------------------------------------------------


def test_a_participant_view_names_each_transaction_committed_aborted_or_prepared():
    from consensus_lab.protocols.twopc import Abort, Commit, Prepare

    p, ctx = twopc_participant()
    p.on_message(ctx, "n1", Prepare("t1", WRITES))
    p.on_message(ctx, "n1", Commit("t1"))
    p.on_message(ctx, "n1", Abort("t2"))
    p.on_message(ctx, "n1", Prepare("t3", (("c", 3),)))
    assert p.state_view() == {"role": "participant", "data": {"a": 1, "b": 2},
                              "state": {"t1": "committed", "t2": "aborted", "t3": "prepared"}}


def test_the_multipaxos_observer_records_what_is_chosen_by_whom_and_names_each_problem():
    """Each chosen slot: a no-op needs no request and counts as no command; a command must
    have been requested; the proposers that chose something are the leaders seen; a second
    value for a slot breaks "one value per slot". Each problem is named and explained."""
    from consensus_lab.protocols._ballot import Ballot
    from consensus_lab.protocols._multipaxos_invariants import _Observer
    from consensus_lab.protocols.multipaxos import NOOP
    from consensus_lab.protocols.multipaxos import Command as MPCommand

    b1, b2 = Ballot(1, "n1"), Ballot(2, "n2")
    obs = _Observer()
    obs.requested.add(("write", "x", 1))
    obs._chosen(0, b1, NOOP)
    assert (obs.problems, obs.commands_chosen, obs.leaders) == ({}, 0, ["n1"])
    obs._chosen(1, b1, MPCommand("c1", 1, "write", "x", 1))
    assert (obs.problems, obs.commands_chosen) == ({}, 1)
    stray = MPCommand("c9", 1, "write", "x", 7)
    obs._chosen(2, b2, stray)
    assert obs.problems == {
        "chosen commands were requested": f"{stray} is chosen in slot 2 but no client asked for it"}
    assert (obs.commands_chosen, obs.leaders) == (2, ["n1", "n2"])
    obs._chosen(1, b2, NOOP)
    assert obs.problems["one value per slot"] == f"slot 1: c1#1 write x 1 was chosen in {b1}, then noop in {b2}"


def test_the_multipaxos_observer_sees_only_the_slots_that_are_new_or_changed():
    """Between two looks at a node, only new slots and slots whose value changed (an acceptor
    that accepts a higher ballot's value) are looked at again, not every slot."""
    from consensus_lab.protocols._multipaxos_invariants import _new_or_changed

    assert _new_or_changed({0: "a"}, {0: "a", 2: "c", 1: "b"}) == [1, 2]
    assert _new_or_changed({0: "a", 1: "b", 2: "c"}, {0: "a", 1: "B", 2: "c"}) == [1]
    assert _new_or_changed({0: "a", 1: "b"}, {1: "b"}) == []


def test_multipaxos_timers_reach_only_the_role_they_are_for():
    """An election timer that fires at a leader, or a heartbeat timer that fires at a follower
    (both left over from an earlier role), does nothing; the election timeout option is read."""
    from consensus_lab.protocols.multipaxos import Config as MPConfig

    n, ctx = mp_leader()
    ballot = n.lead.ballot
    n.on_timer(ctx, "election", None)
    assert n.is_leader and n.lead.ballot == ballot and ctx.sent() == []
    f, fctx = mp_node("n2")
    f.on_timer(fctx, "heartbeat", None)
    assert not f.is_leader and fctx.sent() == []
    assert MPConfig.from_options({"heartbeat": 0.02, "election_timeout": 0.7}) == MPConfig(0.02, 0.7)


def test_multipaxos_refuses_an_operation_it_does_not_offer_to_the_client_that_asked():
    n, ctx = mp_node("n2")
    request = ClientRequest("c1", 1, "incr", "x", 1)
    n.on_client_request(ctx, request)
    assert ctx.replies() == [(request, Fail("the key-value service offers read, write, cas, not 'incr'"))]


def test_a_multipaxos_cas_that_finds_another_value_fails_and_says_what_it_found():
    n, _ = mp_node("n2")
    n.kv["x"] = 5
    assert n.execute(MPCommand("c1", 1, "cas", "x", (1, 2))) == Fail("cas on x: expected 1, found 5")
    assert n.kv == {"x": 5}


def test_a_multipaxos_candidate_counts_only_the_promises_for_its_own_ballot():
    n, ctx = mp_node("n1")
    n.start_election(ctx)
    stale = Ballot(n.lead.ballot.round - 1, "n1")
    n.on_message(ctx, "n2", MPPromise(stale, ()))
    assert not n.is_leader
    n.on_message(ctx, "n2", MPPromise(n.lead.ballot, ()))
    assert n.is_leader


def test_a_multipaxos_acceptor_answers_a_repeated_prepare_with_the_same_promise():
    n, ctx = mp_node("n2")
    prepare = MPPrepare(Ballot(2, "n3"), 0)
    n.on_message(ctx, "n3", prepare)
    n.on_message(ctx, "n3", prepare)
    assert ctx.sent() == [("n3", MPPromise(prepare.ballot, ()))] * 2


def test_a_new_multipaxos_leader_stops_its_election_timer():
    n, ctx = mp_node("n1")
    n.start_election(ctx)
    n.on_message(ctx, "n2", MPPromise(n.lead.ballot, ()))
    assert n.is_leader and cancelled(ctx) == ["election"]


def test_a_multipaxos_acceptor_refuses_a_stale_prepare_naming_it_and_its_promise():
    n, ctx = mp_node("n2")
    high, low = Ballot(3, "n3"), Ballot(2, "n1")
    n.on_message(ctx, "n3", MPPrepare(high, 0))
    ctx.clear()
    n.on_message(ctx, "n1", MPPrepare(low, 0))
    assert ctx.sent() == [("n1", MPNack(low, high))]


def test_a_multipaxos_catch_up_sends_the_chosen_slots_from_the_one_asked_for():
    chosen = [MPCommand("c1", i, "write", "x", i) for i in range(1, 4)]
    n, ctx = mp_node("n1", storage={"round": 1, **{f"chosen:{i}": c for i, c in enumerate(chosen)}})
    assert n.applied == 3
    n.on_message(ctx, "n2", MPCatchUp(1))
    assert ctx.sent() == [("n2", MPEntries(((1, chosen[1]), (2, chosen[2]))))]


def test_a_restarted_multipaxos_acceptor_keeps_its_promise_and_what_it_accepted():
    """Phase 1's durable state: after a restart the acceptor still refuses ballots below its
    promise and reports what it accepted to a higher Prepare."""
    low, high = Ballot(1, "n1"), Ballot(3, "n3")
    accepted = MPCommand("c1", 1, "write", "x", 7)
    n, ctx = mp_node("n2", storage={"round": 0, "promised": Ballot(2, "n1"), "acc:0": (low, accepted)})
    n.on_message(ctx, "n1", MPPrepare(low, 0))
    n.on_message(ctx, "n3", MPPrepare(high, 0))
    assert ctx.sent() == [("n1", MPNack(low, Ballot(2, "n1"))),
                          ("n3", MPPromise(high, ((0, low, accepted),)))]


def test_a_fresh_multipaxos_node_knows_no_leader_and_its_first_ballot_is_round_1():
    n, ctx = mp_node("n1")
    assert n.state_view() == {"role": "follower", "ballot": None, "promised": str(Ballot(0, "")),
                              "chosen_upto": 0, "log": [], "kv": {}}
    request = ClientRequest("c1", 1, "write", "x", 1)
    n.on_client_request(ctx, request)
    assert ctx.replies() == [(request, Redirect(None))]
    n.start_election(ctx)
    assert n.lead.ballot == Ballot(1, "n1")


def test_a_multipaxos_replica_skips_no_ops_when_it_applies_the_log():
    n, ctx = mp_node("n2")
    n.on_message(ctx, "n1", MPChosen(0, MPNOOP))
    n.on_message(ctx, "n1", MPChosen(1, MPCommand("c1", 1, "write", "x", 4)))
    assert n.applied == 2 and n.kv == {"x": 4} and n.sessions == {"c1": (1, Ok(4))}
    assert n.state_view()["log"] == ["noop", "c1#1 write x 4"]


def test_a_multipaxos_replica_applies_the_whole_chosen_prefix_past_no_ops_and_duplicates():
    """At a restart the replica applies every chosen slot in one go: a no-op and a retried
    command chosen twice are passed over, not stopped at."""
    first, second = MPCommand("c1", 1, "write", "x", 1), MPCommand("c1", 2, "write", "x", 2)
    log = [MPNOOP, first, first, second]
    n, _ = mp_node("n2", storage={f"chosen:{i}": c for i, c in enumerate(log)})
    assert n.applied == 4 and n.kv == {"x": 2} and n.sessions == {"c1": (2, Ok(2))}


def test_the_multipaxos_observer_tells_a_replica_that_changed_its_mind_from_one_that_learned_wrong():
    """Replicas learn only chosen commands: a replica that learns a command other than the
    chosen one, and a replica that changes a slot it had learned, are two different stories
    (each replica's learned slots are remembered apart)."""
    from types import SimpleNamespace

    from consensus_lab.protocols._multipaxos_invariants import _Observer

    b1 = Ballot(1, "n1")
    a, b = MPCommand("c1", 1, "write", "x", 1), MPCommand("c1", 1, "write", "x", 2)

    def world():
        nodes = {n: SimpleNamespace(accepted={}, chosen={}) for n in ("n1", "n2", "n3")}
        disks = {n: SimpleNamespace(writes=0) for n in nodes}
        asked = [Op(0, "invoke", "write", "x", 1), Op(1, "invoke", "write", "x", 2)]
        return SimpleNamespace(nodes=nodes, storage=disks, history=asked)

    def change(w, nid, **fields):
        for name, value in fields.items():
            getattr(w.nodes[nid], name).update(value)
        w.storage[nid].writes += 1

    for culprit, story in [("n2", "n2 learned {b} in slot 0, where {a} is chosen"),
                           ("n1", "n1 changed slot 0 from {a} to {b}")]:
        w, obs = world(), _Observer()
        change(w, "n1", accepted={0: (b1, a)}, chosen={0: a})
        change(w, "n2", accepted={0: (b1, a)})
        obs.update(w)
        assert obs.chosen == {0: (a, b1)} and obs.problems == {}
        change(w, culprit, chosen={0: b})
        obs.update(w)
        assert obs.problems == {"replicas learn only chosen commands": story.format(a=a, b=b)}
    w, obs = world(), _Observer()
    change(w, "n3", chosen={1: a})
    obs.update(w)
    assert obs.problems == {"replicas learn only chosen commands":
                            f"n3 learned {a} in slot 1, where nothing is chosen"}


def stale_read_problems(ops, read, at):
    """The Multi-Paxos observer's problems for completed ``(f, value, invoked, done)`` ops on
    key x, then a read of x returning ``read`` over ``at`` = (invoked, done)."""
    from types import SimpleNamespace

    from consensus_lab.protocols._multipaxos_invariants import _Observer

    history = []
    for i, (f, value, t0, t1) in enumerate([*ops, ("read", read, *at)]):
        history += [Op(i, "invoke", f, "x", None if f == "read" else value, t0),
                    Op(i, "ok", f, "x", value, t1)]
    obs = _Observer()
    obs.update(SimpleNamespace(nodes={}, storage={}, history=history))
    return obs.problems


@pytest.mark.parametrize(("read", "why"), [
    (1, "1 (written by an operation done at t=1.000), but a later write (t=2.000 to 3.000)"),
    (2, "2 (written by an operation done at t=3.000), but a later write (t=4.000 to 5.000)"),
    (None, "None (the initial value), but a later write (t=0.000 to 1.000)")])
def test_the_multipaxos_observer_counts_a_cas_as_a_write_of_its_new_value(read, why):
    """Stale reads: a cas that completed is a write of its new value. x=1, then cas 1->2, then
    x=3, all done before a read begins: the read may return neither 1, nor 2, nor the
    initial value; the problem names what it read and the later write it missed."""
    ops = [("write", 1, 0.0, 1.0), ("cas", (1, 2), 2.0, 3.0), ("write", 3, 4.0, 5.0)]
    assert stale_read_problems(ops, read, (10.0, 11.0)) == {
        "reads are not stale": f"a read of x invoked at t=10.000 returned {why} had already completed"}


def test_the_multipaxos_observer_takes_writes_at_the_same_instant_as_concurrent():
    """A write that completes at the instant the read begins, or begins at the instant the
    read's source completed, may be ordered either way: no stale read."""
    assert stale_read_problems([("write", 1, 0.0, 1.0), ("write", 2, 2.0, 3.0)], 1, (3.0, 4.0)) == {}
    assert stale_read_problems([("write", 1, 0.0, 1.0), ("write", 2, 1.0, 2.0)], 1, (3.0, 4.0)) == {}


def test_a_participant_that_aborts_before_voting_records_a_no_vote():
    """Asked for a decision before any Prepare, a participant aborts alone: its votes say no
    (the validity invariant reads ``votes()``), so a commit could never be justified by it."""
    from consensus_lab.protocols.twopc import DecisionRequest

    p, ctx = twopc_participant("n3")
    p.on_message(ctx, "n2", DecisionRequest("t1"))
    assert p.votes() == {"t1": False} and p.decisions() == {"t1": "abort"}


def test_the_2pc_validity_check_counts_every_participant():
    """Validity: a commit needs a yes vote from every participant, n2 included (n1 is the
    coordinator, every other node a participant)."""
    from types import SimpleNamespace

    from consensus_lab.protocols._twopc_invariants import _Observer as TwoPCObserver

    def node(decisions, votes):
        return SimpleNamespace(decisions=lambda: decisions, votes=lambda: votes)

    decided: dict[str, str] = {}
    nodes = {"n1": node(decided, {}), "n2": node({}, {"t1": False}), "n3": node({}, {"t1": True})}
    world = SimpleNamespace(nodes=nodes, storage={n: SimpleNamespace(writes=1) for n in nodes})
    obs = TwoPCObserver()
    obs.update(world)
    decided["t1"] = "commit"
    world.storage["n1"].writes += 1
    obs.update(world)
    assert obs.problems == {"validity": "t1 committed at n1 without a yes vote from n2"}


def test_the_2pc_observer_catches_a_decision_that_changes():
    from types import SimpleNamespace

    from consensus_lab.protocols._twopc_invariants import _Observer as TwoPCObserver

    decided = {"t1": "commit"}
    nodes = {"n1": SimpleNamespace(decisions=lambda: {}, votes=lambda: {}),
             "n2": SimpleNamespace(decisions=lambda: decided, votes=lambda: {"t1": True})}
    world = SimpleNamespace(nodes=nodes, storage={n: SimpleNamespace(writes=1) for n in nodes})
    obs = TwoPCObserver()
    obs.update(world)
    assert obs.problems == {}
    decided["t1"] = "abort"
    world.storage["n2"].writes += 1
    obs.update(world)
    assert obs.problems == {"decisions are final": "n2 decided commit for t1, later abort"}


def test_the_2pc_observer_names_the_two_nodes_that_disagree():
    from types import SimpleNamespace

    from consensus_lab.protocols._twopc_invariants import _Observer as TwoPCObserver

    def node(decisions, votes):
        return SimpleNamespace(decisions=lambda: decisions, votes=lambda: votes)

    nodes = {"n1": node({}, {}), "n2": node({"t1": "abort"}, {"t1": True}),
             "n3": node({"t1": "commit"}, {"t1": True})}
    obs = TwoPCObserver()
    obs.update(SimpleNamespace(nodes=nodes, storage={n: SimpleNamespace(writes=1) for n in nodes}))
    assert obs.problems == {"atomicity": "t1 is abort at n2 but commit at n3"}
    assert obs.first == {"t1": ("abort", "n2")} and obs.where == {"t1": {"abort": ["n2"], "commit": ["n3"]}}


def test_the_2pc_validity_check_names_every_missing_vote():
    from types import SimpleNamespace

    from consensus_lab.protocols._twopc_invariants import _Observer as TwoPCObserver

    nodes = {n: SimpleNamespace(decisions=lambda: {}, votes=lambda: {}) for n in ("n2", "n3")}
    nodes = {"n1": SimpleNamespace(decisions=lambda: {"t1": "commit"}, votes=lambda: {}), **nodes}
    obs = TwoPCObserver()
    obs.update(SimpleNamespace(nodes=nodes, storage={n: SimpleNamespace(writes=1) for n in nodes}))
    assert obs.problems == {"validity": "t1 committed at n1 without a yes vote from n2, n3"}


def test_the_2pc_article_participant_flips_a_coin_votes_and_decides_alone():
    """The article's sketch: a coin-flip vote for the transaction asked about, and the
    participant's own decision follows its own vote at once."""
    from consensus_lab.protocols.twopc import Prepare as TwoPCPrepare
    from consensus_lab.protocols.twopc import Vote

    votes = set()
    p, ctx = twopc_participant(variant="article")
    for k in range(12):
        ctx.clear()
        p.on_message(ctx, "n1", TwoPCPrepare(f"t{k}", WRITES))
        [(to, vote)] = ctx.sent()
        assert to == "n1" and vote == Vote(f"t{k}", vote.yes)
        assert p.decisions()[f"t{k}"] == ("commit" if vote.yes else "abort")
        votes.add(vote.yes)
    assert votes == {True, False}


def test_a_participant_that_refuses_records_a_no_vote():
    from consensus_lab.protocols.twopc import Prepare as TwoPCPrepare

    p, ctx = twopc_participant("n3", refuse=("n3",))
    p.on_message(ctx, "n1", TwoPCPrepare("t1", WRITES))
    assert p.votes() == {"t1": False} and p.decisions() == {"t1": "abort"}


def test_a_restarted_participant_reads_back_its_votes_and_data_whatever_the_key():
    """From its log alone: a yes vote for every logged vote, a no vote for an abort it never
    voted on, and the installed data (keys may contain colons)."""
    p, _ = twopc_participant(storage={"vote:t1": WRITES, "vote:t0": (("k:1", 5),),
                                      "outcome:t0": "commit", "outcome:t2": "abort", "data:k:1": 5})
    assert p.votes() == {"t0": True, "t1": True, "t2": False}
    assert p.decisions() == {"t0": "commit", "t2": "abort"} and p.data == {"k:1": 5}


def test_a_duplicated_message_arrives_twice_later_and_is_counted_once_per_copy():
    """``duplicate=1``: every send is delivered twice, both copies after the send and after the
    network's delay, and the summary counts one duplicate per send."""
    net = NetworkConfig(latency=Latency.constant(0.05), duplicate=1.0)
    sim = Simulation(lambda nid, cl: Relay(nid, cl), ("n1", "n2"), network=net)
    sim.run_until(1.0)
    got = [(t, src, msg) for t, src, msg in sim.nodes["n2"].seen]
    assert got == [(pytest.approx(0.15), "n1", Hello(0))] * 2
    sends = kinds_of(sim, "send")
    assert len(kinds_of(sim, "duplicate")) == len(sends) == sim.stats["duplicated"] == 3


def test_a_link_with_its_own_latency_delays_only_its_own_messages():
    """``link_latency`` overrides one direction of one link; every other link keeps the network's."""
    net = NetworkConfig(latency=Latency.constant(0.01), link_latency=(("n1", "n2", Latency.constant(0.3)),))
    sim = Simulation(lambda nid, cl: Relay(nid, cl), ("n1", "n2"), network=net)
    sim.run_until(1.0)
    (t2, _, _), = sim.nodes["n2"].seen
    (_, _, _), (t1, _, _) = sim.nodes["n1"].seen
    assert (t2, t1) == (pytest.approx(0.4), pytest.approx(0.41))


def test_every_send_of_one_handler_counts_its_own_drop_and_its_own_duplicate():
    """Chatter sends three messages to each peer from one handler: a partition drops all six
    and counts six, and with duplication on every one of them is counted as a duplicate."""
    sim = Simulation(lambda nid, cl: Chatter(nid, cl), ("n1", "n2", "n3"))
    sim.apply_fault(Partition((("n1",), ("n2",), ("n3",))))
    sim.run_until(1.0)
    assert sim.stats["dropped"] == len(kinds_of(sim, "drop")) == 18
    net = NetworkConfig(duplicate=1.0)
    sim = Simulation(lambda nid, cl: Chatter(nid, cl), ("n1", "n2"), network=net)
    sim.run_until(1.0)
    assert sim.stats["duplicated"] == len(kinds_of(sim, "duplicate")) == 6
    assert sorted(sim.nodes["n2"].received) == [("n1", i) for i in range(3) for _ in range(2)]


def test_a_duplicate_probability_between_zero_and_one_duplicates_only_some_messages():
    net = NetworkConfig(duplicate=0.3)
    sim = Simulation(lambda nid, cl: Chatter(nid, cl, count=100), ("n1", "n2"), network=net)
    sim.run_until(5.0)
    assert 20 < sim.stats["duplicated"] < 100 and sim.stats["sent"] == 200


def test_messages_that_arrive_at_the_same_instant_arrive_in_the_order_they_were_sent():
    """With a constant delay every copy of every message lands at the same instant; the tie
    is broken by the order of sending, the duplicate right behind its original."""
    net = NetworkConfig(latency=Latency.constant(0.05), duplicate=1.0)
    sim = Simulation(lambda nid, cl: Chatter(nid, cl, count=4), ("n1", "n2"), network=net)
    sim.run_until(1.0)
    assert sim.nodes["n2"].received == [("n1", i) for i in range(4) for _ in range(2)]


def test_a_send_to_an_unknown_node_names_the_message_type():
    sim = Simulation(lambda nid, cl: Relay(nid, cl), ("n1",))
    with pytest.raises(NodeError, match=r"^node n1 sent Hello to unknown node 'n2' at t=0\.1000"):
        sim.run_until(1.0)


class Resetter(Node):
    """Sets a timer, answers a client (or anything), and sets the same timer again later."""

    def on_start(self, ctx):
        self.fired = []
        ctx.cancel_timer("never-set")
        ctx.set_timer("t", 0.1)
        ctx.reply("not a request", Ok(None))
        ctx.set_timer("t", 0.5)

    def on_timer(self, ctx, name, payload):
        self.fired.append((ctx.now, name))
        ctx.cancel_timer(name)  # already fired: cancelling it is harmless

    def on_client_request(self, ctx, request):
        ctx.reply(request, Ok(None))


def test_a_timer_set_again_replaces_the_first_even_with_a_reply_in_between():
    """Cancelling a timer that was never set, or has fired, does nothing; a reply to something
    that is not a client's request is traced without a client and otherwise ignored."""
    sim = Simulation(lambda nid, cl: Resetter(nid, cl), ("n1",))
    sim.run_until(1.0)
    assert sim.nodes["n1"].fired == [(0.5, "t")]
    assert [(e.kind, e.node, e.peer) for e in kinds_of(sim, "reply")] == [("reply", "n1", None)]


def test_a_reply_to_a_client_names_the_client_in_the_trace():
    sim = Simulation(lambda nid, cl: Resetter(nid, cl), ("n1",),
                     workload=Workload(clients=2, max_ops=2, mix=(("read", 1.0),)))
    sim.run_until(1.0)
    replies = [e.peer for e in kinds_of(sim, "reply")]
    assert replies[0] is None and sorted(replies[1:]) == ["c0", "c0", "c1", "c1"]


def test_an_effect_the_simulator_does_not_know_is_named_in_the_error():
    class Meddler(Node):
        def on_start(self, ctx):
            ctx.outbox.append("launch missiles")

    sim = Simulation(lambda nid, cl: Meddler(nid, cl), ("n1",))
    with pytest.raises(SimulationError, match="unknown effect 'launch missiles'"):
        sim.start()

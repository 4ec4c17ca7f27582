"""Tests that kill mutants of the linearizability checker and the network (docs/mutation.md): one rule each, named by what it guards."""

from __future__ import annotations

import random
from typing import Any

import pytest
from test_linearizability import check_witness, ev, hard_history

from consensus_lab.checkers import brute_force_linearizable, check_linearizable, get_model
from consensus_lab.checkers import linearizability as lin
from consensus_lab.checkers.linearizability import LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN
from consensus_lab.history import Op, Operation, pair_operations

# --- the search agrees with the definition, and explains its refusals ----------------------

_READS = {
    "register": ("read", lambda rng: rng.choice([None, 0, 1, 2])),
    "cas-register": ("read", lambda rng: rng.choice([None, 0, 1, 2])),
    "kv": ("get", lambda rng: rng.choice(["", "1", "2", "12", "21"])),
    "append": ("read", lambda rng: tuple(rng.sample([1, 2, 3], rng.randrange(3)))),
}


def _random_operation(rng: random.Random, model: str) -> tuple[str, Any, Any]:
    """(f, key, value) of one invocation: reads and every kind of update of ``model``."""
    read, _ = _READS[model]
    if model == "kv":
        f = rng.choice(["get", "put", "append"])
        return f, rng.choice("ab"), None if f == "get" else rng.choice("12")
    updates = {"register": ["write"], "cas-register": ["write", "cas"], "append": ["append"]}
    f = rng.choice([read, *updates[model]])
    if f == "cas":
        return f, None, (rng.choice([None, 0, 1]), rng.randrange(3))
    return f, None, None if f == read else rng.randrange(1, 3)


def _random_history(rng: random.Random, model: str) -> list[Op]:
    """Up to 7 operations of up to 3 clients, overlapping; outcomes ok, fail, info or none."""
    events: list[Op] = []
    open_ops: dict[int, tuple[str, Any, Any]] = {}
    clients, fresh, left = [0, 1, 2][: rng.randint(1, 3)], 10, rng.randint(2, 7)
    while left or open_ops:
        idle = [p for p in clients if p not in open_ops] if left else []
        if open_ops and (not idle or rng.random() < 0.5):
            p = rng.choice(sorted(open_ops))
            if not left and rng.random() < 0.1:
                break  # the rest stay open forever
            f, key, value = open_ops.pop(p)
            outcome = rng.choice(["ok", "ok", "ok", "fail", "info"])
            read, answer = _READS[model]
            out = answer(rng) if outcome == "ok" and f == read else value
            events.append(Op(p, outcome, f, key, out))
            if outcome == "info":
                clients[clients.index(p)] = fresh
                fresh += 1
            continue
        p = rng.choice(idle)
        open_ops[p] = _random_operation(rng, model)
        events.append(Op(p, "invoke", *(open_ops[p][i] for i in (0, 1, 2))))
        left -= 1
    return events


def check_refusal(history: list[Op], result, model_name: str) -> None:
    """A refusal's prefix replays in real-time order and the model accepts it; every
    unplaceable operation completed, could go next after it, and the model refuses it there."""
    ops = {op.index: op for op in pair_operations(history)}
    model = get_model(model_name)
    state = model.init()
    prefix = result.longest_prefix
    for a, i in enumerate(prefix):
        assert model.partition_key(ops[i]) == result.partition
        assert all(not ops[j].ret < ops[i].call for j in prefix[a + 1 :])
        legal, state = model.step(state, ops[i])
        assert legal, f"the prefix {prefix} is refused at #{i}"
    assert result.unplaceable and result.unplaceable == sorted(result.unplaceable)
    rest = [op for op in ops.values() if op.index not in prefix and op.status != "fail"
            and model.partition_key(op) == result.partition]
    for i in result.unplaceable:
        op = ops[i]
        assert op.status == "ok" and i not in prefix
        assert all(not other.ret < op.call for other in rest), f"#{i} cannot go next"
        assert not model.step(state, op)[0], f"#{i} fits after the prefix"


@pytest.mark.parametrize("model", sorted(_READS))
def test_the_search_agrees_with_brute_force_and_explains_each_refusal(model: str) -> None:
    rng = random.Random(f"kill-{model}")
    verdicts = {True: 0, False: 0}
    for _ in range(150):
        history = _random_history(rng, model)
        truth = brute_force_linearizable(history, model) is not None
        for prechecks in (False, True):
            r = check_linearizable(history, model, prechecks=prechecks)
            assert r.verdict == (LINEARIZABLE if truth else NOT_LINEARIZABLE), history
            if truth:
                check_witness(history, r, model)
            elif not r.precheck:
                check_refusal(history, r, model)
        verdicts[truth] += 1
    assert min(verdicts.values()) >= 20, verdicts




def test_interchangeable_indeterminate_writes_are_tried_in_one_order_only() -> None:
    """Ten crashed writes of the same value and a read nobody wrote: the search may place
    only the earliest unplaced of the ten, so it remembers the 11 prefixes, not 2**10 sets.
    A crashed operation whose argument cannot be hashed (a list, from Python) before them
    is simply never paired with another, and a completed one is never paired at all."""
    n = 10
    h = [ev(97, "invoke", "write", 0), ev(97, "ok", "write", 0)]  # the initial write 0, then
    h += [ev(98, "invoke", "cas", ([9], 1)), ev(98, "info", "cas", ([9], 1))]
    h += [ev(p, "invoke", "write", 1) for p in range(n)]
    h += [ev(99, "invoke", "read"), ev(99, "ok", "read", 2)]
    h += [ev(p, "info", "write", 1) for p in range(n)]
    r = check_linearizable(h, "cas-register", prechecks=False)
    # nothing placed, write 0 placed, then the 10 prefixes of the crashed writes
    assert (r.verdict, r.unplaceable, r.states) == (NOT_LINEARIZABLE, [n + 2], n + 2)
    assert r.longest_prefix == [0, *range(2, n + 2)]


def test_crashed_writes_of_different_values_are_not_interchangeable() -> None:
    """w1 and w2 crash; reads then see 2 and later 1: only w2, r, w1, r explains it."""
    h = [ev(0, "invoke", "write", 1), ev(1, "invoke", "write", 2),
         ev(0, "info", "write", 1), ev(1, "info", "write", 2),
         ev(2, "invoke", "read"), ev(2, "ok", "read", 2), ev(2, "invoke", "read"),
         ev(2, "ok", "read", 1)]
    r = check_linearizable(h, "register", prechecks=False)
    assert r.ok and r.linearization == [1, 2, 0, 3]



def test_reads_that_agree_with_the_state_are_placed_at_once_without_branching() -> None:
    """Six concurrent reads of 1 after a write of 1, and a read of 2 nobody wrote: the reads
    are placed together right after the write, so two configurations are remembered, not 2**6."""
    h = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    h += [ev(p, "invoke", "read") for p in range(1, 7)] + [ev(50, "invoke", "read")]
    h += [ev(p, "ok", "read", 1) for p in range(1, 7)] + [ev(50, "ok", "read", 2)]
    r = check_linearizable(h, "register", prechecks=False)
    assert (r.verdict, r.states, r.unplaceable) == (NOT_LINEARIZABLE, 2, [7])
    assert r.longest_prefix == list(range(7))


def test_an_invocation_at_the_instant_of_a_completion_is_concurrent_with_it() -> None:
    """Real-time order needs ``a.ret < b.call``: a read invoked when a write completes may
    still be linearized before the write (operations paired by the caller, with times)."""
    write = Operation(0, 0, "write", None, 1, 1, "ok", 0.0, 1.0)
    read = Operation(1, 1, "read", None, None, None, "ok", 1.0, 2.0)
    r = check_linearizable([write, read], "register", prechecks=False)
    assert r.ok and r.linearization == [1, 0]


def test_a_generous_time_budget_lets_a_search_of_many_slices_finish() -> None:
    r = check_linearizable(hard_history(10), "register", prechecks=False, timeout=600)
    assert r.verdict == NOT_LINEARIZABLE and r.states > 2 * lin._SLICE
    assert r.unplaceable == [10] and 0 < r.seconds < 600


def test_the_time_budget_stops_a_hopeless_search_before_the_state_budget_does() -> None:
    r = check_linearizable(hard_history(22), "register", prechecks=False, timeout=0.01,
                           max_states=20_000)
    assert (r.verdict, r.budget, r.reason) == (UNKNOWN, "time", "time budget of 0.01 s ran out")


def test_the_memory_budget_stops_a_search_whose_process_grows(monkeypatch) -> None:
    """Resident memory read as 0 bytes at the start and 1 GB later: over a 1 MB budget."""
    readings = iter([0])
    monkeypatch.setattr(lin, "_resident_bytes", lambda: next(readings, 2**30))
    r = check_linearizable(hard_history(22), "register", prechecks=False, max_memory=2**20,
                           max_states=20_000)  # without the memory budget: "states", soon
    assert (r.verdict, r.budget, r.states) == (UNKNOWN, "memory", 0)
    assert r.reason == "memory budget of 1 MB ran out"



def test_the_search_tries_first_the_write_a_pending_read_saw_then_the_earliest_completion() -> None:
    """After write 0, writes of 1..4 and a cas 1->7 overlap a read of 2 that completes first.
    The one-step look-ahead (past the cas, which cannot go yet) places write 2 and the read
    at once; then the earliest pending completion, the cas, is tried first (it cannot go),
    then the others latest first: write 0, write 2, read, writes 4, 3, 1, the cas."""
    h = [ev(9, "invoke", "write", 0), ev(9, "ok", "write", 0), ev(8, "invoke", "cas", (1, 7))]
    h += [ev(p, "invoke", "write", p) for p in range(1, 5)]
    h += [ev(0, "invoke", "read"), ev(0, "ok", "read", 2), ev(8, "ok", "cas", (1, 7))]
    h += [ev(p, "ok", "write", p) for p in range(1, 5)]

    class AskStep(type(get_model("cas-register"))):
        def legal_states(self, op):  # no speed-up: the search asks step instead
            return None

    for model in ("cas-register", AskStep()):
        r = check_linearizable(h, model, prechecks=False)
        assert r.linearization == [0, 3, 6, 5, 4, 2, 1], model
    # without the cas, the earliest pending completion after the read is write 1: it goes
    # first, then write 3 (now the earliest), then write 4
    h = [ev(p, "invoke", "write", p) for p in range(1, 5)]
    h += [ev(0, "invoke", "read"), ev(0, "ok", "read", 2)]
    h += [ev(p, "ok", "write", p) for p in range(1, 5)]
    assert check_linearizable(h, "register", prechecks=False).linearization == [1, 4, 0, 2, 3]



def _yields(monkeypatch, ops: list[Operation], model: str, k: int, verdict: str) -> int:
    """How often the search of ``ops`` yields to its driver with a slice of ``k`` steps."""
    monkeypatch.setattr(lin, "_SLICE", k)
    run, count = lin._PartitionSearch(ops, get_model(model)).run(), 0
    with pytest.raises(StopIteration) as stop:
        while True:
            next(run)
            count += 1
    assert stop.value.value.verdict == verdict
    return count


def test_the_search_yields_to_its_driver_once_every_slice_of_steps(monkeypatch) -> None:
    """``run()`` yields after every ``_SLICE`` steps (the driver then looks at the clock and
    the budgets): with a slice of one step it yields once per step, with k steps k times
    less often."""
    ops = pair_operations(hard_history(7))

    def yields(k: int) -> int:
        return _yields(monkeypatch, ops, "register", k, NOT_LINEARIZABLE)

    steps = yields(1)
    assert steps > 1000
    assert [yields(k) for k in range(2, 14)] == [steps // k for k in range(2, 14)]



def test_the_look_ahead_tries_every_operation_the_pending_read_could_follow_first(monkeypatch) -> None:
    """After write 0, two cas 0->1, a cas 0->0, write 0 and write 1 overlap a read of 1 that
    completes first. Three of them would let the read succeed (the two cas 0->1 and write 1):
    the look-ahead puts all three ahead of the others, and the search ends in 13 steps.
    Preferring only one of the three (and leaving the other two among the rest) takes 25."""
    h = [Op(9, "invoke", "write", value=0), Op(9, "ok", "write", value=0)]
    h += [Op(0, "invoke", "cas", value=(0, 1)), Op(1, "invoke", "cas", value=(0, 1)),
          Op(2, "invoke", "cas", value=(0, 0)), Op(3, "invoke", "write", value=0),
          Op(4, "invoke", "write", value=1), Op(7, "invoke", "read"), Op(7, "ok", "read", value=1)]
    h += [Op(2, "ok", "cas", value=(0, 0)), Op(0, "ok", "cas", value=(0, 1)),
          Op(1, "ok", "cas", value=(0, 1)), Op(3, "ok", "write", value=0),
          Op(4, "ok", "write", value=1), Op(6, "invoke", "read"), Op(6, "ok", "read", value=1)]
    assert _yields(monkeypatch, pair_operations(h), "cas-register", 1, LINEARIZABLE) == 13


def test_a_refusal_keeps_the_first_longest_prefix_the_search_found() -> None:
    """Four concurrent writes and a read of 99: every order of the four writes is a longest
    prefix; the explanation keeps the first one found (the search tries the latest completion
    first), not a later one of the same length."""
    r = check_linearizable(hard_history(4), "register", prechecks=False)
    assert (r.longest_prefix, r.unplaceable) == ([3, 2, 1, 0], [4])
    assert r.detail == "not linearizable: after 4 operations no order can place #4 r->99"


# --- check_linearizable: its arguments, its shortcuts and the fields of its verdicts ---------


def test_the_budgets_refuse_bad_values_with_their_reason_and_accept_their_bounds() -> None:
    h = [ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)]
    for bad in (0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError) as err:
            check_linearizable(h, "register", timeout=bad)
        assert str(err.value) == ("timeout must be a positive, finite number of seconds, "
                                  "or None for no limit")
    with pytest.raises(ValueError) as err:
        check_linearizable(h, "register", max_states=0)
    assert str(err.value) == "max_states must be at least 1"
    for bad in (0, -5):
        with pytest.raises(ValueError) as err:
            check_linearizable(h, "register", max_memory=bad)
        assert str(err.value) == ("max_memory must be a positive number of bytes, "
                                  "or None for no limit")
    for kw in ({"timeout": 1e-9}, {"timeout": None}, {"max_states": 1}, {"max_memory": 1},
               {"max_memory": None}):
        assert check_linearizable(h, "register", **kw).witness == {None: [0]}, kw


def test_an_empty_history_is_trivially_linearizable_and_says_so() -> None:
    r = check_linearizable([], "register")
    assert (r.verdict, r.witness, r.states, r.partition) == (LINEARIZABLE, {}, 0, None)
    assert r.detail == "linearizable: no client operations: trivially linearizable"
    assert 0 <= r.seconds < 5
    only_failed = check_linearizable([ev(0, "invoke", "write", 1), ev(0, "fail", "write", 1)],
                                     "register")
    assert (only_failed.verdict, only_failed.witness, only_failed.note) == (LINEARIZABLE, {}, "")


def test_a_precheck_refutation_names_the_check_the_read_and_its_key() -> None:
    h = [ev(0, "invoke", "put", "1", "a"), ev(0, "ok", "put", "1", "a"),
         ev(1, "invoke", "put", "1", "b"), ev(1, "ok", "put", "1", "b"),
         ev(2, "invoke", "get", None, "b"), ev(2, "ok", "get", "7", "b")]
    r = check_linearizable(h, "kv")
    assert (r.verdict, r.precheck, r.unplaceable, r.partition) == (
        NOT_LINEARIZABLE, "unwritten value", [2], "b")
    assert r.reason and r.detail == f"not linearizable (pre-check 'unwritten value'): {r.reason}"
    assert r.witness is None and r.states == 0 and 0 <= r.seconds < 5
    searched = check_linearizable(h, "kv", prechecks=False)
    assert (searched.precheck, searched.unplaceable, searched.partition) == ("", [2], "b")
    assert searched.longest_prefix == [1] and searched.states >= 1


def test_a_set_history_is_decided_per_key_without_a_search() -> None:
    h = [ev(0, "invoke", "add", 1, "a"), ev(0, "ok", "add", 1, "a"),
         ev(1, "invoke", "read", None, "a"), ev(1, "ok", "read", frozenset({1}), "a"),
         ev(2, "invoke", "add", 2, "b"), ev(2, "ok", "add", 2, "b"),
         ev(3, "invoke", "read", None, "b"), ev(3, "ok", "read", frozenset({2}), "b")]
    ok = check_linearizable(h, "set")
    assert ok.verdict == LINEARIZABLE and ok.witness == {"a": [0, 1], "b": [2, 3]}
    assert ok.states == 0
    stale = h + [ev(4, "invoke", "read", None, "b"), ev(4, "ok", "read", frozenset(), "b")]
    r = check_linearizable(stale, "set", prechecks=False)
    assert (r.verdict, r.partition, r.unplaceable) == (NOT_LINEARIZABLE, "b", [2, 4])
    assert r.reason and r.detail == f"not linearizable on key 'b': {r.reason}"


def test_running_out_of_memory_gives_unknown_and_frees_the_search(monkeypatch) -> None:
    held: list = []

    def exhausted(parts, model, searches, *rest):
        searches.update({key: lin._PartitionSearch(part, model) for key, part in parts.items()})
        for s in searches.values():
            s.memo.add((0, None))
        held.extend(searches.values())
        raise MemoryError

    monkeypatch.setattr(lin, "_search", exhausted)
    r = check_linearizable([ev(0, "invoke", "write", 1), ev(0, "ok", "write", 1)], "register")
    assert (r.verdict, r.budget, r.states) == (UNKNOWN, "memory", 0)
    assert r.reason == "the machine ran out of memory (MemoryError)"
    assert held and all(not s.memo for s in held)


def test_resident_memory_is_read_from_proc_and_none_when_it_cannot_be() -> None:
    rss = lin._resident_bytes()
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    assert rss is not None and abs(rss - kb * 1024) < 64 * 2**20


@pytest.mark.parametrize("content", [b"", b"12 x 3", None])
def test_unreadable_resident_memory_is_none(monkeypatch, content) -> None:
    import io

    def fake_open(path, mode="r"):
        assert (path, mode) == ("/proc/self/statm", "rb")
        if content is None:
            raise OSError("no /proc here")
        return io.BytesIO(content)

    monkeypatch.setattr(lin, "open", fake_open, raising=False)
    assert lin._resident_bytes() is None
    monkeypatch.setattr(lin, "open", lambda path, mode="r": io.BytesIO(b"7 5 3"), raising=False)
    assert lin._resident_bytes() == 5 * lin._PAGE


# --- the network: latency distributions, settings and cut links ---------------------------

from consensus_lab.sim.network import Latency, Links, NetworkConfig  # noqa: E402


@pytest.mark.parametrize("kind, low, high, mean, message", [
    ("gaussian", 0.0, 0.0, 0.0,
     "latency kind 'gaussian' is not one of constant, uniform, exponential"),
    ("uniform", -0.001, 0.1, 0.05, "latency low must be a finite number >= 0, got -0.001"),
    ("uniform", 0.0, float("inf"), 0.05, "latency high must be a finite number >= 0, got inf"),
    ("constant", 0.1, 0.1, float("nan"), "latency mean must be a finite number >= 0, got nan"),
    ("constant", 0.1, "0.1", 0.1, "latency high must be a finite number >= 0, got '0.1'"),
    ("uniform", 0.2, 0.1, 0.15, "uniform latency needs low <= high, got 0.2 > 0.1"),
    ("exponential", 0.2, 0.2, 0.1, "exponential latency needs mean >= low, got 0.1 < 0.2"),
])
def test_a_bad_latency_is_refused_with_its_reason(kind, low, high, mean, message) -> None:
    with pytest.raises(ValueError) as err:
        Latency(kind, low, high, mean)
    assert str(err.value) == message


def test_latency_bounds_are_inclusive_and_each_kind_checks_only_its_own_parameters() -> None:
    Latency("uniform", 0, 0, 0)  # zero delays, low == high
    Latency("uniform", 0.1, 0.1, 0.0)  # a uniform latency ignores its mean
    Latency("exponential", 0.1, 0.0, 0.1)  # mean == low; an exponential ignores high
    Latency("constant", 0.3, 0.1, 0.2)  # a constant latency is only its mean


def test_the_latency_constructors_fill_every_parameter() -> None:
    assert Latency.constant(0.25) == Latency("constant", 0.25, 0.25, 0.25)
    assert Latency.uniform(0.1, 0.4) == Latency("uniform", 0.1, 0.4, 0.25)
    assert Latency.exponential(0.3) == Latency("exponential", 0.0, 0.3, 0.3)
    assert Latency.exponential(0.3, 0.1) == Latency("exponential", 0.1, 0.3, 0.3)
    assert Latency.exponential(0.1, 0.1) == Latency("exponential", 0.1, 0.1, 0.1)


def test_each_latency_sampler_draws_its_distribution_from_the_given_generator() -> None:
    rng, twin = random.Random(3), random.Random(3)
    constant = Latency.constant(0.25).sampler(rng)
    assert [constant(), constant()] == [0.25, 0.25] and rng.random() == twin.random()
    for odd in (Latency("constant"), Latency("constant", 0.3, 0.1, 0.01)):  # only mean counts
        assert odd.sampler(rng)() == 0.01 and rng.random() == twin.random()
    uniform = Latency.uniform(0.1, 0.3).sampler(rng)
    assert [uniform() for _ in range(3)] == [0.1 + (0.3 - 0.1) * twin.random() for _ in range(3)]
    expo = Latency.exponential(0.3, 0.1).sampler(rng)
    assert [expo() for _ in range(3)] == [0.1 + twin.expovariate(5.0) for _ in range(3)]
    flat = Latency.exponential(0.1, 0.1).sampler(rng)  # no spread: always low, no draw
    assert [flat(), flat()] == [0.1, 0.1] and rng.random() == twin.random()


def test_network_probabilities_must_lie_in_zero_to_one() -> None:
    NetworkConfig(loss=0, duplicate=1)
    NetworkConfig(loss=1.0, duplicate=0.0)
    for name, bad in [("loss", 1.01), ("duplicate", -0.01), ("loss", "0.5"), ("duplicate", None)]:
        with pytest.raises(ValueError) as err:
            NetworkConfig(**{name: bad})
        assert str(err.value) == f"{name} probability must be in [0, 1], got {bad!r}"


def test_a_network_config_round_trips_through_its_dict_and_missing_keys_take_defaults() -> None:
    config = NetworkConfig(Latency.uniform(0.1, 0.2), 0.25, 0.5,
                           (("n1", "n2", Latency.constant(0.7)),), Latency.exponential(0.4))
    d = config.to_dict()
    assert d == {"latency": {"kind": "uniform", "low": 0.1, "high": 0.2, "mean": 0.15000000000000002},
                 "loss": 0.25, "duplicate": 0.5,
                 "link_latency": [["n1", "n2", Latency.constant(0.7).to_dict()]],
                 "client_latency": {"kind": "exponential", "low": 0.0, "high": 0.4, "mean": 0.4}}
    assert NetworkConfig.from_dict(d) == config
    assert NetworkConfig.from_dict({}) == NetworkConfig()
    assert NetworkConfig().client_latency == Latency.constant(0.002)
    assert NetworkConfig.from_dict({"loss": 0.5}) == NetworkConfig(loss=0.5)
    assert NetworkConfig.from_dict({"duplicate": 0.5}) == NetworkConfig(duplicate=0.5)


def test_a_partition_cuts_exactly_the_links_between_groups_and_keeps_earlier_cuts() -> None:
    links = Links(["a", "b", "c", "d"])
    assert links.nodes == ("a", "b", "c", "d") and links.blocked == set()
    links.cut("c", "d")
    assert links.partition([["a"], ["b"]]) == [["a"], ["b"], ["c", "d"]]
    cross = {(x, y) for x in "abcd" for y in "abcd" if x != y} - {("c", "d"), ("d", "c")}
    assert links.blocked == cross | {("c", "d")}
    assert links.is_cut("c", "d") and not links.is_cut("d", "c") and not links.is_cut("a", "a")
    links.heal()
    assert links.partition([["a", "b", "c", "d"]]) == [["a", "b", "c", "d"]]
    assert links.blocked == set()


def test_a_partition_or_cut_naming_an_unknown_or_repeated_node_is_refused() -> None:
    links = Links(["a", "b"])
    for groups, message in [([["a"], ["z"]], "partition names unknown node 'z' (nodes: a, b)"),
                            ([["a"], ["b", "a"]], "partition puts node 'a' in two groups")]:
        with pytest.raises(ValueError) as err:
            links.partition(groups)
        assert str(err.value) == message
    for src, dst in [("z", "a"), ("a", "z")]:
        with pytest.raises(ValueError) as err:
            links.cut(src, dst)
        assert str(err.value) == "cut names unknown node 'z'"
    links.cut("a", "b")
    assert links.blocked == {("a", "b")}

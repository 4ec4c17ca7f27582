"""Elle-style transactional isolation: each anomaly on a history written here,
and a differential test of serializability against brute force."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from consensus_lab.checkers.brute import brute_force_serializable
from consensus_lab.checkers.elle import check_isolation
from consensus_lab.history import Op
from consensus_lab.testing import examples


def txns(*specs: tuple) -> list[Op]:
    """Transactions one after another: (process, status, [micro-ops]) with
    micro-ops as tuples, e.g. ("append", "x", 1) or ("r", "x", (1,))."""
    h = []
    for p, status, mops in specs:
        invoked = tuple((f, k, None if f == "r" else v) for f, k, v in mops)
        h += [Op(p, "invoke", "txn", None, invoked), Op(p, status, "txn", None, tuple(mops))]
    return h


def names(result) -> list[str]:  # noqa: ANN001
    return [a.name for a in result.anomalies]


def test_serializable_history() -> None:
    h = txns((0, "ok", [("append", "x", 1)]), (1, "ok", [("r", "x", (1,)), ("append", "x", 2)]),
             (2, "ok", [("r", "x", (1, 2))]))
    for level in ("read-committed", "snapshot-isolation", "serializable", "strict-serializable"):
        assert check_isolation(h, level).holds, level


def test_g1a_aborted_read() -> None:
    h = txns((0, "fail", [("append", "x", 1)]), (1, "ok", [("r", "x", (1,))]))
    r = check_isolation(h, "read-committed")
    assert not r.holds and r.witness.name == "G1a"


def test_g1b_intermediate_read() -> None:
    h = txns((1, "ok", [("r", "x", 1)]), (0, "ok", [("w", "x", 1), ("w", "x", 2)]))
    r = check_isolation(h, "read-committed")
    assert not r.holds and r.witness.name == "G1b"


def test_g0_write_cycle() -> None:
    # T0 appends x1 then y2; T1 appends x2, y1: x says T0 < T1, y says T1 < T0
    h = txns((0, "ok", [("append", "x", 1), ("append", "y", 2)]),
             (1, "ok", [("append", "x", 2), ("append", "y", 1)]),
             (2, "ok", [("r", "x", (1, 2)), ("r", "y", (1, 2))]))
    r = check_isolation(h, "read-committed")
    assert not r.holds and r.witness.name == "G0"
    assert {(a, k, b) for a, k, b in r.witness.cycle} == {(0, "ww", 1), (1, "ww", 0)}


def test_g1c_circular_information_flow() -> None:
    # each transaction reads the other's append
    h = txns((0, "ok", [("append", "x", 1), ("r", "y", (1,))]),
             (1, "ok", [("append", "y", 1), ("r", "x", (1,))]))
    r = check_isolation(h, "read-committed")
    assert not r.holds and r.witness.name == "G1c"
    assert {k for _, k, _ in r.witness.cycle} == {"wr"}


def test_g_single_read_skew_and_g2_write_skew() -> None:
    # read skew: T2 sees T1's y but not its x
    skew = txns((0, "ok", [("append", "x", 1), ("append", "y", 1)]),
                (1, "ok", [("r", "x", ()), ("r", "y", (1,))]),
                (2, "ok", [("r", "x", (1,)), ("r", "y", (1,))]))
    r = check_isolation(skew, "snapshot-isolation")
    assert not r.holds and r.witness.name == "G-single"
    assert [k for _, k, _ in r.witness.cycle].count("rw") == 1
    # write skew: both read the empty other key and append: allowed by SI, not serializable
    ws = txns((0, "ok", [("r", "x", ()), ("append", "y", 1)]),
              (1, "ok", [("r", "y", ()), ("append", "x", 1)]),
              (2, "ok", [("r", "x", (1,)), ("r", "y", (1,))]))
    assert check_isolation(ws, "snapshot-isolation").holds
    r = check_isolation(ws, "serializable")
    assert not r.holds and r.witness.name == "G2"
    assert [k for _, k, _ in r.witness.cycle] == ["rw", "rw"]
    assert not brute_force_serializable(ws)


def test_strict_serializable_needs_real_time() -> None:
    # T1 completes before T2 starts, but T2's effect is ordered before T1's read
    h = txns((0, "ok", [("r", "x", ())]), (1, "ok", [("append", "x", 1)]))
    h = h[2:] + h[:2]  # the append completes first, then the read of nothing
    assert check_isolation(h, "serializable").holds
    r = check_isolation(h, "strict-serializable")
    assert not r.holds and "rt" in {k for _, k, _ in r.witness.cycle}
    assert brute_force_serializable(h) and not brute_force_serializable(h, real_time=True)


def test_internal_and_incompatible_order() -> None:
    internal = txns((0, "ok", [("append", "x", 1), ("r", "x", ())]))
    assert check_isolation(internal).witness.name == "internal"
    fork = txns((0, "ok", [("append", "x", 1)]), (1, "ok", [("append", "x", 2)]),
                (2, "ok", [("r", "x", (1,))]), (3, "ok", [("r", "x", (2,))]))
    assert check_isolation(fork).witness.name == "incompatible-order"


# --- differential: a simulated database, sometimes broken --------------------


@st.composite
def executions(draw: st.DrawFn) -> list[Op]:
    """3-5 transactions over keys x, y run by a database that is serial,
    interleaves micro-operations with no isolation, or runs each transaction on
    a snapshot; then a final transaction reads every key."""
    mode = draw(st.sampled_from(["serial", "interleaved", "snapshot"]))
    n = draw(st.integers(2, 5))
    plans = []
    counter = 1
    for _ in range(n):
        mops = []
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.sampled_from(["x", "y"]))
            if draw(st.booleans()):
                mops.append(["append", k, counter])
                counter += 1
            else:
                mops.append(["r", k, None])
        plans.append(mops)
    state: dict[str, tuple] = {"x": (), "y": ()}
    if mode == "serial":
        for mops in plans:
            for m in mops:
                if m[0] == "append":
                    state[m[1]] += (m[2],)
                else:
                    m[2] = state[m[1]]
    elif mode == "interleaved":
        cursor = [0] * n
        while any(c < len(p) for c, p in zip(cursor, plans, strict=True)):
            i = draw(st.sampled_from([i for i in range(n) if cursor[i] < len(plans[i])]))
            m = plans[i][cursor[i]]
            cursor[i] += 1
            if m[0] == "append":
                state[m[1]] += (m[2],)
            else:
                m[2] = state[m[1]]
    else:
        snaps = []
        for mops in plans:
            snap = dict(state)
            for m in mops:
                if m[0] == "append":
                    snap[m[1]] += (m[2],)
                else:
                    m[2] = snap[m[1]]
            snaps.append(mops)
            if draw(st.booleans()):  # commit now, or let a later transaction start first
                for m in mops:
                    if m[0] == "append":
                        state[m[1]] += (m[2],)
                snaps.pop()
        for mops in snaps:
            for m in mops:
                if m[0] == "append":
                    state[m[1]] += (m[2],)
    ops = [Op(p, "invoke", "txn", None, tuple((f, k, None if f == "r" else v) for f, k, v in mops))
           for p, mops in enumerate(plans)]
    ops += [Op(p, "ok", "txn", None, tuple(tuple(m) for m in mops)) for p, mops in enumerate(plans)]
    final = (("r", "x", state["x"]), ("r", "y", state["y"]))
    ops += [Op(99, "invoke", "txn", None, (("r", "x", None), ("r", "y", None))), Op(99, "ok", "txn", None, final)]
    return ops


@settings(max_examples=examples(300), deadline=None)
@given(executions())
def test_serializable_agrees_with_brute_force(history: list[Op]) -> None:
    assert check_isolation(history, "serializable").holds == brute_force_serializable(history)


# --- Elle's own example histories (tests/data/elle/README.md) ---------------------------

ELLE = __import__("pathlib").Path(__file__).parent / "data" / "elle"


def test_elle_si_without_g_single_has_the_edges_elle_lists() -> None:
    from consensus_lab.checkers import load_history
    from consensus_lab.checkers.elle import transaction_graph

    h = load_history(ELLE / "si-without-g-single.edn")
    graph, anomalies, _ = transaction_graph(h)
    t1, t2, t3, t4 = 0, 1, 2, 3  # in the order of the file
    assert {(a, b): k for (a, b), k in graph.edges.items()} == {
        (t1, t3): {"ww"}, (t1, t4): {"wr"}, (t2, t1): {"rw"}, (t3, t2): {"rw"}, (t3, t4): {"rw"},
        (t4, t3): {"rw"},
    }
    assert anomalies == []
    assert check_isolation(h, "snapshot-isolation").holds
    r = check_isolation(h, "serializable")
    assert r.witness.name == "G2"


def test_elle_paper_example_is_g_single(capsys) -> None:  # noqa: ANN001
    from consensus_lab.cli import main

    path = str(ELLE / "paper-example.edn")
    assert main(["check", path, "--consistency", "snapshot-isolation"]) == 1
    out = capsys.readouterr().out
    assert "G-single: cycle #3 -rw-> #1 -wr-> #2 -ww-> #3" in out
    assert main(["check", path, "--consistency", "read-committed"]) == 0


def test_plot_anomaly_draws_the_cycle() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from consensus_lab.checkers import load_history
    from consensus_lab.viz.isolation_plot import plot_anomaly

    r = check_isolation(load_history(ELLE / "paper-example.edn"), "snapshot-isolation")
    ax = plot_anomaly(r)
    kinds = [t.get_text() for t in ax.texts if t.get_text() in ("ww", "wr", "rw", "rt")]
    assert sorted(kinds) == sorted(k for _, k, _ in r.witness.cycle) == ["rw", "wr", "ww"]
    assert len(ax.patches) + len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) >= 3
    assert "G-single" in ax.get_title()
    ok = check_isolation(load_history(ELLE / "paper-example.edn"), "read-committed")
    assert plot_anomaly(ok).get_title() == "read-committed"


# --- a known version order (rw-register with blind writes) -------------------------------


def test_blind_writes_need_a_known_version_order_to_show_a_write_cycle() -> None:
    # two transactions write x and y without reading: nothing in the history orders them
    h = txns((0, "ok", [("w", "x", 1), ("w", "y", 1)]), (1, "ok", [("w", "x", 2), ("w", "y", 2)]))
    assert check_isolation(h, "read-committed").holds
    assert check_isolation(h, "serializable", versions={"x": (1, 2), "y": (1, 2)}).holds
    r = check_isolation(h, "read-committed", versions={"x": (1, 2), "y": (2, 1)})
    assert not r.holds and r.witness.name == "G0"
    assert {(a, k, b) for a, k, b in r.witness.cycle} == {(0, "ww", 1), (1, "ww", 0)}
    assert not brute_force_serializable(h, versions={"x": (1, 2), "y": (2, 1)})


def test_a_known_order_is_checked_against_the_reads_and_real_time() -> None:
    # T1 reads x = 1 and completes before T2 writes x = 2 ... yet the order puts 2 first
    h = txns((0, "ok", [("w", "x", 1)]), (1, "ok", [("r", "x", 1)]), (2, "ok", [("w", "x", 2)]))
    assert check_isolation(h, "strict-serializable", versions={"x": (1, 2)}).holds
    lie = check_isolation(h, "strict-serializable", versions={"x": (2, 1)})
    assert not lie.holds and "rt" in {k for _, k, _ in lie.witness.cycle}
    # a read of the initial value anti-depends on the first version
    h0 = txns((0, "ok", [("r", "x", None), ("w", "y", 1)]), (1, "ok", [("r", "y", None), ("w", "x", 1)]))
    r = check_isolation(h0, "serializable", versions={"x": (1,), "y": (1,)})
    assert r.witness.name == "G2" and [k for _, k, _ in r.witness.cycle] == ["rw", "rw"]


def test_a_known_order_must_name_written_values_once() -> None:
    import pytest

    h = txns((0, "ok", [("w", "x", 1)]), (1, "fail", [("w", "x", 9)]))
    assert check_isolation(h, versions={"x": (9, 1)}).holds  # a failed write is dropped from the order
    with pytest.raises(ValueError, match="no transaction wrote"):
        check_isolation(h, versions={"x": (1, 5)})
    with pytest.raises(ValueError, match="twice"):
        check_isolation(h, versions={"x": (1, 1)})
    lists = txns((0, "ok", [("append", "x", 1)]))
    with pytest.raises(ValueError, match="list-append"):
        check_isolation(lists, versions={"x": (1,)})


@st.composite
def register_executions(draw: st.DrawFn) -> tuple[list[Op], dict[str, tuple[int, ...]]]:
    """2-5 rw-register transactions over x, y (each key written at most once per
    transaction), run serially in some order or interleaved with no isolation;
    returns the history and the order in which the database installed each key."""
    n = draw(st.integers(2, 5))
    plans, counter = [], 1
    for _ in range(n):
        mops, written = [], set()
        for _ in range(draw(st.integers(1, 3))):
            k = draw(st.sampled_from(["x", "y"]))
            if k not in written and draw(st.booleans()):
                mops.append(["w", k, counter])
                written.add(k)
                counter += 1
            else:
                mops.append(["r", k, None])
        plans.append(mops)
    state: dict[str, int | None] = {"x": None, "y": None}
    order: dict[str, list[int]] = {"x": [], "y": []}
    cursor = [0] * n
    serial = draw(st.booleans())
    perm = draw(st.permutations(range(n)))
    steps = [i for i in perm for _ in plans[i]] if serial else None
    while any(c < len(p) for c, p in zip(cursor, plans, strict=True)):
        if steps is not None:
            i = steps.pop(0)
        else:
            i = draw(st.sampled_from([i for i in range(n) if cursor[i] < len(plans[i])]))
        m = plans[i][cursor[i]]
        cursor[i] += 1
        if m[0] == "w":
            state[m[1]] = m[2]
            order[m[1]].append(m[2])
        else:
            m[2] = state[m[1]]
    ops = [Op(p, "invoke", "txn", None, tuple((f, k, None if f == "r" else v) for f, k, v in mops))
           for p, mops in enumerate(plans)]
    ops += [Op(p, "ok", "txn", None, tuple(tuple(m) for m in mops)) for p, mops in enumerate(plans)]
    return ops, {k: tuple(v) for k, v in order.items()}


@settings(max_examples=examples(300), deadline=None)
@given(register_executions())
def test_serializable_with_a_known_order_agrees_with_brute_force(case) -> None:  # noqa: ANN001
    history, order = case
    assert (check_isolation(history, "serializable", versions=order).holds
            == brute_force_serializable(history, versions=order))


# --- G-nonadjacent: snapshot isolation's cycles with more than one rw edge -------------------


def test_long_fork_is_g_nonadjacent_not_g_single() -> None:
    # T0 and T2 write concurrently; T1 sees T2's write and not T0's, T3 the other way round:
    # T1 -rw-> T0 -wr-> T3 -rw-> T2 -wr-> T1, two rw edges, never adjacent
    h = txns((0, "ok", [("append", "x", 1), ("append", "y", 1)]),
             (1, "ok", [("r", "x", ()), ("r", "w", (1,))]),
             (2, "ok", [("append", "z", 1), ("append", "w", 1)]),
             (3, "ok", [("r", "y", (1,)), ("r", "z", ())]),
             (4, "ok", [("r", "x", (1,)), ("r", "y", (1,)), ("r", "z", (1,)), ("r", "w", (1,))]))
    r = check_isolation(h, "snapshot-isolation")
    assert not r.holds and r.witness.name == "G-nonadjacent"
    assert "G-single" not in names(r)
    kinds = [k for _, k, _ in r.witness.cycle]
    assert kinds.count("rw") == 2 and all(not (kinds[i] == kinds[i - 1] == "rw") for i in range(len(kinds)))
    assert len({a for a, _, _ in r.witness.cycle}) == len(r.witness.cycle)  # a simple cycle
    assert check_isolation(h, "read-committed").holds
    assert not brute_force_serializable(h)


def _simple_cycles(edges: dict[tuple[int, int], set[str]]):  # noqa: ANN202
    """Every simple cycle as a list of (a, kind, b), by brute force over node sequences."""
    from itertools import permutations, product

    nodes = sorted({x for e in edges for x in e})
    for n in range(2, len(nodes) + 1):
        for seq in permutations(nodes, n):
            if seq[0] != min(seq):
                continue
            hops = [(seq[i], seq[(i + 1) % n]) for i in range(n)]
            if all(h in edges for h in hops):
                for kinds in product(*(sorted(edges[h]) for h in hops)):
                    yield [(a, k, b) for (a, b), k in zip(hops, kinds, strict=True)]


def _nonadjacent(cycle) -> bool:  # noqa: ANN001
    kinds = [k for _, k, _ in cycle]
    return "rw" in kinds and not any(kinds[i] == kinds[i - 1] == "rw" for i in range(len(kinds)))


@settings(max_examples=examples(400), deadline=None)
@given(st.dictionaries(st.tuples(st.integers(0, 4), st.integers(0, 4)).filter(lambda e: e[0] != e[1]),
                       st.sets(st.sampled_from(["ww", "wr", "rw"]), min_size=1), max_size=12))
def test_g_nonadjacent_search_agrees_with_brute_force(edges) -> None:  # noqa: ANN001
    from consensus_lab.checkers.elle import _Graph

    g = _Graph()
    for (a, b), ks in edges.items():
        for k in ks:
            g.add(a, b, k)
    found = g.nonadjacent_cycle({"ww", "wr", "rw"})
    assert (found is not None) == any(_nonadjacent(c) for c in _simple_cycles(edges))
    if found is not None:
        assert _nonadjacent(found) and len({a for a, _, _ in found}) == len(found)
        assert all(k in edges[(a, b)] for a, k, b in found)
        assert all(found[i][2] == found[(i + 1) % len(found)][0] for i in range(len(found)))

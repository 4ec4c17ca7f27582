"""CRDTs and version vectors: the merge laws, checked on random states (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consensus_lab.protocols._versions import (
    vv,
    vv_compare,
    vv_concurrent,
    vv_increment,
    vv_leq,
    vv_merge,
    vv_missing,
)
from consensus_lab.protocols.crdt import GCounter, ORSet, PNCounter, merge_all

NODES = st.sampled_from(["n1", "n2", "n3"])

vectors = st.dictionaries(NODES, st.integers(0, 6)).map(vv)


def _replica_ops(kind):
    if kind == "g":
        return st.lists(st.tuples(NODES, st.integers(0, 3)), max_size=8)
    if kind == "pn":
        return st.lists(st.tuples(NODES, st.integers(-3, 3)), max_size=8)
    return st.lists(st.tuples(st.sampled_from(["add", "remove"]), NODES, st.integers(0, 4)), max_size=10)


def _build(kind, ops, base=None):
    if kind == "g":
        s = base or GCounter()
        for node, by in ops:
            s = s.increment(node, by)
        return s
    if kind == "pn":
        s = base or PNCounter()
        for node, by in ops:
            s = s.increment(node, by)
        return s
    s = base or ORSet()
    for op, node, x in ops:
        s = s.add(node, x) if op == "add" else s.remove(x)
    return s


def states(kind):
    """States reachable by replicas that start from a shared history and then diverge."""
    return st.tuples(_replica_ops(kind), _replica_ops(kind), _replica_ops(kind), _replica_ops(kind)).map(
        lambda t: _diverged(kind, *t)
    )


def _diverged(kind, shared, a, b, c):
    base = _build(kind, shared)
    # each replica adds its own operations; tags stay unique because each replica
    # only uses its own node name in the OR-set (as real replicas do)
    return tuple(_build(kind, [_own(kind, o, n) for o in ops], base) for ops, n in ((a, "n1"), (b, "n2"), (c, "n3")))


def _own(kind, op, node):
    if kind == "orset":
        return (op[0], node, op[2])
    return (node, op[1])


@given(states("g"))
def test_gcounter_merge_is_a_semilattice_join(s):
    a, b, c = s
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a <= a.merge(b) and b <= a.merge(b)


@given(states("pn"))
def test_pncounter_merge_is_a_semilattice_join(s):
    a, b, c = s
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a <= a.merge(b)


@given(states("orset"))
def test_orset_merge_is_a_semilattice_join(s):
    a, b, c = s
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a
    assert a <= a.merge(b) and b <= a.merge(b)


@given(st.lists(st.tuples(NODES, st.integers(1, 5)), max_size=12), st.permutations(range(3)))
def test_counters_converge_to_the_sum_in_any_merge_order(incs, order):
    replicas = {n: PNCounter() for n in ("n1", "n2", "n3")}
    for node, by in incs:
        replicas[node] = replicas[node].increment(node, by if by % 2 else -by)
    names = ["n1", "n2", "n3"]
    merged = merge_all(replicas[names[i]] for i in order)
    assert merged.value() == sum(by if by % 2 else -by for _, by in incs)


def test_gcounter_only_grows():
    try:
        GCounter().increment("n1", -1)
    except ValueError as exc:
        assert "PNCounter" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a negative increment must be refused")


def test_orset_add_wins_over_a_concurrent_remove():
    base = ORSet().add("n1", "x")
    removed = base.remove("x")  # n2 removes the x it has seen
    readded = base.add("n1", "x")  # concurrently n1 adds x again (a new tag)
    assert "x" not in removed and "x" in readded
    assert "x" in removed.merge(readded) and "x" in readded.merge(removed)
    # a remove that has seen every add wins
    assert "x" not in readded.merge(removed).remove("x")


def test_orset_value_is_sorted_and_plain():
    s = ORSet().add("n2", 3).add("n1", 1).add("n3", 2)
    assert s.value() == (1, 2, 3)
    assert s.remove(2).value() == (1, 3)


@given(vectors, vectors, vectors)
def test_version_vector_merge_laws(a, b, c):
    assert vv_merge(a, b) == vv_merge(b, a)
    assert vv_merge(vv_merge(a, b), c) == vv_merge(a, vv_merge(b, c))
    assert vv_merge(a, a) == a
    assert vv_leq(a, vv_merge(a, b)) and vv_leq(b, vv_merge(a, b))


@given(vectors, vectors)
def test_version_vector_comparison_is_consistent(a, b):
    cmp = vv_compare(a, b)
    assert cmp in ("=", "<", ">", "||")
    assert (cmp == "||") == vv_concurrent(a, b)
    assert (cmp in ("<", "=")) == vv_leq(a, b)
    assert (vv_missing(b, a) == ()) == vv_leq(a, b)
    bumped = vv_increment(a, "n1")
    assert vv_compare(a, bumped) == "<"


def test_version_vectors_are_canonical():
    assert vv({"n2": 1, "n1": 0, "n3": 2}) == (("n2", 1), ("n3", 2))
    assert vv_compare((("n1", 1),), (("n2", 1),)) == "||"

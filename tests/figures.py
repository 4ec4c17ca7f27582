"""The lessons' figures, made small, and a structural fingerprint of a matplotlib figure.

nbval compares text only; a stored plot is checked by its ``<Figure size ...>``
line.  Here every figure function of ``consensus_lab.viz`` that a lesson uses is
drawn from the same kind of input the lesson gives it (smaller, so it is quick),
and the figure is reduced to what it *shows*: each axes' title, labels and limits,
each line's data, style and colour, each patch's geometry and colours, each
text's string, anchor and colour, each collection's offsets, paths and colours,
the legend's entries.  Numbers are rounded (4 significant digits).  Nothing that
depends on fonts or rasterisation is recorded (no pixel positions, text extents,
automatic tick positions or layout), so the fingerprint is the same on any machine.

``tests/test_figures.py`` compares each fingerprint with its golden file in
``tests/data/figures/``; ``CONSENSUS_LAB_REWRITE_FIGURES=1`` rewrites them (review
the diff before committing).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
from matplotlib import patches as mpatches  # noqa: E402
from matplotlib.collections import Collection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator  # noqa: E402

# --- fingerprint -------------------------------------------------------------------------------


def _num(x: Any) -> Any:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if f != f:
        return "nan"
    return float(f"{f:.4g}")


def _nums(values: Any) -> list:
    out = []
    for v in values:
        if hasattr(v, "__len__") and not isinstance(v, str):
            out.append(_nums(v))
        else:
            out.append(_num(v))
    return out


def _color(c: Any) -> Any:
    if c is None or (isinstance(c, str) and c == "none"):
        return "none"
    try:
        return mcolors.to_hex(c, keep_alpha=True)
    except (ValueError, TypeError):
        return [_color(x) for x in c] if hasattr(c, "__len__") and len(c) and not isinstance(c, str) else str(c)


def _colors(cs: Any) -> list:
    return [mcolors.to_hex(c, keep_alpha=True) for c in cs]


def _patch(p: mpatches.Patch) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": type(p).__name__, "face": _color(p.get_facecolor()), "edge": _color(p.get_edgecolor()),
                         "lw": _num(p.get_linewidth())}
    if isinstance(p, mpatches.Rectangle):
        d["xywh"] = _nums([p.get_x(), p.get_y(), p.get_width(), p.get_height()])
    elif isinstance(p, mpatches.Wedge):
        d["wedge"] = _nums([*p.center, p.r, p.theta1, p.theta2])
    elif isinstance(p, mpatches.Ellipse):
        d["ellipse"] = _nums([*p.center, p.width, p.height])
    elif isinstance(p, mpatches.Polygon):
        d["xy"] = _nums(p.get_xy())
    elif isinstance(p, mpatches.FancyBboxPatch):
        d["xywh"] = _nums([p.get_x(), p.get_y(), p.get_width(), p.get_height()])
    elif isinstance(p, mpatches.FancyArrowPatch):
        pos = getattr(p, "_posA_posB", None)
        if pos is not None:
            d["ends"] = _nums(pos)
    if p.get_label() and not p.get_label().startswith("_"):
        d["label"] = p.get_label()
    if p.get_hatch():
        d["hatch"] = p.get_hatch()
    return d


def _text(t: Any) -> dict[str, Any]:
    d = {"text": t.get_text(), "at": _nums(t.get_position()), "color": _color(t.get_color())}
    xy = getattr(t, "xy", None)  # an annotation's arrow target
    if xy is not None:
        d["xy"] = _nums(xy)
    return d


def _collection(c: Collection) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": type(c).__name__}
    offsets = c.get_offsets()
    if len(offsets):
        d["offsets"] = _nums(offsets)
    paths = c.get_paths()
    if paths and type(c).__name__ in ("LineCollection", "PolyCollection", "FillBetweenPolyCollection"):
        d["paths"] = [_nums(p.vertices) for p in paths]
    d["face"] = _colors(c.get_facecolor())
    d["edge"] = _colors(c.get_edgecolor())
    if c.get_label() and not c.get_label().startswith("_"):
        d["label"] = c.get_label()
    return d


def _ticks(axis: Any) -> list[str] | None:
    """Tick labels only when the ticks were placed by hand (automatic ones depend on the size)."""
    if not isinstance(axis.get_major_locator(), FixedLocator):
        return None
    return [t.get_text() for t in axis.get_ticklabels()]


def fingerprint(fig: Figure) -> dict[str, Any]:
    """What a figure shows, as plain JSON data (see the module docstring)."""
    axes = []
    for ax in fig.axes:
        a: dict[str, Any] = {
            "title": ax.get_title(),
            "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(),
            "xlim": _nums(ax.get_xlim()),
            "ylim": _nums(ax.get_ylim()),
            "xscale": ax.get_xscale(),
            "lines": [
                {"xy": _nums(ln.get_xydata()), "color": _color(ln.get_color()), "style": ln.get_linestyle(),
                 "marker": str(ln.get_marker()), "lw": _num(ln.get_linewidth()), "label": ln.get_label()}
                for ln in ax.get_lines()
            ],
            "patches": [_patch(p) for p in ax.patches],
            "texts": [_text(t) for t in ax.texts],
            "collections": [_collection(c) for c in ax.collections],
            "xticks": _ticks(ax.xaxis),
            "yticks": _ticks(ax.yaxis),
        }
        legend = ax.get_legend()
        if legend is not None:
            a["legend"] = [t.get_text() for t in legend.get_texts()]
        axes.append(a)
    return {
        "suptitle": fig._suptitle.get_text() if fig._suptitle is not None else None,
        "texts": [_text(t) for t in fig.texts],
        "legends": [[t.get_text() for t in lg.get_texts()] for lg in fig.legends],
        "axes": axes,
    }


def _figure(result: Any) -> Figure:
    if isinstance(result, Figure):
        return result
    if hasattr(result, "figure"):
        return result.figure
    if isinstance(result, tuple):
        return _figure(result[0])
    raise TypeError(f"not a figure: {result!r}")


# --- the lessons' figures -------------------------------------------------------------------------


def _spacetime_twopc():
    from consensus_lab import run
    from consensus_lab.protocols import twopc
    from consensus_lab.viz.spacetime import plot_spacetime

    return plot_spacetime(run(twopc.STORIES["coordinator-recovery"]))


def _spacetime_violation():
    from consensus_lab import run
    from consensus_lab.protocols import twopc
    from consensus_lab.viz.spacetime import plot_spacetime

    return plot_spacetime(run(twopc.TWINS["uncertain-abort"]), title="a twin's violation, marked")


def _spacetime_partition():
    from consensus_lab import run
    from consensus_lab.viz.spacetime import plot_spacetime

    r = run("broadcast", nodes=3, seed=1, duration=2.0, nemesis="0.3 partition n1|n2,n3; 1.0 heal; 1.2 crash n3; 1.6 restart n3")
    return plot_spacetime(r)


def _history(linearizable: bool):
    from consensus_lab.checkers import check_linearizable, history_from_text
    from consensus_lab.viz.history_plot import plot_history

    last = "1" if linearizable else "nil"
    h = history_from_text(f"""
        0 invoke write 1
        1 invoke read  nil
        1 ok     read  nil
        2 invoke read  nil
        0 ok     write 1
        2 ok     read  1
        1 invoke read  nil
        1 ok     read  {last}
    """)
    return plot_history(h, check_linearizable(h, "register"))


def _jepsen():
    """A real run's picture, from a fixed result (no processes are started)."""
    from consensus_lab.history import Op
    from consensus_lab.net.jepsen import JepsenResult
    from consensus_lab.viz import plot_jepsen

    h = [Op(0, "invoke", "write", "x", 1, 1.0), Op(1, "invoke", "read", "x", None, 1.1),
         Op(0, "ok", "write", "x", 1, 1.2), Op(1, "ok", "read", "x", 1, 1.9),
         Op(0, "invoke", "cas", "x", (1, 2), 2.0), Op(0, "fail", "cas", "x", (1, 2), 2.4)]
    faults = [{"f": "kill", "value": ["n1"], "time": 1.3}, {"f": "start", "value": ["n1"], "time": 1.8},
              {"f": "partition", "value": [["n2"], ["n1", "n3"]], "time": 2.1},
              {"f": "heal", "value": None, "time": 2.3}]
    r = JepsenResult("raft", "correct", 3, 0, Path("."), h, faults, "linearizable")
    return plot_jepsen(r)


def _anomaly():
    from consensus_lab.checkers import check_isolation, history_from_text
    from consensus_lab.viz.isolation_plot import plot_anomaly

    h = history_from_text("""
        0 invoke txn [[:r x nil] [:append y 1]]
        1 invoke txn [[:r y nil] [:append x 2]]
        0 ok     txn [[:r x []]  [:append y 1]]
        1 ok     txn [[:r y []]  [:append x 2]]
    """)
    return plot_anomaly(check_isolation(h, "serializable"))


def _consistency_map():
    from consensus_lab.viz import plot_consistency_map

    return plot_consistency_map(highlight=["linearizable", "sequential"])


def _matrix():
    from consensus_lab.matrix import STORES, compute_matrix
    from consensus_lab.viz.matrix_plot import plot_matrix

    return plot_matrix(compute_matrix(STORES[:2], seeds=range(1)))


_KEYS_N = 300
_NODES = ["n1", "n2", "n3", "n4", "n5"]


def _keys():
    from consensus_lab.partitioning import sample_keys

    return sample_keys(_KEYS_N)


def _ring():
    from consensus_lab.partitioning import ConsistentHash
    from consensus_lab.viz.partition_plots import plot_ring

    return plot_ring(ConsistentHash(("n1", "n2", "n3"), vnodes=4), _keys()[:30])


def _loads():
    from consensus_lab.partitioning import ConsistentHash, HashModN, RangePartitioner
    from consensus_lab.viz.partition_plots import plot_loads

    keys = _keys()
    return plot_loads({"hash mod N": HashModN(_NODES), "consistent, 8 vnodes": ConsistentHash(tuple(_NODES), 8),
                       "range": RangePartitioner.from_keys(_NODES, keys)}, keys)


def _vnodes():
    from consensus_lab.viz.partition_plots import plot_vnodes_balance

    return plot_vnodes_balance(_NODES, _keys(), vnodes=(1, 4, 16))


def _movement():
    from consensus_lab.partitioning import ConsistentHash, HashModN
    from consensus_lab.viz.partition_plots import plot_movement

    return plot_movement({"hash mod N": HashModN, "consistent (8 vnodes)": lambda ns: ConsistentHash(tuple(ns), 8)},
                         _keys(), sizes=range(2, 5))


def _availability():
    from consensus_lab.partitioning import availability_experiment
    from consensus_lab.viz.partition_plots import plot_availability

    rows = availability_experiment(partitions=(1, 2), replicas=(1, 3), seeds=range(2), duration=10.0, mttf=4.0, mttr=1.0)
    return plot_availability(rows, up=0.8)


def _logs():
    from consensus_lab.protocols.raft_scenarios import kept_run
    from consensus_lab.viz.raft_logs import plot_logs

    r = kept_run("stale-truncate")
    return plot_logs(r, at=[0.69, 1.85], title="rejoin")


def _model_vs_sim():
    from consensus_lab.models import estimate, p_commit_2pc
    from consensus_lab.models_sim import twopc_trial
    from consensus_lab.viz.model_plots import plot_model_vs_sim

    ns = [1, 2, 3]
    sim = [estimate(lambda s, n=n: twopc_trial(s, participants=n, p_down=0.1), range(10)) for n in ns]
    return plot_model_vs_sim(ns, formulas={"formula: 0.9 ** n": [p_commit_2pc(n, 0.9) for n in ns]},
                             simulated={"simulated 2PC, 10 seeds each": sim}, xlabel="participants n",
                             ylabel="P(commit)", title="Two-phase commit", ylim=(0, 1.02))


def _estimate_bars():
    from consensus_lab.models import estimate, p_majority, p_majority_racks
    from consensus_lab.models_sim import majority_trial
    from consensus_lab.viz.model_plots import plot_estimate_bars

    placements = {"5 racks of 1": [1, 1, 1, 1, 1], "racks of 3+2": [3, 2]}
    sim = [estimate(lambda s, r=r: majority_trial(s, nodes=5, racks=r, p_rack_down=0.2), range(10))
           for r in placements.values()]
    return plot_estimate_bars(list(placements), sim,
                              formulas={"binomial": [p_majority(5, 0.8)] * 2,
                                        "exact": [p_majority_racks(r, 0.2) for r in placements.values()]},
                              ylabel="P(a write commits)", ylim=(0.5, 1.17), title="Rack failures")


def _latency_samples():
    from consensus_lab.models import expected_kth_round_trip
    from consensus_lab.models_sim import commit_latencies, majority_acks
    from consensus_lab.sim import Latency
    from consensus_lab.viz.model_plots import plot_latency_samples

    uniform = Latency.uniform(0.005, 0.015)
    samples = [x for s in range(2) for _, x in commit_latencies(s, nodes=5, latency=uniform)]
    n, k = majority_acks(5)
    return plot_latency_samples({"Raft, 5 nodes": samples},
                                expected={"formula": expected_kth_round_trip(n, k, uniform)}, title="Commit latency")


def _lock_story():
    from consensus_lab.systems import lock_story
    from consensus_lab.viz.systems_plots import plot_lock_story

    return plot_lock_story(lock_story(session_timeout=2.0, pause=(1.0, 4.5), fencing=True))


def _two_clients():
    from consensus_lab.two_clients import two_clients
    from consensus_lab.viz.two_clients_plot import plot_two_clients

    return plot_two_clients(two_clients(lose_reply=True), highlight=["PutAck", "Replicate", "GetReply"])


def _counterexample():
    from consensus_lab.explore import explore
    from consensus_lab.viz import plot_counterexample

    return plot_counterexample(explore("twopc", variant="uncertain-abort", progress=False))


def _tradeoffs():
    from consensus_lab.systems import commit_wait_grid, quorum_choices, read_modes
    from consensus_lab.viz.systems_plots import plot_tradeoffs

    seeds = range(1)
    return plot_tradeoffs({"etcd / ZooKeeper": read_modes(seeds, duration=2.0, nemesis="partition"),
                           "Spanner": commit_wait_grid(seeds, epsilon=0.05, duration=2.0),
                           "Dynamo": quorum_choices(seeds, duration=2.0)})


def _locked_keys():
    from consensus_lab.protocols._sharded_txn_analysis import coordinator_crash, in_doubt_timeline
    from consensus_lab.viz.txn_plots import plot_locked_keys

    story = coordinator_crash("plain-2pc")
    times, locked, _ = in_doubt_timeline(story.scenario, step=0.05)
    return plot_locked_keys(times, locked, crash_at=story.crash_at, restart_at=story.restart_at, title="plain-2pc")


def _commits_after_crash():
    from consensus_lab.protocols._sharded_txn_analysis import commits_after_crash
    from consensus_lab.viz.txn_plots import plot_commits_after_crash

    after = {v: commits_after_crash(v, seed=4, crash_at=0.8, duration=1.5) for v in ("correct", "plain-2pc")}
    return plot_commits_after_crash(after, title="committed after a crash")


#: name -> a function that draws one lesson figure (returns a Figure, an Axes, or a tuple starting with one)
CASES: dict[str, Callable[[], Any]] = {
    "spacetime-twopc": _spacetime_twopc,
    "spacetime-violation": _spacetime_violation,
    "spacetime-partition": _spacetime_partition,
    "history-linearizable": lambda: _history(True),
    "history-not-linearizable": lambda: _history(False),
    "consistency-map": _consistency_map,
    "jepsen": _jepsen,
    "anomaly": _anomaly,
    "matrix": _matrix,
    "ring": _ring,
    "loads": _loads,
    "vnodes-balance": _vnodes,
    "movement": _movement,
    "availability": _availability,
    "raft-logs": _logs,
    "model-vs-sim": _model_vs_sim,
    "estimate-bars": _estimate_bars,
    "latency-samples": _latency_samples,
    "lock-story": _lock_story,
    "tradeoffs": _tradeoffs,
    "locked-keys": _locked_keys,
    "commits-after-crash": _commits_after_crash,
    "two-clients": _two_clients,
    "counterexample": _counterexample,
}


def draw(name: str) -> dict[str, Any]:
    """Draw one case and return its fingerprint (the figure is closed)."""
    plt.close("all")
    fig = _figure(CASES[name]())
    try:
        return fingerprint(fig)
    finally:
        plt.close("all")

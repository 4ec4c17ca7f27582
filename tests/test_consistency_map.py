"""The consistency map: Jepsen's hierarchy of safety models, availability classes, convergence apart."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from consensus_lab.viz import plot_consistency_map
from consensus_lab.viz.consistency_map import CONSISTENCY_MODELS, implies

_RANK = {"unavailable": 0, "sticky": 1, "total": 2}


def test_the_single_object_chain_of_jepsens_map():
    for strong, weak in [("strict serializable", "linearizable"), ("linearizable", "sequential"),
                         ("sequential", "causal"), ("causal", "PRAM"), ("causal", "writes follow reads"),
                         ("PRAM", "read your writes"), ("PRAM", "monotonic reads"), ("PRAM", "monotonic writes"),
                         ("linearizable", "read your writes")]:
        assert implies(strong, weak), (strong, weak)
    for strong, weak in [("causal", "sequential"), ("read your writes", "monotonic reads"),
                         ("serializable", "linearizable"), ("writes follow reads", "PRAM")]:
        assert not implies(strong, weak), (strong, weak)


@pytest.mark.parametrize("name", list(CONSISTENCY_MODELS))
def test_a_weaker_model_is_never_less_available(name):
    for other in CONSISTENCY_MODELS:
        if implies(name, other):
            assert _RANK[CONSISTENCY_MODELS[other].availability] >= _RANK[CONSISTENCY_MODELS[name].availability]


def test_availability_classes_as_jepsen_states_them():
    avail = {n: m.availability for n, m in CONSISTENCY_MODELS.items()}
    assert {n for n, a in avail.items() if a == "sticky"} == {"causal", "PRAM", "read your writes"}
    assert {n for n, a in avail.items() if a == "total"} == {"monotonic reads", "monotonic writes",
                                                             "writes follow reads"}


def test_convergence_is_not_in_the_hierarchy():
    assert "convergence" not in CONSISTENCY_MODELS
    assert "eventual" not in " ".join(CONSISTENCY_MODELS)
    with pytest.raises(ValueError, match="unknown model"):
        implies("causal", "convergence")


def test_the_figure_names_every_model_and_the_highlight():
    ax = plot_consistency_map(highlight=["linearizable", "convergence"], highlight_label="checked here")
    texts = {t.get_text() for t in ax.texts}
    assert set(CONSISTENCY_MODELS) | {"convergence"} <= texts
    bold = {t.get_text() for t in ax.texts if t.get_fontweight() == "bold"}
    assert bold == {"linearizable", "convergence"}
    assert "thick outline: checked here" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


def test_an_unknown_highlight_is_refused():
    with pytest.raises(ValueError, match="not on the map"):
        plot_consistency_map(highlight=["eventual"])


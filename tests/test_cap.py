"""CAP measured: which stores serve requests on the minority side of a cut."""

import pytest

from consensus_lab import run
from consensus_lab.cap import cap_experiment, served_by_side

SETTINGS = {
    "gossip": ("gossip", {}),
    "gossip + sessions": ("gossip", {"sessions": True}),
    "quorum": ("quorum", {}),
    "primary-backup": ("primary-backup", {}),
}


@pytest.fixture(scope="module")
def by_setting():
    return {t.setting: t for t in cap_experiment(SETTINGS, seeds=range(2))}


def test_an_eventual_store_serves_on_both_sides(by_setting):
    t = by_setting["gossip"]
    assert t.minority_requests > 0 and t.minority_served == t.minority_requests
    assert t.majority_served == t.majority_requests


@pytest.mark.parametrize("setting", ["quorum", "primary-backup"])
def test_a_linearizable_store_refuses_on_the_minority_side(by_setting, setting):
    t = by_setting[setting]
    assert t.minority_requests > 0 and t.minority_served == 0
    assert t.majority_served > 0


def test_sessions_cost_service_when_clients_move_but_not_when_they_stick(by_setting):
    moving = by_setting["gossip + sessions"]
    assert moving.minority_served < moving.minority_requests
    sticky = cap_experiment({"s": SETTINGS["gossip + sessions"]}, seeds=range(2), sticky=True)[0]
    assert sticky.minority_requests > 0 and sticky.minority_served == sticky.minority_requests


def test_outside_the_cut_nothing_is_counted_as_minority():
    r = run("quorum", seed=1, duration=2.0, nemesis="0.5 partition n1|n2,n3; 1.5 heal")
    before = served_by_side(r, ["n1"], 0.0, 0.5)
    assert before.minority_requests > 0 and before.minority_served == before.minority_requests


def test_bad_input_is_refused():
    r = run("gossip", seed=1, duration=0.5)
    with pytest.raises(ValueError, match="no such node"):
        served_by_side(r, ["n9"], 0.0, 0.5)
    with pytest.raises(ValueError, match="start < end"):
        served_by_side(r, ["n1"], 0.5, 0.5)

"""Challenges solved in a real browser by clicking, as a student would.

A small notebook written for this test (in a temporary directory, so it
does not depend on the lessons' prose) opens seven challenge labs.  For each,
the test answers the prediction, presses Check once without acting (a hint
must appear, the banner must not), then does what the challenge's script
does -- by clicking buttons and picking from drop-downs -- and waits for the
"Solved" banner.  Server and browser are set up as in ``test_browser.py``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_browser import (
    _CLOSE,
    _FINISHED,
    _OPEN_AND_RUN,
    _OUTPUT_REPORT,
    BROKEN_WIDGET,
    RUN_TIMEOUT,
    SHOTS,
    _Server,
    lab_page,
    need_browser,
)

pytestmark = pytest.mark.browser

LABS = ["05-block-participant", "07-split-no-leader", "04-eventual-only", "02-sequential-not-linearizable",
        "09-shortest-counterexample", "01-did-it-happen", "06-livelock-and-stop"]


def _notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": "from consensus_lab import challenges"}]
    for cid in LABS:
        cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                      "source": f'challenges.lab("{cid}")'})
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                       "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, c in enumerate(nb["cells"]):
        c["id"] = f"cell-{i}"
    path.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_browser()
    root = tmp_path_factory.mktemp("challenge-notebooks")
    _notebook(root / "challenges.ipynb")
    s = _Server(tmp_path_factory.mktemp("jupyterlab"), root_dir=root)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    with lab_page(server, tmp_path_factory.mktemp("chromium-home")) as p:
        yield p


def _click(lab, label: str) -> None:
    lab.get_by_role("button", name=label, exact=True).first.click()


def _wait_status(page, lab, contains: str, timeout: float = 60.0) -> None:
    """Wait until the lab's status line (set after every action) names ``contains``; fail on an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = lab.locator(".cl-status").first.inner_html()
        if "cl-error" in html:
            pytest.fail(f"action failed: {lab.locator('.cl-status').first.inner_text()}")
        if contains in lab.locator(".cl-status").first.inner_text():
            return
        page.wait_for_timeout(100)
    pytest.fail(f"no status {contains!r}; status: {lab.locator('.cl-status').first.inner_text()!r}")


def _act(page, lab, label: str) -> None:
    """Click a button and wait until the lab has finished that action (its status names the button)."""
    marker = lab.locator(".cl-status").first.inner_html()
    _click(lab, label)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = lab.locator(".cl-status").first.inner_html()
        if now != marker and f"<b>{label}</b>" in now:
            break
        page.wait_for_timeout(100)
    _wait_status(page, lab, label)


def _solved(page, lab, timeout: float = 30.0) -> str:
    lab.locator(".cl-solved").first.wait_for(state="visible", timeout=timeout * 1000)
    return lab.locator(".cl-banner").first.inner_text()


def _select(page, lab, css: str, label: str) -> None:
    lab.locator(f"{css} select").first.select_option(label=label)
    page.wait_for_timeout(300)


def test_solve_challenges_by_clicking(page, server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate(_OPEN_AND_RUN, "challenges.ipynb")
    try:
        page.wait_for_function(_FINISHED, timeout=RUN_TIMEOUT * 1000, polling=250)
        assert page.evaluate("() => window.__clRunError") is None
        deadline = time.monotonic() + 60
        while True:
            report = page.evaluate(_OUTPUT_REPORT)
            if report["rendered"] >= report["widgetOutputs"] and not any(b in report["text"] for b in BROKEN_WIDGET):
                break
            assert time.monotonic() < deadline, f"widgets did not render: {report['rendered']}/{report['widgetOutputs']}"
            page.wait_for_timeout(250)
        assert not report["errors"], report["errors"]
        labs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .cl-challenge")
        assert labs.count() == len(LABS)
        hosts = [labs.nth(i).locator("xpath=..") for i in range(len(LABS))]

        # 05: block the participants. Predict, Check too early (a hint, no banner), crash n1, run.
        lab = hosts[0]
        lab.scroll_into_view_if_needed()
        lab.locator(".cl-predict").get_by_text("wait for the coordinator", exact=True).click()
        _click(lab, "Check")
        lab.locator(".cl-hints").get_by_text("hint 1").wait_for(timeout=30_000)
        assert lab.locator(".cl-solved").count() == 0
        assert "the answer is" not in lab.locator(".cl-banner").first.inner_text()
        _select(page, lab, ".cl-node", "n1")
        _act(page, lab, "Crash")
        _select(page, lab, ".cl-amount", "+0.5 s")
        _act(page, lab, "Run")
        banner = _solved(page, lab)
        assert "Solved" in banner and "your prediction was right" in banner
        lab.screenshot(path=str(SHOTS / "challenge-05.png"))

        # 07: split 4 Raft nodes 2 | 2 and wait
        lab = hosts[1]
        lab.scroll_into_view_if_needed()
        _select(page, lab, ".cl-split", "n1,n2 | n3,n4")
        _act(page, lab, "Partition")
        _select(page, lab, ".cl-amount", "+2 s")
        _act(page, lab, "Run")
        assert "no group held a majority" in _solved(page, lab)
        lab.screenshot(path=str(SHOTS / "challenge-07.png"))

        # 04: kill two nodes that share a partition
        lab = hosts[2]
        lab.scroll_into_view_if_needed()
        _act(page, lab, "n1")
        assert lab.locator(".cl-solved").count() == 0  # one node is not enough
        _act(page, lab, "n2")
        assert "eventual store" in _solved(page, lab)

        # 02: write 1 by p0; then p1 reads nil
        lab = hosts[3]
        lab.scroll_into_view_if_needed()
        _act(page, lab, "Invoke")
        _act(page, lab, "Complete")
        _select(page, lab, ".cl-process", "p1")
        _select(page, lab, ".cl-f", "read")
        lab.locator(".cl-value input").first.fill("nil")
        _act(page, lab, "Invoke")
        _act(page, lab, "Complete")
        assert "Solved" in _solved(page, lab)
        lab.screenshot(path=str(SHOTS / "challenge-02.png"))

        # 09: breadth-first search with its progress bar, then step to the violation
        lab = hosts[4]
        lab.scroll_into_view_if_needed()
        _act(page, lab, "Search")
        assert "violation" in lab.locator(".cl-status").first.inner_text()
        _act(page, lab, "Next")
        assert lab.locator(".cl-solved").count() == 0
        _act(page, lab, "Last")
        assert "shortest counterexample" in _solved(page, lab)
        assert lab.locator(".cl-steps li").count() >= 2
        lab.screenshot(path=str(SHOTS / "challenge-09.png"))

        # 01: lose n1's answer to A; B's read shows the write happened
        lab = hosts[5]
        lab.scroll_into_view_if_needed()
        _act(page, lab, "Run")
        assert lab.locator(".cl-solved").count() == 0  # A got its answer
        lab.locator(".cl-lose-reply input").first.check()
        page.wait_for_timeout(300)
        _act(page, lab, "Run")
        assert "A gave up" in _solved(page, lab)
        assert lab.locator(".cl-conclusions tr").count() == 2
        lab.screenshot(path=str(SHOTS / "challenge-01.png"))

        # 06: turn backoff off (the options box), Reset, watch the duel; then silence n2
        lab = hosts[6]
        lab.scroll_into_view_if_needed()
        lab.locator(".cl-options input").first.fill("backoff=off")
        page.wait_for_timeout(300)
        _act(page, lab, "Reset")
        _select(page, lab, ".cl-amount", "+1 s")
        _act(page, lab, "Run")
        assert lab.locator(".cl-solved").count() == 0
        _select(page, lab, ".cl-node", "n2")
        _act(page, lab, "Crash")
        _select(page, lab, ".cl-amount", "+0.5 s")
        _act(page, lab, "Run")
        assert "n2 silenced" in _solved(page, lab)
        lab.screenshot(path=str(SHOTS / "challenge-06.png"))
    finally:
        page.evaluate(_CLOSE)

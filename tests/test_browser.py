"""Every lesson in a real browser, used as a person would use it.

One JupyterLab server (127.0.0.1, a random token, temporary config, data,
runtime, IPython, settings and workspace directories; autosave off; every
cell kept in the page) and one headless Chromium (Debian's ``chromium``,
driven by Playwright) serve every notebook in ``notebooks/``.  For each one
the test runs all cells and checks that:

* no cell shows an error (a traceback), except cells tagged ``raises-exception``
  (as for nbval);
* every widget rendered: no "Loading widget..." or "Error displaying widget"
  left, and as many rendered widgets as widget outputs;
* in each scenario lab, clicking ``Crash``, ``Partition`` and ``Step``
  changes both the picture and the state panel, without an error;
* the notebook file in the checkout is left exactly as it was (and no
  ``.ipynb_checkpoints`` appears beside it).

A screenshot of each notebook (its top) and of each lab after the clicks go
to ``artifacts/screenshots/``.  Select these tests with ``-m browser``, skip
them with ``-m "not browser"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
]
RUN_TIMEOUT = 240.0  # seconds for one notebook's cells
WIDGET_TIMEOUT = 60.0
BROKEN_WIDGET = ("Loading widget...", "Error displaying widget", "Click to show javascript error")

# JupyterLab settings for the test: no autosave, every cell in the DOM, no calls home
SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False,
                                                                         "fetchNews": "false"},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - localhost only
        return r.read()


class _Server:
    def __init__(self, tmp: Path, root_dir: Path = ROOT / "notebooks") -> None:
        self.tmp = tmp
        self.token = secrets.token_hex(24)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        dirs = {name: tmp / name for name in ("config", "data", "runtime", "ipython", "settings", "workspaces",
                                              "checkpoints")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for rel, value in SETTINGS.items():
            path = dirs["settings"] / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        self.runtime = dirs["runtime"]
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            IPYTHONDIR=str(dirs["ipython"]),
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root_dir}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            f"--FileCheckpoints.checkpoint_dir={dirs['checkpoints']}",  # not notebooks/.ipynb_checkpoints
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(tmp / "jupyter.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, cwd=str(root_dir), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                _get(f"{self.base}/api/status?token={self.token}")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer in 90 s:\n{self.log_text()}") from None
                time.sleep(0.3)

    def log_text(self) -> str:
        try:
            return (self.tmp / "jupyter.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        try:  # ask nicely: the server shuts its kernels down
            req = urllib.request.Request(f"{self.base}/api/shutdown?token={self.token}", method="POST")
            urllib.request.urlopen(req, timeout=5).read()  # noqa: S310 - localhost only
            self.proc.wait(timeout=15)
        except Exception:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        _kill_kernels_of(self.runtime)
        self.log.close()


def _kill_kernels_of(runtime: Path) -> None:
    """Kernels run in their own process group: end those started from our runtime directory."""
    marker = str(runtime)
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "kernel" in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def need_browser() -> None:
    """Skip unless Chromium and Playwright are there."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does it)")
    import playwright.sync_api  # noqa: F401 - in the dev extra: missing means a broken set-up


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    need_browser()
    server = _Server(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def lab_page(server: _Server, home: Path):
    """Headless Chromium on JupyterLab at ``server``, the left sidebar collapsed; JS errors in ``page.js_errors``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                 "XDG_CACHE_HOME": str(home / ".cache")},
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            p = context.new_page()
            p.set_default_timeout(60_000)
            errors: list[str] = []
            p.on("pageerror", lambda exc: errors.append(str(exc)))
            p.goto(f"{server.base}/lab?reset&token={server.token}")
            p.wait_for_function("() => window.jupyterapp !== undefined", timeout=90_000)
            p.evaluate("async () => { await window.jupyterapp.restored; window.jupyterapp.shell.collapseLeft(); }")
            p.js_errors = errors  # type: ignore[attr-defined]
            yield p
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(jupyter, tmp_path_factory):
    with lab_page(jupyter, tmp_path_factory.mktemp("chromium-home")) as p:
        yield p


_OPEN_AND_RUN = """
async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.activateById(panel.id);
  window.__clPanel = panel;
  window.__clDone = false;
  window.__clRunError = null;
  // wait for a kernel
  for (let i = 0; i < 600 && !(panel.sessionContext.session && panel.sessionContext.session.kernel); i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  app.commands.execute('notebook:run-all-cells')
    .then(() => { window.__clDone = true; })
    .catch(e => { window.__clRunError = String(e); window.__clDone = true; });
  return panel.id;
}
"""

_FINISHED = """
() => {
  const panel = window.__clPanel;
  if (!window.__clDone || !panel) return false;
  const status = panel.sessionContext.session && panel.sessionContext.session.kernel
    ? panel.sessionContext.session.kernel.status : 'unknown';
  if (status !== 'idle') return false;
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    if (cell.model.executionCount === null) return false;
    if (cell.promptNode && cell.promptNode.textContent.includes('*')) return false;
  }
  return true;
}
"""

_OUTPUT_REPORT = """
() => {
  const panel = window.__clPanel;
  const errors = [];
  let widgetOutputs = 0;
  panel.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    const tags = cell.model.getMetadata('tags') || [];
    const outs = cell.model.outputs.toJSON();
    for (const o of outs) {
      if (o.output_type === 'error' && !tags.includes('raises-exception')) errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr' && String(o.text).includes('Traceback')) {
        errors.push(`cell ${i}: traceback on stderr: ${String(o.text).slice(0, 300)}`);
      }
      if (o.data && o.data['application/vnd.jupyter.widget-view+json']) widgetOutputs += 1;
    }
  });
  const node = panel.content.node;
  let rendered = 0;
  node.querySelectorAll('.jp-OutputArea-output').forEach(el => {
    if (el.querySelector('.jupyter-widgets, .widget-box, .widget-inline-hbox, .widget-html, .widget-button')) rendered += 1;
  });
  const text = node.innerText;
  return {errors, widgetOutputs, rendered, text, labs: node.querySelectorAll('.cl-lab').length};
}
"""

_TO_TOP = """
() => {
  const panel = window.__clPanel;
  panel.content.activeCellIndex = 0;
  panel.content.mode = 'command';
  for (const el of [panel.content.node, ...panel.node.querySelectorAll('.jp-WindowedPanel-outer')]) el.scrollTop = 0;
}
"""

_CLOSE = """
async () => {
  const panel = window.__clPanel;
  if (!panel) return;
  panel.context.model.dirty = false;
  try { await panel.sessionContext.shutdown(); } catch (e) {}
  panel.dispose();
  window.__clPanel = null;
}
"""


def _lab_state(lab) -> tuple[str, str]:
    src = lab.locator(".cl-picture").first.get_attribute("src") or ""
    state = lab.locator(".cl-state").first.inner_html()
    return src, state


def _click_and_wait_for_change(page, lab, label: str, clicks: int = 1) -> None:
    """Click ``label`` (up to ``clicks`` times: one Step may process an event that
    changes no node, such as a dropped message) until picture and state panel change."""
    before = _lab_state(lab)
    for _ in range(clicks):
        lab.get_by_role("button", name=label, exact=True).first.click()
        deadline = time.monotonic() + 30
        changed = False
        while time.monotonic() < deadline:
            now = _lab_state(lab)
            if now[0] != before[0] and now[1] != before[1]:
                changed = True
                break
            if now[0] != before[0]:  # the picture moved on; maybe this event changed no state
                page.wait_for_timeout(300)
                now = _lab_state(lab)
                changed = now[1] != before[1]
                break
            page.wait_for_timeout(100)
        if changed:
            break
    else:
        status = lab.locator(".cl-status").first.inner_text()
        pytest.fail(f"clicking {label} did not change both the picture and the state panel (status: {status!r})")
    status_html = lab.locator(".cl-status").first.inner_html()
    assert "cl-error" not in status_html, f"{label} failed: {lab.locator('.cl-status').first.inner_text()}"


def _partition_with_a_new_split(page, lab) -> None:
    """Click Partition with a split that is not already in force (try the splits on offer in turn)."""
    options = lab.locator(".cl-split select option")
    n = options.count()
    for index in dict.fromkeys([n - 1, 0, n // 2]):
        if n > 1:
            lab.locator(".cl-split select").first.select_option(index=index)
            page.wait_for_timeout(200)
        before = _lab_state(lab)
        lab.get_by_role("button", name="Partition", exact=True).first.click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = _lab_state(lab)
            if now[0] != before[0] and now[1] != before[1]:
                status_html = lab.locator(".cl-status").first.inner_html()
                assert "cl-error" not in status_html, lab.locator(".cl-status").first.inner_text()
                return
            page.wait_for_timeout(100)
    status = lab.locator(".cl-status").first.inner_text()
    pytest.fail(f"clicking Partition did not change both the picture and the state panel (status: {status!r})")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_in_the_browser(page, jupyter, notebook):
    before = notebook.read_bytes()
    checkpoints = notebook.parent / ".ipynb_checkpoints"
    had_checkpoints = checkpoints.exists()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate(_OPEN_AND_RUN, notebook.name)
    try:
        page.wait_for_function(_FINISHED, timeout=RUN_TIMEOUT * 1000, polling=250)
        run_error = page.evaluate("() => window.__clRunError")
        assert run_error is None, f"run-all failed: {run_error}"

        # widgets finish rendering after the cells finish running
        deadline = time.monotonic() + WIDGET_TIMEOUT
        while True:
            report = page.evaluate(_OUTPUT_REPORT)
            broken = [b for b in BROKEN_WIDGET if b in report["text"]]
            if not broken and report["rendered"] >= report["widgetOutputs"]:
                break
            if time.monotonic() > deadline:
                break
            page.wait_for_timeout(250)
        assert not report["errors"], "cells failed:\n" + "\n".join(report["errors"])
        assert not broken, f"widgets did not render: {broken}"
        assert report["rendered"] >= report["widgetOutputs"], (
            f"{report['widgetOutputs']} widget outputs but {report['rendered']} rendered")

        labs = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .cl-lab")
        for i in range(labs.count()):
            lab = labs.nth(i)
            lab.scroll_into_view_if_needed()
            for label in ("Crash", "Partition", "Step"):
                if label == "Partition":
                    _partition_with_a_new_split(page, lab)
                else:
                    _click_and_wait_for_change(page, lab, label, clicks=25 if label == "Step" else 1)
            assert "cl-light" in lab.locator(".cl-lights").first.inner_html()
            page.set_viewport_size({"width": 1400, "height": 2600})  # the whole lab in one picture
            try:
                lab.scroll_into_view_if_needed()
                page.wait_for_timeout(300)
                lab.screenshot(path=str(SHOTS / f"{notebook.stem}-lab{i + 1}.png"))
            finally:
                page.set_viewport_size({"width": 1400, "height": 1000})

        page.evaluate(_TO_TOP)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SHOTS / f"{notebook.stem}.png"))
    finally:
        page.evaluate(_CLOSE)
    assert notebook.read_bytes() == before, f"{notebook.name} was rewritten in the checkout"
    assert had_checkpoints or not checkpoints.exists(), "the test left notebooks/.ipynb_checkpoints behind"

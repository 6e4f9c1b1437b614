"""Helpers of the browser tests: start/stop JupyterLab, open the sidebar, screenshots."""


from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))  # registry_seed, pipeline_seed
from registry_seed import Seeded  # noqa: E402

CHROMIUM = os.environ.get("NBOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
TOKEN = "nbops-ui-test-token"


def chromium_or_fail() -> str:
    """The browser path; a failure under CI, a skip elsewhere, when it is missing."""
    if Path(CHROMIUM).is_file() or shutil.which(CHROMIUM):
        return CHROMIUM
    message = (f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
               "(or set NBOPS_CHROMIUM to its path).")
    if os.environ.get("CI"):
        pytest.fail(message + " CI is set, so the browser tests must run.", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    store_uri: str
    seeded: Seeded
    proc: subprocess.Popen
    gates: dict[str, str] = field(default_factory=dict)  # version -> gate run id

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.store_uri, registry_uri=self.store_uri)


def start_lab(root: Path, env: dict[str, str], timeout: float = 120) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    settings = root.parent / "lab-settings"
    notif = settings / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True, exist_ok=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    full_env = {**os.environ, **env, "JUPYTERLAB_SETTINGS_DIR": str(settings),
                "JUPYTER_CONFIG_DIR": str(root.parent / "jupyter-config")}
    log = open(root.parent / "lab.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root"],
        cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({proc.returncode}); see {log.name}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"jupyter lab did not answer within {timeout} s; see {log.name}")


def stop_lab(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def open_lab(page: Any, lab: Lab, path: str = "lab", reset: bool = True) -> None:
    """Open JupyterLab; ``reset`` starts from the default layout (no sidebar widened before)."""
    page.goto(f"{lab.url}/{path}?token={lab.token}{'&reset' if reset else ''}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)


def open_sidebar(page: Any) -> Any:
    """Show the "Models" panel of the left sidebar (a click on an open tab would close it)."""
    panel = page.locator("#nbops-registry")
    tab = page.locator('.jp-SideBar [data-id="nbops-registry"]')
    tab.wait_for()
    if not panel.is_visible():
        tab.click()
    panel.wait_for(state="visible")
    return panel


def set_theme(lab: Lab, theme: str) -> None:
    """Choose JupyterLab's theme through its settings API (applies on the next page load)."""
    url = f"{lab.url}/lab/api/settings/@jupyterlab/apputils-extension:themes"
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(url, data=body, method="PUT", headers={
        "Authorization": f"token {lab.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status in (200, 204)


CONTRAST_JS = (Path(__file__).parent / "contrast.js").read_text()


def contrasts(locator: Any) -> list[dict[str, Any]]:
    """Contrast ratio of every visible text under ``locator``, worst first (see contrast.js)."""
    return locator.evaluate(CONTRAST_JS)


def outside(panel: Any, selector: str) -> list[str]:
    """The visible elements matching ``selector`` that stick out of ``panel`` sideways."""
    return panel.evaluate("""(root, selector) => {
        const box = root.getBoundingClientRect();
        return Array.from(root.querySelectorAll(selector))
          .filter(e => e.getClientRects().length)
          .filter(e => { const r = e.getBoundingClientRect();
                         return r.left < box.left - 0.5 || r.right > box.right + 0.5; })
          .map(e => (e.textContent || e.getAttribute('class') || '').trim().slice(0, 40));
    }""", selector)


def widen_sidebar(page: Any, width: int = 460) -> None:
    """Drag the left sidebar's splitter so the panel is ``width`` pixels wide."""
    box = page.locator("#jp-left-stack").bounding_box()
    x, y = box["x"] + box["width"] + 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(box["x"] + width, y, steps=5)
    page.mouse.up()


def shot(page_or_locator: Any, name: str) -> Path:
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMAGES / name
    page_or_locator.screenshot(path=str(path))
    return path


def node_places(nodes: Any) -> list[str]:
    """The ``transform`` of each drawn lineage node; they are placed from the server's ``layer``
    and ``order``, so a node without them would be drawn at NaN."""
    places = nodes.evaluate_all("els => els.map(e => e.getAttribute('transform'))")
    assert places and all("NaN" not in p for p in places), places
    assert len(set(places)) == len(places), f"two lineage nodes drawn on one place: {places}"
    return places

"""Registry UI: first page of ``GET /nbops/api/models`` and the sidebar's first paint.

Seeds 1,000 registered models x 10 versions (every model has a ``champion`` alias, every 4th a
monitoring status) into a SQLite store cached under /tmp (seeding takes minutes, once), then:

* server: ``GET /nbops/api/models?max_results=50`` over HTTP to a running JupyterLab (goal
  <= 150 ms), the same call in-process (``RegistryService.list_models``), and MLflow's bare
  ``MlflowClient.search_registered_models(max_results=50)`` for comparison;
* browser: the sidebar's first paint after opening it (``performance.now()`` from the panel's
  show to the rendered list, including the API call), in system Chromium (goal <= 300 ms).

    python benchmarks/bench_ui.py                    # prints one JSON document
    python benchmarks/bench_ui.py --no-browser       # server figures only
    python benchmarks/bench_ui.py --reseed           # rebuild the cached store
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, machine, stats_ms  # noqa: E402

CACHE = Path(os.environ.get("NBOPS_BENCH_UI_CACHE", "/tmp/nbops-bench-ui"))
MODELS, VERSIONS = 1000, 10
TOKEN = "nbops-bench-token"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def seed(db: Path) -> float:
    """Create the store (``MODELS`` x ``VERSIONS``); return the seconds it took."""
    from mlflow import MlflowClient

    from nbops.monitoring.status import set_status

    tmp = db.with_suffix(".partial")
    tmp.unlink(missing_ok=True)
    uri = f"sqlite:///{tmp}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    t0 = time.perf_counter()
    statuses = ("ok", "warning", "drift", "error")
    for i in range(MODELS):
        name = f"model-{i:04d}"
        client.create_registered_model(name, description=f"benchmark model {i}")
        for v in range(VERSIONS):
            client.create_model_version(name, f"/tmp/none/{name}/{v}")
        client.set_registered_model_alias(name, "champion", str(VERSIONS - 1))
        if i % 4 == 0:
            set_status(client, name, str(VERSIONS - 1), statuses[(i // 4) % 4],
                       report_run_id="0" * 32)
    tmp.rename(db)
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(root: Path, uri: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    settings = root / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {**os.environ, "NBOPS_TRACKING_URI": uri,
           "JUPYTERLAB_SETTINGS_DIR": str(root / "lab-settings"),
           "JUPYTER_CONFIG_DIR": str(root / "jupyter-config")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}", "--allow-root"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("jupyter lab did not start within 120 s")


def http_samples(url: str, n: int) -> list[float]:
    req = urllib.request.Request(f"{url}/nbops/api/models?max_results=50",
                                 headers={"Authorization": f"token {TOKEN}"})
    samples = []
    for i in range(n + 3):
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as r:
            body = json.loads(r.read())
        if i >= 3:  # warm-up: first calls open the DB and import MLflow's store
            samples.append(time.perf_counter() - t0)
    assert len(body["models"]) == 50 and body["next_page_token"], "unexpected page"
    return samples


def in_process(uri: str, n: int) -> dict:
    from mlflow import MlflowClient

    from nbops.registry.service import RegistryService

    svc = RegistryService(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for _ in range(3):
        svc.list_models(max_results=50)
        client.search_registered_models(max_results=50)
    ours, bare = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        svc.list_models(max_results=50)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        client.search_registered_models(max_results=50)
        bare.append(time.perf_counter() - t0)
    return {"service_list_models": stats_ms(ours), "mlflow_search_registered_models": stats_ms(bare)}


def first_paints(url: str, n: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("NBOPS_CHROMIUM",
                                                                    "/usr/bin/chromium"),
                                     args=CHROMIUM_ARGS)
        for _ in range(n + 1):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            page = context.new_page()
            page.goto(f"{url}/lab?token={TOKEN}")
            page.wait_for_selector('.jp-SideBar [data-id="nbops-registry"]', timeout=120_000)
            page.wait_for_timeout(500)  # let JupyterLab finish restoring its layout
            if page.locator("#nbops-registry").is_visible():
                page.locator('.jp-SideBar [data-id="filebrowser"]').click()
            page.locator('.jp-SideBar [data-id="nbops-registry"]').click()
            page.wait_for_function(
                "document.querySelector('#nbops-registry').dataset.firstPaintMs", timeout=60_000)
            ms = float(page.locator("#nbops-registry").get_attribute("data-first-paint-ms"))
            out.append(ms / 1000)
            context.close()
        browser.close()
    return out[1:]  # the first page load warms the server's static file cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"registry-{MODELS}x{VERSIONS}.db"
    seeded_s = None
    if args.reseed or not db.is_file():
        db.unlink(missing_ok=True)
        seeded_s = round(seed(db), 1)
    work = Path(tempfile.mkdtemp(prefix="nbops-bench-ui-"))
    copy = work / "mlflow.db"
    shutil.copy(db, copy)
    uri = f"sqlite:///{copy}"
    result: dict = {"benchmark": "registry UI", "machine": machine(),
                    "store": {"models": MODELS, "versions_per_model": VERSIONS,
                              "backend": "sqlite", "seed_seconds": seeded_s, "cache": str(db)},
                    "page_size": 50}
    result["in_process"] = in_process(uri, args.n)
    proc, url = start_lab(work, uri)
    try:
        http = stats_ms(http_samples(url, args.n))
        result["http_get_models_first_page"] = {**http, "goal_ms": 150,
                                                "meets_goal": http["median_ms"] <= 150}
        if not args.no_browser:
            paint = stats_ms(first_paints(url, 5))
            result["sidebar_first_paint"] = {**paint, "goal_ms": 300,
                                             "meets_goal": paint["median_ms"] <= 300}
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(work, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()

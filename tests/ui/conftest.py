"""Real-browser tests: JupyterLab with nbops, a seeded SQLite store, system Chromium.

Run them on their own (pytest-jupyter's event loop breaks Playwright's sync API)::

    apt-get install -y chromium
    .venv/bin/python -m pytest tests/ui -q -p no:cacheprovider

Without Chromium they skip, except when ``CI`` is set: then a missing browser is a failure.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import (  # importing it puts tests/server on sys.path (registry_seed)
    CHROMIUM_ARGS,
    TOKEN,
    Lab,
    chromium_or_fail,
    start_lab,
    stop_lab,
)
from registry_seed import seed_registry

LONG_NAME = "customer-churn-gradient-boosted-classifier-eu-west-production"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a seeded store (models churn/fraud/empty-model, snapshots, drift, gate
    verdicts on churn v2 (promoted) and v3 (rejected))."""
    base = tmp_path_factory.mktemp("ui")
    root = base / "proj"
    (root / ".nbops").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'ui-demo'\n")
    store_uri = f"sqlite:///{root / '.nbops' / 'mlflow.db'}"
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=store_uri, registry_uri=store_uri)
    old = Path.cwd()
    os.chdir(root)  # artifacts and the audit lock live in the project
    try:
        seeded = seed_registry(client, base / "staging")
        client.create_registered_model(LONG_NAME, description="A name longer than the sidebar")
    finally:
        os.chdir(old)
    from gate_seed import seed_gate  # on sys.path once lab_helpers is imported

    gates = seed_gate(root, "churn", {"2": "promoted", "3": "rejected"},
                      env={**os.environ, "NBOPS_TRACKING_URI": store_uri})
    proc, url = start_lab(root, {"NBOPS_TRACKING_URI": store_uri})
    try:
        yield Lab(url=url, token=TOKEN, root=root, store_uri=store_uri, seeded=seeded, proc=proc,
                  gates=gates)
    finally:
        stop_lab(proc)


@pytest.fixture(scope="session")
def down_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab whose tracking server accepts connections and never answers."""
    base = tmp_path_factory.mktemp("ui-down")
    root = base / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'ui-down'\n")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        store_uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc, url = start_lab(root, {"NBOPS_TRACKING_URI": store_uri})
        try:
            yield Lab(url=url, token=TOKEN, root=root, store_uri=store_uri, seeded=None,  # type: ignore[arg-type]
                      proc=proc)
        finally:
            stop_lab(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    path = chromium_or_fail()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # two shared cores: JupyterLab can be slow to settle

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()



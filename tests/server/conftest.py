"""Server-extension tests: a real jupyter_server (pytest-jupyter) with nbops.server enabled,
authentication required, over a seeded per-test MLflow store (the embedded SQLite one, and the
PostgreSQL-backed server: tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - jp_fetch & co. and their hooks
from registry_seed import Seeded, seed_registry


@pytest.fixture()
def store_uri(settings: Any) -> str:
    return settings.tracking_uri


@pytest.fixture()
def jp_server_config(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("NBOPS_TRACKING_URI", store_uri)
    return {"ServerApp": {"jpserver_extensions": {"nbops.server": True},
                          "allow_unauthenticated_access": False}}


@pytest.fixture()
def seeded(client: Any, project: Path) -> Seeded:
    return seed_registry(client, project / "staging")

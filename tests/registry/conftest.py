"""Fixtures shared by the registry tests."""

from __future__ import annotations

import pytest
from registry_helpers import add_version, start_run


@pytest.fixture()
def churn(client, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.setenv("NBOPS_USER", "ada")
    run_id = start_run(client, "train")
    for _ in range(3):
        add_version(client, "churn", run_id)
    return run_id

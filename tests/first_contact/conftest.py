"""The fixture of the first-contact suites: a new project folder with nothing in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from first_contact_support import CLEAN_ENV


@pytest.fixture(autouse=True)
def new_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache folder: no empty-store template from earlier runs."""
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


@pytest.fixture()
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new project folder: a pyproject.toml and nothing else (no store, no spool)."""
    root = tmp_path / "newproj"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'newproj'\n")
    for var in CLEAN_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(root)
    return root

"""Fixtures for pipeline tests: the fixture notebooks copied into the per-test project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline"


@pytest.fixture()
def nbdir(project: Path) -> Path:
    """``<project>/nb`` holding copies of tests/notebooks/pipeline/*.ipynb."""
    dest = project / "nb"
    shutil.copytree(NOTEBOOKS, dest)
    return dest

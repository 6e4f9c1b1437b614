"""Fixtures of the workflow tests (helpers in gate_support.py)."""

from __future__ import annotations

import pytest
from gate_support import Models, register


@pytest.fixture()
def models(tracker) -> Models:
    return register(tracker)

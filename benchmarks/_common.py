"""Helpers shared by the benchmark scripts (not a test: nothing here asserts)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path


def machine() -> dict:
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}


def stats_ms(samples_s: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples_s)
    return {"median_ms": round(statistics.median(ms), 3),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3), "n": len(ms)}


def fresh_project() -> Path:
    """A temp project folder (pyproject.toml) so nbops' embedded store lives in it."""
    root = Path(tempfile.mkdtemp(prefix="nbops-bench-"))
    (root / "pyproject.toml").write_text("[project]\nname = 'bench'\n")
    return root


def emit(result: dict) -> None:
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")

"""Helpers shared by the benchmark scripts (not a test: nothing here asserts)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextmanager
def team_server(keep: Path | None = None) -> Iterator[str]:
    """The team setup: a real ``mlflow server`` (proxied artifacts) on a real PostgreSQL, the
    test suite's own (tests/nbops_test_support.py) with MLflow's default worker count (4), as
    docs/configuration.md starts it (the suite runs one worker); yields its URL. ``keep``: a
    folder where the database and artifacts stay after the run, reused by the next one."""
    sys.path.insert(0, str(ROOT / "tests"))
    from nbops_test_support import MlflowServer, PostgresServer

    folder = keep or Path(tempfile.mkdtemp(prefix="nbops-bench-team-"))
    pg = PostgresServer(root=keep / "pg" if keep else None)
    pg.start()
    server = MlflowServer(folder / "server", backend_store_uri=pg.url, workers=None)
    try:
        server.start(timeout=240)
        yield server.url
    finally:
        server.stop()
        pg.stop()

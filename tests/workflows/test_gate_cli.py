"""``nbops gate`` and ``nbops ct status`` through real subprocesses on a real store."""

from __future__ import annotations

import subprocess
import sys


def _nbops(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbops", *args], cwd=project,
                          capture_output=True, text=True, timeout=300)


def test_gate_cli_rejects_promotes_and_shows_the_history(models, project):
    models.worse.to_csv(project / "worse.csv", index=False)
    models.better.to_parquet(project / "better.parquet")
    criteria = ["--criterion", "accuracy >= champion + 0.1", "-c", "agreement >= 0"]

    rejected = _nbops(project, "gate", "churn", "--data", "worse.csv", "--label-column", "y",
                      *criteria)
    assert rejected.returncode == 1, rejected.stderr
    assert "FAIL  accuracy >= champion + 0.1" in rejected.stdout
    assert "decision: rejected" in rejected.stdout

    usage = _nbops(project, "gate", "churn", "--data", "worse.csv", "--label-column", "y",
                   "--criterion", "accuracy => 0.9")
    assert usage.returncode == 2
    assert "Criterion 'accuracy => 0.9' cannot be read" in usage.stderr

    promoted = _nbops(project, "gate", "churn", "--data", "better.parquet", "--label-column",
                      "y", *criteria)
    assert promoted.returncode == 0, promoted.stderr
    assert "challenger v2 (onnx) vs champion v1 (onnx)" in promoted.stdout
    assert "decision: promoted" in promoted.stdout

    status = _nbops(project, "ct", "status", "churn")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    rows = [line for line in lines if "rejected" in line or "promoted" in line]
    assert [("rejected" in r, "promoted" in r) for r in rows[:2]] == [(True, False),
                                                                     (False, True)]
    assert "challenger=v2" in status.stdout and "champion=v1" in status.stdout

    empty = _nbops(project, "ct", "status", "fraud")
    assert empty.returncode == 0 and "No gate decisions for 'fraud' yet" in empty.stdout

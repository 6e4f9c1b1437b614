"""The public API of nbops.monitoring is pinned, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import nbops.monitoring as mon


def test_exported_members():
    assert mon.__all__ == [
        "ColumnDrift", "DriftResult", "Finding", "MonitorReport", "PerformanceResult", "Profile",
        "Rule", "RuleSet", "Staleness", "Status", "check", "drift", "evaluate", "html_report",
        "load_rules", "performance", "post_alert", "prediction_drift", "profile",
        "set_status", "staleness", "store_reference",
    ]
    for name in mon.__all__:
        assert callable(getattr(mon, name)), name
    import nbops  # nbops.monitor: the library plus the monitoring check (a workflow)

    assert callable(nbops.monitor.run_check) and nbops.monitor.drift is mon.drift


def test_import_does_not_load_heavy_libraries():
    code = ("import sys, nbops.monitoring; "
            "print(sorted(m for m in ('pandas', 'scipy', 'sklearn', 'evidently', 'mlflow') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

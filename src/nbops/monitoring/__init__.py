"""Monitoring core: reference profiles, drift with evidently's verdicts, performance, staleness,
threshold rules that give a status, alerts, and the status tags on a model version.

``import nbops.monitoring`` stays light: heavy libraries load inside the functions.

Example:
    >>> import pandas as pd
    >>> from nbops import monitoring as mon
    >>> ref = mon.profile(pd.DataFrame({"x": [float(i) for i in range(2000)]}))
    >>> res = mon.drift(pd.DataFrame({"x": [float(i) for i in range(2000)]}), ref)
    >>> mon.evaluate(mon.load_rules({"rules": ["drift.share > 0.3 -> drift"]}),
    ...              res.to_metrics()).status
    'ok'
"""

from __future__ import annotations

# Imported eagerly on purpose: several functions share their module's name (profile, drift,
# performance, staleness) and a lazily imported submodule would shadow the function. These
# modules only import numpy at the top; pandas, scipy, scikit-learn, evidently and mlflow are
# imported inside the functions that need them.
from nbops.monitoring.alerts import post_alert
from nbops.monitoring.drift import ColumnDrift, DriftResult, drift, prediction_drift
from nbops.monitoring.model_check import MonitorReport, store_reference
from nbops.monitoring.performance import PerformanceResult, performance
from nbops.monitoring.profile import Profile, profile
from nbops.monitoring.quality import Finding, check
from nbops.monitoring.report import html_report
from nbops.monitoring.rules import Rule, RuleSet, Status, evaluate, load_rules
from nbops.monitoring.staleness import Staleness, staleness
from nbops.monitoring.status import set_status

__all__ = [
    "ColumnDrift",
    "DriftResult",
    "Finding",
    "MonitorReport",
    "PerformanceResult",
    "Profile",
    "Rule",
    "RuleSet",
    "Staleness",
    "Status",
    "check",
    "drift",
    "evaluate",
    "html_report",
    "load_rules",
    "performance",
    "post_alert",
    "prediction_drift",
    "profile",
    "set_status",
    "staleness",
    "store_reference",
]

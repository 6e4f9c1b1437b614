"""Operations that span capabilities, one module each, reading like the steps they run.

Modules: ``gate`` (challenger vs champion on a labelled window and on shadow traffic, then
promote or reject), ``criteria`` (the gate's criterion grammar), ``guard`` (continuous-training
guard rails and history under ``<home>/ct/``), ``trigger`` (whether a schedule's retrain runs
now, from the monitoring status), ``cli`` (``nbops gate`` and ``nbops ct status``).
Importing this package imports neither mlflow, pandas nor torch.
"""

from __future__ import annotations

from nbops.workflows.criteria import Criterion, parse_criteria, parse_criterion
from nbops.workflows.gate import CriterionRow, GateResult, ModelScore, gate

__all__ = [
    "Criterion",
    "CriterionRow",
    "GateResult",
    "ModelScore",
    "gate",
    "parse_criteria",
    "parse_criterion",
]

"""Operations that span capabilities, one module each, reading like the steps they run.

Modules: ``log_model`` (log a torch model from a run, register it, store its monitoring
reference), ``package`` (``nbops.package.onnx``: package, record and register), ``monitor``
(``nbops.monitor.run_check``: the monitoring check of a model version), ``reproduce``
(re-execute a recorded run and compare), ``gate`` (challenger vs champion on a labelled window
and on shadow traffic, then promote or reject), ``criteria`` (the gate's criterion grammar).
``nbops gate`` and ``nbops ct status`` are in :mod:`nbops.cli.workflows`. The guard rails of
continuous training and the retrain trigger of a schedule are in :mod:`nbops.pipeline.guard`
and :mod:`nbops.pipeline.trigger`. Importing this package imports neither mlflow, pandas nor
torch.

Workflows may use every capability (tracking, data, registry, monitoring, packaging, serving,
pipeline, runs); no capability imports a workflow (``lint-imports`` checks it).
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

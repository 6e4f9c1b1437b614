"""The HTML report of a gate run, read-only.

``nbops.gate`` logs its verdict as the artifact ``gate/report.html`` of the gate run and names
that run in the challenger version's tag ``nbops.gate.run``. Only that one artifact is served:
the run id is the only input, so no path reaches the artifact store from the request.
"""

from __future__ import annotations

from nbops.exceptions import NotFoundError
from nbops.server.contract import GateReport
from nbops.server.snapshot import read_text_artifact
from nbops.store import Store

__all__ = ["MAX_BYTES", "REPORT_PATH", "read_gate_report"]

REPORT_PATH = "gate/report.html"  # as nbops.workflows.gate logs it
MAX_BYTES = 5 * 1024 * 1024


def read_gate_report(store: Store, run_id: str) -> GateReport:
    """Download ``gate/report.html`` of ``run_id``; NotFoundError when the run has none."""
    store.run(run_id)  # 404 for an unknown run before touching artifacts
    listed = {f.path for f in store.list_artifacts(run_id, "gate") if not f.is_dir}
    if REPORT_PATH not in listed:
        raise NotFoundError(
            f"Run {run_id} has no gate report ({REPORT_PATH}): it is not a gate run. Open the "
            "run named in the model version's nbops.gate.run tag, or gate the challenger with "
            "`nbops gate MODEL --data WINDOW --label-column COLUMN -c CRITERION` to write one.")
    html = read_text_artifact(store, run_id, REPORT_PATH, MAX_BYTES)
    return GateReport(run_id=run_id, path=REPORT_PATH, html=html)

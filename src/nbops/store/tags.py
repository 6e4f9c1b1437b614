"""Every tag name nbops writes to MLflow (and the MLflow tags it reads), in one place.

Runs, registered models and model versions carry them; the sidebar, lineage, the pipeline
cache and ``nbops reproduce`` read them back. Names ending in ``_PREFIX`` or made by a function
are families (one tag per dataset, per output, per alias move).
"""

from __future__ import annotations

# -- MLflow's own tags -----------------------------------------------------------------------
PARENT_RUN = "mlflow.parentRunId"
RUN_NAME = "mlflow.runName"
USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_BRANCH = "mlflow.source.git.branch"
GIT_REPO_URL = "mlflow.source.git.repoURL"
DATASET_CONTEXT = "mlflow.data.context"  # on a dataset input: training, evaluation, ...

# -- a run: identity and capture -------------------------------------------------------------
RUN_UID = "nbops.run_uid"  # nbops' own id of a run, known before MLflow has created it
VERSION = "nbops.version"
SESSION = "nbops.session"
NOTEBOOK_PATH = "nbops.notebook_path"
CELL_HASH = "nbops.cell_hash"
CELL_ID = "nbops.cell_id"
EXECUTION_COUNT = "nbops.execution_count"
COMMAND = "nbops.command"
END_REASON = "nbops.end_reason"
CAPTURE_ERROR = "nbops.capture_error"
GIT_DIRTY = "nbops.git.dirty"
ENV_DIGEST = "nbops.env.digest"
ENV_PYTHON = "nbops.env.python"
ENV_OS = "nbops.env.os"
ENV_MACHINE = "nbops.env.machine"
ENV_CPU = "nbops.env.cpu"
ENV_CPU_COUNT = "nbops.env.cpu_count"
ENV_EXECUTABLE = "nbops.env.executable"
ENV_TORCH = "nbops.env.torch"
ENV_GPU = "nbops.env.gpu"
ERROR_TYPE = "nbops.error.type"
ERROR_MESSAGE = "nbops.error.message"

# -- a run: data it read and wrote -------------------------------------------------------------
DATASET_PREFIX = "nbops.dataset."  # nbops.dataset.<name>.digest / .context / ...
OUTPUT_DIGEST_PREFIX = "nbops.output_digest."
OUTPUT_KIND_PREFIX = "nbops.output_kind."


def dataset_tag(name: str, field: str) -> str:
    """``nbops.dataset.<name>.<field>`` (field: digest, context, source, ...)."""
    return f"{DATASET_PREFIX}{name}.{field}"


# -- pipelines and schedules -------------------------------------------------------------------
PIPELINE = "nbops.pipeline"
PIPELINE_SPEC = "nbops.pipeline.spec"
PIPELINE_STATUS = "nbops.pipeline.status"
PIPELINE_FAILED_STEPS = "nbops.pipeline.failed_steps"
PIPELINE_EXECUTORS = "nbops.pipeline.executors"
STEP = "nbops.step"
STEP_STATUS = "nbops.step.status"
STEP_ATTEMPTS = "nbops.step.attempts"
CACHE_KEY = "nbops.cache_key"
CACHE_REASON = "nbops.cache_reason"
CACHED_FROM = "nbops.cached_from"
HTML_ERROR = "nbops.html_error"
FAILURE_KIND = "nbops.failure.kind"
FAILURE_ENAME = "nbops.failure.ename"
FAILURE_MESSAGE = "nbops.failure.message"
FAILURE_CELL_INDEX = "nbops.failure.cell_index"
SCHEDULE = "nbops.schedule"
SCHEDULE_REASON = "nbops.schedule.reason"
SCHEDULE_FIRE_TIME = "nbops.schedule.fire_time"
SCHEDULE_WINDOW_START = "nbops.schedule.window_start"

# -- reproduce -------------------------------------------------------------------------------------
REPRODUCES = "nbops.reproduces"
REPRODUCE_STATUS = "nbops.reproduce.status"
REPRODUCE_NEW_RUN = "nbops.reproduce.new_run"
REPRODUCE_EQUAL = "nbops.reproduce.equal"

# -- model versions: where they came from ----------------------------------------------------------
SOURCE_RUN = "nbops.source_run"  # the run that trained the version
MODEL_ID = "nbops.model_id"  # MLflow's logged model behind the version
SOURCE_MODEL = "nbops.source_model"  # on an ONNX package: the torch version it was made from
PACKAGE = "nbops.package"  # "onnx" on an ONNX package
PACKAGE_VARIANT = "nbops.package.variant"
PACKAGE_REASON = "nbops.package.reason"

# -- monitoring ------------------------------------------------------------------------------------
MONITOR_STATUS = "nbops.monitor.status"  # ok / warning / drift, on the version checked
MONITOR_REPORT_RUN = "nbops.monitor.report_run"
MONITOR_CHECKED_AT = "nbops.monitor.checked_at"
MONITOR_MODEL = "nbops.monitor.model"  # on a monitoring run: the version it checked

# -- continuous training ---------------------------------------------------------------------------
GATE_MODEL = "nbops.gate.model"
GATE_RUN = "nbops.gate.run"  # on the challenger version: its latest gate run
GATE_DECISION = "nbops.gate.decision"
GATE_CHAMPION = "nbops.gate.champion"
GATE_CHALLENGER = "nbops.gate.challenger"
TRIGGER_MONITOR = "nbops.trigger.monitor"
TRIGGER_VERSION = "nbops.trigger.version"
TRIGGER_STATUS = "nbops.trigger.status"
TRIGGER_REPORT_RUN = "nbops.trigger.report_run"

# -- the registry's audit trail --------------------------------------------------------------------
AUDIT_PREFIX = "nbops.audit."  # on a registered model: one tag per alias move

"""``nbops reproduce RUN_ID``: re-execute a run's notebook and say whether it came out the same.

The steps, in order:

1. load the run and its captured notebook snapshot (``notebook/<name>.ipynb``; the executed
   history ``notebook/history.ipynb`` when no saved notebook was captured);
2. execute it with papermill, passing the run's params that the notebook declares as
   parameters, under a new run tagged ``nbops.reproduces=<RUN_ID>`` (the notebook's own tracked
   cells become its descendants);
3. find the new run of the same cell (same ``nbops.cell_hash``) and compare every metric
   within the tolerance;
4. report what changed around it: installed packages, git commit and diff, input dataset
   fingerprints.
"""

from __future__ import annotations

import ast
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.exceptions import NotFoundError, UsageError

__all__ = ["MetricCheck", "ReproduceReport", "reproduce"]


@dataclass(frozen=True)
class MetricCheck:
    name: str
    original: float
    reproduced: float | None

    def equal(self, tolerance: float) -> bool:
        if self.reproduced is None:
            return False
        if math.isnan(self.original) and math.isnan(self.reproduced):
            return True
        return math.isclose(self.original, self.reproduced, rel_tol=tolerance,
                            abs_tol=tolerance)


@dataclass
class ReproduceReport:
    """The verdict of :func:`reproduce`; ``equal`` is True when every metric matched."""

    original_run: str
    new_run: str | None
    reproduce_run: str
    tolerance: float
    metrics: list[MetricCheck] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    notebook: str = ""

    @property
    def differing(self) -> list[MetricCheck]:
        return [m for m in self.metrics if not m.equal(self.tolerance)]

    @property
    def equal(self) -> bool:
        return self.new_run is not None and not self.differing

    def to_text(self) -> str:
        lines = [f"reproduced run {self.original_run} as {self.new_run or '(no matching run)'} "
                 f"(from {self.notebook}; tolerance {self.tolerance:g})"]
        if self.equal:
            lines.append(f"metrics: equal ({len(self.metrics)} compared)")
        else:
            lines.append("metrics: DIFFERENT")
        for m in self.metrics:
            mark = "=" if m.equal(self.tolerance) else "≠"
            lines.append(f"  {mark} {m.name}: {m.original:.6g} -> "
                         f"{'missing' if m.reproduced is None else f'{m.reproduced:.6g}'}")
        for title, items in (("environment", self.environment), ("code", self.code),
                             ("data", self.data)):
            lines.append(f"{title}: " + ("unchanged" if not items else f"{len(items)} change(s)"))
            lines.extend(f"  {item}" for item in items[:20])
            if len(items) > 20:
                lines.append(f"  … {len(items) - 20} more")
        return "\n".join(lines)


def reproduce(run_id: str, *, tolerance: float = 1e-6, tracking_uri: str | None = None,
              kernel_name: str | None = None, timeout: float = 600.0) -> ReproduceReport:
    """Re-execute the notebook that produced ``run_id`` and compare the outcome; see module doc.

    >>> report = reproduce("3f2a...", tolerance=1e-4)     # doctest: +SKIP
    >>> report.equal, [m.name for m in report.differing]  # doctest: +SKIP
    """
    import papermill
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from nbops.config import load_settings
    from nbops.tracking.logger import replay
    from nbops.tracking.run import track

    if tolerance < 0:
        raise UsageError(f"--tolerance must be ≥ 0, got {tolerance}.")
    settings = load_settings()
    uri = tracking_uri or settings.tracking_uri
    client = MlflowClient(uri)
    try:
        original = client.get_run(run_id)
    except MlflowException:
        raise NotFoundError(f"No run with id {run_id!r} in {uri}. List runs with `nbops runs "
                            "EXPERIMENT`.") from None
    tags = original.data.tags
    experiment = client.get_experiment(original.info.experiment_id).name

    with tempfile.TemporaryDirectory(prefix="nbops-reproduce-") as tmp:
        snapshot, label = _snapshot(client, original, Path(tmp))
        params = _notebook_params(snapshot, original.data.params)
        origin = Path(tags.get("nbops.notebook_path", ""))
        cwd = origin.parent if origin.name and origin.parent.is_dir() else Path(tmp)
        started = int(time.time() * 1000)
        with track(f"reproduce {original.info.run_name}", experiment=experiment,
                   tags={"nbops.reproduces": run_id}, params=params) as parent:
            parent_id = parent.require_mlflow_id()
            env = {"NBOPS_PARENT_RUN_ID": parent_id, "NBOPS_EXPERIMENT": experiment,
                   "NBOPS_TRACKING_URI": uri, "NBOPS_HOME": str(settings.home)}
            if origin.name:
                env["NBOPS_NOTEBOOK_PATH"] = str(origin)
            with _environ(env):
                papermill.execute_notebook(
                    str(snapshot), str(Path(tmp) / "reproduced.ipynb"), parameters=params,
                    cwd=str(cwd), kernel_name=kernel_name, progress_bar=False,
                    execution_timeout=timeout)
            replay(settings, timeout=60)  # ship whatever the kernel left spooled
            new = _matching_run(client, original, started)
            report = ReproduceReport(run_id, new.info.run_id if new else None, parent_id,
                                     tolerance, notebook=label)
            new_metrics = new.data.metrics if new else {}
            report.metrics = [MetricCheck(k, v, new_metrics.get(k))
                              for k, v in sorted(original.data.metrics.items())]
            if new is not None:
                report.environment = _package_changes(client, original, new)
                report.code = _code_changes(client, original, new)
                report.data = _data_changes(original, new)
            parent.set_tags({"nbops.reproduce.equal": str(report.equal).lower(),
                             "nbops.reproduce.new_run": report.new_run or ""})
            parent.log_text(report.to_text(), "reproduce/report.txt")
        parent.wait(60)
    return report


def _snapshot(client: Any, run: Any, tmp: Path) -> tuple[Path, str]:
    arts = [a.path for a in client.list_artifacts(run.info.run_id, "notebook")]
    saved = [a for a in arts if a.endswith(".ipynb") and not a.endswith("history.ipynb")]
    choice = saved[0] if saved else ("notebook/history.ipynb" if "notebook/history.ipynb" in arts
                                     else None)
    if choice is None:
        raise NotFoundError(
            f"Run {run.info.run_id} has no notebook snapshot (notebook/*.ipynb): it was not "
            "recorded by a %%track cell, or ran with --no-capture notebook. Nothing to re-run.")
    local = client.download_artifacts(run.info.run_id, choice, str(tmp))
    return Path(local), choice


def _notebook_params(snapshot: Path, params: dict[str, str]) -> dict[str, Any]:
    import papermill

    declared = papermill.inspect_notebook(str(snapshot))
    out = {}
    for name in declared:
        if name in params:
            try:
                out[name] = ast.literal_eval(params[name])
            except (ValueError, SyntaxError):
                out[name] = params[name]
    return out


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _matching_run(client: Any, original: Any, since_ms: int) -> Any | None:
    cell_hash = original.data.tags.get("nbops.cell_hash")
    flt = f"attributes.start_time >= {since_ms}"
    flt += f" and tags.`nbops.cell_hash` = '{cell_hash}'" if cell_hash else \
        f" and attributes.run_name = '{original.info.run_name}'"
    runs = client.search_runs([original.info.experiment_id], filter_string=flt,
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def _read_artifact(client: Any, run_id: str, path: str) -> str | None:
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return Path(client.download_artifacts(run_id, path, tmp)).read_text()
    except Exception:  # noqa: BLE001 - a missing artifact means "not captured"
        return None


def _package_changes(client: Any, original: Any, new: Any) -> list[str]:
    if original.data.tags.get("nbops.env.digest") == new.data.tags.get("nbops.env.digest"):
        return []
    before = _read_artifact(client, original.info.run_id, "environment/requirements.txt") or ""
    after = _read_artifact(client, new.info.run_id, "environment/requirements.txt") or ""

    def parse(text: str) -> dict[str, str]:
        return dict(line.split("==", 1) for line in text.splitlines() if "==" in line)

    a, b = parse(before), parse(after)
    changes = [f"{n}: {a[n]} -> {b[n]}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    changes += [f"{n}: removed ({a[n]})" for n in sorted(a.keys() - b.keys())]
    changes += [f"{n}: added ({b[n]})" for n in sorted(b.keys() - a.keys())]
    return changes


def _code_changes(client: Any, original: Any, new: Any) -> list[str]:
    out = []
    key = "mlflow.source.git.commit"
    a, b = original.data.tags.get(key), new.data.tags.get(key)
    if a != b:
        out.append(f"git commit: {a or 'none'} -> {b or 'none'}")
    da = _read_artifact(client, original.info.run_id, "git/diff.patch") or ""
    db = _read_artifact(client, new.info.run_id, "git/diff.patch") or ""
    if da != db:
        out.append("uncommitted changes (git diff) differ")
    if original.data.tags.get("nbops.cell_hash") != new.data.tags.get("nbops.cell_hash"):
        out.append("cell source differs")
    return out


def _data_changes(original: Any, new: Any) -> list[str]:
    def digests(run: Any) -> dict[str, str]:
        return {k[len("nbops.dataset."):-len(".digest")]: v for k, v in run.data.tags.items()
                if k.startswith("nbops.dataset.") and k.endswith(".digest")}

    a, b = digests(original), digests(new)
    out = [f"{n}: {a[n][:12]} -> {b[n][:12]}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    out += [f"{n}: not read any more" for n in sorted(a.keys() - b.keys())]
    out += [f"{n}: newly read" for n in sorted(b.keys() - a.keys())]
    return out

"""``nbops reproduce RUN_ID``: re-execute a run's notebook and say whether it came out the same.

The steps, in order:

1. load the run and the notebook to re-run: for a ``%%track`` run, its captured snapshot
   (``notebook/<name>.ipynb``; the executed history ``notebook/history.ipynb`` when no saved
   notebook was captured); for a pipeline step run (tag ``nbops.step``), the step's executed
   notebook;
2. choose the kernel: ``kernel_name`` when given, else the notebook's kernelspec, else (a
   history notebook has none) the interpreter that recorded the run (tag
   ``nbops.env.executable``); the report says which;
3. execute it with papermill under a new run tagged ``nbops.reproduces=<RUN_ID>``, passing
   the run's params (a ``%%track`` run: those its notebook declares as parameters; a step run:
   all of them, as the pipeline did); the notebook's tracked cells become its descendants;
   registry writes are off unless asked (``register=True``, ``--register``): models the
   notebook logs stay in its runs, unregistered, and no alias moves;
4. pair the runs to compare: the original run (or, for a step run, every run its notebook
   created) with the new run of the same name and cell (``nbops.cell_hash``), and compare
   every metric's whole history (same steps, each value within the tolerance);
5. report what changed around it: installed packages, git commit and diff, input dataset
   fingerprints.

The verdict is ``equal`` (exit code 0), ``different`` (1) or ``nothing to compare`` (3: the
original runs logged no metric, e.g. a step notebook without ``%%track`` cells).
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nbops.exceptions import NotFoundError, PermanentStoreError, UsageError
from nbops.store import Store, open_store
from nbops.store import tags as T

__all__ = ["EXIT_CODES", "MetricCheck", "ReproduceReport", "reproduce"]

#: Exit code of ``nbops reproduce`` for each verdict.
EXIT_CODES = {"equal": 0, "different": 1, "nothing to compare": 3}


@dataclass(frozen=True)
class MetricCheck:
    """One metric of one original run: its whole history, ``[(step, value), ...]``, against
    the reproduced run's (``None`` when the metric or the run is missing)."""

    name: str
    original: tuple[tuple[int, float], ...]
    reproduced: tuple[tuple[int, float], ...] | None
    run: str = ""  # the original run's name

    def equal(self, tolerance: float) -> bool:
        """Same steps, and each value equal within ``tolerance`` (absolute or relative)."""
        if self.reproduced is None or len(self.reproduced) != len(self.original):
            return False
        return all(sa == sb and _close(a, b, tolerance)
                   for (sa, a), (sb, b) in zip(self.original, self.reproduced, strict=True))

    def describe(self, tolerance: float) -> str:
        mark = "=" if self.equal(tolerance) else "≠"
        label = f"{self.run}/{self.name}" if self.run else self.name
        final = f"{self.original[-1][1]:.6g} -> " + (
            "missing" if not self.reproduced else f"{self.reproduced[-1][1]:.6g}")
        points = f" ({len(self.original)} points)" if len(self.original) > 1 else ""
        return f"  {mark} {label}: {final}{points}{self._first_difference(tolerance)}"

    def _first_difference(self, tolerance: float) -> str:
        if self.reproduced is None or self.equal(tolerance):
            return ""
        if len(self.reproduced) != len(self.original):
            return f"; {len(self.reproduced)} points instead of {len(self.original)}"
        for (step, a), (_, b) in zip(self.original, self.reproduced, strict=True):
            if not _close(a, b, tolerance):
                return f"; first differs at step {step}: {a:.6g} -> {b:.6g}"
        return "; logged at other steps"


def _close(a: float, b: float, tolerance: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


@dataclass
class ReproduceReport:
    """The verdict of :func:`reproduce`: ``status`` is ``equal``, ``different`` or
    ``nothing to compare``; ``exit_code`` is 0, 1 or 3 accordingly."""

    original_run: str
    new_run: str | None
    reproduce_run: str
    tolerance: float
    metrics: list[MetricCheck] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    notebook: str = ""
    kernel: str = ""
    compared_runs: int = 0
    unmatched: list[str] = field(default_factory=list)  # original runs with no new twin
    registered: list[str] = field(default_factory=list)  # model versions the re-run created
    registry_writes: bool = False  # whether the re-run could register models and move aliases

    @property
    def differing(self) -> list[MetricCheck]:
        return [m for m in self.metrics if not m.equal(self.tolerance)]

    @property
    def status(self) -> str:
        if not self.metrics:
            return "nothing to compare"
        return "different" if self.differing or self.unmatched else "equal"

    @property
    def equal(self) -> bool:
        return self.status == "equal"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_text(self) -> str:
        lines = [f"reproduced run {self.original_run} as {self.new_run or '(no matching run)'} "
                 f"(from {self.notebook}; tolerance {self.tolerance:g})",
                 f"kernel: {self.kernel}"]
        if self.status == "nothing to compare":
            lines.append("metrics: nothing to compare: the original run logged no metric (a "
                         "step notebook without %%track cells, or a cell that logs none)")
        elif self.equal:
            lines.append(f"metrics: equal ({len(self.metrics)} compared over "
                         f"{self.compared_runs} run(s), whole histories)")
        else:
            lines.append("metrics: DIFFERENT")
        lines.extend(m.describe(self.tolerance) for m in self.metrics)
        lines.extend(f"  ≠ {name}: no reproduced run of this cell" for name in self.unmatched)
        for title, items in (("environment", self.environment), ("code", self.code),
                             ("data", self.data)):
            lines.append(f"{title}: " + ("unchanged" if not items else f"{len(items)} change(s)"))
            lines.extend(f"  {item}" for item in items[:20])
            if len(items) > 20:
                lines.append(f"  … {len(items) - 20} more")
        if not self.registry_writes:
            lines.append("registry: untouched (the re-run logs its models in its runs without "
                         "registering them or moving aliases; --register allows both)")
        elif self.registered:
            lines.append(f"registry: the re-executed notebook registered {len(self.registered)} "
                         f"model version(s): {', '.join(self.registered)}")
        return "\n".join(lines)


def reproduce(run_id: str, *, tolerance: float = 1e-6, tracking_uri: str | None = None,
              kernel_name: str | None = None, timeout: float = 600.0,
              register: bool = False) -> ReproduceReport:
    """Re-execute the notebook that produced ``run_id`` and compare the outcome; see module doc.

    Metric values match when ``|a - b| <= tolerance`` or ``|a - b| <= tolerance * max(|a|,
    |b|)``, at every logged step. The re-executed notebook runs with registry writes off
    (``NBOPS_REGISTRY_WRITES=0``): its models are logged in its runs but no version is
    registered and no alias moves, unless ``register=True``.

    >>> report = reproduce("3f2a...", tolerance=1e-4)     # doctest: +SKIP
    >>> report.status, [m.name for m in report.differing]  # doctest: +SKIP
    """
    import papermill

    from nbops.config import kernel_environment, load_settings
    from nbops.tracking.logger import replay
    from nbops.tracking.run import track

    if tolerance < 0:
        raise UsageError(f"--tolerance must be ≥ 0, got {tolerance}.")
    settings = load_settings()
    uri = tracking_uri or settings.tracking_uri
    store = open_store(settings, tracking_uri=uri)  # the store the run is in

    try:
        original = store.run(run_id)
    except (NotFoundError, PermanentStoreError):  # unknown, or not a run id at all
        raise NotFoundError(f"No run with id {run_id!r} in {uri}. List runs with `nbops runs "
                            "EXPERIMENT`.") from None
    tags = original.data.tags
    experiment = next(e.name for e in store.experiments(deleted=True)
                      if e.experiment_id == original.info.experiment_id)
    is_step = T.STEP in tags
    originals = [r for r in _descendants(store, original) if r.data.metrics] if is_step \
        else [original]

    with tempfile.TemporaryDirectory(prefix="nbops-reproduce-") as tmp:
        snapshot, label = _snapshot(store, original, Path(tmp))
        params = _step_params(original.data.params) if is_step else \
            _notebook_params(snapshot, original.data.params)
        kernel, kernel_note, jupyter_path = _kernel(snapshot, original, kernel_name, Path(tmp))
        origin = Path(tags.get(T.NOTEBOOK_PATH, ""))
        cwd = origin.parent if origin.name and origin.parent.is_dir() else Path(tmp)
        with track(f"reproduce {original.info.run_name}", experiment=experiment,
                   tags={T.REPRODUCES: run_id}, params=params) as parent:
            parent_id = parent.require_mlflow_id()
            env = kernel_environment(replace(settings, tracking_uri=uri), experiment,
                                     parent_run_id=parent_id, registry_writes=register,
                                     notebook=origin if origin.name else None,
                                     jupyter_path=jupyter_path)
            with _environ(env):
                papermill.execute_notebook(
                    str(snapshot), str(Path(tmp) / "reproduced.ipynb"), parameters=params,
                    cwd=str(cwd), kernel_name=kernel, progress_bar=False,
                    execution_timeout=timeout)
            replay(settings, timeout=60)  # ship whatever the kernel left spooled
            reproduced = _descendants(store, store.run(parent_id))
            pairs = _pair(originals, reproduced)
            report = ReproduceReport(run_id, None, parent_id, tolerance, notebook=label,
                                     kernel=kernel_note, registry_writes=register)
            for old, new in pairs:
                report.metrics += _metric_checks(store, old, new, is_step)
            report.unmatched = [old.info.run_name for old, new in pairs
                                if new is None and old.data.metrics]
            report.compared_runs = sum(1 for _, new in pairs if new is not None)
            report.registered = _registered_by(store, reproduced)
            first_new = next((new for _, new in pairs if new is not None), None)
            if first_new is not None:
                report.new_run = first_new.info.run_id
                first_old = pairs[0][0]
                report.environment = _package_changes(store, first_old, first_new)
                report.code = _code_changes(store, first_old, first_new)
                report.data = _data_changes(first_old, first_new)
            parent.set_tags({T.REPRODUCE_STATUS: report.status,
                             T.REPRODUCE_EQUAL: str(report.equal).lower(),
                             T.REPRODUCE_NEW_RUN: report.new_run or ""})
            parent.log_text(report.to_text(), "reproduce/report.txt")
        parent.wait(60)
    return report


def _snapshot(store: Store, run: Any, tmp: Path) -> tuple[Path, str]:
    arts = [a.path for a in store.list_artifacts(run.info.run_id, "notebook")]
    saved = [a for a in arts if a.endswith(".ipynb") and not a.endswith("history.ipynb")]
    choice = saved[0] if saved else ("notebook/history.ipynb" if "notebook/history.ipynb" in arts
                                     else None)
    if choice is None:
        raise NotFoundError(
            f"Run {run.info.run_id} has no notebook snapshot (notebook/*.ipynb): it was not "
            "recorded by a %%track cell or a pipeline step, or ran with --no-capture notebook. "
            "Nothing to re-run.")
    local = store.download_artifacts(run.info.run_id, choice, tmp)
    return Path(local), choice


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _notebook_params(snapshot: Path, params: dict[str, str]) -> dict[str, Any]:
    import papermill

    declared = papermill.inspect_notebook(str(snapshot))
    return {name: _literal(params[name]) for name in declared if name in params}


def _step_params(params: dict[str, str]) -> dict[str, Any]:
    """A step run's params are exactly what the pipeline injected (papermill injects every one,
    declared in the parameters cell or not)."""
    return {name: _literal(value) for name, value in params.items()}


def _kernel(snapshot: Path, run: Any, requested: str | None, tmp: Path
            ) -> tuple[str, str, str | None]:
    """``(kernel name, what the report says about it, a JUPYTER_PATH to add or None)``.

    A notebook without a kernelspec (the executed history of a session) runs on the
    interpreter that recorded the run: an installed kernelspec starting that interpreter, or a
    temporary one written under ``tmp``. The snapshot's metadata is completed so papermill
    knows the kernel and language.
    """
    nb = json.loads(snapshot.read_text(encoding="utf-8"))
    spec = (nb.get("metadata") or {}).get("kernelspec") or {}
    if requested:
        name, note, extra = requested, f"{requested} (as requested)", None
    elif spec.get("name"):
        return spec["name"], f"{spec['name']} (the notebook's kernelspec)", None
    else:
        executable = run.data.tags.get(T.ENV_EXECUTABLE)
        if not executable or not Path(executable).exists():
            raise UsageError(
                f"The notebook of run {run.info.run_id} names no kernel and the run recorded no "
                "usable interpreter (tag nbops.env.executable). Pass kernel_name=... (a name "
                "from `jupyter kernelspec list`).")
        name, extra = _kernelspec_for(Path(executable), tmp)
        note = (f"{name}: the notebook names no kernel, so the interpreter that recorded the "
                f"run is used ({executable})")
    nb.setdefault("metadata", {})["kernelspec"] = {"name": name, "language": "python",
                                                   "display_name": name}
    snapshot.write_text(json.dumps(nb), encoding="utf-8")
    return name, note, extra


def _kernelspec_for(executable: Path, tmp: Path) -> tuple[str, str | None]:
    from jupyter_client.kernelspec import KernelSpecManager

    manager = KernelSpecManager()
    for name in sorted(manager.find_kernel_specs()):
        argv = manager.get_kernel_spec(name).argv
        if argv and _same_file(argv[0], executable):
            return name, None
    folder = tmp / "kernels" / "nbops-reproduce"
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [str(executable), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"reproduce ({executable})", "language": "python"}), encoding="utf-8")
    return "nbops-reproduce", str(tmp)


def _same_file(a: str, b: Path) -> bool:
    try:
        return Path(a).is_absolute() and os.path.samefile(a, b)
    except OSError:
        return False


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


def _descendants(store: Store, run: Any) -> list[Any]:
    """Every run below ``run`` (children, their children, ...), notebook-session runs left
    out, oldest first."""
    found: list[Any] = []
    todo = [run.info.run_id]
    while todo:
        parent = todo.pop()
        children = store.runs([run.info.experiment_id], f"tags.`{T.PARENT_RUN}` = '{parent}'")
        todo.extend(c.info.run_id for c in children)
        found.extend(c for c in children if c.data.tags.get(T.SESSION) != "true")
    return sorted(found, key=lambda r: r.info.start_time)


def _pair(originals: list[Any], reproduced: list[Any]) -> list[tuple[Any, Any | None]]:
    """Each original run with the new run of the same name and cell, in order of start."""
    def key(r: Any) -> tuple[str, str | None]:
        return r.info.run_name, r.data.tags.get(T.CELL_HASH)

    left = list(reproduced)
    pairs = []
    for old in originals:
        match = next((new for new in left if key(new) == key(old)), None)
        if match is not None:
            left.remove(match)
        pairs.append((old, match))
    return pairs


def _metric_checks(store: Store, old: Any, new: Any | None, label: bool) -> list[MetricCheck]:
    def history(run: Any, key: str) -> tuple[tuple[int, float], ...]:
        points = sorted(store.metric_history(run.info.run_id, key),
                        key=lambda m: (m.step, m.timestamp))
        return tuple((m.step, m.value) for m in points)

    checks = []
    for key in sorted(old.data.metrics):
        reproduced = history(new, key) if new is not None and key in new.data.metrics else None
        checks.append(MetricCheck(key, history(old, key), reproduced,
                                  old.info.run_name if label else ""))
    return checks


def _registered_by(store: Store, runs: list[Any]) -> list[str]:
    """``name/version`` of the model versions created from ``runs``."""
    found = []
    for run in runs:
        try:
            versions = store.model_versions(f"run_id = '{run.info.run_id}'")
        except Exception:  # noqa: BLE001 - a store without a registry has none to report
            return found
        found += [f"{v.name}/{v.version}" for v in versions]
    return found


def _read_artifact(store: Store, run_id: str, path: str) -> str | None:
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return Path(store.download_artifacts(run_id, path, tmp)).read_text()
    except Exception:  # noqa: BLE001 - a missing artifact means "not captured"
        return None


def _package_changes(store: Store, original: Any, new: Any) -> list[str]:
    if original.data.tags.get(T.ENV_DIGEST) == new.data.tags.get(T.ENV_DIGEST):
        return []
    before = _read_artifact(store, original.info.run_id, "environment/requirements.txt") or ""
    after = _read_artifact(store, new.info.run_id, "environment/requirements.txt") or ""

    def parse(text: str) -> dict[str, str]:
        return dict(line.split("==", 1) for line in text.splitlines() if "==" in line)

    a, b = parse(before), parse(after)
    changes = [f"{n}: {a[n]} -> {b[n]}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    changes += [f"{n}: removed ({a[n]})" for n in sorted(a.keys() - b.keys())]
    changes += [f"{n}: added ({b[n]})" for n in sorted(b.keys() - a.keys())]
    return changes


def _code_changes(store: Store, original: Any, new: Any) -> list[str]:
    out = []
    key = T.GIT_COMMIT
    a, b = original.data.tags.get(key), new.data.tags.get(key)
    if a != b:
        out.append(f"git commit: {a or 'none'} -> {b or 'none'}")
    da = _read_artifact(store, original.info.run_id, "git/diff.patch") or ""
    db = _read_artifact(store, new.info.run_id, "git/diff.patch") or ""
    if da != db:
        out.append("uncommitted changes (git diff) differ")
    if original.data.tags.get(T.CELL_HASH) != new.data.tags.get(T.CELL_HASH):
        out.append("cell source differs")
    return out


def _data_changes(original: Any, new: Any) -> list[str]:
    def digests(run: Any) -> dict[str, str]:
        return {k[len(T.DATASET_PREFIX):-len(".digest")]: v for k, v in run.data.tags.items()
                if k.startswith(T.DATASET_PREFIX) and k.endswith(".digest")}

    a, b = digests(original), digests(new)
    out = [f"{n}: {a[n][:12]} -> {b[n][:12]}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    out += [f"{n}: not read any more" for n in sorted(a.keys() - b.keys())]
    out += [f"{n}: newly read" for n in sorted(b.keys() - a.keys())]
    return out

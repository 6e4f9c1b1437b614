"""Step cache: skip a step whose inputs are exactly those of an earlier successful run.

The cache key is the sha256 of:

* the notebook's code (cell types, sources and tags: outputs, execution counts and other
  metadata are noise and are left out),
* the resolved parameters (templates filled in),
* the fingerprints (:func:`nbops.data.fingerprint`) of the step's ``inputs`` and of every
  upstream *path* output the step receives as a parameter,
* the kernel name and the environment digest
  (:func:`nbops.tracking.environment.environment_digest` of the installed packages: the same
  digest a run records as ``nbops.env.digest``, and a step run does too).

MLflow is the source of truth: a hit is a FINISHED step run tagged ``nbops.cache_key=<key>`` and
``nbops.step.status=succeeded`` whose declared outputs are all recorded and whose *path*
outputs still hold exactly the content that run wrote: each path output's fingerprint is
recorded as ``nbops.output_digest.<name>`` when the step succeeds, and a cache hit requires
the file or folder to have that fingerprint now. A path overwritten since (by a run with other
parameters, or by hand) is not a hit: the step runs again.

``<home>/pipeline-cache.json`` keeps, for each key this project ran, what that successful run
recorded in MLflow (its run id, outputs and output fingerprints), so a re-run answers its
lookups without opening the store (importing MLflow alone takes about a second). A key missing
there (another machine ran it, against a shared tracking server) is looked up in MLflow. The
file is this project's memory of what it wrote to MLflow: a step run deleted in MLflow
afterwards is still served from it; ``nbops run --force`` runs the steps again.

    >>> key = cache_key(notebook_digest(nb), {"lr": 0.1}, {}, "py3.11:abc", "python3")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbops.store import tags as T
from nbops.tracking.environment import installed_packages_digest

if TYPE_CHECKING:
    from nbops.store import Store

__all__ = [
    "CacheHit",
    "CacheIndex",
    "StepCache",
    "cache_key",
    "find_cached",
    "input_fingerprints",
    "notebook_digest",
    "output_digests",
]


def notebook_digest(nb: Mapping[str, Any]) -> str:
    """sha256 of a notebook's code: cell types, sources and cell tags only."""
    cells = []
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = sorted((cell.get("metadata") or {}).get("tags", []))
        cells.append([cell.get("cell_type"), source, tags])
    return _sha(cells)


def input_fingerprints(paths: Mapping[str, Path]) -> dict[str, str]:
    """``{label: "algorithm:digest"}`` for files/folders (raises PipelineError if one is missing)."""
    from nbops.data import fingerprint
    from nbops.exceptions import PipelineError

    out = {}
    for label, path in sorted(paths.items()):
        if not path.exists():
            raise PipelineError(f"input {label!r} ({path}) does not exist. Create it, fix the "
                                "path in the spec, or remove it from the step's inputs.")
        out[label] = str(fingerprint(path))
    return out


def output_digests(outputs: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{name: "algorithm:digest"}`` of the *path* outputs among ``outputs`` (as recorded by
    :func:`nbops.pipeline.read_outputs`); a path that no longer exists has no digest."""
    from nbops.data import fingerprint

    return {name: str(fingerprint(rec["value"])) for name, rec in sorted(outputs.items())
            if rec.get("kind") == "path" and Path(rec["value"]).exists()}


def cache_key(notebook: str, parameters: Mapping[str, Any], inputs: Mapping[str, str],
              environment: str, kernel: str) -> str:
    """The step's cache key (hex sha256) from its parts."""
    return _sha({"notebook": notebook, "parameters": parameters, "inputs": dict(inputs),
                 "environment": environment, "kernel": kernel})


@dataclass(frozen=True)
class CacheHit:
    """An earlier successful run of the same step with the same key: its MLflow id, or only its
    nbops id (``run_uid``) while that run is still on its way to MLflow."""

    run_id: str | None
    outputs: dict[str, dict[str, Any]]
    run_uid: str | None = None

    @property
    def reason(self) -> str:
        return f"cached: same inputs as run {self.label}"

    @property
    def label(self) -> str:
        """How the run is named to the user: its MLflow id, else its nbops id."""
        return self.run_id or f"{self.run_uid} (nbops id; on its way to MLflow)"


class CacheIndex:
    """``<home>/pipeline-cache.json``: cache key → what the successful run of that key recorded.

    An entry is ``{"run_id", "run_uid", "experiment", "tracking_uri", "outputs", "digests"}``:
    the MLflow run id (None until the run is in MLflow: the step ended before its records were
    shipped) and nbops id of the run, where it lives, the outputs as :func:`find_cached` returns
    them and the path outputs' fingerprints. An entry written by an older nbops is a bare run
    id.
    """

    def __init__(self, home: Path) -> None:
        self.path = home / "pipeline-cache.json"
        self._data: dict[str, Any] | None = None

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._load().get(key)
        if isinstance(entry, str):
            return {"run_id": entry}
        return entry if isinstance(entry, dict) else None

    def put(self, key: str, run_id: str | None, *, experiment: str, tracking_uri: str,
            outputs: Mapping[str, Mapping[str, Any]], digests: Mapping[str, str],
            run_uid: str | None = None) -> None:
        """Remember the successful run of ``key``: its outputs and the fingerprints its path
        outputs had when the step ended (as tagged on the run)."""
        self._data = None  # another pipeline of this project may have written meanwhile
        data = self._load()
        data[key] = {"run_id": run_id, "run_uid": run_uid, "experiment": experiment,
                     "tracking_uri": tracking_uri,
                     "outputs": {k: {"value": v["value"], "kind": v.get("kind", "value")}
                                 for k, v in outputs.items()},
                     "digests": dict(digests)}
        self._write(data)

    def found_in_mlflow(self, key: str, run_id: str) -> None:
        """Note the MLflow id of the run remembered for ``key`` (known once it was shipped)."""
        self._data = None
        data = self._load()
        if isinstance(data.get(key), dict):
            data[key]["run_id"] = run_id
            self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=0), encoding="utf-8")
        os.replace(tmp, self.path)

    def knows(self, key: str, experiment: str, tracking_uri: str) -> bool:
        """Whether this index can answer for ``key`` without MLflow (it remembers a run of
        that key in that experiment of that store)."""
        entry = self.get(key)
        return (entry is not None and "outputs" in entry
                and entry.get("experiment") == experiment
                and entry.get("tracking_uri") == tracking_uri)

    def hit(self, key: str, declared: tuple[str, ...]) -> CacheHit | None:
        """The run remembered for ``key`` (see :meth:`knows`), when it recorded every declared
        output and its path outputs still have the fingerprints it recorded; else None."""
        entry = self.get(key)
        if entry is None:
            return None
        recorded = entry.get("outputs", {})
        if any(name not in recorded for name in declared):
            return None
        found = {name: recorded[name] for name in declared}
        digests = {n: d for n, d in entry.get("digests", {}).items() if n in found}
        if output_digests(found) != digests:
            return None  # a path output is gone or was overwritten since that run
        return CacheHit(run_id=entry.get("run_id"), outputs=found, run_uid=entry.get("run_uid"))

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            try:
                self._data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._data = {}
        return self._data


class StepCache:
    """The cache of one pipeline run: each step's key, and the earlier run that key may reuse.

    This project's index answers without MLflow; a key it never saw is looked up in MLflow
    (runs of other machines on a shared store, or of an older nbops). ``env_digest`` replaces
    the installed packages' digest in the keys (e.g. a container image digest). ``mlflow_id``
    gives the MLflow id of an nbops run id when that run is in MLflow (the tracker's
    :meth:`~nbops.tracking.tracker.Tracker.mlflow_id`): remembered runs are found by nbops id
    when their step ended before their records reached MLflow.
    """

    def __init__(self, settings: Any, experiment: str, env_digest: str | None = None,
                 mlflow_id: Callable[[str], str | None] | None = None) -> None:
        self.settings = settings
        self.experiment = experiment
        self.env_digest = env_digest
        self.mlflow_id = mlflow_id
        self.index = CacheIndex(settings.home)
        self._store: Any = None
        self._experiment_id: str | None = None

    def key(self, step: Any, parameters: Mapping[str, Any], inputs: Mapping[str, Path]) -> str:
        """The cache key of ``step`` run with ``parameters`` on ``inputs``."""
        nb = json.loads(step.notebook.read_text(encoding="utf-8"))
        if self.env_digest is None:
            self.env_digest = installed_packages_digest(self.settings.home)
        return cache_key(notebook_digest(nb), parameters, input_fingerprints(inputs),
                         self.env_digest, step.kernel)

    def lookup(self, step: Any, key: str) -> CacheHit | None:
        """The earlier successful run of ``key`` whose outputs ``step`` can reuse, or None."""
        uri = self.settings.tracking_uri
        if self.index.knows(key, self.experiment, uri):
            hit = self.index.hit(key, step.outputs)
            if hit is not None and hit.run_id is None and hit.run_uid and self.mlflow_id:
                run_id = self.mlflow_id(hit.run_uid)  # shipped since: name it by its MLflow id
                if run_id is not None:
                    self.index.found_in_mlflow(key, run_id)
                    hit = replace(hit, run_id=run_id)
            return hit
        if self._experiment_id is None:  # no experiment yet: no earlier run to reuse
            from nbops.store import open_store

            self._store = open_store(self.settings)
            exp = self._store.experiment(self.experiment)
            self._experiment_id = exp.experiment_id if exp else ""
        if not self._experiment_id:
            return None
        hit = find_cached(self._store, self._experiment_id, key, step.outputs, self.index)
        if hit is not None:  # the next lookup of this key needs no MLflow
            self.remember(key, hit.run_id, hit.outputs, output_digests(hit.outputs))
        return hit

    def remember(self, key: str, run_id: str | None, outputs: Mapping[str, Mapping[str, Any]],
                 digests: Mapping[str, str], run_uid: str | None = None) -> None:
        """Note in this project's index that the run ``run_id`` (MLflow id, None when it is not
        in MLflow yet) / ``run_uid`` (nbops id) succeeded with ``key``."""
        self.index.put(key, run_id, experiment=self.experiment,
                       tracking_uri=self.settings.tracking_uri, outputs=outputs,
                       digests=digests, run_uid=run_uid)


def find_cached(store: Store, experiment_id: str, key: str, outputs: tuple[str, ...],
                index: CacheIndex | None = None) -> CacheHit | None:
    """The newest usable run for ``key`` in the experiment of ``store``, or None.

    A run is usable when it FINISHED as a successful
    step (not itself a cache hit), every declared output has a recorded value, and every path
    output still has the fingerprint recorded by that run (``nbops.output_digest.<name>``).
    """
    candidates = []
    known = index.get(key) if index else None
    if known and known.get("run_id"):
        try:
            candidates.append(store.run(known["run_id"]))
        except Exception:  # noqa: BLE001 - the run was deleted or the store was reset
            pass
    if not candidates:
        candidates = store.runs(  # the 10 newest candidates
            [experiment_id],
            f"tags.`{T.CACHE_KEY}` = '{key}' and tags.`{T.STEP_STATUS}` = 'succeeded' and "
            "attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"], limit=10)
    for run in candidates:
        tags = run.data.tags
        if (run.info.status != "FINISHED" or tags.get(T.CACHE_KEY) != key
                or tags.get(T.STEP_STATUS) != "succeeded" or run.info.lifecycle_stage
                != "active"):
            continue
        found = _outputs_of(tags, outputs)
        if found is not None:
            return CacheHit(run_id=run.info.run_id, outputs=found)
    return None


def _outputs_of(tags: Mapping[str, str], declared: tuple[str, ...]
                ) -> dict[str, dict[str, Any]] | None:
    found = {}
    for name in declared:
        raw = tags.get(f"nbops.output.{name}")
        if raw is None:
            return None
        kind = tags.get(f"nbops.output_kind.{name}", "value")
        found[name] = {"value": json.loads(raw), "kind": kind}
    recorded = {name: tags.get(f"nbops.output_digest.{name}")
                for name, rec in found.items() if rec["kind"] == "path"}
    if recorded and output_digests(found) != recorded:
        return None  # a path output is gone or was overwritten since that run
    return found


def _sha(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0

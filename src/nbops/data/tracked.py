"""Datasets in runs: log a dataset version on the active run, list versions, record file I/O.

    >>> import nbops
    >>> with nbops.track("prep"):                                   # doctest: +SKIP
    ...     fp = nbops.dataset(df, name="customers", source="s3://bucket/customers.parquet")
    >>> [v.version for v in nbops.datasets("customers")]             # doctest: +SKIP
    [1, 2]

A *version* of a named dataset is a distinct digest: the same content is the same version in
every run that uses it, any change makes a new one. Versions are numbered in the order they
were first seen in the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.data.fingerprint import Fingerprint, fingerprint
from nbops.exceptions import NotFoundError
from nbops.store.tags import DATASET_PREFIX, dataset_tag

__all__ = ["DatasetVersion", "dataset", "datasets", "io_recorder", "training_data_for"]

CONTEXTS = ("training", "evaluation", "input", "output")


def dataset(obj: Any, name: str | None = None, source: str | None = None,
            context: str = "training", *, algorithm: str = "xxh3_128") -> Fingerprint:
    """Fingerprint ``obj`` and record it on the active run as a dataset version.

    ``obj``: a pandas DataFrame/Series, numpy array, torch tensor, or a file/folder path.
    ``name`` defaults to the file name for paths and ``<kind>-<digest[:8]>`` otherwise.
    ``context``: ``training`` (default), ``evaluation``, ``input`` or ``output``.
    Raises NoActiveRunError outside a run (use :func:`nbops.data.fingerprint` there).
    """
    from nbops.exceptions import UsageError
    from nbops.tracking.run import active_run

    if context not in CONTEXTS:
        raise UsageError(f"dataset context {context!r} is not one of {', '.join(CONTEXTS)}.")
    run = active_run()
    fp = fingerprint(obj, algorithm=algorithm)
    if name is None:
        name = Path(obj).name if isinstance(obj, str | Path) else f"{fp.kind}-{fp.digest[:8]}"
    if source is None and isinstance(obj, str | Path):
        source = str(Path(obj).resolve())
    run.log_dataset(fp, name, source=source, context=context)
    if context == "training":
        frame = obj if type(obj).__name__ == "DataFrame" else None
        run.tracker.training_data.pop(name, None)
        run.tracker.training_data[name] = (fp, source, frame)
    return fp


def training_data_for(run: Any) -> Any:
    """The training data a model logged from ``run`` was trained on; returns its DataFrame
    (the monitoring reference) or None.

    Datasets the run recorded itself count first. When it recorded none — data loaded in one
    ``%%track`` cell, the model trained and logged in the next — the latest training datasets
    recorded in this process are recorded on ``run`` too, so the lineage reads
    dataset → training run → model version.
    """
    recent = run.tracker.training_data
    own = [name for name, context, _ in run.datasets if context == "training"]
    if not own:
        for name, (fp, source, _) in recent.items():
            run.log_dataset(fp, name, source=source, context="training")
        own = list(recent)
    frames = [recent[name][2] for name in own if name in recent and recent[name][2] is not None]
    return frames[-1] if frames else None


@dataclass(frozen=True)
class DatasetVersion:
    """One version (distinct digest) of a named dataset, as recorded in the store."""

    name: str
    version: int
    digest: str
    kind: str
    rows: int | None
    first_seen: int  # epoch ms of the first run that recorded it
    runs: list[str] = field(default_factory=list)
    schema: str | None = None


def datasets(name: str, tracking_uri: str | None = None) -> list[DatasetVersion]:
    """Every version of the dataset ``name`` recorded in the store, oldest first."""
    from nbops.config import load_settings
    from nbops.store import open_store

    store = open_store(load_settings(), tracking_uri=tracking_uri)
    key = dataset_tag(name, "digest")
    exp_ids = [e.experiment_id for e in store.experiments()]
    runs = store.runs(exp_ids, f"tags.`{key}` LIKE '%'",
                      order_by=["attributes.start_time ASC"]) if exp_ids else []
    if not runs:
        known = _known_dataset_names(store, exp_ids)
        from nbops.exceptions import closest

        raise NotFoundError(f"No dataset named {name!r} in the store.{closest(name, known)}")
    by_digest: dict[str, DatasetVersion] = {}
    for run in runs:
        tags = run.data.tags
        digest = tags[key]
        if digest not in by_digest:
            rows = tags.get(dataset_tag(name, "rows"))
            by_digest[digest] = DatasetVersion(
                name, len(by_digest) + 1, digest, tags.get(dataset_tag(name, "kind"), "?"),
                int(rows) if rows else None, run.info.start_time, [],
                tags.get(dataset_tag(name, "schema")))
        by_digest[digest].runs.append(run.info.run_id)
    return list(by_digest.values())


def _known_dataset_names(store: Any, exp_ids: list[str]) -> set[str]:
    """Dataset names recorded in the newest 500 runs (for a "did you mean" hint)."""
    names: set[str] = set()
    if not exp_ids:
        return names
    for run in store.runs(exp_ids, limit=500):
        for key in run.data.tags:
            if key.startswith(DATASET_PREFIX) and key.endswith(".digest"):
                names.add(key[len(DATASET_PREFIX):-len(".digest")])
    return names


def io_recorder(run: Any) -> Callable[[Any], None]:
    """An ``on_event`` callback for :func:`nbops.data.capture_io` that records each file a
    tracked cell read or wrote as a dataset version of ``run``.

    A file the cell reads is fingerprinted right there, in the read hook, so a cell that later
    overwrites it records what it actually read; files it writes are hashed in the tracking
    worker. Datasets are named by their path relative to the project root (two ``data.csv`` in
    different folders stay apart), or by their absolute path outside it.
    """
    logger = run.tracker.logger
    root = run.tracker.settings.project_root

    def on_event(event: Any) -> None:
        name = _dataset_name(event.path, root)
        context = "input" if event.direction == "input" else "output"
        if event.fingerprint_fn is None:  # a URL: an edge with no content hash
            run.set_tags({f"nbops.dataset.{name}.source": event.path,
                          f"nbops.dataset.{name}.context": context})
            return
        if context == "input":
            run.log_dataset(event.fingerprint(), name, source=event.path, context=context)
            return
        run.dataset_used(name, context)  # ordered now; hashed in the worker below

        def job() -> list[tuple] | None:
            run.log_dataset(event.fingerprint(), name, source=event.path, context=context)
            return None

        logger.submit_job(run.uid, job)

    return on_event


def _dataset_name(path: str, root: Path) -> str:
    """``path`` relative to the project ``root`` when inside it, else as given."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path

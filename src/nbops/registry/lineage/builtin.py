"""The built-in node kinds and relations, registered when ``nbops.registry.lineage`` loads::

    dataset ──input──► run ──output──► dataset
    run ──parent──► run                      (mlflow.parentRunId)
    run ──produced──► model                  (a version's source run / nbops.source_run)
    model ──packaged──► package              (a version tagged nbops.source_model=name/3)
    model ──monitored──► report              (a run tagged nbops.monitor.model=name/3)

A ``package`` is a model version and a ``report`` a run, claimed by their tag with a higher
priority than the base kinds. The finders ask the query's cache, never MLflow directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from nbops.registry.lineage.datasets import DatasetVersion, run_datasets
from nbops.registry.lineage.graph import Node
from nbops.registry.lineage.kinds import (
    Finder,
    NodeKind,
    Relation,
    register_kind,
    register_relation,
)
from nbops.registry.lineage.query import tag_key
from nbops.registry.resolve import quote
from nbops.store import tags as T

if TYPE_CHECKING:
    from nbops.registry.lineage.query import Query
    from nbops.store.types import ModelVersion, Run

__all__ = ["TAG_MONITOR_MODEL", "TAG_PARENT", "TAG_SOURCE_MODEL", "TAG_SOURCE_RUN"]

TAG_SOURCE_MODEL = T.SOURCE_MODEL
TAG_MONITOR_MODEL = T.MONITOR_MODEL
TAG_SOURCE_RUN = T.SOURCE_RUN
TAG_PARENT = T.PARENT_RUN


# -- what a node shows of its entity ----------------------------------------------------------


def _iso(millis: int | None) -> str | None:
    if not millis:
        return None
    from nbops.registry.audit import iso_millis

    return iso_millis(int(millis))


def _run_label(run: Run) -> str:
    return run.info.run_name or run.info.run_id[:8]


def _run_attrs(run: Run, query: Query) -> dict[str, Any]:
    tags = run.data.tags
    attrs = {
        "run_id": run.info.run_id,
        "name": run.info.run_name,
        "experiment_id": run.info.experiment_id,
        "status": run.info.status,
        "start_time": _iso(run.info.start_time),
        "end_time": _iso(run.info.end_time),
        "user": tags.get(T.USER),
        "source": tags.get(T.SOURCE_NAME),
        "git_commit": tags.get(T.GIT_COMMIT),
    }
    if tags.get(T.SESSION) == "true":
        attrs["session"] = True
    return {k: v for k, v in attrs.items() if v is not None}


def _report_attrs(run: Run, query: Query) -> dict[str, Any]:
    attrs = _run_attrs(run, query)
    attrs["model"] = run.data.tags.get(TAG_MONITOR_MODEL)
    status = run.data.tags.get(T.MONITOR_STATUS)
    if status:
        attrs["monitor_status"] = status
    return attrs


def _version_label(mv: ModelVersion) -> str:
    return f"{mv.name}/{mv.version}"


def _version_attrs(mv: ModelVersion, query: Query) -> dict[str, Any]:
    tags = mv.tags
    attrs = {
        "name": mv.name,
        "version": str(mv.version),
        "run_id": mv.run_id or tags.get(TAG_SOURCE_RUN),
        "model_id": getattr(mv, "model_id", None) or tags.get(T.MODEL_ID),
        "status": str(mv.status),
        "aliases": query.aliases(mv.name, str(mv.version)),
        "created_at": _iso(mv.creation_timestamp),
        "monitor_status": tags.get(T.MONITOR_STATUS),
        "source_model": tags.get(TAG_SOURCE_MODEL),
    }
    return {k: v for k, v in attrs.items() if v is not None}


def _dataset_attrs(ds: DatasetVersion, query: Query) -> dict[str, Any]:
    return {"name": ds.name, "digest": ds.digest, **ds.attrs}


def _model_key(node: Node) -> str:
    return f"{node.attrs['name']}/{node.attrs['version']}"


# -- the built-in relations ------------------------------------------------------------------


def _inputs_up(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    runs = q.get_runs(n.attrs["run_id"] for n in nodes)
    for node in nodes:
        run = runs.get(node.attrs["run_id"])
        for ds, context in run_datasets(run) if run else []:
            if context != "output":
                yield node.id, ds


def _dataset_runs(node: Node, q: Query, *, mlflow_inputs: bool) -> list[tuple[Run, str]]:
    """Runs that recorded the dataset version of ``node``, with the context they gave it: by
    nbops tags and, with ``mlflow_inputs``, by MLflow dataset inputs (which never record data
    a run wrote, so finding writers needs only the tags)."""
    name, digest = node.attrs["name"], node.attrs["digest"]
    tagged = f"{tag_key(f'nbops.dataset.{name}.digest')} = {quote(digest)}"
    if mlflow_inputs:
        runs = q.search_runs(tagged) + q.search_runs(
            f"dataset.name = {quote(name)} AND dataset.digest = {quote(digest[:36])}")
    else:  # only the runs that wrote it: their context tag says "output"
        runs = q.search_runs(f"{tagged} AND {tag_key(f'nbops.dataset.{name}.context')} "
                             "LIKE '%output%'")
    found: dict[str, tuple[Run, str]] = {}
    for run in runs:
        for ds, context in run_datasets(run):
            if ds.name == name and (ds.digest == digest or digest.startswith(ds.digest)):
                found.setdefault(run.info.run_id, (run, context))
    return list(found.values())


def _inputs_down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    for node in nodes:
        for run, context in _dataset_runs(node, q, mlflow_inputs=True):
            if context != "output":
                yield node.id, run


def _outputs_down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    runs = q.get_runs(n.attrs["run_id"] for n in nodes)
    for node in nodes:
        run = runs.get(node.attrs["run_id"])
        for ds, context in run_datasets(run) if run else []:
            if context == "output":
                yield node.id, ds


def _outputs_up(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    for node in nodes:
        for run, context in _dataset_runs(node, q, mlflow_inputs=False):
            if context == "output":
                yield node.id, run


def _parent_up(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    runs = q.get_runs(n.attrs["run_id"] for n in nodes)
    parent_of = {n.id: runs[n.attrs["run_id"]].data.tags.get(TAG_PARENT)
                 for n in nodes if n.attrs["run_id"] in runs}
    parents = q.get_runs(p for p in parent_of.values() if p)
    for node_id, parent_id in parent_of.items():
        if parent_id in parents:
            yield node_id, parents[parent_id]


def _parent_down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    for node in nodes:
        for child in q.search_runs(f"{tag_key(TAG_PARENT)} = {quote(node.attrs['run_id'])}"):
            yield node.id, child


def _produced_down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    by_run = {n.attrs["run_id"]: n.id for n in nodes}
    ids = list(by_run)
    for i in range(0, len(ids), 100):
        chunk = ", ".join(quote(r) for r in ids[i:i + 100])
        for mv in q.search_versions(f"run_id IN ({chunk})"):
            yield by_run[mv.run_id], mv


def _produced_up(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
    runs = q.get_runs(n.attrs.get("run_id") for n in nodes)
    for node in nodes:
        run = runs.get(node.attrs.get("run_id", ""))
        if run is not None:
            yield node.id, run


def _tagged_versions(tag: str) -> Finder:
    def down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
        found = q.versions_tagged(tag, (_model_key(n) for n in nodes))
        for node in nodes:
            for mv in found[_model_key(node)]:
                yield node.id, mv

    return down


def _tagged_runs(tag: str) -> Finder:
    def down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
        found = q.runs_tagged(tag, (_model_key(n) for n in nodes))
        for node in nodes:
            for run in found[_model_key(node)]:
                yield node.id, run

    return down


def _tag_to_version(tag: str, *, run_backed: bool) -> Finder:
    def up(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
        if run_backed:
            runs = q.get_runs(n.attrs["run_id"] for n in nodes)
            values = {n.id: runs[n.attrs["run_id"]].data.tags.get(tag)
                      for n in nodes if n.attrs["run_id"] in runs}
        else:
            values = {n.id: q.versions.get((n.attrs["name"], n.attrs["version"])) for n in nodes}
            values = {k: (mv.tags.get(tag) if mv is not None else None)
                      for k, mv in values.items()}
        for node_id, value in values.items():
            if value and "/" in value:
                name, version = value.rsplit("/", 1)
                mv = q.get_version(name, version)
                if mv is not None:
                    yield node_id, mv

    return up


def _has_tag(tag: str) -> Callable[[Any], bool]:
    def claims(entity: Any) -> bool:
        tags = entity.data.tags if hasattr(entity, "data") else entity.tags
        return bool(tags.get(tag))

    return claims


def _builtin() -> None:
    register_kind(NodeKind("dataset", "dataset", lambda e: True,
                           lambda e: f"{e.name}@{e.digest[:10]}", _dataset_attrs,
                           color="#dbeafe"))
    register_kind(NodeKind("run", "run", lambda e: True, _run_label, _run_attrs,
                           color="#e5e7eb"))
    register_kind(NodeKind("model", "model_version", lambda e: True, _version_label,
                           _version_attrs, color="#dcfce7"))
    register_kind(NodeKind("package", "model_version", _has_tag(TAG_SOURCE_MODEL),
                           _version_label, _version_attrs, priority=10, color="#fef3c7"))
    register_kind(NodeKind("report", "run", _has_tag(TAG_MONITOR_MODEL), _run_label,
                           _report_attrs, priority=10, color="#fce7f3"))
    runs = ("run", "report")
    models = ("model", "package")
    register_relation(Relation("input", ("dataset",), runs, _inputs_down, _inputs_up))
    register_relation(Relation("output", runs, ("dataset",), _outputs_down, _outputs_up))
    register_relation(Relation("parent", runs, runs, _parent_down, _parent_up))
    register_relation(Relation("produced", runs, models, _produced_down, _produced_up))
    register_relation(Relation("packaged", models, ("package",),
                               _tagged_versions(TAG_SOURCE_MODEL),
                               _tag_to_version(TAG_SOURCE_MODEL, run_backed=False)))
    register_relation(Relation("monitored", models, ("report",),
                               _tagged_runs(TAG_MONITOR_MODEL),
                               _tag_to_version(TAG_MONITOR_MODEL, run_backed=True)))


_builtin()

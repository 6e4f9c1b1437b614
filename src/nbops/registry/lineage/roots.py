"""Where a lineage query starts: the node a reference names.

``churn``, ``churn@prod``, ``churn/3``, ``models:/churn/3`` name a model version; ``run:<id>`` or
a bare 32-hex id a run; ``dataset:<name>@<digest prefix>`` or a bare digest prefix (4 hex or
more, git-style) a dataset version.
"""

from __future__ import annotations

import re

from nbops.exceptions import NotFoundError, UsageError, closest
from nbops.registry.lineage.datasets import DatasetVersion, run_datasets
from nbops.registry.lineage.graph import Node
from nbops.registry.lineage.kinds import node_of
from nbops.registry.lineage.query import Query, tag_key
from nbops.registry.resolve import quote

__all__ = ["root_node"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX = re.compile(r"^[0-9a-f]{4,}$")  # a digest prefix, git-style: 4 hex or more


def _find_datasets(q: Query, name: str | None, prefix: str) -> list[DatasetVersion]:
    like = quote(f"{prefix[:36]}%")
    if name is not None:
        runs = q.search_runs(f"{tag_key(f'nbops.dataset.{name}.digest')} LIKE "
                             f"{quote(prefix + '%')}")
        runs = runs + q.search_runs(f"dataset.name = {quote(name)} AND dataset.digest LIKE {like}")
    else:
        runs = q.search_runs(f"dataset.digest LIKE {like}")
        if not any(ds.digest.startswith(prefix) for r in runs for ds, _ in run_datasets(r)):
            # Data a run only wrote is recorded as tags, which MLflow cannot search by a
            # wildcard key: look at every run that carries an nbops tag.
            runs = runs + q.search_runs("tags.`nbops.version` LIKE '%'")
    found: dict[tuple[str, str], DatasetVersion] = {}
    for run in runs:
        for ds, _ in run_datasets(run):
            if (name is None or ds.name == name) and (
                    ds.digest.startswith(prefix) or prefix.startswith(ds.digest)):
                found.setdefault((ds.name, ds.digest), ds)
    # an MLflow input whose digest is a prefix of a tagged full digest is the same version
    full = [d for d in found.values()
            if not any(o is not d and o.name == d.name and o.digest.startswith(d.digest)
                       and len(o.digest) > len(d.digest) for o in found.values())]
    return sorted(full, key=lambda d: (d.name, d.digest))


def _dataset_root(q: Query, ref: str, text: str) -> Node:
    name, _, prefix = text.rpartition("@")
    name = name or None
    prefix = prefix.strip().lower()
    if len(prefix) < 4:
        raise UsageError(f"{ref!r}: give at least 4 characters of the dataset digest, e.g. "
                         "'dataset:train@938bd80c'.")
    found = _find_datasets(q, name, prefix)
    if not found:
        where = f" named {name!r}" if name else ""
        raise NotFoundError(
            f"No run recorded a dataset{where} with a digest starting {prefix!r}. Check the "
            "digest with nbops.data.fingerprint(...).digest or `nbops.datasets(name)`.")
    if len(found) > 1:
        listed = ", ".join(f"dataset:{d.name}@{d.digest[:12]}" for d in found[:8])
        raise UsageError(f"{ref!r} matches {len(found)} dataset versions: {listed}. Give more "
                         "digest characters or the name.")
    return node_of(found[0], q)


def _run_root(q: Query, run_id: str) -> Node | None:
    run = q.get_runs([run_id]).get(run_id)
    return node_of(run, q) if run is not None else None


def root_node(q: Query, ref: str) -> Node:
    """The node ``ref`` names: a model version, a run or a dataset version."""
    text = ref.strip()
    if text.startswith("dataset:"):
        return _dataset_root(q, ref, text[len("dataset:"):])
    if text.startswith("run:"):
        node = _run_root(q, text[4:])
        if node is None:
            raise NotFoundError(f"No run with id {text[4:]!r} in the tracking store. Copy the id "
                                "from `mlflow ui` or from run.mlflow_run_id.")
        return node
    if text.startswith("models:/") or "@" in text or "/" in text:
        return node_of(q.resolve_version(text), q)
    if _RUN_ID.match(text):
        node = _run_root(q, text)
        if node is not None:
            return node
    if _HEX.match(text):
        try:
            return _dataset_root(q, ref, text)
        except NotFoundError:
            pass
    names = q.model_names()
    if text in names:
        return node_of(q.resolve_version(text), q)
    raise NotFoundError(
        f"{ref!r} is not a registered model, a run id or a dataset digest in this store."
        f"{closest(text, names)} Use 'name', 'name@alias', 'name/3', 'run:<run id>' or "
        "'dataset:<name>@<digest prefix>'.")

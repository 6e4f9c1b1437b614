"""The lineage graph: dataset versions, runs and model versions, built from MLflow entities.

Node kinds and the relations between them live in two small registries, so other capabilities
add their own (``register_kind`` / ``register_relation``). Built in::

    dataset ──input──► run ──output──► dataset
    run ──parent──► run                      (mlflow.parentRunId)
    run ──produced──► model                  (a version's source run / nbops.source_run)
    model ──packaged──► package              (a version tagged nbops.source_model=name/3)
    model ──monitored──► report              (a run tagged nbops.monitor.model=name/3)

A ``package`` is a model version and a ``report`` a run: a kind *claims* entities (the one with
the highest priority wins), so an entity is one node whatever relation reached it.

Queries walk level by level from the root, upstream against the edges and downstream along
them (never zig-zag), asking MLflow with filtered searches (run ids, tags, dataset digests)
and caching every entity for the duration of one query.

Example:
    >>> from nbops.registry import lineage
    >>> g = lineage("churn@prod", direction="upstream")   # doctest: +SKIP
    >>> [n.id for n in g.nodes_of("dataset")]             # doctest: +SKIP
    ['dataset:train@938bd80cc88b8e2b06b3e64c94f25d17']
    >>> print(g.to_text())                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from nbops.exceptions import NotFoundError, UsageError, closest
from nbops.registry._store import call, client_for, error_code
from nbops.registry.resolve import quote, resolve_version

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

__all__ = [
    "DatasetVersion",
    "Edge",
    "LineageGraph",
    "Node",
    "NodeKind",
    "Query",
    "Relation",
    "lineage",
    "node_kinds",
    "register_kind",
    "register_relation",
    "relations",
]

Direction = Literal["both", "upstream", "downstream"]
DIRECTIONS = ("both", "upstream", "downstream")
SCHEMA = "nbops.lineage/1"
MAX_NODES = 1000

TAG_SOURCE_MODEL = "nbops.source_model"
TAG_MONITOR_MODEL = "nbops.monitor.model"
TAG_SOURCE_RUN = "nbops.source_run"
TAG_PARENT = "mlflow.parentRunId"
_DIGEST_TAG = re.compile(r"^nbops\.dataset\.(.+)\.digest$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX = re.compile(r"^[0-9a-f]{4,}$")  # a digest prefix, git-style: 4 hex or more


# -- graph objects ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A node: ``id`` names the backing entity (``run:<run id>``, ``model:<name>/<version>``,
    ``dataset:<name>@<digest>``), ``kind`` is a registered node kind."""

    id: str
    kind: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "attrs": self.attrs}


@dataclass(frozen=True)
class Edge:
    """``source`` is upstream of ``target`` (data flows source → target)."""

    source: str
    target: str
    relation: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target, "relation": self.relation}


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a named dataset, as runs record it (nbops tags or MLflow inputs)."""

    name: str
    digest: str
    attrs: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class LineageGraph:
    """The result of :func:`lineage`: nodes by id, edges, and the query that built it.

    Renders as text, JSON, Mermaid, Graphviz DOT and SVG; shows as a picture in Jupyter.
    """

    root: str
    direction: str = "both"
    depth: int | None = None
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    truncated: bool = False
    _edge_keys: set[Edge] = field(default_factory=set, repr=False, compare=False)

    def add_node(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> None:
        if edge not in self._edge_keys:
            self._edge_keys.add(edge)
            self.edges.append(edge)

    # -- queries on the built graph ----------------------------------------------------------
    def nodes_of(self, kind: str) -> list[Node]:
        """Nodes of one kind, by id."""
        return sorted((n for n in self.nodes.values() if n.kind == kind), key=lambda n: n.id)

    def parents(self, node_id: str) -> list[Node]:
        """Direct upstream neighbours of ``node_id``."""
        return [self.nodes[e.source] for e in self.edges if e.target == node_id]

    def children(self, node_id: str) -> list[Node]:
        """Direct downstream neighbours of ``node_id``."""
        return [self.nodes[e.target] for e in self.edges if e.source == node_id]

    def upstream(self, node_id: str | None = None) -> list[Node]:
        """Every node ``node_id`` (default: the root) depends on, by id."""
        return self._reach(node_id or self.root, lambda e: (e.target, e.source))

    def downstream(self, node_id: str | None = None) -> list[Node]:
        """Every node that depends on ``node_id`` (default: the root), by id."""
        return self._reach(node_id or self.root, lambda e: (e.source, e.target))

    def _reach(self, start: str, ends: Callable[[Edge], tuple[str, str]]) -> list[Node]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            here = todo.pop()
            for edge in self.edges:
                frm, to = ends(edge)
                if frm == here and to not in seen:
                    seen.add(to)
                    todo.append(to)
        seen.discard(start)
        return sorted((self.nodes[i] for i in seen), key=lambda n: n.id)

    # -- renderers ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema ``nbops.lineage/1``; see docs/lineage.md)."""
        from nbops.registry.render import to_dict

        return to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def to_text(self) -> str:
        from nbops.registry.render import to_text

        return to_text(self)

    def to_mermaid(self) -> str:
        from nbops.registry.render import to_mermaid

        return to_mermaid(self)

    def to_dot(self) -> str:
        from nbops.registry.render import to_dot

        return to_dot(self)

    def to_svg(self) -> str:
        from nbops.registry.render import to_svg

        return to_svg(self)

    def render(self, format: str = "text") -> str:
        """One of ``text``, ``json``, ``mermaid``, ``dot``, ``svg``."""
        renderers = {"text": self.to_text, "json": self.to_json, "mermaid": self.to_mermaid,
                     "dot": self.to_dot, "svg": self.to_svg}
        if format not in renderers:
            raise UsageError(f"Unknown lineage format {format!r}.{closest(format, renderers)} "
                             f"Choose one of {', '.join(renderers)}.")
        return renderers[format]()

    def widget(self) -> Any:
        """This graph as a live notebook widget, drawn from this object (it re-queries only when
        its ref, direction or depth is changed in the widget).

        Displaying the graph itself draws the static SVG, which also survives in saved and
        papermill-executed notebooks, where widget state does not.
        """
        from nbops.widgets import lineage_widget

        kind, _, rest = self.root.partition(":")
        ref = self.root if kind == "dataset" else rest
        data = self.to_dict()
        if isinstance(data.get("nodes"), dict):
            data["nodes"] = list(data["nodes"].values())
        # This very graph (its nodes, labels and depth); changing ref/depth re-queries.
        return lineage_widget(ref, direction=self.direction,
                              depth=self.depth if self.depth is not None else 10, graph=data)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        # Full size, scrolled sideways when wider than the notebook: JupyterLab would otherwise
        # shrink the SVG to the output width and its text with it.
        svg = self.to_svg().replace("<svg ", '<svg style="max-width:none;height:auto" ', 1)
        return f'<div style="overflow-x:auto;max-width:100%">{svg}</div>'

    def __repr__(self) -> str:
        return (f"<LineageGraph root={self.root!r} {len(self.nodes)} nodes, "
                f"{len(self.edges)} edges, direction={self.direction}>")


# -- the registries of node kinds and relations ---------------------------------------------

Entity = Literal["dataset", "run", "model_version"]


@dataclass(frozen=True)
class NodeKind:
    """A kind of node backed by one MLflow entity type.

    Attributes:
        name: the kind (``"package"``); it is the ``kind`` of its nodes.
        entity: ``"dataset"`` (a :class:`DatasetVersion`), ``"run"`` or ``"model_version"``.
        claims: whether an entity of that type is of this kind (e.g. has a tag).
        label: the short text shown in pictures.
        attrs: JSON-ready facts about the entity for the node's ``attrs``.
        priority: among kinds claiming one entity, the highest wins (the base kind has 0).
        color: fill colour in pictures.
    """

    name: str
    entity: Entity
    claims: Callable[[Any], bool]
    label: Callable[[Any], str]
    attrs: Callable[[Any, Query], dict[str, Any]]
    priority: int = 0
    color: str = "#eeeeee"


# A finder gets the frontier nodes of the kinds it serves and returns (frontier node id,
# neighbour entity) pairs: for ``downstream`` the neighbour is downstream of the node.
Finder = Callable[[list[Node], "Query"], Iterable[tuple[str, Any]]]


@dataclass(frozen=True)
class Relation:
    """A kind of edge: ``sources`` kinds are upstream of ``targets`` kinds.

    ``downstream(nodes of a source kind)`` and ``upstream(nodes of a target kind)`` find the
    other ends, in bulk for one level of a query.
    """

    name: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    downstream: Finder
    upstream: Finder


_KINDS: dict[str, NodeKind] = {}
_RELATIONS: dict[str, Relation] = {}


def register_kind(kind: NodeKind, *, replace: bool = False) -> None:
    """Add a node kind (``replace=True`` to redefine one)."""
    if kind.entity not in ("dataset", "run", "model_version"):
        raise UsageError(f"Node kind {kind.name!r}: entity must be 'dataset', 'run' or "
                         f"'model_version'; got {kind.entity!r}.")
    if kind.name in _KINDS and not replace:
        raise UsageError(f"Node kind {kind.name!r} is already registered; pass replace=True to "
                         "redefine it.")
    _KINDS[kind.name] = kind


def register_relation(relation: Relation, *, replace: bool = False) -> None:
    """Add a relation between registered kinds (``replace=True`` to redefine one)."""
    unknown = [k for k in (*relation.sources, *relation.targets) if k not in _KINDS]
    if unknown:
        raise UsageError(f"Relation {relation.name!r} names unknown node kind(s) {unknown}; "
                         f"known: {sorted(_KINDS)}. Register the kinds first.")
    if relation.name in _RELATIONS and not replace:
        raise UsageError(f"Relation {relation.name!r} is already registered; pass replace=True "
                         "to redefine it.")
    _RELATIONS[relation.name] = relation


def node_kinds() -> dict[str, NodeKind]:
    """The registered node kinds by name."""
    return dict(_KINDS)


def relations() -> dict[str, Relation]:
    """The registered relations by name."""
    return dict(_RELATIONS)


# -- one query: MLflow access with a cache ---------------------------------------------------


class Query:
    """MLflow access for one lineage query; every entity is fetched at most once."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client
        self._experiments: list[str] | None = None
        self.runs: dict[str, Run | None] = {}
        self.versions: dict[tuple[str, str], ModelVersion | None] = {}
        self._aliases: dict[str, dict[str, list[str]]] = {}
        self._searches: dict[str, list[Run]] = {}
        self._version_searches: dict[str, list[ModelVersion]] = {}
        self.calls = 0

    # runs
    def experiment_ids(self) -> list[str]:
        if self._experiments is None:
            from mlflow.entities import ViewType

            ids: list[str] = []
            token = None
            while True:
                self.calls += 1
                page = call(self.client, "listing experiments", self.client.search_experiments,
                            view_type=ViewType.ALL, max_results=1000, page_token=token)
                ids.extend(e.experiment_id for e in page)
                token = page.token
                if not token:
                    break
            self._experiments = ids
        return self._experiments

    def search_runs(self, filter_string: str) -> list[Run]:
        """Active runs of every experiment matching ``filter_string`` (cached)."""
        if filter_string not in self._searches:
            found: list[Run] = []
            experiments = self.experiment_ids()
            token = None
            while experiments:
                self.calls += 1
                page = call(self.client, "searching runs", self.client.search_runs,
                            experiments, filter_string=filter_string, max_results=10000,
                            page_token=token)
                found.extend(page)
                token = page.token
                if not token:
                    break
            for run in found:
                self.runs[run.info.run_id] = run
            self._searches[filter_string] = found
        return self._searches[filter_string]

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, Run]:
        """Runs by id (missing ids left out), fetched in bulk."""
        wanted = list(dict.fromkeys(i for i in run_ids if i))
        missing = [i for i in wanted if i not in self.runs]
        if len(missing) == 1:
            self.runs[missing[0]] = self._get_run(missing[0])
        elif missing:
            for i in range(0, len(missing), 100):
                chunk = missing[i:i + 100]
                ids = ", ".join(quote(r) for r in chunk)
                self.search_runs(f"attributes.run_id IN ({ids})")
                for run_id in chunk:
                    self.runs.setdefault(run_id, None)
        return {i: r for i in wanted if (r := self.runs.get(i)) is not None}

    def _get_run(self, run_id: str) -> Run | None:
        from mlflow.exceptions import MlflowException

        self.calls += 1
        try:
            return call(self.client, f"reading run {run_id}", self.client.get_run, run_id)
        except MlflowException as exc:
            if error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    # model versions
    def search_versions(self, filter_string: str) -> list[ModelVersion]:
        if filter_string not in self._version_searches:
            found: list[ModelVersion] = []
            token = None
            while True:
                self.calls += 1
                page = call(self.client, "searching model versions",
                            self.client.search_model_versions, filter_string,
                            max_results=10000, page_token=token)
                found.extend(page)
                token = page.token
                if not token:
                    break
            for mv in found:
                self.versions[(mv.name, str(mv.version))] = mv
            self._version_searches[filter_string] = found
        return self._version_searches[filter_string]

    def get_version(self, name: str, version: str) -> ModelVersion | None:
        key = (name, str(version))
        if key not in self.versions:
            from mlflow.exceptions import MlflowException

            self.calls += 1
            try:
                self.versions[key] = call(self.client, f"reading {name}/{version}",
                                          self.client.get_model_version, name, str(version))
            except MlflowException as exc:
                if error_code(exc) not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                    raise
                self.versions[key] = None
        return self.versions[key]

    def aliases(self, name: str, version: str) -> list[str]:
        """Aliases of ``name/version`` (one registered-model read per model name)."""
        if name not in self._aliases:
            from mlflow.exceptions import MlflowException

            by_version: dict[str, list[str]] = {}
            self.calls += 1
            try:
                model = call(self.client, f"reading model {name}",
                             self.client.get_registered_model, name)
                for alias, v in model.aliases.items():
                    by_version.setdefault(str(v), []).append(str(alias))
            except MlflowException:  # no such model (an outage raised StoreUnavailableError)
                pass
            self._aliases[name] = by_version
        return sorted(self._aliases[name].get(str(version), []))

    # nodes
    def node(self, entity: Any) -> Node:
        """The node of an entity, of the highest-priority kind that claims it."""
        if isinstance(entity, DatasetVersion):
            entity_type, node_id = "dataset", f"dataset:{entity.name}@{entity.digest}"
        elif hasattr(entity, "info"):
            entity_type, node_id = "run", f"run:{entity.info.run_id}"
            self.runs.setdefault(entity.info.run_id, entity)
        else:
            entity_type, node_id = "model_version", f"model:{entity.name}/{entity.version}"
            self.versions.setdefault((entity.name, str(entity.version)), entity)
        kinds = [k for k in _KINDS.values() if k.entity == entity_type and k.claims(entity)]
        if not kinds:
            raise UsageError(f"No registered node kind claims {node_id}; register one for "
                             f"entity {entity_type!r}.")
        kind = max(kinds, key=lambda k: k.priority)
        return Node(node_id, kind.name, kind.label(entity), kind.attrs(entity, self))


# -- entity helpers shared by the built-in kinds ---------------------------------------------


def _iso(millis: int | None) -> str | None:
    if not millis:
        return None
    from nbops.registry.audit import iso_millis

    return iso_millis(int(millis))


def run_datasets(run: Run) -> list[tuple[DatasetVersion, str]]:
    """(dataset version, context) pairs a run recorded: ``nbops.dataset.<name>.*`` tags (full
    digest; context ``output`` for data it wrote) and MLflow dataset inputs (merged with the
    tags when the name matches and the digest is a prefix)."""
    tags = run.data.tags
    found: dict[str, tuple[DatasetVersion, str]] = {}
    extra_contexts: list[tuple[DatasetVersion, str]] = []
    for key, digest in tags.items():
        match = _DIGEST_TAG.match(key)
        if not match:
            continue
        name = match.group(1)
        prefix = f"nbops.dataset.{name}."
        attrs = {k[len(prefix):]: v for k, v in tags.items()
                 if k.startswith(prefix) and k[len(prefix):] in
                 ("algorithm", "kind", "rows", "size_bytes", "source")}
        contexts = tags.get(prefix + "context", "input").split(",")
        found[name] = (DatasetVersion(name, digest, attrs), contexts[0])
        for later in contexts[1:]:  # written then read back in one run: both edges
            extra_contexts.append((DatasetVersion(name, digest, attrs), later))
    inputs = run.inputs.dataset_inputs if run.inputs is not None else []
    extra: list[tuple[DatasetVersion, str]] = []
    for item in inputs:
        ds = item.dataset
        context = next((t.value for t in item.tags if t.key == "mlflow.data.context"), "input")
        known = found.get(ds.name)
        if known is not None and known[0].digest.startswith(ds.digest):
            known[0].attrs.setdefault("source", ds.source)
            continue
        extra.append((DatasetVersion(ds.name, ds.digest, {"source": ds.source,
                                                           "source_type": ds.source_type}),
                      context))
    return [*found.values(), *extra_contexts, *extra]


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
        "user": tags.get("mlflow.user"),
        "source": tags.get("mlflow.source.name"),
        "git_commit": tags.get("mlflow.source.git.commit"),
    }
    if tags.get("nbops.session") == "true":
        attrs["session"] = True
    return {k: v for k, v in attrs.items() if v is not None}


def _report_attrs(run: Run, query: Query) -> dict[str, Any]:
    attrs = _run_attrs(run, query)
    attrs["model"] = run.data.tags.get(TAG_MONITOR_MODEL)
    status = run.data.tags.get("nbops.monitor.status")
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
        "model_id": getattr(mv, "model_id", None) or tags.get("nbops.model_id"),
        "status": str(mv.status),
        "aliases": query.aliases(mv.name, str(mv.version)),
        "created_at": _iso(mv.creation_timestamp),
        "monitor_status": tags.get("nbops.monitor.status"),
        "source_model": tags.get(TAG_SOURCE_MODEL),
    }
    return {k: v for k, v in attrs.items() if v is not None}


def _dataset_attrs(ds: DatasetVersion, query: Query) -> dict[str, Any]:
    return {"name": ds.name, "digest": ds.digest, **ds.attrs}


def _model_key(node: Node) -> str:
    return f"{node.attrs['name']}/{node.attrs['version']}"


def _tag_key(key: str) -> str:
    return f"tags.`{key}`"


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
    runs = q.search_runs(f"{_tag_key(f'nbops.dataset.{name}.digest')} = {quote(digest)}")
    if mlflow_inputs:
        runs = runs + q.search_runs(
            f"dataset.name = {quote(name)} AND dataset.digest = {quote(digest[:36])}")
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
        for child in q.search_runs(f"{_tag_key(TAG_PARENT)} = {quote(node.attrs['run_id'])}"):
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
        for node in nodes:
            for mv in q.search_versions(f"{_tag_key(tag)} = {quote(_model_key(node))}"):
                yield node.id, mv

    return down


def _tagged_runs(tag: str) -> Finder:
    def down(nodes: list[Node], q: Query) -> Iterable[tuple[str, Any]]:
        for node in nodes:
            for run in q.search_runs(f"{_tag_key(tag)} = {quote(_model_key(node))}"):
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


# -- resolving the root -----------------------------------------------------------------------


def _find_datasets(q: Query, name: str | None, prefix: str) -> list[DatasetVersion]:
    like = quote(f"{prefix[:36]}%")
    if name is not None:
        runs = q.search_runs(f"{_tag_key(f'nbops.dataset.{name}.digest')} LIKE "
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
    return q.node(found[0])


def _run_root(q: Query, run_id: str) -> Node | None:
    run = q.get_runs([run_id]).get(run_id)
    return q.node(run) if run is not None else None


def _root(q: Query, ref: str) -> Node:
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
        return q.node(resolve_version(text, client=q.client))
    if _RUN_ID.match(text):
        node = _run_root(q, text)
        if node is not None:
            return node
    if _HEX.match(text):
        try:
            return _dataset_root(q, ref, text)
        except NotFoundError:
            pass
    from nbops.registry.resolve import model_names

    names = model_names(q.client)
    if text in names:
        return q.node(resolve_version(text, client=q.client))
    raise NotFoundError(
        f"{ref!r} is not a registered model, a run id or a dataset digest in this store."
        f"{closest(text, names)} Use 'name', 'name@alias', 'name/3', 'run:<run id>' or "
        "'dataset:<name>@<digest prefix>'.")


# -- the query --------------------------------------------------------------------------------


def lineage(
    ref: str,
    direction: Direction = "both",
    depth: int | None = None,
    *,
    client: MlflowClient | None = None,
    max_nodes: int = MAX_NODES,
) -> LineageGraph:
    """The lineage graph around a model version, a run or a dataset version.

    ``ref``: a model (``churn``, ``churn@prod``, ``churn/3``, ``models:/churn/3``), a run id
    (``run:<id>`` or the bare 32-hex id), or a dataset version (``dataset:<name>@<digest
    prefix>`` or a bare digest prefix). ``direction``: ``upstream`` (what it came from),
    ``downstream`` (what came from it) or ``both``. ``depth``: hops from the root (None: all).

    Example:
        >>> g = lineage("churn/3", direction="upstream")   # doctest: +SKIP
        >>> g.to_json()                                     # doctest: +SKIP
    """
    if direction not in DIRECTIONS:
        raise UsageError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}."
                         f"{closest(str(direction), DIRECTIONS)}")
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise UsageError(f"depth must be a whole number of hops (0 or more) or None; got "
                         f"{depth!r}.")
    query = Query(client_for(client))
    root = _root(query, ref)
    graph = LineageGraph(root=root.id, direction=direction, depth=depth)
    graph.add_node(root)
    if direction in ("both", "upstream"):
        _walk(query, graph, root, upstream=True, depth=depth, max_nodes=max_nodes)
    if direction in ("both", "downstream"):
        _walk(query, graph, root, upstream=False, depth=depth, max_nodes=max_nodes)
    return graph


def _walk(query: Query, graph: LineageGraph, root: Node, *, upstream: bool, depth: int | None,
          max_nodes: int) -> None:
    seen = {root.id}
    frontier = [root]
    level = 0
    while frontier and (depth is None or level < depth):
        nxt: list[Node] = []
        for relation in _RELATIONS.values():
            serves = relation.targets if upstream else relation.sources
            nodes = [n for n in frontier if n.kind in serves]
            if not nodes:
                continue
            finder = relation.upstream if upstream else relation.downstream
            for node_id, entity in finder(nodes, query):
                other = query.node(entity)
                if other.id not in graph.nodes and len(graph.nodes) >= max_nodes:
                    graph.truncated = True
                    continue
                graph.add_node(other)
                graph.add_edge(Edge(other.id, node_id, relation.name) if upstream
                               else Edge(node_id, other.id, relation.name))
                if other.id not in seen:
                    seen.add(other.id)
                    nxt.append(other)
        frontier = nxt
        level += 1

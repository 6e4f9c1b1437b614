"""The lineage graph: dataset versions, runs and model versions, built from MLflow entities.

Node kinds and the relations between them live in two small registries, so other capabilities
add their own (``register_kind`` / ``register_relation``); the built-in ones are in
:mod:`~nbops.registry.lineage.builtin`::

    dataset ──input──► run ──output──► dataset
    run ──parent──► run                      (mlflow.parentRunId)
    run ──produced──► model                  (a version's source run / nbops.source_run)
    model ──packaged──► package              (a version tagged nbops.source_model=name/3)
    model ──monitored──► report              (a run tagged nbops.monitor.model=name/3)

Modules, each one concern: ``graph`` (nodes, edges, the built graph), ``kinds`` (the two
registries), ``datasets`` (dataset versions in a run's tags and inputs), ``query`` (every MLflow
read of a query, cached; the only module here that talks to MLflow), ``builtin`` (the kinds and
relations above), ``roots`` (the node a reference names) and ``walk`` (:func:`lineage`).

Example:
    >>> from nbops.registry import lineage
    >>> g = lineage("churn@prod", direction="upstream")   # doctest: +SKIP
    >>> [n.id for n in g.nodes_of("dataset")]             # doctest: +SKIP
    ['dataset:train@938bd80cc88b8e2b06b3e64c94f25d17']
    >>> print(g.to_text())                                 # doctest: +SKIP
"""

from __future__ import annotations

from nbops.registry.lineage import builtin as _builtin  # registers the built-in kinds
from nbops.registry.lineage.datasets import DatasetVersion, run_datasets
from nbops.registry.lineage.graph import Edge, LineageGraph, Node
from nbops.registry.lineage.kinds import (
    _KINDS as _KINDS,  # the registries themselves (tests restore them)
)
from nbops.registry.lineage.kinds import (
    _RELATIONS as _RELATIONS,
)
from nbops.registry.lineage.kinds import (
    NodeKind,
    Relation,
    node_kinds,
    register_kind,
    register_relation,
    relations,
)
from nbops.registry.lineage.query import Query
from nbops.registry.lineage.render import SCHEMA
from nbops.registry.lineage.walk import DIRECTIONS, MAX_NODES, Direction, lineage

__all__ = [
    "DIRECTIONS",
    "MAX_NODES",
    "SCHEMA",
    "DatasetVersion",
    "Direction",
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
    "run_datasets",
]

del _builtin

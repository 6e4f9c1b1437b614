"""Models, the registry, the alias audit trail and the lineage graph.

    >>> from nbops import registry                                        # doctest: +SKIP
    >>> with nbops.track("train"):                                        # doctest: +SKIP
    ...     ref = nbops.log_model(net, "churn", input_example=x)
    >>> registry.set_alias("churn", "prod", ref.version, reason="beats v2")  # doctest: +SKIP
    >>> registry.lineage("churn@prod")                                    # doctest: +SKIP

Modules: ``models`` (log_model), ``resolve`` (model references), ``api`` (models, versions,
aliases, tags), ``audit`` (the audit record format), ``lineage`` (graph, node kinds, queries),
``render`` (text / JSON / Mermaid / DOT / SVG), ``service`` (what the sidebar and the widgets
read and write); the commands are in :mod:`nbops.cli.registry`. Importing this package imports
neither mlflow nor torch. The registry browser widget is ``nbops.widgets.registry_browser()``.
"""

from __future__ import annotations

from nbops.registry.api import (
    delete_alias,
    delete_tag,
    history,
    list_models,
    rollback,
    set_alias,
    set_description,
    set_tag,
    versions,
)
from nbops.registry.audit import AuditRecord
from nbops.registry.info import ModelInfo, Page, VersionInfo
from nbops.registry.lineage import (
    Edge,
    LineageGraph,
    Node,
    NodeKind,
    Relation,
    lineage,
    register_kind,
    register_relation,
)
from nbops.registry.models import ModelRef
from nbops.registry.resolve import ModelSpec, parse_ref, resolve

__all__ = [
    "AuditRecord",
    "Edge",
    "LineageGraph",
    "ModelInfo",
    "ModelRef",
    "ModelSpec",
    "Node",
    "NodeKind",
    "Page",
    "Relation",
    "VersionInfo",
    "delete_alias",
    "delete_tag",
    "history",
    "lineage",
    "list_models",
    "parse_ref",
    "register_kind",
    "register_relation",
    "resolve",
    "rollback",
    "set_alias",
    "set_description",
    "set_tag",
    "versions",
]

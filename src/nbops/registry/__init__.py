"""Models, the registry, the alias audit trail and the lineage graph.

    >>> from nbops import registry                                        # doctest: +SKIP
    >>> with nbops.track("train"):                                        # doctest: +SKIP
    ...     ref = registry.log_model(net, "churn", input_example=x)
    >>> registry.set_alias("churn", "prod", ref.version, reason="beats v2")  # doctest: +SKIP
    >>> registry.lineage("churn@prod")                                    # doctest: +SKIP

Modules: ``models`` (log_model), ``resolve`` (model references), ``api`` (models, versions,
aliases, tags), ``audit`` (the audit record format), ``lineage`` (graph, node kinds, queries),
``render`` (text / JSON / Mermaid / DOT / SVG), ``cli`` (``nbops registry`` / ``nbops lineage``).
Importing this package imports neither mlflow nor torch. ``nbops.registry()`` (calling the
package) shows the registry browser widget in a notebook.
"""

from __future__ import annotations

import sys
import types
from typing import Any

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
from nbops.registry.models import ModelRef, log_model
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
    "log_model",
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


class _RegistryModule(types.ModuleType):
    """``nbops.registry`` is this package, and calling it shows the registry browser widget."""

    def __call__(self, search: str | None = None) -> Any:
        """``nbops.registry()``: the model registry browser, inside a notebook."""
        from nbops.widgets import registry_browser

        return registry_browser(search) if search is not None else registry_browser()


sys.modules[__name__].__class__ = _RegistryModule

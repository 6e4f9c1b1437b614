"""Node kinds and relations: the two registries a lineage query walks.

A node kind is backed by one MLflow entity type and *claims* entities (the highest priority
wins, so an entity is one node whatever relation reached it); a relation names the kinds it
joins and finds the other ends of a level of nodes, in bulk. Other capabilities add their own::

    >>> from nbops.registry.lineage import NodeKind, register_kind     # doctest: +SKIP
    >>> register_kind(NodeKind("approval", "run", lambda r: "approved_by" in r.data.tags,
    ...                        lambda r: r.info.run_name, lambda r, q: {}, priority=20))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from nbops.exceptions import UsageError
from nbops.registry.lineage.datasets import DatasetVersion
from nbops.registry.lineage.graph import Node
from nbops.registry.lineage.palette import COLORS

if TYPE_CHECKING:
    from nbops.registry.lineage.query import Query

__all__ = ["Finder", "NodeKind", "Relation", "node_kinds", "node_of", "register_kind",
           "register_relation", "relations"]

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
    COLORS[kind.name] = kind.color


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


def node_of(entity: Any, query: Query) -> Node:
    """The node of an entity, of the highest-priority kind that claims it."""
    if isinstance(entity, DatasetVersion):
        entity_type, node_id = "dataset", f"dataset:{entity.name}@{entity.digest}"
    elif hasattr(entity, "info"):
        entity_type, node_id = "run", f"run:{entity.info.run_id}"
        query.remember(entity)
    else:
        entity_type, node_id = "model_version", f"model:{entity.name}/{entity.version}"
        query.remember(entity)
    kinds = [k for k in _KINDS.values() if k.entity == entity_type and k.claims(entity)]
    if not kinds:
        raise UsageError(f"No registered node kind claims {node_id}; register one for "
                         f"entity {entity_type!r}.")
    kind = max(kinds, key=lambda k: k.priority)
    return Node(node_id, kind.name, kind.label(entity), kind.attrs(entity, query))

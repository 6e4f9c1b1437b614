"""The lineage query: from the root, level by level, upstream and downstream.

Queries walk upstream against the edges and downstream along them (never zig-zag), one level
at a time: each relation finds the other ends of all frontier nodes of its kinds in bulk, and
the :class:`~nbops.registry.lineage.query.Query` caches every entity for the whole walk. The
aliases of the model versions found are read last, for all their models at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from nbops.exceptions import UsageError, closest
from nbops.registry.lineage.graph import Edge, LineageGraph, Node
from nbops.registry.lineage.kinds import node_of, relations
from nbops.registry.lineage.query import Query
from nbops.registry.lineage.roots import root_node

if TYPE_CHECKING:
    from nbops.store import Store

__all__ = ["DIRECTIONS", "MAX_NODES", "Direction", "lineage"]

Direction = Literal["both", "upstream", "downstream"]
DIRECTIONS = ("both", "upstream", "downstream")
MAX_NODES = 1000


def lineage(
    ref: str,
    direction: Direction = "both",
    depth: int | None = None,
    *,
    store: Store | None = None,
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
    query = Query(store)
    root = root_node(query, ref)
    graph = LineageGraph(root=root.id, direction=direction, depth=depth)
    graph.add_node(root)
    if direction in ("both", "upstream"):
        _walk(query, graph, root, upstream=True, depth=depth, max_nodes=max_nodes)
    if direction in ("both", "downstream"):
        _walk(query, graph, root, upstream=False, depth=depth, max_nodes=max_nodes)
    query.read_aliases()
    return graph


def _walk(query: Query, graph: LineageGraph, root: Node, *, upstream: bool, depth: int | None,
          max_nodes: int) -> None:
    seen = {root.id}
    frontier = [root]
    level = 0
    while frontier and (depth is None or level < depth):
        nxt: list[Node] = []
        for relation in relations().values():
            serves = relation.targets if upstream else relation.sources
            nodes = [n for n in frontier if n.kind in serves]
            if not nodes:
                continue
            finder = relation.upstream if upstream else relation.downstream
            for node_id, entity in finder(nodes, query):
                other = node_of(entity, query)
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

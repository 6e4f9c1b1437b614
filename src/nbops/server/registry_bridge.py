"""The lineage graph of ``nbops.registry.lineage`` as JSON for the server and the widgets."""

from __future__ import annotations

from typing import Any

__all__ = ["lineage_json"]


def lineage_json(client: Any, ref: str, direction: str, depth: int) -> dict[str, Any]:
    """``LineageGraph.to_dict()``: ``{"root", "nodes": [...], "edges": [...], ...}``."""
    from nbops.registry.lineage import lineage

    graph = lineage(ref, direction=direction, depth=depth, client=client)  # type: ignore[arg-type]
    data = graph.to_dict()
    if isinstance(data.get("nodes"), dict):  # normalise a by-id mapping to a list
        data["nodes"] = list(data["nodes"].values())
    return data

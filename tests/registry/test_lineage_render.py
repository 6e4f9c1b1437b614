"""Renderers: the JSON schema, text, Mermaid, DOT and an SVG that parses (no store needed)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from nbops.registry.lineage import Edge, LineageGraph, Node
from nbops.registry.lineage.render import layers

SVG = "{http://www.w3.org/2000/svg}"


def small() -> LineageGraph:
    g = LineageGraph(root="model:churn/1")
    for node in [
        Node("dataset:train@abc123", "dataset", "train@abc123", {"rows": "10"}),
        Node("run:r1", "run", 'fit "quoted" <&>', {"run_id": "r1", "status": "FINISHED"}),
        Node("run:p", "run", "pipeline", {"run_id": "p", "status": "RUNNING"}),
        Node("model:churn/1", "model", "churn/1", {"aliases": ["prod"]}),
        Node("model:churn-onnx/1", "package", "churn-onnx/1", {}),
        Node("run:m", "report", "monitor", {"run_id": "m", "monitor_status": "drift"}),
    ]:
        g.add_node(node)
    for edge in [("dataset:train@abc123", "run:r1", "input"), ("run:p", "run:r1", "parent"),
                 ("run:r1", "model:churn/1", "produced"),
                 ("model:churn/1", "model:churn-onnx/1", "packaged"),
                 ("model:churn/1", "run:m", "monitored")]:
        g.add_edge(Edge(*edge))
    g.add_edge(Edge("run:p", "run:r1", "parent"))  # duplicates are dropped
    return g


def big(n: int = 30) -> LineageGraph:
    g = LineageGraph(root="run:0")
    for i in range(n):
        g.add_node(Node(f"run:{i}", ["dataset", "run", "model"][i % 3], f"node number {i}"))
    for i in range(1, n):
        g.add_edge(Edge(f"run:{(i - 1) // 2}", f"run:{i}", "input"))
    return g


def test_json_schema():
    data = json.loads(small().to_json())
    assert set(data) == {"schema", "root", "direction", "depth", "truncated", "nodes", "edges",
                         "kinds"}
    assert data["schema"] == "nbops.lineage/1" and data["root"] == "model:churn/1"
    assert [n["id"] for n in data["nodes"]] == sorted(n["id"] for n in data["nodes"])
    for node in data["nodes"]:
        assert set(node) == {"id", "kind", "label", "attrs", "layer"}
    assert len(data["edges"]) == 5
    for edge in data["edges"]:
        assert set(edge) == {"source", "target", "relation"}
    layer = {n["id"]: n["layer"] for n in data["nodes"]}
    assert layer["dataset:train@abc123"] == 0 and layer["run:r1"] == 1
    assert layer["model:churn/1"] == 2 and layer["run:m"] == 3
    assert data["kinds"]["package"]["color"].startswith("#")


def test_text_is_a_tree_from_the_root():
    assert small().to_text() == "\n".join([
        "model churn/1  @prod",
        '├─↑ produced: run fit "quoted" <&>  r1 FINISHED',
        "│  ├─↑ input: dataset train@abc123",
        "│  └─↑ parent: run pipeline  p RUNNING",
        "├─↓ packaged: package churn-onnx/1",
        "└─↓ monitored: report monitor  monitor=drift",
    ])
    upstream_only = small()
    upstream_only.direction = "upstream"
    assert "↓" not in upstream_only.to_text()


def test_mermaid_and_dot():
    g = small()
    mermaid = g.to_mermaid()
    assert mermaid.startswith("flowchart LR\n")
    assert mermaid.count("-->|") == 5 and "#quot;quoted#quot;" in mermaid
    assert "classDef report" in mermaid and "stroke-width:3px" in mermaid
    dot = g.to_dot()
    assert dot.startswith("digraph lineage {\n") and dot.rstrip().endswith("}")
    assert dot.count(" -> ") == 5 and '\\"quoted\\"' in dot
    assert dot.count('"') % 2 == 0 and "rankdir=LR" in dot
    assert g.render("dot") == dot


def test_svg_parses_and_draws_every_node_and_edge():
    g = small()
    root = ET.fromstring(g.to_svg())
    assert root.tag == f"{SVG}svg"
    boxes = [r for r in root.iter(f"{SVG}rect") if r.get("rx") == "7"]
    assert len(boxes) == len(g.nodes)
    assert len([p for p in root.iter(f"{SVG}path") if p.get("marker-end")]) == len(g.edges)
    assert sum(1 for b in boxes if b.get("stroke-width") == "3") == 1  # the root
    assert g._repr_svg_().startswith("<svg") and "<svg" in g._repr_html_()


def test_svg_layout_of_thirty_nodes_has_no_overlap():
    g = big(30)
    root = ET.fromstring(g.to_svg())
    boxes = [(float(r.get("x")), float(r.get("y"))) for r in root.iter(f"{SVG}rect")
             if r.get("rx") == "7"]
    assert len(boxes) == 30 and len(set(boxes)) == 30
    for i, (x1, y1) in enumerate(boxes):
        for x2, y2 in boxes[i + 1:]:
            assert abs(x1 - x2) >= 200 or abs(y1 - y2) >= 46
    assert max(layers(g).values()) == 4  # a binary tree of 30 nodes has 5 levels
    assert float(root.get("width")) < 1600


def test_cycles_do_not_hang_the_layout():
    g = LineageGraph(root="run:a")
    for i in "abc":
        g.add_node(Node(f"run:{i}", "run", i))
    for s, t in [("a", "b"), ("b", "c"), ("c", "a")]:
        g.add_edge(Edge(f"run:{s}", f"run:{t}", "parent"))
    assert len(set(layers(g).values())) == 3
    ET.fromstring(g.to_svg())


def test_empty_lineage_text():
    g = LineageGraph(root="run:a")
    g.add_node(Node("run:a", "run", "alone", {"run_id": "a", "status": "FINISHED"}))
    assert g.to_text().endswith("(no lineage recorded)")
    ET.fromstring(g.to_svg())

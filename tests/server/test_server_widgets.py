"""The anywidget widgets read through the same RegistryService as the REST API (no server)."""

from __future__ import annotations

from pathlib import Path

from nbops.registry.service import RegistryService
from nbops.widgets import lineage_widget, registry_browser


def test_registry_browser_lists_models_and_opens_one(seeded, store_uri):
    w = registry_browser()
    assert w._view == "registry"
    assert [m["name"] for m in w.models] == ["churn", "empty-model", "fraud"]
    assert w.models[0]["status"]["status"] == "drift"
    assert w.error == "" and w.detail == {}
    w.selected = "churn"  # what a click in the view does
    assert w.detail["name"] == "churn"
    assert [v["version"] for v in w.detail["versions"]] == ["3", "2", "1"]
    assert w.detail["history"][0]["alias"] == "challenger"
    assert w.lineage["nodes"], "lineage of churn@challenger should have nodes"
    w.selected = ""
    assert w.detail == {} and w.lineage == {}


def test_registry_browser_search_and_paging(seeded):
    w = registry_browser(search="fra")
    assert [m["name"] for m in w.models] == ["fraud"]
    w.search = ""
    assert len(w.models) == 3
    paged = registry_browser(page_size=2)
    assert len(paged.models) == 2 and paged.next_page_token
    paged.load_more()
    assert [m["name"] for m in paged.models] == ["churn", "empty-model", "fraud"]
    assert paged.next_page_token is None


def test_registry_browser_shows_errors_instead_of_raising(seeded):
    w = registry_browser()
    w.selected = "nope"
    assert "nope" in w.error
    assert w.detail == {}
    w.selected = "fraud"
    assert w.error == "" and w.detail["name"] == "fraud"


def test_registry_browser_on_an_explicit_service(seeded, store_uri, tmp_path: Path):
    other = RegistryService(f"sqlite:///{tmp_path / 'empty.db'}")
    w = registry_browser(service=other)
    assert w.models == [] and w.error == ""


def test_lineage_widget_graph_and_ref_change(seeded):
    w = lineage_widget("churn@champion", direction="upstream")
    assert w._view == "lineage"
    ids = {n["id"] for n in w.graph["nodes"]}
    assert any(seeded.train_runs[1] in i for i in ids)
    w.ref = "nope@x"
    assert w.graph == {} and "nope" in w.error
    w.ref = "fraud/1"
    assert w.error == "" and w.graph["nodes"]


def test_widget_esm_is_shipped_with_the_package():
    from nbops.widgets._base import CSS, ESM

    assert ESM.is_file() and "export default" in ESM.read_text()
    assert CSS.is_file()


def test_lineage_graph_opens_as_a_live_widget(seeded, monkeypatch, store_uri):
    import nbops
    from nbops.widgets.lineage import LineageWidget

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)
    graph = nbops.lineage("churn/2")
    widget = lineage_widget(graph)
    assert isinstance(widget, LineageWidget)
    assert widget.ref == "churn/2" and widget.graph["root"] == graph.root
    # the very graph it came from: same nodes (labels included) and edges, no re-query
    assert sorted((n["id"], n["label"]) for n in widget.graph["nodes"]) == sorted(
        (n.id, n.label) for n in graph.nodes.values())
    assert len(widget.graph["edges"]) == len(graph.edges)
    # placed like the sidebar's lineage: the widget's drawing computes no layout of its own
    assert all(isinstance(n["layer"], int) and isinstance(n["order"], int)
               for n in widget.graph["nodes"])


def test_a_hung_store_is_an_error_in_the_widget_within_its_bound(monkeypatch):
    """A tracking server that accepts connections and never answers (MLflow's own retries
    would hold the cell for minutes)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        w = registry_browser(service=RegistryService(uri), store_timeout=1.5)
        assert w.models == []
        assert "did not answer within 1.5 s" in w.error
        assert "refresh()" in w.error
        assert w.loading is False

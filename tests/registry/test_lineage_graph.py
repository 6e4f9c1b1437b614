"""The lineage graph from MLflow entities: datasets, runs, model versions, packages, reports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from registry_helpers import add_dataset, add_version, start_run

import nbops
from nbops import log_model
from nbops.data import fingerprint
from nbops.exceptions import NotFoundError, UsageError
from nbops.registry import lineage, set_alias
from nbops.registry.lineage import (
    _KINDS,
    _RELATIONS,
    Node,
    NodeKind,
    Query,
    Relation,
    register_kind,
    register_relation,
)


def test_a_logged_model_reaches_its_dataset(tracker, client):
    fp = fingerprint(np.arange(40.0).reshape(10, 4))
    with nbops.track("train", tracker=tracker) as run:
        run_id = run.require_mlflow_id()
        add_dataset(client, run_id, "train", fp)
        log_model(torch.nn.Linear(4, 2), "churn", input_example=torch.randn(2, 4),
                  alias="prod", pip_requirements=["torch"])

    graph = lineage("churn@prod", direction="upstream")
    assert graph.root == "model:churn/1"
    dataset_id = f"dataset:train@{fp.digest}"
    assert [n.id for n in graph.upstream()] == [dataset_id, f"run:{run_id}"]
    assert graph.nodes[dataset_id].attrs["rows"] == "10"
    assert graph.nodes["model:churn/1"].attrs["aliases"] == ["prod"]
    assert {(e.source, e.target, e.relation) for e in graph.edges} == {
        (dataset_id, f"run:{run_id}", "input"), (f"run:{run_id}", "model:churn/1", "produced")}


@pytest.fixture()
def world(client):
    """raw ─► prep ─► clean ─► train (child of pipeline) ─► churn/1 ─► churn-onnx/1, reports."""
    raw, clean, labels = (fingerprint(np.full(5, float(i))) for i in range(3))
    ids = {"pipeline": start_run(client, "pipeline")}
    ids["prep"] = start_run(client, "prep", parent=ids["pipeline"])
    add_dataset(client, ids["prep"], "raw", raw)
    add_dataset(client, ids["prep"], "clean", clean, context="output")
    ids["train"] = start_run(client, "train", parent=ids["pipeline"])
    add_dataset(client, ids["train"], "clean", clean)
    add_dataset(client, ids["train"], "labels", labels, context="evaluation")
    add_version(client, "churn", ids["train"], {"nbops.source_run": ids["train"]})
    add_version(client, "churn", ids["train"])  # churn/2: same run, never packaged
    set_alias("churn", "prod", 1)
    ids["package"] = start_run(client, "package", parent=ids["pipeline"])
    add_version(client, "churn-onnx", ids["package"], {"nbops.source_model": "churn/1"})
    ids["monitor"] = start_run(client, "monitor", tags={"nbops.monitor.model": "churn/1",
                                                        "nbops.monitor.status": "drift"})
    ids["monitor_onnx"] = start_run(client, "monitor-onnx",
                                    tags={"nbops.monitor.model": "churn-onnx/1"})
    start_run(client, "unrelated")
    ids.update(raw=raw.digest, clean=clean.digest, labels=labels.digest)
    return ids


def test_model_lineage_both_ways(world):
    g = lineage("churn@prod")
    run = {k: f"run:{world[k]}" for k in ("pipeline", "prep", "train", "package", "monitor",
                                         "monitor_onnx")}
    clean = f"dataset:clean@{world['clean']}"
    assert {n.id for n in g.upstream()} == {
        run["train"], run["pipeline"], run["prep"], clean, f"dataset:labels@{world['labels']}",
        f"dataset:raw@{world['raw']}"}
    assert {n.id for n in g.downstream()} == {"model:churn-onnx/1", run["monitor"],
                                              run["monitor_onnx"]}
    assert g.nodes["model:churn-onnx/1"].kind == "package"
    assert g.nodes[run["monitor"]].kind == "report"
    assert g.nodes[run["monitor"]].attrs["monitor_status"] == "drift"
    assert g.nodes[run["train"]].kind == "run"
    relations = {(e.source, e.target): e.relation for e in g.edges}
    assert relations[(run["prep"], clean)] == "output"
    assert relations[(clean, run["train"])] == "input"
    assert relations[(run["pipeline"], run["train"])] == "parent"
    assert relations[("model:churn/1", "model:churn-onnx/1")] == "packaged"
    assert relations[("model:churn-onnx/1", run["monitor_onnx"])] == "monitored"
    assert "model:churn/2" not in g.nodes  # a sibling, not lineage


def test_direction_and_depth(world):
    up = lineage("churn/1", direction="upstream", depth=1)
    assert set(up.nodes) == {"model:churn/1", f"run:{world['train']}"}
    down = lineage("churn/1", direction="downstream")
    assert not any(n.kind in ("dataset", "run") for n in down.nodes.values())
    assert lineage("churn/1", depth=0).nodes.keys() == {"model:churn/1"}
    with pytest.raises(UsageError, match="direction"):
        lineage("churn/1", direction="sideways")  # type: ignore[arg-type]


def test_a_package_knows_its_source_model_and_a_report_its_model(world):
    g = lineage("churn-onnx/1", direction="upstream", depth=1)
    assert {(e.source, e.relation) for e in g.edges} == {
        ("model:churn/1", "packaged"), (f"run:{world['package']}", "produced")}
    r = lineage(f"run:{world['monitor']}", direction="upstream")
    assert r.nodes[r.root].kind == "report"
    assert "model:churn/1" in r.nodes and f"dataset:clean@{world['clean']}" in r.nodes


def test_run_and_dataset_refs(world):
    g = lineage(world["train"], direction="downstream")  # a bare run id
    assert g.root == f"run:{world['train']}"
    assert {"model:churn/1", "model:churn/2", "model:churn-onnx/1"} <= set(g.nodes)

    d = lineage(f"dataset:clean@{world['clean'][:8]}")
    assert d.root == f"dataset:clean@{world['clean']}"
    assert f"run:{world['prep']}" in {n.id for n in d.upstream()}
    assert {f"run:{world['train']}", "model:churn/1"} <= {n.id for n in d.downstream()}
    assert lineage(world["labels"][:10]).root == f"dataset:labels@{world['labels']}"


def test_unknown_refs_say_what_was_looked_for(world):
    with pytest.raises(NotFoundError, match="Did you mean 'churn'"):
        lineage("chrun")
    with pytest.raises(NotFoundError, match="no alias 'prd'"):
        lineage("churn@prd")
    with pytest.raises(NotFoundError, match="No run with id"):
        lineage("run:" + "0" * 32)
    with pytest.raises(NotFoundError, match="digest starting 'ffffff'"):
        lineage("dataset:clean@ffffff")
    with pytest.raises(UsageError, match="at least 4"):
        lineage("dataset:clean@ab")


@pytest.fixture()
def restore_registries():
    kinds, relations = dict(_KINDS), dict(_RELATIONS)
    yield
    _KINDS.clear()
    _KINDS.update(kinds)
    _RELATIONS.clear()
    _RELATIONS.update(relations)


def test_node_kinds_are_pluggable(world, client, restore_registries):
    """A capability adds an 'approval' kind: a run tagged nbops.approval.model=name/3."""
    approval_run = start_run(client, "sign-off", tags={"nbops.approval.model": "churn/1"})

    def approvals(nodes: list[Node], q: Query):
        for node in nodes:
            for run in q.search_runs("tags.`nbops.approval.model` = "
                                     f"'{node.attrs['name']}/{node.attrs['version']}'"):
                yield node.id, run

    register_kind(NodeKind("approval", "run", lambda r: "nbops.approval.model" in r.data.tags,
                           lambda r: f"approved by {r.info.run_name}",
                           lambda r, q: {"run_id": r.info.run_id}, priority=20, color="#ccc"))
    register_relation(Relation("approved", ("model", "package"), ("approval",), approvals,
                               lambda nodes, q: ()))
    g = lineage("churn/1", direction="downstream", depth=1)
    node = g.nodes[f"run:{approval_run}"]
    assert (node.kind, node.label) == ("approval", "approved by sign-off")
    assert "approval" in g.to_dict()["kinds"]
    with pytest.raises(UsageError, match="already registered"):
        register_kind(NodeKind("run", "run", bool, str, lambda e, q: {}))
    with pytest.raises(UsageError, match="unknown node kind"):
        register_relation(Relation("x", ("nope",), ("run",), approvals, approvals))


def recorded_calls(monkeypatch) -> list[str]:
    """What every store call of this test does ("listing model versions (...)"), in order."""
    from nbops.store.client import Store

    calls: list[str] = []
    real = Store.call

    def call(self, what, fn, *args, **kwargs):
        calls.append(what)
        return real(self, what, fn, *args, **kwargs)

    monkeypatch.setattr(Store, "call", call)
    return calls


def test_a_level_is_read_in_bulk(world, client, monkeypatch):
    """Packages and reports of a level's versions come from one search each, and the aliases
    of every version found from one search of registered models, into the same graph as one
    search per version gives."""
    set_alias("churn", "candidate", 2)
    calls = recorded_calls(monkeypatch)
    g = lineage(world["train"], direction="downstream")
    assert g.nodes["model:churn/1"].attrs["aliases"] == ["prod"]
    assert g.nodes["model:churn/2"].attrs["aliases"] == ["candidate"]
    assert g.nodes["model:churn-onnx/1"].attrs["aliases"] == []
    assert "listing model versions (tags.`nbops.source_model` LIKE 'churn/%')" in calls
    assert "searching runs (tags.`nbops.monitor.model` LIKE 'churn/%')" in calls
    assert not any("= 'churn/" in what for what in calls)
    assert [what for what in calls
            if what.startswith(("reading model '", "listing registered models"))] == [
        "listing registered models"]

    from nbops.registry.lineage import query

    monkeypatch.setattr(query, "PER_VALUE", 0)  # more than that found: one search per version
    calls.clear()
    one_by_one = lineage(world["train"], direction="downstream")
    assert "listing model versions (tags.`nbops.source_model` = 'churn/1')" in calls
    assert "searching runs (tags.`nbops.monitor.model` = 'churn/2')" in calls
    assert one_by_one.to_dict() == g.to_dict()


def test_a_model_named_by_number_or_alias_is_read_once(world, monkeypatch):
    calls = recorded_calls(monkeypatch)
    for ref in ("churn/1", "churn@prod"):
        calls.clear()
        g = lineage(ref, depth=0)
        assert g.nodes["model:churn/1"].attrs["aliases"] == ["prod"]
        assert len(calls) == 1, calls
    calls.clear()
    assert lineage("churn", depth=0).root == "model:churn/2"  # the latest, by a search
    assert lineage("churn", depth=0).nodes["model:churn/2"].attrs["aliases"] == []

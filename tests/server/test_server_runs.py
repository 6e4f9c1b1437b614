"""GET runs, runs/compare, runs/<id>/notebook (no traversal), lineage."""

from __future__ import annotations

import json

import pytest
from registry_seed import HISTORY_SOURCE, error_of
from tornado.httpclient import HTTPClientError


async def get(jp_fetch, *parts, **params):
    resp = await jp_fetch("nbops", "api", *parts, params=params or None)
    return json.loads(resp.body)


async def status_of(jp_fetch, *parts, **params) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", *parts, params=params or None)
    return error_of(e.value)


async def test_runs_newest_first_and_paginated(jp_fetch, seeded):
    page = await get(jp_fetch, "runs", experiment="demo")
    ids = [r["run_id"] for r in page["runs"]]
    assert set(ids) == {*seeded.train_runs, seeded.monitor_run, seeded.bare_run}
    first = await get(jp_fetch, "runs", experiment="demo", max_results="2")
    assert len(first["runs"]) == 2 and first["next_page_token"]
    rest = await get(jp_fetch, "runs", experiment="demo", max_results="2",
                     page_token=first["next_page_token"])
    assert [r["run_id"] for r in first["runs"] + rest["runs"]] == ids


async def test_runs_filter_and_unknown_experiment(jp_fetch, seeded):
    page = await get(jp_fetch, "runs", filter="metrics.accuracy > 0.92")
    assert [r["run_id"] for r in page["runs"]] == [seeded.train_runs[1]]
    assert page["runs"][0]["params"] == {"lr": "0.05", "depth": "4"}
    code, body = await status_of(jp_fetch, "runs", experiment="dmeo")
    assert code == 404 and "demo" in body["message"]
    code, _ = await status_of(jp_fetch, "runs", filter="metrics.accuracy >>> 1")
    assert code == 400


async def test_compare_lists_params_metrics_and_differences(jp_fetch, seeded):
    r1, r2 = seeded.train_runs
    cmp = await get(jp_fetch, "runs", "compare", ids=f"{r1},{r2}")
    assert [r["run_id"] for r in cmp["runs"]] == [r1, r2]
    assert cmp["param_keys"] == ["depth", "lr"]
    assert cmp["metric_keys"] == ["accuracy", "loss"]
    assert cmp["differing_params"] == ["lr"]
    assert cmp["runs"][1]["metrics"]["accuracy"] == 0.93


@pytest.mark.parametrize(("ids", "status"), [("", 400), ("abc", 400), ("a/b,c", 400),
                                             ("0" * 32 + "," + "1" * 32, 404)])
async def test_compare_errors(jp_fetch, seeded, ids, status):
    code, _ = await status_of(jp_fetch, "runs", "compare", ids=ids)
    assert code == status


async def test_notebook_snapshot_prefers_the_saved_notebook(jp_fetch, seeded):
    snap = await get(jp_fetch, "runs", seeded.train_runs[0], "notebook")
    assert snap["path"] == "notebook/train.ipynb"
    assert snap["notebook"]["nbformat"] == 4
    assert snap["notebook"]["cells"][0]["source"] == ["# Training churn v1\n"]
    assert snap["notebook"]["cells"][1]["source"] == ["%time print('accuracy', 0.91)"]
    history = await get(jp_fetch, "runs", seeded.train_runs[0], "notebook",
                        path="notebook/history.ipynb")
    assert history["path"] == "notebook/history.ipynb"
    assert history["notebook"]["cells"][1]["source"] == [HISTORY_SOURCE]


async def test_a_child_run_without_snapshot_serves_its_parents(jp_fetch, seeded, client):
    parent = seeded.train_runs[1]
    child = client.create_run(client.get_run(parent).info.experiment_id, run_name="report",
                              tags={"mlflow.parentRunId": parent}).info.run_id
    snap = await get(jp_fetch, "runs", child, "notebook")
    assert (snap["run_id"], snap["path"]) == (parent, "notebook/train.ipynb")
    code, body = await status_of(jp_fetch, "runs", seeded.bare_run, "notebook")
    assert code == 404
    assert "no notebook snapshot" in body["message"]


@pytest.mark.parametrize("path", ["../../../etc/passwd", "notebook/../../mlflow.db",
                                  "notebook/../notebook/history.ipynb", "/etc/passwd",
                                  "notebook/sub/x.ipynb", "notebook\\..\\x.ipynb",
                                  "code/cell.py"])
async def test_snapshot_path_traversal_is_refused(jp_fetch, seeded, path):
    code, body = await status_of(jp_fetch, "runs", seeded.train_runs[0], "notebook", path=path)
    assert code == 400
    assert "notebook/<name>.ipynb" in body["message"]


@pytest.mark.parametrize("run_part", ["..%2F..%2Fetc", "..", "%2E%2E"])
async def test_snapshot_run_id_traversal_is_refused(jp_fetch, seeded, run_part):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", "runs", run_part, "notebook")
    assert e.value.code in (400, 404)


async def test_snapshot_missing_is_404(jp_fetch, seeded):
    code, body = await status_of(jp_fetch, "runs", seeded.bare_run, "notebook")
    assert code == 404 and "no notebook snapshot" in body["message"]
    code, _ = await status_of(jp_fetch, "runs", seeded.train_runs[0], "notebook",
                              path="notebook/other.ipynb")
    assert code == 404
    code, _ = await status_of(jp_fetch, "runs", "f" * 32, "notebook")
    assert code == 404


async def test_lineage_json_has_model_and_source_run(jp_fetch, seeded):
    graph = await get(jp_fetch, "lineage", ref="churn@champion", direction="upstream")
    kinds = {n["kind"] for n in graph["nodes"]}
    assert "run" in kinds and len(kinds) >= 2
    ids = {n["id"] for n in graph["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])
    assert any(seeded.train_runs[1] in n["id"] for n in graph["nodes"])


async def test_lineage_nodes_come_placed_for_drawing(jp_fetch, seeded):
    """Each node carries its column (``layer``) and row (``order``): every edge runs left to
    right (no cycle here) and no two nodes share a place, so the sidebar and the widget only
    turn them into pixels."""
    graph = await get(jp_fetch, "lineage", ref="churn@champion", direction="both")
    where = {n["id"]: (n["layer"], n["order"]) for n in graph["nodes"]}
    assert len(set(where.values())) == len(where)
    assert all(where[e["source"]][0] < where[e["target"]][0] for e in graph["edges"])
    for layer in {col for col, _ in where.values()}:
        rows = sorted(row for col, row in where.values() if col == layer)
        assert rows == list(range(len(rows)))  # rows 0..n-1 in each column


@pytest.mark.parametrize(("params", "status"), [({"ref": "churn", "direction": "sideways"}, 400),
                                                ({"ref": "churn", "depth": "99"}, 400),
                                                ({"ref": ""}, 400),
                                                ({"ref": "nope@prod"}, 404)])
async def test_lineage_errors(jp_fetch, seeded, params, status):
    code, _ = await status_of(jp_fetch, "lineage", **params)
    assert code == status

"""GET models, models/<name>: content, statuses, pagination, search, 400/404."""

from __future__ import annotations

import json

import pytest
from registry_seed import error_of
from tornado.httpclient import HTTPClientError


async def get(jp_fetch, *parts, **params):
    resp = await jp_fetch("nbops", "api", *parts, params=params or None)
    assert resp.code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    return json.loads(resp.body)


async def test_models_list_has_aliases_latest_and_worst_status(jp_fetch, seeded):
    page = await get(jp_fetch, "models")
    by_name = {m["name"]: m for m in page["models"]}
    assert list(by_name) == ["churn", "empty-model", "fraud"]
    churn = by_name["churn"]
    assert churn["aliases"] == {"challenger": "3", "champion": "2"}
    assert churn["latest_version"] == "3"
    assert churn["description"] == "Churn classifier"
    assert churn["status"]["status"] == "drift"
    assert churn["status"]["version"] == "2"
    assert churn["status"]["report_run_id"] == seeded.monitor_run
    assert not any(k.startswith("nbops.audit.") for k in churn["tags"])
    assert by_name["fraud"]["status"]["status"] == "ok"
    assert by_name["empty-model"]["latest_version"] is None
    assert by_name["empty-model"]["status"] is None
    assert page["next_page_token"] is None


async def test_models_pagination_walks_every_model_once(jp_fetch, seeded):
    names, token, pages = [], None, 0
    while True:
        params = {"max_results": "1"} | ({"page_token": token} if token else {})
        page = await get(jp_fetch, "models", **params)
        names += [m["name"] for m in page["models"]]
        token = page["next_page_token"]
        pages += 1
        if not token:
            break
    assert names == ["churn", "empty-model", "fraud"]
    assert pages >= 3


async def test_models_search_is_case_insensitive_part_of_name(jp_fetch, seeded):
    page = await get(jp_fetch, "models", search="CHU")
    assert [m["name"] for m in page["models"]] == ["churn"]
    assert (await get(jp_fetch, "models", search="zzz"))["models"] == []


@pytest.mark.parametrize("params", [{"max_results": "0"}, {"max_results": "abc"},
                                    {"max_results": "5000"}, {"page_token": "garbage"}])
async def test_models_bad_query_is_400_with_a_message(jp_fetch, seeded, params):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", "models", params=params)
    status, body = error_of(e.value)
    assert status == 400
    assert body["reason"] == "validation"
    assert body["message"]


async def test_model_detail_versions_metrics_status_and_history(jp_fetch, seeded):
    d = await get(jp_fetch, "models", "churn")
    assert [v["version"] for v in d["versions"]] == ["3", "2", "1"]
    v1 = d["versions"][2]
    assert v1["source_run_id"] == seeded.train_runs[0]
    assert v1["run_metrics"] == {"accuracy": 0.91, "loss": 0.2}
    assert v1["created_at"].endswith("+00:00") or v1["created_at"].endswith("Z")
    v2 = d["versions"][1]
    assert v2["aliases"] == ["champion"]
    assert v2["status"] == {"status": "drift", "version": "2",
                            "report_run_id": seeded.monitor_run,
                            "checked_at": v2["status"]["checked_at"]}
    history = d["history"]
    assert [(h["alias"], h["from_version"], h["to_version"]) for h in history] == [
        ("challenger", None, "3"), ("champion", "1", "2"), ("champion", None, "1")]
    assert history[1]["reason"] == "better accuracy"
    assert history[1]["action"] == "set"


async def test_unknown_model_is_404_naming_it(jp_fetch, seeded):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", "models", "chrun")
    status, body = error_of(e.value)
    assert status == 404
    assert body["reason"] == "not_found"
    assert "chrun" in body["message"]


async def test_empty_registry_lists_nothing(jp_fetch, project):
    page = await get(jp_fetch, "models")
    assert page == {"models": [], "next_page_token": None}

"""What the sidebar relies on when things go wrong: literal search text, bad page tokens, short
404 messages and the rollback target."""

from __future__ import annotations

import json

import pytest
from registry_seed import error_of
from tornado.httpclient import HTTPClientError

from nbops.registry import api
from nbops.store import Store


async def get(jp_fetch, *parts, **params):
    resp = await jp_fetch("nbops", "api", *parts, params=params or None)
    return json.loads(resp.body)


async def status_of(jp_fetch, *parts, **params) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", *parts, params=params or None)
    return error_of(e.value)


async def test_search_wildcards_are_literal_text(jp_fetch, seeded, client):
    for name in ("a_b", "axb", "50%-off", "500-off"):
        client.create_registered_model(name)
    names = lambda page: [m["name"] for m in page["models"]]  # noqa: E731
    assert names(await get(jp_fetch, "models", search="_")) == ["a_b"]
    assert names(await get(jp_fetch, "models", search="%")) == ["50%-off"]
    assert names(await get(jp_fetch, "models", search="0%-")) == ["50%-off"]
    # paging a literal search still reaches every match
    found, token = [], None
    while True:
        page = await get(jp_fetch, "models", search="_", max_results="1",
                         **({"page_token": token} if token else {}))
        found += names(page)
        token = page["next_page_token"]
        if not token:
            break
    assert found == ["a_b"]
    # plain text and MLflow filters are unchanged
    assert names(await get(jp_fetch, "models", search="fra")) == ["fraud"]
    assert names(await get(jp_fetch, "models", search="name = 'axb'")) == ["axb"]


@pytest.mark.parametrize("endpoint", [("models",), ("runs",)])
@pytest.mark.parametrize("token", ["garbage", "!!!", "bm90IGpzb24=", "x" * 5000])
async def test_garbage_page_token_is_a_clear_400(jp_fetch, seeded, endpoint, token):
    code, body = await status_of(jp_fetch, *endpoint, page_token=token)
    assert (code, body["reason"]) == (400, "validation")
    assert "is not a page token this API gave out" in body["message"]
    assert "leave page_token out" in body["message"]
    assert len(body["message"]) < 400


async def test_not_found_message_does_not_echo_a_huge_name(jp_fetch, seeded):
    name = "m" * 20_000
    code, body = await status_of(jp_fetch, "models", name)
    assert (code, body["reason"]) == (404, "not_found")
    assert "m" * 60 in body["message"]
    assert "(20000 characters)" in body["message"]
    assert len(body["message"]) < 1000


async def test_rollback_target_is_offered_only_with_an_earlier_version(jp_fetch, seeded, client):
    d = await get(jp_fetch, "models", "churn")
    # champion went v1 -> v2 (rollback restores v1); challenger was created on v3 (nothing)
    assert d["rollback_targets"] == {"champion": "1"}
    api.rollback("churn", "champion", reason="back", store=Store(client.tracking_uri))
    d = await get(jp_fetch, "models", "churn")
    assert d["aliases"]["champion"] == "1"
    assert d["rollback_targets"] == {"champion": "2"}  # a rollback is itself a change
    assert (await get(jp_fetch, "models", "fraud"))["rollback_targets"] == {}

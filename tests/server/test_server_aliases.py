"""POST models/<name>/aliases and .../rollback: audited moves, 400/404/409."""

from __future__ import annotations

import json

import pytest
from registry_seed import error_of
from tornado.httpclient import HTTPClientError

from nbops.registry import api
from nbops.store import Store


async def post(jp_fetch, *parts, body):
    return await jp_fetch("nbops", "api", *parts, method="POST", body=json.dumps(body))


async def test_promote_moves_alias_and_writes_one_audit_record(jp_fetch, seeded, client):
    before = len(api.history("churn", store=Store(client.tracking_uri)))
    resp = await post(jp_fetch, "models", "churn", "aliases",
                      body={"alias": "champion", "version": "3", "reason": "UI promote",
                            "expected_current": "2"})
    change = json.loads(resp.body)
    assert change["version"] == "3" and change["previous_version"] == "2"
    assert change["entry"]["action"] == "set"
    assert str(client.get_registered_model("churn").aliases["champion"]) == "3"
    records = api.history("churn", store=Store(client.tracking_uri))
    assert len(records) == before + 1
    last = records[-1]
    assert (last.alias, last.from_version, last.to_version, last.reason) == (
        "champion", "2", "3", "UI promote")
    detail = json.loads((await jp_fetch("nbops", "api", "models", "churn")).body)
    assert detail["history"][0]["reason"] == "UI promote"


async def test_promote_new_alias(jp_fetch, seeded, client):
    resp = await post(jp_fetch, "models", "fraud", "aliases",
                      body={"alias": "prod", "version": 1, "expected_current": ""})
    assert json.loads(resp.body)["previous_version"] is None
    assert {a: str(v) for a, v in client.get_registered_model("fraud").aliases.items()} == {"prod": "1"}


@pytest.mark.parametrize(("body", "status"), [
    ({"alias": "champion", "version": "3", "expected_current": "1"}, 409),  # moved meanwhile
    ({"alias": "champion", "version": "2"}, 409),  # already there
    ({"alias": "champion", "version": "9"}, 404),  # no such version
    ({"alias": "", "version": "3"}, 400),
    ({"alias": "bad alias!", "version": "3"}, 400),
    ({"alias": "champion", "version": "three"}, 400),
    ({"version": "3"}, 400),
    ({"alias": ["x"], "version": "3"}, 400),
])
async def test_promote_errors_are_mapped_and_write_nothing(jp_fetch, seeded, client, body,
                                                           status):
    before = len(api.history("churn", store=Store(client.tracking_uri)))
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "models", "churn", "aliases", body=body)
    code, err = error_of(e.value)
    assert code == status, err
    assert err["message"]
    assert len(api.history("churn", store=Store(client.tracking_uri))) == before
    assert str(client.get_registered_model("churn").aliases["champion"]) == "2"


async def test_conflict_names_where_the_alias_is(jp_fetch, seeded):
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "models", "churn", "aliases",
                   body={"alias": "champion", "version": "3", "expected_current": "1"})
    code, err = error_of(e.value)
    assert code == 409 and err["reason"] == "conflict"
    assert err["extra"] == {"current": "2"}
    assert "Refresh" in err["message"]


async def test_body_must_be_a_json_object(jp_fetch, seeded):
    for raw in ("not json", "[1, 2]"):
        with pytest.raises(HTTPClientError) as e:
            await jp_fetch("nbops", "api", "models", "churn", "aliases", method="POST", body=raw)
        assert error_of(e.value)[0] == 400


async def test_promote_on_unknown_model_is_404(jp_fetch, seeded):
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "models", "nope", "aliases", body={"alias": "a", "version": "1"})
    assert error_of(e.value)[0] == 404


async def test_rollback_goes_back_and_is_audited(jp_fetch, seeded, client):
    resp = await post(jp_fetch, "models", "churn", "aliases", "champion", "rollback",
                      body={"reason": "drift on v2"})
    change = json.loads(resp.body)
    assert (change["previous_version"], change["version"], change["action"]) == (
        "2", "1", "rollback")
    assert str(client.get_registered_model("churn").aliases["champion"]) == "1"
    last = api.history("churn", "champion", store=Store(client.tracking_uri))[-1]
    assert (last.action, last.reason) == ("rollback", "drift on v2")


async def test_a_second_rollback_of_what_the_first_already_rolled_back_is_409(jp_fetch, seeded,
                                                                           client):
    """Two people press "Roll back" on champion v2 -> v1: the first moves it; the second, whose
    sidebar still shows v2, must not roll the rollback back (to v2)."""
    body = {"reason": "drift on v2", "expected_current": "2"}
    await post(jp_fetch, "models", "churn", "aliases", "champion", "rollback", body=body)
    before = len(api.history("churn", store=Store(client.tracking_uri)))
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "models", "churn", "aliases", "champion", "rollback", body=body)
    code, err = error_of(e.value)
    assert code == 409 and err["extra"] == {"current": "1"}, err
    assert "points at v1, not v2" in err["message"]
    assert str(client.get_registered_model("churn").aliases["champion"]) == "1"
    assert len(api.history("churn", store=Store(client.tracking_uri))) == before


async def test_rollback_without_earlier_version_is_400_and_unknown_alias_404(jp_fetch, seeded):
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "models", "churn", "aliases", "challenger", "rollback", body={})
    code, err = error_of(e.value)
    assert code == 400 and "roll back" in err["message"]
    with pytest.raises(HTTPClientError) as e:
        await post(jp_fetch, "models", "churn", "aliases", "nope", "rollback", body={})
    assert error_of(e.value)[0] == 404

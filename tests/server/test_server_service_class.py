"""``NbopsServer.service_class`` picks the class that answers the API, as a site's config would
(an import path in ``jupyter_server_config``): here one that refuses alias moves from the UI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from registry_seed import error_of
from tornado.httpclient import HTTPClientError

from nbops.exceptions import UsageError
from nbops.registry.service import AliasChange, RegistryService


class ReviewOnlyService(RegistryService):
    """Reads as usual; alias moves go through a review elsewhere, never from the sidebar."""

    def promote(self, name: str, alias: str, version: str | int, reason: str | None = None,
                expected_current: str | None = None) -> AliasChange:
        raise UsageError(f"Alias moves on this server go through review: ask for {alias!r} -> "
                         f"v{version} of {name!r} in the release channel.")


@pytest.fixture()
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {**jp_server_config,
            "NbopsServer": {"service_class": f"{__name__}.ReviewOnlyService"}}


async def test_the_configured_service_class_answers(jp_fetch, jp_serverapp, seeded, client):
    state = jp_serverapp.web_app.settings["nbops_state"]
    assert state.service_class is ReviewOnlyService

    listed = json.loads((await jp_fetch("nbops", "api", "models")).body)
    assert [m["name"] for m in listed["models"]] == ["churn", "empty-model", "fraud"]
    assert type(state.service()) is ReviewOnlyService

    before = client.get_registered_model("churn").aliases
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", "models", "churn", "aliases", method="POST",
                       body=json.dumps({"alias": "champion", "version": "3", "reason": "r"}))
    code, body = error_of(e.value)
    assert (code, body["reason"]) == (400, "validation")
    assert "go through review" in body["message"]
    assert client.get_registered_model("churn").aliases == before

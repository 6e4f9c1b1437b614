"""The one error mapping, a store that does not answer (503), and a server that stays
responsive while MLflow calls block."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as pb
from registry_seed import error_of
from tornado.httpclient import HTTPClientError

from nbops.exceptions import (
    ConfigError,
    ConflictError,
    NotFoundError,
    StoreUnavailableError,
    UsageError,
)
from nbops.server.errors import error_body


@pytest.mark.parametrize(("exc", "status", "reason"), [
    (UsageError("bad"), 400, "validation"),
    (NotFoundError("gone"), 404, "not_found"),
    (ConflictError("moved", current="2"), 409, "conflict"),
    (StoreUnavailableError("down"), 503, "store_unavailable"),
    (ConfigError("bad uri"), 503, "store_unavailable"),
    (MlflowException("x", error_code=pb.RESOURCE_DOES_NOT_EXIST), 404, "not_found"),
    (MlflowException("x", error_code=pb.INVALID_PARAMETER_VALUE), 400, "validation"),
    (MlflowException("x", error_code=pb.RESOURCE_ALREADY_EXISTS), 409, "conflict"),
    (MlflowException("x", error_code=pb.INTERNAL_ERROR), 503, "store_unavailable"),
    (ConnectionRefusedError("refused"), 503, "store_unavailable"),
])
def test_error_mapping(exc, status, reason):
    body = error_body(exc)
    assert body is not None
    assert (body.status, body.reason) == (status, reason)
    assert body.message


def test_bugs_are_not_mapped():
    assert error_body(KeyError("oops")) is None
    assert error_body(TypeError("oops")) is None


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a hung tracking server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


@pytest.fixture()
def jp_server_config(silent_port: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("NBOPS_TRACKING_URI", f"http://127.0.0.1:{silent_port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    return {"ServerApp": {"jpserver_extensions": {"nbops.server": True},
                          "allow_unauthenticated_access": False}}


async def test_hung_store_is_503_and_server_stays_responsive(jp_fetch):
    slow = asyncio.ensure_future(jp_fetch("nbops", "api", "models"))
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    status = await jp_fetch("api", "status")
    assert status.code == 200
    assert time.monotonic() - t0 < 1.5, "the event loop was blocked by an MLflow call"
    assert not slow.done()
    with pytest.raises(HTTPClientError) as e:
        await slow
    code, body = error_of(e.value)
    assert code == 503
    assert body["reason"] == "store_unavailable"
    assert "tracking" in body["message"].lower()


async def test_hung_store_post_is_503_not_500(jp_fetch):
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("nbops", "api", "models", "churn", "aliases", method="POST",
                       body=json.dumps({"alias": "champion", "version": "1"}))
    assert e.value.code == 503

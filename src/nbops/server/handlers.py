"""Tornado handlers of ``/nbops/api/``: parse the request, run the service call on the store
pool with a bounded wait, write the contract object or the mapped error. Every verb requires an
authenticated user."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nbops.exceptions import StoreUnavailableError, UsageError
from nbops.registry.service import RegistryService, check_run_id
from nbops.server.contract import ErrorBody, to_json
from nbops.server.errors import error_body

__all__ = ["API_PREFIX", "routes"]

API_PREFIX = "nbops/api"


class _Handler(APIHandler):
    """Runs one blocking service call off the event loop and maps its errors."""

    def _service(self) -> RegistryService:
        return self.settings["nbops_state"].service()

    async def _respond(self, call: Callable[[RegistryService], Any], status: int = 200) -> None:
        state = self.settings["nbops_state"]
        try:
            future = state.pool.submit(functools.partial(_invoke, state, call))
            try:
                result = await asyncio.wait_for(asyncio.wrap_future(future), state.store_timeout)
            except TimeoutError:
                future.cancel()  # dropped if still queued; a running call ends on its own
                raise StoreUnavailableError(
                    f"The MLflow tracking store did not answer within {state.store_timeout:g} s. "
                    "Check that the tracking server is running and MLFLOW_TRACKING_URI / "
                    "NBOPS_TRACKING_URI point at it, then retry.") from None
        except Exception as exc:  # the one place errors become statuses; bugs re-raise (500)
            body = error_body(exc)
            if body is None:
                raise
            self._error(body)
            return
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result if isinstance(result, dict) else to_json(result),
                               default=str))

    def _error(self, body: ErrorBody) -> None:
        if body.status >= 500:
            self.log.warning("nbops: %s", body.message)
        self.set_status(body.status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(asdict(body)))

    def _body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            self._error(ErrorBody(400, "validation", "The request body must be a JSON object."))
            raise tornado.web.Finish()
        return data

    def _arg(self, name: str) -> str | None:
        value = self.get_query_argument(name, None)
        return value if value not in (None, "") else None


def _invoke(state: Any, call: Callable[[RegistryService], Any]) -> Any:
    return call(state.service())


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise UsageError(f"The JSON body needs {key!r}.")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise UsageError(f"{key!r} must be a string, got {type(value).__name__}.")
    return str(value)


def _expected(body: dict[str, Any]) -> str | None:
    """``expected_current``: the version the UI showed the alias on, ``""`` for unset; None
    when the body does not say (then the alias moves wherever it is)."""
    if "expected_current" not in body or body["expected_current"] is None:
        return None
    return (_text(body, "expected_current") or "").strip()


class ModelsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        search, size, token = self._arg("search"), self._arg("max_results"), self._arg("page_token")
        await self._respond(lambda s: s.list_models(search, size, token))


class ModelHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self._respond(lambda s: s.model(name))


class AliasesHandler(_Handler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        body = self._body()
        await self._respond(lambda s: s.promote(
            name, _text(body, "alias", True) or "", _text(body, "version", True) or "",
            _text(body, "reason"), expected_current=_expected(body)))


class RollbackHandler(_Handler):
    @tornado.web.authenticated
    async def post(self, name: str, alias: str) -> None:
        body = self._body()
        expected = _expected(body)
        # a site's service class written before rollbacks took expected_current still works
        checked = {} if expected is None else {"expected_current": expected}
        await self._respond(lambda s: s.rollback(name, alias, _text(body, "reason"), **checked))


class RunsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        exp, flt = self._arg("experiment"), self._arg("filter")
        size, token = self._arg("max_results"), self._arg("page_token")
        await self._respond(lambda s: s.list_runs(exp, flt, size, token))


class CompareHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        ids = (self._arg("ids") or "").split(",")
        await self._respond(lambda s: s.compare_runs(ids))


class NotebookHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        path = self._arg("path")
        from nbops.server.snapshot import read_snapshot

        await self._respond(lambda s: read_snapshot(s.store, check_run_id(run_id), path))


class GateReportHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        from nbops.server.gate_report import read_gate_report

        await self._respond(lambda s: read_gate_report(s.store, check_run_id(run_id)))


class LineageHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        ref = self._arg("ref") or ""
        direction = self._arg("direction") or "both"
        depth = self._arg("depth") or "3"
        await self._respond(lambda s: s.lineage(ref, direction, depth))


class PipelinesHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        root = self.settings["nbops_state"].root_dir
        await self._respond(lambda s: _pipelines(root, s).list_pipelines())


class PipelineRunHandler(_Handler):
    @tornado.web.authenticated
    async def post(self) -> None:
        body = self._body()
        root = self.settings["nbops_state"].root_dir

        def call(s: RegistryService) -> Any:
            params = body.get("params") or {}
            if not isinstance(params, dict):
                raise UsageError("'params' must be a JSON object of pipeline params, "
                                 'e.g. {"n_rows": 500}.')
            return _pipelines(root, s).run_now(_text(body, "path", True) or "", params)

        await self._respond(call, status=202)


def _pipelines(root: Any, service: RegistryService) -> Any:
    from nbops.server.pipelines import PipelineService

    return PipelineService(root, service.store)


def routes(base_url: str) -> list[tuple[str, type[APIHandler]]]:
    """URL patterns under ``<base_url>nbops/api/``; path segments are URL-decoded by tornado."""
    seg = r"([^/]+)"

    def url(*parts: str) -> str:
        return url_path_join(base_url, API_PREFIX, *parts)

    return [
        (url("models"), ModelsHandler),
        (url("models", seg), ModelHandler),
        (url("models", seg, "aliases"), AliasesHandler),
        (url("models", seg, "aliases", seg, "rollback"), RollbackHandler),
        (url("runs"), RunsHandler),
        (url("runs", "compare"), CompareHandler),
        (url("runs", seg, "notebook"), NotebookHandler),
        (url("runs", seg, "gate-report"), GateReportHandler),
        (url("lineage"), LineageHandler),
        (url("pipelines"), PipelinesHandler),
        (url("pipelines", "run"), PipelineRunHandler),
    ]

"""The HTTP API (Starlette), compatible with ``mlflow models serve`` plus nbops' own routes.

=====================  =======  ====================================================
route                  method   answer
=====================  =======  ====================================================
/invocations           POST     ``{"predictions": ...}`` as MLflow answers
/ping, /health         GET      200 once the model is loaded
/version               GET      the MLflow version (as MLflow's server answers)
/nbops/v1/predict      POST     ``{"request_id", "model", "version", "route",
                                "predictions"}``
/nbops/v1/label        POST     ``{"request_id": ..., "label": ...}`` → recorded, matched
/nbops/v1/status       GET      routes, versions, flavors, inputs, last error, shadow
=====================  =======  ====================================================

Every answer carries ``X-Request-Id`` (the caller's, or a new one) and ``X-Nbops-Version``.
Errors are ``{"error_code", "message", "field"}`` with 400 (bad request), 413 (body over the
limit), 404 (unknown route), 500 only when the model itself fails. A request is in the request
log before its answer is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from nbops.serving.models import to_jsonable
from nbops.serving.reqlog import LogWriter, log_dir
from nbops.serving.routing import Deployment, RouteConfig, swap_recorder
from nbops.serving.spec import RequestError

__all__ = ["CONFIG_ENV", "app_from_env", "build_app"]

CONFIG_ENV = "NBOPS_SERVE_CONFIG"  # how `nbops serve` hands its config to worker processes
log = logging.getLogger("nbops.serving")


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _error(status: int, code: str, message: str, field: str, rid: str) -> Response:
    return Response(_json({"error_code": code, "message": message, "field": field}), status,
                    media_type="application/json", headers={"x-request-id": rid})


def _frame_json(feeds: dict[str, Any], columns: tuple[str, ...] | None) -> str:
    rows = next(iter(feeds.values())).tolist()
    return json.dumps({"dataframe_split": {"columns": list(columns) if columns else None,
                                           "data": rows}}, separators=(",", ":"))


class Service:
    """One server process: the deployment, the request log, the handlers."""

    def __init__(self, config: RouteConfig) -> None:
        from nbops.config import load_settings

        home = Path(config.home) if config.home else load_settings().home
        self.config = config
        self.home = home
        self.deployment = Deployment(config, home / "serving" / "cache")
        self.log = LogWriter(log_dir(config.model, home))
        self.started = time.time()
        self.audit_lock: Any = None  # the lock file of the worker that writes audit records
        self.shadow: Any = None  # the feed of the shadow process, see start_shadow

    def start_shadow(self, record_swaps: bool) -> None:
        """Start the shadow's own process (when there is a shadow), so that the challenger's work
        never slows the primary; ``record_swaps``: it writes its swaps to the audit trail."""
        if self.config.shadow:
            from nbops.serving.shadow import ShadowFeed

            self.shadow = ShadowFeed(self.config, self.home, record_swaps)

    # -- the predict path ------------------------------------------------------------------

    async def _body(self, request: Request) -> tuple[bytes, Any]:
        """The raw body and its decoded JSON, or RequestError (too large, not JSON)."""
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > self.config.max_body:
            raise RequestError("body", f"is {int(size)} bytes, over the limit of "
                               f"{self.config.max_body}; send smaller batches.", 413)
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > self.config.max_body:
                raise RequestError("body", f"is over the limit of {self.config.max_body} "
                                   "bytes; send smaller batches.", 413)
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            return raw, json.loads(raw)
        except ValueError as exc:
            raise RequestError("body", f"is not valid JSON ({exc}). Send "
                               "{\"inputs\": [[...]]} with Content-Type: application/json.")\
                from None

    async def predict(self, request: Request, nbops_form: bool) -> Response:
        start = time.perf_counter()
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        route, slot = self.deployment.choose(request.headers.get("x-nbops-key"))
        record: dict[str, Any] = {"request_id": rid, "time": time.time() * 1000,
                                  "model": slot.name, "version": slot.version, "route": route}
        try:
            raw, payload = await self._body(request)
            feeds = slot.spec.parse(payload)
        except RequestError as exc:
            self._write(record, start, exc.status, "null", "null", str(exc))
            return _error(exc.status, "BAD_REQUEST" if exc.status == 400 else
                          "REQUEST_TOO_LARGE", str(exc), exc.field, rid)
        # the log keeps the body as sent (no second encoding), dataframes as the model saw them
        inputs = raw.decode() if "inputs" in payload or "instances" in payload else \
            _frame_json(feeds, slot.spec.columns)
        try:
            outputs = json.dumps(to_jsonable(slot.predict(feeds)), separators=(",", ":"))
        except Exception as exc:  # the model itself failed: say so, keep serving
            message = f"model {slot.name}/{slot.version} failed: {exc}"
            self._write(record, start, 500, inputs, "null", message)
            return _error(500, "MODEL_ERROR", message, "", rid)
        self._write(record, start, 200, inputs, outputs, "")
        head = _json({"request_id": rid, "model": slot.name, "version": slot.version,
                      "route": route})[:-1] + b"," if nbops_form else b"{"
        if self.shadow is not None:
            self.shadow.send(rid, record["time"], inputs)
        return Response(head + b'"predictions":' + outputs.encode() + b"}",
                        media_type="application/json",
                        headers={"x-request-id": rid, "x-nbops-version": slot.version,
                                 "x-nbops-route": route})

    def _write(self, record: dict[str, Any], start: float, status: int, inputs: str,
               outputs: str, error: str) -> None:
        record.update(status=status, latency_ms=(time.perf_counter() - start) * 1000,
                      inputs=inputs, outputs=outputs, error=error)
        self.log.append(record)

    # -- the other routes ------------------------------------------------------------------

    async def label(self, request: Request) -> Response:
        from nbops.serving.reqlog import label

        rid = uuid.uuid4().hex
        try:
            _, payload = await self._body(request)
            if not isinstance(payload, dict) or "request_id" not in payload or \
                    "label" not in payload:
                raise RequestError("body", "expected {\"request_id\": \"...\", \"label\": "
                                   "value or [values]}.")
            matched = await run_in_threadpool(label, payload["request_id"], payload["label"],
                                              model=self.config.model, home=self.home)
        except RequestError as exc:
            return _error(exc.status, "BAD_REQUEST", str(exc), exc.field, rid)
        except ValueError as exc:
            return _error(400, "BAD_REQUEST", str(exc), "request_id", rid)
        return JSONResponse({"request_id": payload["request_id"], "status": "recorded",
                             "matched": matched})

    async def status(self, request: Request) -> Response:
        return JSONResponse({"model": self.config.model, "pid": os.getpid(),
                             "started": self.started, "url": self.config.url,
                             "request_log": str(self.log.folder),
                             **self.deployment.describe(),
                             "shadow": self.shadow.describe() if self.shadow else None})

    def close(self) -> None:
        """Stop following aliases, let the shadow log the copies it holds, seal the request log
        and remove the server's lock file; one line says so when it takes more than a moment
        (printed by the worker holding the lock: one line per server)."""
        what = "sealing the request log" + (
            f", the shadow {self.shadow.ref} logs the copies it holds (at most "
            f"{self.shadow.stop_seconds:.0f} s)" if self.shadow is not None else "")
        notice = threading.Timer(0.5, print, [f"stopping: {what} ..."], {"flush": True})
        notice.daemon = True
        if self.audit_lock is not None:
            notice.start()
        try:
            self.deployment.stop()
            if self.shadow is not None:
                self.shadow.close()
            self.log.close()
        finally:
            notice.cancel()
            if self.audit_lock is not None:  # a clean stop leaves no lock file behind
                Path(self.audit_lock.name).unlink(missing_ok=True)
                self.audit_lock.close()


def build_app(config: RouteConfig) -> Starlette:
    """The ASGI app serving ``config``; models load here, before the first request."""
    service = Service(config)
    recorder = _audit_recorder(service)
    service.deployment.start_watching(recorder)
    service.start_shadow(record_swaps=recorder is not None)
    from nbops.store.models import mlflow_version

    VERSION = mlflow_version()  # noqa: N806 - answered by /version as mlflow models serve does

    async def invocations(request: Request) -> Response:
        return await service.predict(request, nbops_form=False)

    async def nbops_predict(request: Request) -> Response:
        return await service.predict(request, nbops_form=True)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("\n")

    async def version(request: Request) -> Response:
        return PlainTextResponse(VERSION)

    routes = [
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping, methods=["GET"]),
        Route("/health", ping, methods=["GET"]),
        Route("/version", version, methods=["GET"]),
        Route("/nbops/v1/predict", nbops_predict, methods=["POST"]),
        Route("/nbops/v1/label", service.label, methods=["POST"]),
        Route("/nbops/v1/status", service.status, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        service.close()  # seal the request log on a clean stop (SIGTERM, Ctrl-C)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return app


def app_from_env() -> Starlette:
    """The app of a worker process, from the JSON config ``nbops serve`` put in the environment."""
    from nbops.config import handed_config

    return build_app(RouteConfig(**handed_config(CONFIG_ENV)))


def _audit_recorder(service: Service) -> Any:
    """A function writing each swap to the alias audit trail, from one worker per server (the one
    holding the server's lock file), so a swap is recorded once however many workers follow."""
    lock_path = service.home / "serving" / f"server-{service.config.url.rsplit(':', 1)[-1]}.lock"
    try:
        import fcntl

        handle = open(lock_path, "a+b")  # noqa: SIM115 - held for the process' lifetime
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        # The holder removes the file at a clean stop: a lock taken on a file since removed
        # (or replaced) is no lock; take the one at the path now.
        if not lock_path.exists() or os.stat(lock_path).st_ino != os.fstat(handle.fileno()).st_ino:
            handle.close()
            return _audit_recorder(service)
    except OSError:  # another worker of this server records
        handle.close()
        return None
    service.audit_lock = handle
    return swap_recorder(service.config.url)

"""The HTTP API (Starlette), compatible with ``mlflow models serve`` plus nbops' own routes.

=====================  =======  ====================================================
route                  method   answer
=====================  =======  ====================================================
/invocations           POST     ``{"predictions": ...}`` as MLflow answers
/ping, /health         GET      200 once the model is loaded
/version               GET      the MLflow version (as MLflow's server answers)
/nbops/v1/predict      POST     ``{"request_id", "model", "version", "route",
                                "predictions"}``
/nbops/v1/label        POST     ``{"request_id": ..., "label": ...}`` → recorded
/nbops/v1/status       GET      routes, versions, flavors, inputs, last error
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
import queue
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from nbops.serving.reqlog import LogWriter, log_dir
from nbops.serving.routing import Deployment, RouteConfig
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


def _predict_many(slot: Any, feeds: list[dict[str, Any]]) -> list[Any]:
    """One output per request; requests of one single-input model share one run."""
    first = feeds[0]
    if len(feeds) > 1 and len(first) == 1:
        name = next(iter(first))
        arrays = [f[name] for f in feeds]
        if all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
            out = slot.predict({name: np.concatenate(arrays)})
            if isinstance(out, np.ndarray):
                return np.split(out, np.cumsum([len(a) for a in arrays])[:-1])
    return [slot.predict(f) for f in feeds]


def _attempt(slot: Any, feeds: dict[str, Any]) -> Any:
    try:
        return slot.predict(feeds)
    except Exception as exc:  # recorded as this request's shadow failure
        return exc


def _tolist(out: Any) -> Any:
    if isinstance(out, dict):  # several outputs, by name
        return {k: np.asarray(v).tolist() for k, v in out.items()}
    return np.asarray(out).tolist()


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
        self._shadows: queue.SimpleQueue | None = None
        if self.deployment.slots["shadow"] is not None:
            self._shadows = queue.SimpleQueue()
            self._shadow_thread = threading.Thread(target=self._shadow_loop, daemon=True,
                                                   name="nbops-serve-shadow")
            self._shadow_thread.start()

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
            outputs = json.dumps(_tolist(slot.predict(feeds)), separators=(",", ":"))
        except Exception as exc:  # the model itself failed: say so, keep serving
            message = f"model {slot.name}/{slot.version} failed: {exc}"
            self._write(record, start, 500, inputs, "null", message)
            return _error(500, "MODEL_ERROR", message, "", rid)
        self._write(record, start, 200, inputs, outputs, "")
        head = _json({"request_id": rid, "model": slot.name, "version": slot.version,
                      "route": route})[:-1] + b"," if nbops_form else b"{"
        if self._shadows is not None:
            self._shadows.put((rid, record["time"], feeds, inputs))
        return Response(head + b'"predictions":' + outputs.encode() + b"}",
                        media_type="application/json",
                        headers={"x-request-id": rid, "x-nbops-version": slot.version,
                                 "x-nbops-route": route})

    def _write(self, record: dict[str, Any], start: float, status: int, inputs: str,
               outputs: str, error: str) -> None:
        record.update(status=status, latency_ms=(time.perf_counter() - start) * 1000,
                      inputs=inputs, outputs=outputs, error=error)
        self.log.append(record)

    # -- the shadow: a queue drained in batches by one thread, off the response path -------

    def _shadow_loop(self) -> None:
        """Predict queued copies with the shadow slot, many per model run, and log them."""
        assert self._shadows is not None
        while (item := self._shadows.get()) is not None:
            batch = [item]
            while len(batch) < 64:  # small batches: the GIL goes back to the requests often
                try:
                    more = self._shadows.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._shadows.put(None)  # stop after this batch
                    break
                batch.append(more)
            self._shadow_batch(self.deployment.slots["shadow"], batch)
            time.sleep(0.001)  # let copies gather (bigger batches) while requests run

    def _shadow_batch(self, slot: Any, batch: list[tuple[str, float, Any, str]]) -> None:
        try:
            outputs = _predict_many(slot, [feeds for _, _, feeds, _ in batch])
        except Exception:  # a failing challenger never affects the primary's answers
            outputs = [_attempt(slot, feeds) for _, _, feeds, _ in batch]
        records = []
        for (rid, arrived, _, inputs), out in zip(batch, outputs, strict=True):
            record = {"request_id": rid, "time": arrived, "model": slot.name,
                      "version": slot.version, "route": "shadow", "inputs": inputs,
                      "latency_ms": time.time() * 1000 - arrived}  # arrival to prediction
            if isinstance(out, Exception):
                record.update(status=500, outputs="null", error=f"shadow failed: {out}")
            else:
                record.update(status=200, error="",
                              outputs=json.dumps(_tolist(out), separators=(",", ":")))
            records.append(record)
        self.log.append_many(records)

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
            label(payload["request_id"], payload["label"], model=self.config.model,
                  home=self.home)
        except RequestError as exc:
            return _error(exc.status, "BAD_REQUEST", str(exc), exc.field, rid)
        except ValueError as exc:
            return _error(400, "BAD_REQUEST", str(exc), "request_id", rid)
        return JSONResponse({"request_id": payload["request_id"], "status": "recorded"})

    async def status(self, request: Request) -> Response:
        return JSONResponse({"model": self.config.model, "pid": os.getpid(),
                             "started": self.started, "url": self.config.url,
                             "request_log": str(self.log.folder),
                             **self.deployment.describe()})

    def close(self) -> None:
        self.deployment.stop()
        if self._shadows is not None:  # log the copies still queued, then seal
            self._shadows.put(None)
            self._shadow_thread.join(timeout=30)
        self.log.close()


def build_app(config: RouteConfig) -> Starlette:
    """The ASGI app serving ``config``; models load here, before the first request."""
    service = Service(config)
    service.deployment.start_watching(_audit_recorder(service))
    from mlflow.version import VERSION

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
    return build_app(RouteConfig(**json.loads(os.environ[CONFIG_ENV])))


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
    except OSError:  # another worker of this server records
        handle.close()
        return None
    service.audit_lock = handle

    def record(route: str, before: Any, after: Any) -> None:
        from nbops.registry._store import call, client_for
        from nbops.registry.audit import last_millis, new_record, writer_lock
        from nbops.registry.resolve import parse_ref

        alias = parse_ref(after.ref).alias
        if not alias:
            return
        client = client_for()
        reason = (f"nbops serve {service.config.url} ({route}) swapped to v{after.version} "
                  f"after the alias moved; requests in flight finished on v{before.version}")
        with writer_lock(service.home):  # ordered with alias changes, as the registry does
            model = call(client, f"reading model {after.name!r}", client.get_registered_model,
                         after.name)
            rec = new_record(alias, before.version, after.version, "serve", reason,
                             last_millis(model.tags))
            call(client, f"recording the serving swap of {after.name!r}",
                 client.set_registered_model_tag, after.name, rec.key, rec.to_json())

    return record

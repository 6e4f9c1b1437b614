"""The shadow: a child process of each server worker that predicts mirrored copies of the requests
with the shadow alias, so the challenger's CPU and GIL stay off the primary's path.

    server worker ──one line per answered request, written without waiting──► pipe (1 MiB)
    shadow process: read what the pipe holds ─► parse with the shadow's inputs ─► one model run
      for many requests ─► request-log records with route ``shadow`` (its own spool)

The worker never waits for the shadow: when the pipe is full (the shadow lags) or the shadow
process is gone, the copy is dropped and counted (``/nbops/v1/status`` → ``shadow.dropped``).
The shadow runs at the lowest CPU priority (Linux's idle scheduling class, else nice 19) and
reads its pipe every 20 ms at most, so it uses the CPU the primary leaves, in few large model
runs.
The shadow process reads until the pipe closes: when its worker stops, or dies, it predicts the
copies it still has, seals its request log and exits. A worker that stops gives it
``STOP_SECONDS`` for that (a shadow at idle priority on a busy machine, or still loading its
model, could take much longer): past them it is killed, the copies it had not predicted are
not logged, and the worker seals the spool the shadow wrote. It follows its alias like the server does,
and the shadow process of the worker that records the server's swaps records its own.

Example:
    >>> feed = ShadowFeed(RouteConfig("churn@prod", shadow="challenger"), home)  # doctest: +SKIP
    >>> feed.send("a1b2", 1764620000000.0, '{"inputs":[[0.1,0.2]]}')              # doctest: +SKIP
    >>> feed.describe()["mirrored"]                                               # doctest: +SKIP
    1
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from nbops.serving.reqlog import log_dir, seal
from nbops.serving.routing import RouteConfig

__all__ = ["SHADOW_ENV", "ShadowFeed", "main"]

SHADOW_ENV = "NBOPS_SHADOW_CONFIG"  # the shadow's RouteConfig, as JSON
PIPE_BYTES = 1 << 20  # the pipe's capacity asked of Linux (its default is 64 KiB)
BATCH_SECONDS = 0.02  # the shadow reads its pipe at most this often
NICE = 19  # the shadow's CPU priority where Linux's idle scheduling class is missing
STOP_SECONDS = 2.0  # how long a stopping worker waits for its shadow to log what it holds
log = logging.getLogger("nbops.serving")


class ShadowFeed:
    """The worker's end: starts the shadow process and mirrors requests to it, never blocking."""

    def __init__(self, config: RouteConfig, home: Path, record_swaps: bool = False) -> None:
        assert config.shadow
        shadow = replace(config, ref=config.shadow, canary=None, canary_percent=0.0,
                         shadow=None, home=str(home),
                         extra={"record_swaps": record_swaps})
        self.ref = config.shadow
        self.log_folder = log_dir(config.model, home)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nbops.serving.shadow"], stdin=subprocess.PIPE,
            env={**os.environ, SHADOW_ENV: json.dumps(asdict(shadow))})
        assert self.process.stdin is not None
        self._fd = self.process.stdin.fileno()
        os.set_blocking(self._fd, False)
        try:
            import fcntl

            fcntl.fcntl(self._fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
        except (ImportError, OSError):  # not Linux, or over /proc/sys/fs/pipe-max-size
            pass
        self._lock = threading.Lock()
        self._pending = b""  # the rest of a line the pipe took only part of
        self.mirrored = 0
        self.dropped = 0
        self._gone = False
        self.stop_seconds = STOP_SECONDS

    def send(self, request_id: str, arrived_ms: float, inputs: str) -> None:
        """Mirror one answered request (its inputs as logged); dropped when the shadow lags."""
        line = json.dumps([request_id, arrived_ms, inputs], separators=(",", ":")).encode()
        with self._lock:
            if self._gone or (self._pending and not self._flush()):
                self._drop()
                return
            try:
                written = os.write(self._fd, line + b"\n")
            except BlockingIOError:
                self._drop()
                return
            except OSError:  # EPIPE: the shadow process is gone
                self._lost()
                return
            self._pending = (line + b"\n")[written:]
            self.mirrored += 1

    def _flush(self) -> bool:
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            return False
        except OSError:
            self._lost()
            return False
        self._pending = self._pending[written:]
        return not self._pending

    def _drop(self) -> None:
        self.dropped += 1
        if self.dropped == 1 and not self._gone:
            log.warning("shadow %s lags behind: mirrored copies are dropped while its pipe is "
                        "full (counted in /nbops/v1/status); the primary is not slowed",
                        self.ref)

    def _lost(self) -> None:
        self.dropped += 1
        if not self._gone:
            self._gone = True
            log.error("the shadow process of %s (pid %d) exited (code %s): mirrored copies are "
                      "dropped from now on; restart the server to shadow again", self.ref,
                      self.process.pid, self.process.poll())

    def describe(self) -> dict[str, Any]:
        running = self.process.poll() is None and not self._gone
        return {"ref": self.ref, "pid": self.process.pid, "running": running,
                "mirrored": self.mirrored, "dropped": self.dropped}

    def close(self) -> None:
        """Close the pipe; the shadow predicts what it still has, seals its log and exits. Past
        ``stop_seconds`` it is killed and its spool sealed here."""
        timeout = self.stop_seconds
        with self._lock:
            self._gone = True
            if self._pending:
                os.set_blocking(self._fd, True)
                try:
                    os.write(self._fd, self._pending)
                except OSError:
                    pass
            try:
                self.process.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.process.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        sealed = 0
        for spool in (self.log_folder / "spool").glob(f"{self.process.pid}-*.jsonl"):
            try:
                seal(spool, self.log_folder / "segments")
                sealed += 1
            except (OSError, ValueError) as exc:  # readers seal a dead process' spool later
                log.error("could not seal the shadow's spool %s (%s)", spool, exc)
        log.warning("the shadow process of %s had not logged all its copies %.0f s after the "
                    "stop: stopped; what it had predicted is logged (%d spool(s) sealed), the "
                    "rest is not", self.ref, timeout, sealed)


# -- the shadow process --------------------------------------------------------------------------


def _predict_many(slot: Any, feeds: list[dict[str, Any]]) -> list[Any]:
    """One output per request (an exception for a failed one); requests of a single-input model
    share one model run."""
    import numpy as np

    first = feeds[0]
    if len(feeds) > 1 and len(first) == 1:
        name = next(iter(first))
        arrays = [f.get(name) for f in feeds]
        if all(a is not None and a.shape[1:] == arrays[0].shape[1:] for a in arrays):
            try:
                out = slot.predict({name: np.concatenate(arrays)})
            except Exception:  # noqa: BLE001 - one bad request: predict one by one below
                out = None
            if isinstance(out, np.ndarray):
                return np.split(out, np.cumsum([len(a) for a in arrays])[:-1])
    outputs = []
    for f in feeds:
        try:
            outputs.append(slot.predict(f))
        except Exception as exc:  # noqa: BLE001 - recorded as this copy's failure
            outputs.append(exc)
    return outputs


def _records(slot: Any, lines: list[bytes]) -> list[dict[str, Any]]:
    """The shadow's request-log records of a batch of mirrored copies."""
    from nbops.serving.models import to_jsonable
    from nbops.serving.spec import RequestError

    copies, feeds, records = [], [], []
    for line in lines:
        request_id, arrived, inputs = json.loads(line)
        record = {"request_id": request_id, "time": arrived, "model": slot.name,
                  "version": slot.version, "route": "shadow", "inputs": inputs}
        try:
            feeds.append(slot.spec.parse(json.loads(inputs)))
            copies.append(record)
        except (RequestError, ValueError) as exc:  # the challenger takes other inputs
            records.append({**record, "status": 400, "outputs": "null",
                            "latency_ms": time.time() * 1000 - arrived,
                            "error": f"shadow refused the request: {exc}"})
    for record, out in zip(copies, _predict_many(slot, feeds) if feeds else [], strict=True):
        record["latency_ms"] = time.time() * 1000 - record["time"]  # arrival to prediction
        if isinstance(out, Exception):
            record.update(status=500, outputs="null", error=f"shadow failed: {out}")
        else:
            record.update(status=200, error="",
                          outputs=json.dumps(to_jsonable(out), separators=(",", ":")))
        records.append(record)
    return records


def _lowest_priority() -> None:
    """The primary comes first for the CPU: Linux's idle class (runs only on a CPU nothing else
    wants), else the lowest nice value. A shadow left behind drops copies."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux
        os.nice(NICE)


def main() -> None:
    """``python -m nbops.serving.shadow``: predict the copies read from stdin until it closes."""
    from nbops.serving.reqlog import LogWriter
    from nbops.serving.routing import Deployment, swap_recorder

    # Ctrl-C and SIGTERM reach the whole process group: the shadow ends when its worker closes
    # the pipe, after logging what it holds, not before.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _lowest_priority()
    logging.basicConfig(format="%(levelname)s:%(name)s: shadow: %(message)s")
    from nbops.config import handed_config

    config = RouteConfig(**handed_config(SHADOW_ENV))
    home = Path(config.home)
    deployment = Deployment(config, home / "serving" / "cache")
    deployment.start_watching(swap_recorder(config.url, "shadow")
                              if config.extra.get("record_swaps") else None)
    writer = LogWriter(log_dir(config.model, home))
    rest = b""
    try:
        while chunk := os.read(0, PIPE_BYTES):  # everything waiting: one batch
            *lines, rest = (rest + chunk).split(b"\n")
            if lines:
                writer.append_many(_records(deployment.slots["primary"], lines))
            time.sleep(BATCH_SECONDS)  # let copies gather: fewer, larger model runs
    finally:
        deployment.stop()
        writer.close()


if __name__ == "__main__":
    main()

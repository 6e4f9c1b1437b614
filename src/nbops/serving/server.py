"""Starting servers: ``nbops serve`` in this process, ``nbops.serve(...)`` as a child process.

The ASGI server is uvicorn (with uvloop and httptools), which ``mlflow models serve`` uses
too, chosen over granian by measurement (docs/serving.md#performance); each worker process loads the models and writes its own request-log spool.

Example:
    >>> server = nbops.serve("churn@prod")       # doctest: +SKIP
    >>> server.wait().url                         # doctest: +SKIP
    'http://127.0.0.1:40123'
    >>> server.stop()                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from nbops.exceptions import NbopsError, UsageError
from nbops.serving.routing import RouteConfig

__all__ = ["ServerError", "ServerHandle", "free_port", "run", "serve"]


class ServerError(NbopsError):
    """Raised when a server process exits before it is ready; the message holds its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def check(config: RouteConfig) -> None:
    """Fail fast, before any worker starts, on an unknown model or alias."""
    from nbops.serving.models import current_version

    for ref in (config.ref, config.canary, config.shadow):
        if ref:
            current_version(ref)


def check_port(host: str, port: int) -> None:
    """UsageError naming the port when something already listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc} (another "
                             "server is using it?). Stop it, or choose another port with "
                             "--port N.") from None


def run(config: RouteConfig, host: str = "127.0.0.1", port: int = 5000, workers: int = 1,
        announce: Callable[[], None] | None = None) -> None:
    """Serve ``config`` until stopped (SIGTERM or Ctrl-C); blocks. ``announce`` is called once
    the model references and the port have been checked, just before the server starts."""
    import importlib

    from nbops.exceptions import DependencyMissingError

    for package in ("uvicorn", "starlette", "pyarrow"):
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise DependencyMissingError(package, "nbops serve", "serve") from exc
    import uvicorn

    from nbops.serving.app import CONFIG_ENV

    if workers < 1:
        raise UsageError(f"--workers must be at least 1; got {workers}.")
    check_port(host, port)
    check(config)
    if announce is not None:
        announce()
    os.environ[CONFIG_ENV] = json.dumps(asdict(config))
    uvicorn.run("nbops.serving.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False,
                timeout_graceful_shutdown=10)  # uvloop and httptools when installed


class ServerHandle:
    """A server running in a child process: ``.url``, ``.wait()``, ``.stop()``, ``.pid``."""

    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        """What the server process printed so far (warnings, errors)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait(self, timeout: float = 120.0) -> ServerHandle:
        """Block until ``/ping`` answers; ServerError with the server's output if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"The server for {self.url} exited with code "
                                  f"{self.process.returncode} before it was ready:\n"
                                  f"{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise ServerError(f"The server for {self.url} did not answer /ping within {timeout:.0f}s."
                          f" Its output:\n{self.output()[-3000:]}")

    def stop(self, timeout: float = 20.0) -> int:
        """Stop the server cleanly (its request log is sealed); return its exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        return int(self.process.returncode)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"ServerHandle(url={self.url!r}, pid={self.pid}, {state})"


def serve(ref: str | None = None, *, host: str | None = None, port: int = 0,
          workers: int | None = None, canary: str | None = None, shadow: str | None = None,
          poll: float | None = None, config: str | Path | None = None) -> ServerHandle:
    """Serve model ``ref`` (``NAME@ALIAS``) from a child process; return its handle at once.

    ``port=0`` picks a free port. ``canary="challenger=10%"`` sends that share of requests to
    another alias; ``shadow="challenger"`` mirrors each request to it (logged, never returned);
    ``poll`` is how often (seconds, default 2) the server checks whether an alias moved.
    ``config`` is a routing file (YAML) with the same options (``model`` for ``ref``); the
    arguments given as well win.

    >>> server = nbops.serve("churn@prod", canary="challenger=10%").wait()   # doctest: +SKIP
    >>> requests.post(f"{server.url}/invocations", json={"inputs": [[0.1] * 8]}).json()
    ... # doctest: +SKIP
    {'predictions': [[0.12, -0.3]]}
    """
    from nbops.config import load_settings
    from nbops.serving.routing import read_routing

    file = read_routing(config) if config else {}
    host = host or file.get("host", "127.0.0.1")
    port = port or file.get("port") or free_port(host)
    args = [sys.executable, "-m", "nbops", "serve", *([ref] if ref else []), "--host", host,
            "--port", str(port)]
    if config:
        args += ["--config", str(Path(config).resolve())]
    for flag, value in (("--workers", workers), ("--poll", poll), ("--canary", canary),
                        ("--shadow", shadow)):
        if value is not None:
            args += [flag, str(value)]
    folder = load_settings().home / "serving"
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"server-{port}.out"
    with open(log_path, "wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return ServerHandle(f"http://{shown}:{port}", process, log_path)

"""Warm kernels: fresh kernels started ahead of time, each used by exactly one step.

Starting an IPython kernel takes about half a second; papermill pays it inside every step.
A :class:`KernelPool` starts the kernel for the *next* step while the current one runs, so a
step finds its kernel already booted. Kernels are never reused: a step always gets a clean
interpreter, exactly as with plain papermill.

Kernels start with a generic environment; :func:`assign` then gives a kernel its step's
working directory and variables (``NBOPS_PARENT_RUN_ID``, ``NBOPS_NOTEBOOK_PATH``, ...) before
the first cell runs. papermill gets the started kernel through nbclient's ``km=`` argument.

    >>> pool = KernelPool(env={})                       # doctest: +SKIP
    >>> pool.prestart("python3")                         # doctest: +SKIP
    >>> kernel = pool.take("python3")                    # doctest: +SKIP
    >>> papermill.execute_notebook(nb, out, km=kernel.km)   # doctest: +SKIP
    >>> pool.release(kernel)                             # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Kernel", "KernelPool", "assign", "finalize", "run_code", "shutdown", "start_kernel"]


@dataclass
class Kernel:
    """A started kernel: its manager (for papermill's ``km=``), name, pid and log file."""

    km: Any
    name: str
    pid: int | None
    log: Path | None
    warm: bool = False  # True when it was started ahead of time

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the kernel's stderr (why a dead kernel died)."""
        try:
            return self.log.read_text(errors="replace")[-chars:] if self.log else ""
        except OSError:
            return ""


def start_kernel(name: str, env: Mapping[str, str], log_dir: Path | None = None) -> Kernel:
    """Start one kernel process (returns once it is launched; it finishes booting on its own)."""
    from jupyter_client import AsyncKernelManager

    km = AsyncKernelManager(kernel_name=name)
    log = None
    kwargs: dict[str, Any] = {"env": {**os.environ, **env}}
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"kernel-{time.time_ns()}.log"
        kwargs["stderr"] = open(log, "wb")  # noqa: SIM115 - the kernel process owns it
    try:
        asyncio.run(km.start_kernel(**kwargs))
    finally:
        if "stderr" in kwargs:
            kwargs["stderr"].close()  # the child has its own descriptor
    process = getattr(km.provisioner, "process", None)
    return Kernel(km=km, name=name, pid=getattr(process, "pid", None), log=log)


def shutdown(kernel: Kernel) -> None:
    """Stop a kernel at once; never raises (it may already be dead)."""
    try:
        asyncio.run(kernel.km.shutdown_kernel(now=True))
    except Exception:  # noqa: BLE001 - best effort: the process may be gone already
        if kernel.pid:
            try:
                os.kill(kernel.pid, 9)
            except OSError:
                pass


def assign(kernel: Kernel, cwd: Path, env: Mapping[str, str], timeout: float = 60.0) -> None:
    """Give a started kernel its step: working directory and environment variables.

    Waits until the kernel answers (bounded by ``timeout``); raises RuntimeError otherwise.
    """
    code = ("import os as _o\n"
            f"_o.environ.update({json.dumps(dict(env))})\n"
            f"_o.chdir({json.dumps(str(cwd))})\n"
            "del _o\n")
    run_code(kernel, code, timeout)


_FINALIZE = """\
import sys as _s
if "nbops.tracking.run" in _s.modules:
    _s.modules["nbops.tracking.run"].default_tracker().close()
del _s
"""


def finalize(kernel: Kernel, timeout: float = 60.0) -> None:
    """End the notebook's nbops session runs and ship what it logged, before the kernel stops.

    Kernels are stopped at once (no graceful shutdown wait), so nbops' exit hook would not run.
    """
    run_code(kernel, _FINALIZE, timeout)


def run_code(kernel: Kernel, code: str, timeout: float = 60.0) -> None:
    """Run ``code`` in the kernel (no history, no output); RuntimeError when it fails."""

    async def run() -> None:
        kc = kernel.km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
            reply = await kc.execute_interactive(code, store_history=False, timeout=timeout,
                                                 output_hook=lambda msg: None)
            content = reply["content"]
            if content.get("status") != "ok":
                raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")
        finally:
            kc.stop_channels()

    asyncio.run(run())


class KernelPool:
    """Fresh kernels started ahead of time (one per kernel name waits at most).

    ``env`` is what every kernel gets at start (the tracking store, the experiment);
    ``pid_file`` receives the pid of every kernel started, one per line, so that a supervisor
    can kill them with the process that owns the pool.
    """

    def __init__(self, env: Mapping[str, str], log_dir: Path | None = None,
                 pid_file: Path | None = None) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.pid_file = pid_file
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbops-kernels")
        self._waiting: dict[str, Future[Kernel]] = {}
        self._lock = threading.Lock()

    def prestart(self, name: str) -> None:
        """Start a kernel named ``name`` in the background, unless one is already waiting."""
        with self._lock:
            if name not in self._waiting:
                self._waiting[name] = self._threads.submit(self._start, name)

    def take(self, name: str) -> Kernel:
        """A fresh kernel: the waiting one when there is one (warm), else started now (cold).

        Starts the next one in the background right away.
        """
        with self._lock:
            waiting = self._waiting.pop(name, None)
        kernel: Kernel | None = None
        if waiting is not None:
            try:
                kernel = waiting.result()
                kernel.warm = True
            except Exception:  # noqa: BLE001 - a failed pre-start is retried cold below
                kernel = None
            if kernel is not None and not asyncio.run(_alive(kernel)):
                shutdown(kernel)
                kernel = None
        if kernel is None:
            kernel = self._start(name)
        self.prestart(name)
        return kernel

    def release(self, kernel: Kernel) -> None:
        """Shut a used kernel down in the background."""
        self._threads.submit(shutdown, kernel)

    def close(self) -> None:
        """Shut down waiting kernels and wait for pending shutdowns."""
        with self._lock:
            waiting, self._waiting = list(self._waiting.values()), {}
        for fut in waiting:
            try:
                shutdown(fut.result())
            except Exception:  # noqa: BLE001 - it never started
                pass
        self._threads.shutdown(wait=True)

    def _start(self, name: str) -> Kernel:
        kernel = start_kernel(name, self.env, self.log_dir)
        if self.pid_file is not None and kernel.pid:
            with open(self.pid_file, "a", encoding="utf-8") as fh:
                fh.write(f"{kernel.pid}\n")
        return kernel


async def _alive(kernel: Kernel) -> bool:
    return bool(await kernel.km.is_alive())

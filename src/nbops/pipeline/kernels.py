"""Warm kernels: fresh kernels started ahead of time, each used by exactly one step.

Starting an IPython kernel takes about half a second; papermill pays it inside every step.
A :class:`KernelPool` starts the kernel for the *next* step while the current one runs, so a
step finds its kernel already booted. Kernels are never reused: a step always gets a clean
interpreter, exactly as with plain papermill.

Kernels start with a generic environment. papermill runs the step on the started kernel
through its ``nbops-warm`` engine (:func:`warm_engine`): papermill's own client, which before
the first cell gives the kernel its step's working directory and variables
(``NBOPS_PARENT_RUN_ID``, ``NBOPS_NOTEBOOK_PATH``, ... : :func:`setup_code`) and after the last
one ends the notebook's nbops runs (:data:`FINISH_CODE`), on the one connection papermill
opens. Each extra connection would cost its own readiness wait (a fifth of a second of IOPub
silence in jupyter_client), which the engine also replaces by waiting for the kernel's answer
to one ``kernel_info`` request on both channels.

    >>> pool = KernelPool(env={})                       # doctest: +SKIP
    >>> pool.prestart("python3")                         # doctest: +SKIP
    >>> kernel = pool.take("python3")                    # doctest: +SKIP
    >>> papermill.execute_notebook(nb, out, km=kernel.km, engine_name=warm_engine(),
    ...                            setup_code=setup_code(cwd, env))  # doctest: +SKIP
    >>> pool.release(kernel)                             # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FINISH_CODE", "Kernel", "KernelPool", "setup_code", "shutdown", "start_kernel",
           "warm_engine"]


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


def setup_code(cwd: Path, env: Mapping[str, str]) -> str:
    """The code that gives a started kernel its step: working directory and variables."""
    return ("import os as _o\n"
            f"_o.environ.update({json.dumps(dict(env))})\n"
            f"_o.chdir({json.dumps(str(cwd))})\n"
            "del _o\n")


#: Run after the last cell (also after a failing one): ends the notebook's nbops session runs
#: and ships what it logged, since kernels are stopped at once and nbops' exit hook won't run.
FINISH_CODE = """\
import sys as _s
if "nbops.tracking.run" in _s.modules:
    _s.modules["nbops.tracking.run"].default_tracker().close()
del _s
"""

WARM_ENGINE = "nbops-warm"


def warm_engine() -> str:
    """Register papermill's ``nbops-warm`` engine (once) and return its name.

    It is papermill's nbclient engine with two more client options: ``setup_code`` runs
    before the first cell and ``finish_code`` after the last, silently, on papermill's own
    connection; and the connection is ready once the kernel answered a ``kernel_info``
    request on the shell and IOPub channels (the kernel has booted: it was started ahead).
    A failing ``setup_code`` raises RuntimeError; a failing ``finish_code`` too, unless a
    cell failed first (papermill then reports that cell).
    """
    from papermill.engines import NBClientEngine, papermill_engines

    if WARM_ENGINE in papermill_engines._engines:
        return WARM_ENGINE
    from nbclient.util import ensure_async, run_hook, run_sync
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.utils import merge_kwargs, remove_args
    from traitlets import Unicode

    class WarmClient(PapermillNotebookClient):
        setup_code = Unicode("")
        finish_code = Unicode("")

        async def async_start_new_kernel_client(self) -> Any:
            self.kc = self.km.client()
            await ensure_async(self.kc.start_channels())
            try:
                await _answered(self.kc, self.km, self.startup_timeout)
                await self._run_quiet(self.setup_code)
            except Exception:
                self.kc.stop_channels()
                raise
            self.kc.allow_stdin = False
            await run_hook(self.on_notebook_start, notebook=self.nb)
            return self.kc

        start_new_kernel_client = run_sync(async_start_new_kernel_client)

        def papermill_execute_cells(self) -> None:
            super().papermill_execute_cells()
            try:
                run_sync(self._run_quiet)(self.finish_code)
            except RuntimeError:
                if not self.nb.metadata.get("papermill", {}).get("exception"):
                    raise

        async def _run_quiet(self, code: str) -> None:
            if not code:
                return
            msg_id = self.kc.execute(code, silent=True, store_history=False)
            reply = await self.async_wait_for_reply(msg_id)
            content = (reply or {}).get("content", {})
            if content.get("status") != "ok":
                raise RuntimeError(f"nbops' step code failed in the kernel: "
                                   f"{content.get('ename')}: {content.get('evalue')}")

    class WarmEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None,
                                     start_timeout: int = 60, execution_timeout: Any = None,
                                     **kwargs: Any) -> Any:
            # papermill's NBClientEngine.execute_managed_notebook, with WarmClient
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs, timeout=execution_timeout or kwargs.get("timeout"),
                startup_timeout=start_timeout, kernel_name=kernel_name, log=_papermill_log(),
                log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
            return WarmClient(nb_man, **final_kwargs).execute()

    papermill_engines.register(WARM_ENGINE, WarmEngine)
    return WARM_ENGINE


def _papermill_log() -> Any:
    from papermill.log import logger

    return logger


async def _answered(kc: Any, km: Any, timeout: float) -> None:
    """Wait until the kernel answers a ``kernel_info`` request on shell *and* IOPub (so IOPub
    is subscribed: no output of the first cell is lost); RuntimeError past ``timeout``."""
    from queue import Empty

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg_id = kc.kernel_info()
        try:
            reply = await _reply_to(kc.shell_channel, msg_id, 1.0)
            if hasattr(kc, "_handle_kernel_info_reply"):
                kc._handle_kernel_info_reply(reply)
            while True:  # the kernel's idle status for this request, on IOPub
                msg = await _reply_to(kc.iopub_channel, msg_id, 0.5)
                if msg["msg_type"] == "status" and \
                        msg["content"].get("execution_state") == "idle":
                    return
        except Empty:
            if not await km.is_alive():
                raise RuntimeError("the kernel died before it was ready") from None
    raise RuntimeError(f"the kernel did not answer within {timeout:g}s")


async def _reply_to(channel: Any, msg_id: str, timeout: float) -> dict:
    """The next message on ``channel`` answering ``msg_id`` (others are skipped); Empty after
    ``timeout`` seconds without one."""
    from queue import Empty

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Empty
        msg = await channel.get_msg(timeout=left)
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg


class KernelPool:
    """Fresh kernels started ahead of time, per kernel name, for the next steps.

    A kernel takes longer to boot (about 0.7 s) than a short step takes to run, so one kernel
    started ahead is not enough: :meth:`take` starts as many as the caller says the next
    steps need (``ahead``), and they boot side by side while the steps run.

    ``env`` is what every kernel gets at start (the tracking store, the experiment);
    ``pid_file`` receives the pid of every kernel started, one per line, so that a supervisor
    can kill them with the process that owns the pool.
    """

    def __init__(self, env: Mapping[str, str], log_dir: Path | None = None,
                 pid_file: Path | None = None) -> None:
        # Imported here, on the caller's thread: imported first by a pool thread while the
        # caller imports papermill (nbclient → jupyter_client), the two imports can meet
        # half-done ("partially initialized module 'jupyter_client.manager'").
        import jupyter_client  # noqa: F401

        self.env = dict(env)
        self.log_dir = log_dir
        self.pid_file = pid_file
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbops-kernels")
        self._waiting: dict[str, deque[Future[Kernel]]] = {}
        self._lock = threading.Lock()

    def prestart(self, name: str, count: int = 1) -> None:
        """Have ``count`` kernels named ``name`` started in the background (those already
        waiting count; none is stopped)."""
        with self._lock:
            queue = self._waiting.setdefault(name, deque())
            while len(queue) < count:
                queue.append(self._threads.submit(self._start, name))

    def take(self, name: str, ahead: int = 1) -> Kernel:
        """A fresh kernel: the one waiting longest when there is one (warm), else started now
        (cold). Then has ``ahead`` kernels starting in the background for the next steps.
        """
        with self._lock:
            queue = self._waiting.get(name)
            waiting = queue.popleft() if queue else None
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
        if ahead:
            self.prestart(name, ahead)
        return kernel

    def release(self, kernel: Kernel) -> None:
        """Shut a used kernel down in the background."""
        self._threads.submit(shutdown, kernel)

    def close(self) -> None:
        """Shut down waiting kernels and wait for pending shutdowns."""
        with self._lock:
            waiting = [fut for queue in self._waiting.values() for fut in queue]
            self._waiting = {}
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

"""Where steps execute: local worker processes, or an existing Dask distributed cluster.

:func:`execute_step` runs one step attempt with papermill and returns a :class:`StepOutcome`
(the executed notebook, the recorded outputs, or a :class:`~nbops.pipeline.report.Failure`).
It never touches MLflow: the runner records everything, so workers need only the notebook
kernel's access to the tracking store.

Executors (``submit`` / ``wait`` / ``close``):

* :class:`LocalExecutor` — ``workers`` long-lived worker processes ("lanes"), each with a
  :class:`~nbops.pipeline.kernels.KernelPool` that boots the next kernel while a step runs.
  A step past ``timeout`` + grace is killed with its kernel (the process is replaced).
* :class:`DaskExecutor` — ``client.submit(execute_on_worker, task)`` on a running cluster
  (``tcp://host:port``); each worker process keeps its own :class:`KernelPool`, so its steps
  after the first find their kernel booted. Workers need the project folder and the tracking
  store at the same paths (a shared file system or a tracking server).

No step hangs: papermill's ``execution_timeout`` bounds each cell, a watchdog shuts the kernel
down when the step's ``timeout`` is reached (nbclient then reports a dead kernel), and the
local executor kills the worker process past ``timeout + KILL_GRACE``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from nbops.config import LANE_ENV_VAR, LANE_KEY_VAR, OUTPUTS_FILE_VAR
from nbops.exceptions import UsageError
from nbops.pipeline.report import Failure, running_cell
from nbops.store import tags as T
from nbops.tracking.notebook_html import skip_iri_grammar

__all__ = [
    "EXECUTORS",
    "KILL_GRACE",
    "DaskExecutor",
    "LocalExecutor",
    "StepOutcome",
    "StepTask",
    "execute_on_worker",
    "execute_step",
    "make_executor",
    "prestart_on_worker",
]

EXECUTORS = ("local", "dask")
#: Seconds past a step's timeout before its worker process is killed outright.
KILL_GRACE = 5.0


@dataclass
class StepTask:
    """One attempt of one step, self-contained and picklable."""

    step: str
    attempt: int
    notebook_json: str
    notebook_path: str
    parameters: dict[str, Any]
    kernel: str
    timeout: float | None
    env: dict[str, str]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: The folder for the attempt's files (papermill's output notebook, the outputs file);
    #: default a new temporary folder. Removed when the attempt ends.
    scratch: str | None = None
    #: How many kernels the worker keeps booting for the steps after this one.
    kernels_ahead: int = 1

    @property
    def output_notebook(self) -> Path | None:
        """Where papermill writes the executed notebook (cell by cell), when ``scratch`` is
        set."""
        return Path(self.scratch) / Path(self.notebook_path).name if self.scratch else None


@dataclass
class StepOutcome:
    """What one attempt produced."""

    task_id: str
    step: str
    attempt: int
    notebook_json: str | None
    outputs: dict[str, dict[str, Any]]
    failure: Failure | None
    duration: float
    warm_kernel: bool = False

    @property
    def ok(self) -> bool:
        return self.failure is None


# -- one step ------------------------------------------------------------------------------------


def execute_step(task: StepTask, pool: Any = None) -> StepOutcome:
    """Run ``task`` with papermill on a fresh kernel (from ``pool`` when given) and report.

    Never raises for a failing notebook: failures come back in ``StepOutcome.failure``.
    """
    import nbformat
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from nbops.pipeline.kernels import FINISH_CODE, setup_code, shutdown, start_kernel, warm_engine

    started = time.monotonic()
    if task.scratch:
        work = Path(task.scratch)
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix=f"nbops-{task.step}-"))
    outputs_file = work / "outputs.jsonl"
    out_path = work / Path(task.notebook_path).name
    env = {**task.env, OUTPUTS_FILE_VAR: str(outputs_file)}
    cwd = Path(task.notebook_path).parent
    kernel = None
    fired = threading.Event()
    watchdog = None
    failure: Failure | None = None
    try:
        kernel = pool.take(task.kernel, task.kernels_ahead) if pool is not None else \
            start_kernel(task.kernel, task.env, work)
        if task.timeout:
            def kill() -> None:  # the kernel dies; nbclient then raises DeadKernelError
                fired.set()
                if kernel.pid:
                    os.kill(kernel.pid, signal.SIGKILL)

            watchdog = threading.Timer(task.timeout - (time.monotonic() - started), kill)
            watchdog.daemon = True
            watchdog.start()
        nb = nbformat.reads(task.notebook_json, as_version=4)
        papermill.execute_notebook(
            nb, str(out_path), parameters=task.parameters, kernel_name=task.kernel,
            km=kernel.km, progress_bar=False, log_output=False, engine_name=warm_engine(),
            setup_code=setup_code(cwd if cwd.is_dir() else work, env), finish_code=FINISH_CODE,
            execution_timeout=int(task.timeout) + 1 if task.timeout else None)
    except papermill.PapermillExecutionError as exc:
        failure = Failure.from_papermill(exc, _read(out_path), task.notebook_json)
    except (DeadKernelError, CellTimeoutError, RuntimeError, TimeoutError) as exc:
        if fired.is_set() or isinstance(exc, CellTimeoutError):
            index, source = running_cell(_read(out_path), task.notebook_json)
            where = f" while running cell {index}" if index is not None else ""
            failure = Failure(kind="timeout", message=f"the step ran past its timeout of "
                              f"{task.timeout:g}s and was stopped{where} "
                              f"({type(exc).__name__}); the outputs it had so far are in the "
                              "notebook.", cell_index=index, source=source)
        elif isinstance(exc, DeadKernelError):
            tail = kernel.log_tail() if kernel else ""
            failure = Failure(kind="dead_kernel", message="the kernel died while running the "
                              "notebook (out of memory, a crash in native code, or os._exit)."
                              + (f"\nkernel log:\n{tail}" if tail else ""))
        else:
            failure = Failure(kind="error", message=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a worker reports, it never dies on a step
        failure = Failure(kind="error", message=f"{type(exc).__name__}: {exc}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if kernel is not None and pool is not None:
            pool.release(kernel)
        elif kernel is not None:
            shutdown(kernel)
    from nbops.pipeline.outputs import read_outputs

    executed = _read(out_path)
    outcome = StepOutcome(task_id=task.id, step=task.step, attempt=task.attempt,
                          notebook_json=executed, outputs=read_outputs(outputs_file),
                          failure=failure, duration=time.monotonic() - started,
                          warm_kernel=bool(kernel and kernel.warm))
    shutil.rmtree(work, ignore_errors=True)
    return outcome


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


# -- local: worker processes with warm kernels ---------------------------------------------------


def _lane_main(conn: Connection, env: dict[str, str], kernel: str | None, pid_file: str) -> None:
    """A worker process: pre-start a kernel, then run the tasks it is sent until ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is handled by the runner
    skip_iri_grammar()
    from nbops.pipeline.kernels import KernelPool

    pool = KernelPool(env, log_dir=Path(pid_file).parent, pid_file=Path(pid_file))
    if kernel:
        pool.prestart(kernel)
    import papermill  # noqa: F401 - imported while the first kernel boots, not on the step's clock

    try:
        while True:
            task = conn.recv()
            if task is None:
                break
            conn.send(execute_step(task, pool))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        pool.close()


class _Lane:
    """A worker process (``python -m nbops.pipeline.executors``) connected over a unix socket.

    A plain subprocess, not ``multiprocessing``: the user's main module is never re-imported
    (scripts without an ``if __name__ == "__main__"`` guard, stdin, notebooks all work).
    """

    def __init__(self, env: dict[str, str], kernel: str | None, folder: Path) -> None:
        import secrets
        import subprocess
        import sys
        from multiprocessing.connection import Listener

        name = uuid.uuid4().hex[:8]
        self.pid_file = folder / f"lane-{name}.pids"
        key = secrets.token_bytes(16)
        address = str(folder / f"lane-{name}.sock")
        self._listener = Listener(address, family="AF_UNIX", authkey=key)
        self.process = subprocess.Popen(
            [sys.executable, "-m", T.PIPELINE_EXECUTORS, address, self.pid_file.name,
             kernel or ""],
            env={**os.environ, LANE_KEY_VAR: key.hex(), LANE_ENV_VAR: json.dumps(env)},
            stdin=subprocess.DEVNULL)
        self._conn: Connection | None = None  # accepted on first use: starting never waits
        self.task: StepTask | None = None
        self.deadline: float | None = None
        self.started = 0.0

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            sock = getattr(getattr(self._listener, "_listener", None), "_socket", None)
            if sock is not None:  # never wait forever for a worker that failed to start
                sock.settimeout(60)
            try:
                self._conn = self._listener.accept()
            finally:
                self._listener.close()
        return self._conn

    def kill(self) -> None:
        """Kill the worker and every kernel it started."""
        try:
            pids = [int(p) for p in self.pid_file.read_text().split()]
        except (OSError, ValueError):
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.process.kill()
        self.process.wait(5)
        if self._conn is not None:
            self._conn.close()
        self._listener.close()


class LocalExecutor:
    """``workers`` worker processes on this machine, each keeping a warm kernel ready.

    ``env`` is given to every kernel at start; ``kernel`` is the kernel name to pre-start.
    """

    def __init__(self, workers: int = 1, env: Mapping[str, str] | None = None,
                 kernel: str | None = "python3") -> None:
        if workers < 1:
            raise UsageError(f"workers must be 1 or more, got {workers}.")
        self._env = dict(env or {})
        self._kernel = kernel
        self._folder = Path(tempfile.mkdtemp(prefix="nbops-lanes-"))
        self._workers = workers
        self._lanes: list[_Lane] = []  # started on the first submit: a fully cached run needs none

    @property
    def free(self) -> int:
        """How many more tasks can start now."""
        if not self._lanes:
            return self._workers
        return sum(1 for lane in self._lanes if lane.task is None)

    def start(self) -> None:
        """Start the worker processes and their first kernels (returns at once); the first
        :meth:`submit` does it otherwise."""
        if not self._lanes:
            self._lanes = [_Lane(self._env, self._kernel, self._folder)
                           for _ in range(self._workers)]

    def submit(self, task: StepTask) -> None:
        self.start()
        task.scratch = str(self._folder / task.id)  # known here: see partial_notebooks
        lane = next(lane for lane in self._lanes if lane.task is None)
        lane.task, lane.started = task, time.monotonic()
        lane.deadline = lane.started + task.timeout + KILL_GRACE if task.timeout else None
        lane.conn.send(task)

    def wait(self, timeout: float) -> list[StepOutcome]:
        """Outcomes of tasks that ended within ``timeout`` seconds (possibly none)."""
        busy = {lane.conn: lane for lane in self._lanes if lane.task is not None}
        if not busy:
            time.sleep(min(timeout, 0.05))
            return []
        done: list[StepOutcome] = []
        for conn in wait(list(busy), timeout):
            lane = busy[conn]
            try:
                done.append(conn.recv())
                lane.task = None
            except (EOFError, OSError):
                done.append(self._replace(lane, "dead_kernel", "the step's worker process "
                                          "died (killed, or out of memory)."))
        now = time.monotonic()
        for lane in self._lanes:
            if lane.task is not None and lane.deadline is not None and now > lane.deadline:
                done.append(self._replace(lane, "timeout", f"the step ran past its timeout of "
                                          f"{lane.task.timeout:g}s and did not stop; its process "
                                          "and kernel were killed."))
        return done

    def partial_notebooks(self) -> dict[str, str]:
        """``{step: notebook JSON}``: what papermill has written so far of each running step
        (it saves the notebook as each cell starts and ends)."""
        out = {}
        for lane in self._lanes:
            path = lane.task.output_notebook if lane.task is not None else None
            try:
                if path is not None:
                    out[lane.task.step] = path.read_text(encoding="utf-8")
            except OSError:
                pass  # the step had not written it yet
        return out

    def _replace(self, lane: _Lane, kind: str, message: str) -> StepOutcome:
        task = lane.task
        assert task is not None
        lane.kill()
        self._lanes[self._lanes.index(lane)] = _Lane(self._env, self._kernel, self._folder)
        partial = task.output_notebook  # the notebook as far as it ran
        return StepOutcome(task_id=task.id, step=task.step, attempt=task.attempt,
                           notebook_json=_read(partial) if partial else None, outputs={},
                           failure=Failure(kind, message),
                           duration=time.monotonic() - lane.started)

    def close(self) -> None:
        """Stop the workers: an idle one is told to stop and exits on its own once its
        waiting kernel is shut down (nobody waits for that); a busy one is killed."""
        for lane in self._lanes:
            if lane.task is None and lane.process.poll() is None and lane._conn is not None:
                try:
                    lane.conn.send(None)
                    continue
                except OSError:
                    pass
            lane.kill()  # busy, dead, or never used (still starting)
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- dask ----------------------------------------------------------------------------------------

_worker_pool: Any = None  # the KernelPool of this Dask worker process


def execute_on_worker(task: StepTask) -> StepOutcome:
    """:func:`execute_step` in a Dask worker process, on that process's warm kernels: the
    worker keeps a :class:`~nbops.pipeline.kernels.KernelPool` that boots the next kernel
    while a step runs (its first step starts one cold). Kernels still waiting when the worker
    exits are shut down (and a kernel whose worker was killed exits on its own: it watches
    its parent process)."""
    return execute_step(task, _kernel_pool())


def prestart_on_worker(kernel: str) -> None:
    """Have a kernel named ``kernel`` boot in this Dask worker process, so that its first step
    finds it ready, and import papermill while it boots; the executor asks every worker when
    it starts."""
    _kernel_pool().prestart(kernel)
    import papermill  # noqa: F401 - imported while the kernel boots, not on the step's clock


def _kernel_pool() -> Any:
    global _worker_pool
    if _worker_pool is None:
        import atexit

        from nbops.pipeline.kernels import KernelPool

        _worker_pool = KernelPool({})  # each step's variables are given by its setup code
        atexit.register(_worker_pool.close)
    return _worker_pool



class DaskExecutor:
    """Steps as tasks on an existing Dask distributed cluster (``tcp://host:port``).

    ``kernel``: the kernel name every worker boots when the executor starts, for its first
    step."""

    def __init__(self, address: str, connect_timeout: float = 10.0,
                 kernel: str | None = "python3") -> None:
        try:
            from distributed import Client
        except ImportError:
            from nbops.exceptions import DependencyMissingError

            raise DependencyMissingError("distributed", "The Dask executor", "pipeline") from None
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except OSError as exc:
            raise UsageError(f"Cannot reach the Dask scheduler at {address} ({exc}). Start it "
                             "(`dask scheduler`) or fix --scheduler.") from None
        self._futures: dict[Any, tuple[StepTask, float]] = {}
        self._kernel = kernel
        self._workers = 0  # counted when the executor starts
        self._ended = threading.Event()  # set when a task ends (wakes wait)

    @property
    def free(self) -> int:
        return 1_000_000  # the cluster queues tasks itself

    def start(self) -> None:
        """The cluster runs already: have each worker boot a kernel for its first step
        (returns at once)."""
        if not self._workers:
            self._workers = max(1, len(self.client.scheduler_info().get("workers", {})))
            if self._kernel:
                self.client.run(prestart_on_worker, self._kernel)

    def partial_notebooks(self) -> dict[str, str]:
        """Nothing: the notebooks being written are on the workers' disks."""
        return {}

    def submit(self, task: StepTask) -> None:
        self.start()
        # The steps left are spread over the workers: each boots its share ahead.
        task.kernels_ahead = -(-task.kernels_ahead // self._workers)
        fut = self.client.submit(execute_on_worker, task, pure=False,
                                 key=f"nbops-{task.step}-{task.id}")
        fut.add_done_callback(lambda _: self._ended.set())
        self._futures[fut] = (task, time.monotonic())

    def wait(self, timeout: float) -> list[StepOutcome]:
        """Outcomes of tasks that ended within ``timeout`` seconds (possibly none); woken by
        the first one to end, not by polling."""
        self._ended.clear()  # before looking: a task ending from here on sets it again
        finished = [f for f in self._futures if f.done()]
        if not finished and self._futures:
            self._ended.wait(timeout)
            finished = [f for f in self._futures if f.done()]
        elif not self._futures:
            time.sleep(min(timeout, 0.05))
        done = []
        for fut in finished:
            task, started = self._futures.pop(fut)
            try:
                done.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - the worker died or the task was lost
                done.append(StepOutcome(task.id, task.step, task.attempt, None, {},
                                        Failure("error", f"the Dask task failed: {exc}"),
                                        time.monotonic() - started))
        now = time.monotonic()
        for fut, (task, started) in list(self._futures.items()):
            if task.timeout and now > started + task.timeout + KILL_GRACE:
                fut.cancel()
                del self._futures[fut]
                done.append(StepOutcome(task.id, task.step, task.attempt, None, {},
                                        Failure("timeout", f"the step ran past its timeout of "
                                                f"{task.timeout:g}s; its Dask task was "
                                                "cancelled."), now - started))
        return done

    def close(self) -> None:
        for fut in self._futures:
            fut.cancel()
        self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(kind: str, workers: int = 1, scheduler_address: str | None = None,
                  env: Mapping[str, str] | None = None,
                  kernel: str | None = "python3") -> LocalExecutor | DaskExecutor:
    """The executor named ``kind`` (``local`` or ``dask``)."""
    if kind == "local":
        return LocalExecutor(workers, env, kernel)
    if kind == "dask":
        if not scheduler_address:
            raise UsageError("executor 'dask' needs a scheduler address, e.g. "
                             "--scheduler tcp://127.0.0.1:8786.")
        return DaskExecutor(scheduler_address, kernel=kernel)
    from nbops.exceptions import closest

    raise UsageError(f"unknown executor {kind!r}.{closest(kind, EXECUTORS)} Choose from "
                     f"{', '.join(EXECUTORS)}.")


def _lane_entry(argv: list[str]) -> None:
    from multiprocessing.connection import Client

    address, pid_file, kernel = argv
    from nbops.config import lane_handshake

    key, env = lane_handshake()
    conn = Client(address, family="AF_UNIX", authkey=key)
    _lane_main(conn, env, kernel or None, str(Path(address).parent / pid_file))


if __name__ == "__main__":  # a lane: use the package's module so results unpickle as such
    import sys

    from nbops.pipeline.executors import _lane_entry as entry

    entry(sys.argv[1:])

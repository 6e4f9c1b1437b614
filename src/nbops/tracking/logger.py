"""The async durable logger: user thread → in-memory queue → disk spool → MLflow.

    caller (cell)            worker thread (daemon)
    ─────────────            ──────────────────────────────────────────────────────────────
    queue.append(item)  ──►  every 20 ms, or when woken:
      (~1 µs, no I/O)          1. drain: write queued runs/events/metric points to the spool
                               2. run capture jobs (git, environment, history notebook) and
                                  spool what they produce: capture is as durable as metrics,
                                  whether or not the store answers
                               3. ship: oldest unshipped events → MLflow, in batches
                             on a store outage: keep everything spooled, back off
                             (0.5 s doubling to 30 s), report one problem, retry; an event
                             the store cannot take for any other reason is set aside
                             (``nbops status`` lists it; ``nbops sync --retry-rejected``)

A process registers as an *owner* in the spool and holds a lock while it lives. At start the
logger adopts the runs of dead owners: runs still RUNNING are ended as FAILED (their kernel
died), and their unshipped events are replayed; shipped events of ended runs are deleted. ``flush`` waits (bounded) for the backlog to
ship; it runs at interpreter exit with ``Settings.flush_timeout`` (1 s by default). What is
still spooled then is handed to a detached ``nbops sync`` process that ships it once this one
has exited (unless the store is known to be unreachable: then a one-line hint names
``nbops sync``). Exit never raises.

At most the events queued in the last ~20 ms before a hard kill (SIGKILL, OOM) are lost; an
exception, ``end()`` or a normal exit writes everything to the spool first.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbops.config import Settings
from nbops.store import tags as T
from nbops.store.probe import probe
from nbops.tracking.spool import Event, RunRecord, Spool

__all__ = ["DurableLogger", "MetricSeries", "replay", "yield_cpu"]

TICK = 0.02
MAX_BACKOFF = 30.0
#: After a run starts or ends (a cell starts or finishes), shipping waits this long, so the
#: kernel's reply to the cell is not slowed by MLflow work competing for the GIL.
QUIET = 0.1
#: Capture jobs (code, git, environment, notebook snapshots) wait while a run is active, so a
#: short cell is not slowed by them, but at most this long: then they run even if the cell goes
#: on, so a kernel killed in a long cell loses nothing it captured. After a run ends they wait
#: ``SETTLE`` more, for the kernel to send its reply first.
CAPTURE_GRACE = 0.25
SETTLE = 0.02
SERIES_CAP = 256


#: Seconds a run waits for a parent that another machine is to put in MLflow before it is
#: shipped without it.
PARENT_PATIENCE = 600.0


class ParentPending(Exception):
    """A run's parent, or a run a tag names, belongs to another process (``nbops run``, for its
    step kernels) that has not created it in MLflow yet: the event waits, it is not an error."""


@dataclass
class MetricSeries:
    """What a run summary shows of one metric: last value, a decimated series, NaN/inf seen."""

    last: float = float("nan")
    last_step: int = 0
    count: int = 0
    values: list[float] = field(default_factory=list)
    stride: int = 1
    non_finite_step: int | None = None

    def add(self, value: float, step: int) -> None:
        self.last, self.last_step = value, step
        if self.non_finite_step is None and (value != value or value in (float("inf"),
                                                                            float("-inf"))):
            self.non_finite_step = step
        if self.count % self.stride == 0:
            self.values.append(value)
            if len(self.values) >= SERIES_CAP:
                self.values = self.values[::2]
                self.stride *= 2
        self.count += 1


class DurableLogger:
    """One per process and nbops home. Start it with :meth:`start`; log through the queue."""

    def __init__(self, settings: Settings, store_factory: Callable[[Settings], Any] | None = None,
                 *, role: str = ""):
        self.settings = settings
        self.spool = Spool(settings.home)
        self.owner = self.spool.register_owner(role)
        self.role = role
        self.queue: deque[tuple] = deque()
        self.jobs: deque[tuple[str, Callable[[], list[tuple] | None], float]] = deque()
        #: Whether the user's code is inside a run now (set by the tracker); capture waits.
        self.busy: Callable[[], bool] = lambda: False
        self.series: dict[str, dict[str, MetricSeries]] = {}
        self.mlflow_ids: dict[str, str] = {}
        self._store_factory = store_factory
        self._last_submit = 0.0
        self._store_ready = False  # MLflow imported and the default store opened
        self._flushing = 0
        self._stores: dict[str, Any] = {}  # tracking URI -> store adapter
        self._run_stores: dict[str, str | None] = {}  # run uid -> its tracking URI
        self._jobs_pending: dict[str, int] = {}
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._backoff = 0.0
        self._retry_at = 0.0
        self.problem: str | None = None
        self.problem_since: float | None = None
        self.reaped: list[str] = []
        self._thread = threading.Thread(target=self._loop, name="nbops-logger", daemon=True)
        # Capture jobs run on their own thread: git, the package list and notebook snapshots are
        # in the spool within milliseconds, never queued behind a slow or dead store.
        self._jobs_wake = threading.Event()
        self._capture_thread = threading.Thread(target=self._capture_loop,
                                                name="nbops-capture", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> str | None:
        """Adopt dead owners' runs, start the worker; return a notice about replayed backlog."""
        # MLflow imports concurrent.futures.thread, which registers a threading exit hook; done
        # first in the worker during interpreter shutdown, that import fails ("can't register
        # atexit after shutdown") and nothing ships. Importing it here costs ~1 ms.
        import concurrent.futures.thread  # noqa: F401

        notice = self._reap()
        self.spool.prune()
        self.problem = probe(self.settings.tracking_uri)
        if self.problem:
            self.problem_since = time.time()
        self._thread.start()
        self._capture_thread.start()
        atexit.register(self.close)
        return notice

    def _reap(self) -> str | None:
        adopted_events = 0
        for dead in self.spool.dead_owners():
            before = self.spool.backlog(dead)
            runs = self.spool.adopt(dead)
            now = time.time()
            self.spool.append(
                [],
                [(r.uid, "tags", {T.END_REASON: f"process {dead} ended without closing "
                                                      "the run (kernel died or was killed)"})
                 for r in runs]
                + [(r.uid, "end", {"status": "FAILED", "ended": now}) for r in runs],
                [(r.uid, "FAILED", now) for r in runs],
            )
            self.reaped.extend(r.uid for r in runs)
            adopted_events += before + 2 * len(runs)
        if not adopted_events:
            return None
        msg = f"nbops: replaying {adopted_events} unsynced event(s) from an earlier session"
        if self.reaped:
            msg += f"; {len(self.reaped)} run(s) whose kernel died are marked FAILED"
        return msg + "."

    def close(self) -> None:
        """Write everything to the spool, ship what can be shipped in ``flush_timeout``; hand
        the rest to a detached ``nbops sync`` (or name it in a one-line hint). Never raises."""
        if self._stop:
            return
        try:
            self._run_jobs()  # capture still queued is spooled before anything else
            helper = None
            if not self._store_ready and not self.problem and self.spool.backlog(self.owner):
                # A process that ends right after its run: MLflow may not be imported yet. The
                # background `nbops sync` starts now, importing MLflow and opening the store
                # while we wait, so it ships the moment this process is gone.
                helper = self._start_sync()
            left = self.flush(self.settings.flush_timeout)
            self._stop = True
            self._wake.set()
            if left and helper is None:
                self._hand_off(left)
            elif not left and helper is not None:
                helper.terminate()  # everything shipped in time: it has nothing to do
        except BaseException:  # noqa: BLE001 - interpreter exit must never fail because of us
            self._stop = True

    def _hand_off(self, left: int) -> None:
        """Start a detached ``nbops sync`` that ships this process's backlog once it has exited
        (or, when the store is known to be unreachable, print a hint naming ``nbops sync``)."""
        if not self.problem or self.problem.startswith("rejected"):
            self.problem = probe(self.settings.tracking_uri) or self.problem  # down since the last call?
        if self.problem and not self.problem.startswith("rejected"):
            print(f"nbops: {left} event(s) stay spooled in {self.settings.home} ({self.problem});"
                  " run `nbops sync` when the store is back.", file=sys.stderr)
        elif self._start_sync() is None:
            print(f"nbops: {left} event(s) stay spooled in {self.settings.home}; run "
                  "`nbops sync` to ship them.", file=sys.stderr)

    def _start_sync(self) -> subprocess.Popen | None:
        """A detached ``nbops sync --after <this process>`` (None when it cannot start)."""
        env = {**os.environ, "NBOPS_HOME": str(self.settings.home),
               "NBOPS_TRACKING_URI": self.settings.tracking_uri}
        try:
            log = open(self.settings.home / "sync.log", "a")  # noqa: SIM115 - the child's output
        except OSError:
            return None
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "nbops", "sync", "--after", self.owner, "--quiet"],
                cwd=self.settings.project_root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=log, start_new_session=True, close_fds=True)
        except OSError:
            return None
        finally:
            log.close()

    # -- the caller's side ---------------------------------------------------------------------
    def submit(self, item: tuple) -> None:
        self.queue.append(item)
        self._last_submit = time.monotonic()

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout: float, patience: float | None = None) -> int:
        """Wait until every event of this process is in MLflow, at most ``timeout`` seconds
        (and at most ``patience`` seconds into a store outage, when given).

        Returns the number of events still spooled (0 when everything shipped).
        """
        self.drain()
        deadline = time.monotonic() + timeout
        self._retry_at = 0.0
        with self.urgent():
            return self._wait_shipped(deadline, patience)

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """While someone waits for MLflow, ship at once (no quiet period)."""
        self._flushing += 1
        try:
            yield
        finally:
            self._flushing -= 1

    def _wait_shipped(self, deadline: float, patience: float | None) -> int:
        while True:
            left = self.spool.backlog(self.owner) + sum(self._jobs_pending.values())
            if left == 0 or time.monotonic() >= deadline or not self._thread.is_alive():
                return left
            if patience is not None and self.problem_since and self.problem \
                    and not self.problem.startswith("rejected") \
                    and time.time() - self.problem_since > patience:
                return left
            self._wake.set()
            time.sleep(0.01)

    def sync_now(self, timeout: float = 60.0, patience: float = 10.0) -> int:
        """Retry at once (ignoring back-off) and wait, giving up after ``patience`` seconds of
        store outage; return the events still spooled."""
        self._backoff = 0.0
        return self.flush(timeout, patience=patience)

    # -- the worker ----------------------------------------------------------------------------
    def _loop(self) -> None:
        yield_cpu()
        _remove_empty_folders(self.settings.home / "staging")
        try:
            self.drain()
            if self.role != "sync":  # a replay opens only the stores its runs belong to
                self._store_for(self.settings.tracking_uri).warm_up()
                self._store_ready = True
        except Exception as exc:  # noqa: BLE001 - a dead store is retried like any failure
            self._set_problem(exc)
        while not self._stop:
            self._wake.wait(TICK)
            self._wake.clear()
            try:
                self.drain()
                quiet = time.monotonic() - self._last_submit >= QUIET or self._flushing
                if quiet and time.monotonic() >= self._retry_at:
                    self._ship()
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything
                self._set_problem(exc)
                self._backoff = min(MAX_BACKOFF, max(0.5, self._backoff * 2))
                self._retry_at = time.monotonic() + self._backoff

    def drain(self) -> None:
        """Move queued items into the spool (callable from any thread)."""
        with self._drain_lock:
            runs, events, ended = [], [], []
            points: list[tuple] = []
            while self.queue:
                item = self.queue.popleft()
                tag = item[0]
                if tag == "m":
                    points.append(item)
                    continue
                if points:
                    events.extend(self._metric_events(points))
                    points = []
                if tag == "run":
                    runs.append(item[1])
                elif tag == "ev":
                    events.append(item[1:])
                elif tag == "end":
                    _, uid, status, when = item
                    events.append((uid, "end", {"status": status, "ended": when}))
                    ended.append((uid, status, when))
            if points:
                events.extend(self._metric_events(points))
            if runs or events or ended:
                self.spool.append(runs, events, ended)

    def submit_job(self, uid: str, job: Callable[[], list[tuple] | None]) -> None:
        """Run ``job`` on the capture thread; the events it returns are spooled (after the
        run's queued items), and the run is not terminated in MLflow before they ship."""
        with self._drain_lock:
            self._jobs_pending[uid] = self._jobs_pending.get(uid, 0) + 1
        self.jobs.append((uid, job, time.monotonic()))
        self._jobs_wake.set()

    def _capture_loop(self) -> None:
        yield_cpu()
        while not self._stop:
            self._jobs_wake.wait(TICK if self.jobs else 0.5)
            self._jobs_wake.clear()
            if self.jobs and self._may_capture(self.jobs[0][2]):
                self._run_jobs()

    def _may_capture(self, submitted: float) -> bool:
        """Whether queued capture may run now without slowing the user's cell."""
        now = time.monotonic()
        if self._flushing or now - submitted >= CAPTURE_GRACE:
            return True
        return not self.busy() and now - self._last_submit >= SETTLE

    def _run_jobs(self) -> None:
        """Run queued capture jobs (safe from several threads: each job is popped once)."""
        while self.jobs:
            try:
                uid, job, _ = self.jobs.popleft()
            except IndexError:
                return
            try:
                produced = job()
            except Exception:  # noqa: BLE001 - capture never breaks a run
                produced = [(uid, "tags", {T.CAPTURE_ERROR: traceback.format_exc(limit=3)})]
            try:
                self.drain()
                if produced:
                    self.spool.append([], produced)
            finally:
                with self._drain_lock:
                    self._jobs_pending[uid] -= 1
                    if not self._jobs_pending[uid]:
                        del self._jobs_pending[uid]
            self._wake.set()

    def _metric_events(self, points: list[tuple]) -> list[tuple]:
        """Group metric points per run into one ``metrics`` event each; read tensors in bulk."""
        _materialize_tensors(points)
        per_run: dict[str, list[list[Any]]] = {}
        for _, uid, key, value, ts, step in points:
            per_run.setdefault(uid, []).append([key, value, ts, step])
            self.series.setdefault(uid, {}).setdefault(key, MetricSeries()).add(value, step)
        return [(uid, "metrics", rows) for uid, rows in per_run.items()]

    def _store_for(self, uri: str | None) -> Any:
        """The store adapter for ``uri`` (a run's own store; default: the settings' store)."""
        uri = uri or self.settings.tracking_uri
        store = self._stores.get(uri)
        if store is None:
            settings = self.settings
            if uri != settings.tracking_uri:
                from dataclasses import replace

                settings = replace(settings, tracking_uri=uri)
            store = self._stores[uri] = (self._store_factory or _default_store)(settings)
        return store

    def _ship(self) -> None:
        from nbops.exceptions import PermanentStoreError
        from nbops.store import is_retryable as is_outage

        while not self._stop:
            events = self.spool.pending(self.owner)
            if not events:
                break
            progressed = False
            for group in _consecutive(events):
                uid = group[0].run_uid
                if group[0].kind == "end" and uid in self._jobs_pending:
                    continue  # let capture artifacts land before the run is terminated
                try:
                    run_id = self._ensure_run(uid)
                    store = self._store_for(self._run_store_uri(uid))
                    lost = self._ship_group(store, run_id, group)
                except ParentPending:
                    continue  # the outer run's process has not shipped it yet: next round
                except Exception as exc:  # noqa: BLE001 - classified: outage or poison event
                    if not isinstance(exc, PermanentStoreError) and is_outage(exc):
                        raise
                    for ev in group:  # set aside, never retried blindly, listed by status
                        self.spool.mark_rejected(ev.seq, f"{type(exc).__name__}: {exc}"[:2000])
                    self._set_problem(exc, permanent=True)
                    progressed = True
                    continue
                for ev, reason in lost:
                    self.spool.mark_rejected(ev.seq, reason)
                    self._set_problem(RuntimeError(reason), permanent=True)
                lost_seqs = {ev.seq for ev, _ in lost}
                group = [ev for ev in group if ev.seq not in lost_seqs]
                self.spool.mark_shipped(ev.seq for ev in group)
                progressed = True
                if group and group[0].kind == "artifact":
                    self._clean_staged(group)
            if not progressed:
                break
        self._backoff = 0.0
        if self.problem and self.problem_since and not self.problem.startswith("rejected"):
            self.problem = self.problem_since = None

    def _ensure_run(self, uid: str) -> str:
        if uid in self.mlflow_ids:
            return self.mlflow_ids[uid]
        rec = self.spool.run(uid)
        assert rec is not None, f"event for unknown run {uid}"
        if rec.mlflow_id:
            self.mlflow_ids[uid] = rec.mlflow_id
            return rec.mlflow_id
        store = self._store_for(rec.store_uri)
        exp_id = store.experiment_id(rec.experiment)
        parent = self._parent_of(rec, store, exp_id)
        run_id = store.find_run(exp_id, uid) if rec.create_attempted else None
        if run_id is None:
            self.spool.mark_create_attempted(uid)
            run_id = store.create_run(exp_id, uid, rec.name, rec.started, parent)
        self.spool.set_mlflow_id(uid, run_id)
        self.mlflow_ids[uid] = run_id
        return run_id

    def _parent_of(self, rec: RunRecord, store: Any, exp_id: str) -> str | None:
        """The MLflow id of the parent of run ``rec``; ParentPending while it is not in MLflow
        yet and another process (or machine) is to create it."""
        uid = rec.parent_uid
        if not uid:
            return rec.parent_mlflow_id
        found = self._spooled_run(uid)
        if found is not None or rec.parent_mlflow_id:
            return found or rec.parent_mlflow_id
        # A run of another machine's spool (the step run of a pipeline whose step runs on a
        # Dask worker): found in MLflow, by its nbops id, once that machine has shipped it.
        found = store.find_run(exp_id, uid)
        if found is not None:
            self.mlflow_ids[uid] = found
            return found
        if time.time() - rec.started < PARENT_PATIENCE:
            raise ParentPending(uid)
        return None  # never shipped: the run goes in without its parent rather than never

    def _spooled_run(self, uid: str) -> str | None:
        """The MLflow id of the run ``uid`` of this spool (created now when it is ours);
        ParentPending while another process has yet to create it; None when this spool never
        knew that run."""
        if uid in self.mlflow_ids:
            return self.mlflow_ids[uid]
        rec = self.spool.run(uid)
        if rec is None:
            return None
        if not rec.mlflow_id and rec.owner != self.owner:
            raise ParentPending(uid)  # its owner (or whoever adopts its backlog) creates it
        return self._ensure_run(uid)

    def _run_store_uri(self, uid: str) -> str | None:
        uri = self._run_stores.get(uid)
        if uid not in self._run_stores:
            rec = self.spool.run(uid)
            uri = self._run_stores[uid] = rec.store_uri if rec else None
        return uri

    def _ship_group(self, store: Any, run_id: str, group: list[Event]
                    ) -> list[tuple[Event, str]]:
        """Ship one group; return the events that could not be shipped and why (lost files)."""
        kind = group[0].kind
        lost: list[tuple[Event, str]] = []
        if kind in ("params", "tags", "metrics"):
            params: dict[str, Any] = {}
            tags: dict[str, Any] = {}
            metrics: list[list[Any]] = []
            for ev in group:
                if ev.kind == "params":
                    params.update(ev.payload)
                elif ev.kind == "tags":
                    tags.update(ev.payload)
                else:
                    metrics.extend(ev.payload)
            store.log_batch(run_id, metrics, params, tags)
        elif kind == "artifact":
            for ev in group:
                path = Path(ev.payload["path"])
                if path.exists() and ev.payload.get("render") == "html":
                    _log_as_html(store, run_id, path, ev.payload.get("artifact_path"))
                elif path.exists():
                    store.log_artifact(run_id, str(path), ev.payload.get("artifact_path"))
                else:
                    lost.append((ev, f"artifact lost: {path} no longer exists (deleted or moved "
                                     "before it was shipped); log it again"))
        elif kind == "run_ref":
            # a run this spool never knew is named by its nbops id, the best there is
            refs = {k: self._spooled_run(uid) or uid for ev in group
                    for k, uid in ev.payload.items()}
            store.log_batch(run_id, [], {}, refs)
        elif kind == "dataset":
            store.log_datasets(run_id, [ev.payload for ev in group])
        elif kind == "end":
            ev = group[-1]
            store.terminate(run_id, ev.payload["status"], ev.payload["ended"])
        return lost

    def _clean_staged(self, group: list[Event]) -> None:
        staging = self.settings.home / "staging"
        for ev in group:
            path = Path(ev.payload["path"])
            if ev.payload.get("staged") and staging in path.parents:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def _set_problem(self, exc: BaseException, permanent: bool = False) -> None:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if permanent:
            self.problem = (f"rejected: {text[:300]} (set aside; `nbops status` lists it, "
                            "`nbops sync --retry-rejected` retries)")
        else:
            from nbops.exceptions import StoreUnavailableError

            if isinstance(exc, StoreUnavailableError):
                self.problem = text[:400]  # names the store, what failed and what to do
            elif isinstance(exc, ConnectionRefusedError) and "unreachable" in text:
                self.problem = text[:400]  # already says which store, and why
            else:
                self.problem = (f"tracking store {self.settings.tracking_uri} unreachable "
                                f"({type(exc).__name__}: {text[:200]})")
        self.problem_since = self.problem_since or time.time()


def yield_cpu(whole_process: bool = False) -> None:
    """Lower the CPU priority of the calling thread (Linux: a thread has its own nice value),
    so that shipping, importing MLflow and rendering notebooks take the CPU the user's code
    leaves free; or, with ``whole_process``, of this process and of its scheduling group
    (Linux's autogroup, one per session: the detached ``nbops sync`` has a session of its own).
    A thread's nice value counts only within its process's group, so under autogroup the
    tracking thread of ``nbops run`` still competes as an equal with the step kernels, which
    jupyter_client starts in sessions of their own. Never raises."""
    if not sys.platform.startswith("linux"):
        return
    try:
        if not whole_process:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            return
        os.nice(10)
        with open("/proc/self/autogroup", "w") as group:  # absent without autogroup
            group.write("10")
    except (AttributeError, OSError):
        pass


def _log_as_html(store: Any, run_id: str, notebook: Path, artifact_path: str | None) -> None:
    """Log the staged ``notebook`` rendered as ``<stem>.html`` (see
    :meth:`Run.log_notebook_html`); a notebook nbconvert cannot render is noted in the tag
    ``nbops.html_error`` instead."""
    from nbops.tracking.notebook_html import notebook_html

    try:
        page = notebook_html(notebook.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - a rendering problem is noted, never fatal
        store.log_batch(run_id, [], {}, {T.HTML_ERROR: f"{type(exc).__name__}: {exc}"[:500]})
        return
    with tempfile.TemporaryDirectory(prefix="nbops-html-") as tmp:
        page_file = Path(tmp) / f"{notebook.stem}.html"
        page_file.write_text(page, encoding="utf-8")
        store.log_artifact(run_id, str(page_file), artifact_path)


def _remove_empty_folders(root: Path, min_age: float = 60.0) -> None:
    """Staged files are deleted once shipped; drop the empty folders they leave (at worker
    startup). Folders touched in the last ``min_age`` seconds are kept: a cell may be about to
    write into one it just created."""
    if not root.is_dir():
        return
    cutoff = time.time() - min_age
    # Ages are read before removing anything: removing a child refreshes its parent's mtime.
    try:
        stale = [p for p in root.rglob("*") if p.is_dir() and p.stat().st_mtime < cutoff]
    except OSError:  # another process cleaning at the same time: next start will do it
        return
    for folder in sorted(stale, key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            pass


def _default_store(settings: Settings) -> Any:
    from nbops.store import open_store

    return open_store(settings)


def _consecutive(events: list[Event]) -> list[list[Event]]:
    """Split events into runs of the same run and compatible kind, keeping their order."""
    groups: list[list[Event]] = []
    batchable = {"params", "tags", "metrics"}
    for ev in events:
        if groups:
            last = groups[-1][-1]
            same_kind = ev.kind == last.kind or (ev.kind in batchable and last.kind in batchable)
            if ev.run_uid == last.run_uid and same_kind and ev.kind != "end":
                groups[-1].append(ev)
                continue
        groups.append([ev])
    return groups


def _materialize_tensors(points: list[tuple]) -> list[tuple]:
    """Replace 0-d tensors by floats, reading all device tensors with one transfer."""
    tensor_idx = [i for i, p in enumerate(points) if not isinstance(p[3], float | int)]
    if not tensor_idx:
        return points
    import torch

    on_device = [i for i in tensor_idx if points[i][3].device.type != "cpu"]
    if on_device:
        values = torch.stack([points[i][3].reshape(()).float() for i in on_device]).cpu().tolist()
        for i, v in zip(on_device, values, strict=True):
            p = points[i]
            points[i] = (p[0], p[1], p[2], v, p[4], p[5])
    for i in tensor_idx:
        p = points[i]
        if not isinstance(p[3], float | int):
            points[i] = (p[0], p[1], p[2], float(p[3].item()), p[4], p[5])
    return points


@dataclass
class ReplayReport:
    """What :func:`replay` did."""

    shipped: int
    left: int
    reaped_runs: int
    live_backlog: int
    rejected: int
    newly_rejected: int
    problem: str | None
    seconds: float


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:  # noqa: BLE001 - a store that fails here is retried and reported later
        pass


def replay(settings: Settings, timeout: float = 60.0, *, after: str | None = None,
           retry_rejected: bool = False, patience: float | None = 10.0) -> ReplayReport:
    """Replay the spooled events of ended processes to MLflow (``nbops sync``); idempotent.

    Each run goes to the store it was started against. Runs left RUNNING by a dead process are
    ended FAILED. Events of processes still alive are left to them. ``after``: first wait
    (bounded by ``timeout``) for the process that registered this owner token to exit (how an
    exiting process hands its backlog over). ``retry_rejected`` puts set-aside events back in
    the queue first. ``patience``: give up after this many seconds of store outage. ``left > 0``
    means the store was not reachable in time.
    """
    t0 = time.monotonic()
    logger = DurableLogger(settings, role="sync")
    spool = logger.spool
    if after:
        # Import MLflow and open the exiting process's store while it finishes exiting.
        warm = threading.Thread(target=_quietly,
                                args=(lambda: logger._store_for(None).warm_up(),), daemon=True)
        warm.start()
        while spool.owner_alive(after) and time.monotonic() - t0 < timeout:
            time.sleep(0.02)
        warm.join(max(0.0, timeout - (time.monotonic() - t0)))
    if retry_rejected:
        spool.retry_rejected()
    rejected_before = len(spool.rejected())
    logger.start()
    adopted = logger.spool.backlog(logger.owner)
    left = logger.flush(max(0.0, timeout - (time.monotonic() - t0)), patience=patience)
    logger._stop = True
    logger.wake()
    # A process that just exited handed its backlog to a background `nbops sync`: wait for it
    # rather than call its events "live".
    while logger.spool.syncing_backlog() and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    rejected = len(logger.spool.rejected())
    return ReplayReport(
        shipped=adopted - left - max(0, rejected - rejected_before), left=left,
        reaped_runs=len(logger.reaped), live_backlog=logger.spool.backlog() - left,
        rejected=rejected, newly_rejected=max(0, rejected - rejected_before),
        problem=logger.problem, seconds=time.monotonic() - t0,
    )

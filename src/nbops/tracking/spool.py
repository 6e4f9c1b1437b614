"""The durable spool: every tracking event lands here before it is shipped to MLflow.

One SQLite database (``<home>/spool.db``, WAL mode) shared by every process using the same
nbops home. Tables:

``owners``  one row per live or dead process that spooled events; a process holds an exclusive
            ``flock`` on ``<home>/owners/<token>.lock`` while it lives, so "the lock is free"
            means "the process is gone" and its runs can be reaped and replayed.
``runs``    one row per nbops run: its uid (also the ``nbops.run_uid`` tag in MLflow), owner,
            parent, experiment, the MLflow run id once created, local status, and the
            tracking store it belongs to (``store_uri``): a replay ships every run to the store
            it was started against, whatever the replaying shell is configured for.
``events``  ordered events of a run (``create``, ``params``, ``tags``, ``metrics``, ``artifact``,
            ``end``), each a JSON payload, with ``shipped`` = 0 (pending), 1 (in MLflow) or
            2 (rejected by MLflow as invalid; kept with the error, never retried).

Replays are idempotent: MLflow ignores a metric point identical in (key, value, step,
timestamp), re-logging a param with the same value is a no-op, tags overwrite, and a run is
looked up by its ``nbops.run_uid`` tag before it is created again.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbops.exceptions import ConfigError

__all__ = ["Event", "RunRecord", "Spool"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (
    token TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL
);
CREATE TABLE IF NOT EXISTS runs (
    uid TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    parent_uid TEXT,
    parent_mlflow_id TEXT,
    experiment TEXT NOT NULL,
    name TEXT,
    mlflow_id TEXT,
    create_attempted INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'RUNNING',
    started REAL NOT NULL,
    ended REAL,
    store_uri TEXT
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    shipped INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS events_pending ON events (shipped, run_uid, seq);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner);
"""


@dataclass(frozen=True)
class Event:
    seq: int
    run_uid: str
    kind: str
    payload: Any


@dataclass(frozen=True)
class RunRecord:
    uid: str
    owner: str
    parent_uid: str | None
    parent_mlflow_id: str | None
    experiment: str
    name: str | None
    mlflow_id: str | None
    create_attempted: bool
    status: str
    started: float
    ended: float | None
    store_uri: str | None = None


class Spool:
    """Access to the spool database of one nbops home; one instance per process.

    A connection is opened per thread (sqlite3 connections are not shared across threads).
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        try:
            (self.home / "owners").mkdir(parents=True, exist_ok=True)
            (self.home / "staging").mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the nbops home {self.home}: {exc.strerror}. Point NBOPS_HOME at "
                "a writable folder."
            ) from None
        if not os.access(self.home, os.W_OK):
            raise ConfigError(
                f"The nbops home {self.home} is not writable. Fix its permissions or point "
                "NBOPS_HOME at a writable folder."
            )
        self.path = self.home / "spool.db"
        self._local = threading.local()
        self._lock_file: Any = None
        self.token: str | None = None
        _retry_locked(lambda: self._db().executescript(_SCHEMA))
        _retry_locked(self._add_missing_columns)

    def _add_missing_columns(self) -> None:
        """Spools written by earlier versions lack ``runs.store_uri``."""
        db = self._db()
        columns = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
        if "store_uri" not in columns:
            try:
                db.execute("ALTER TABLE runs ADD COLUMN store_uri TEXT")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):
                    raise

    # -- connections -------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                 check_same_thread=False)
            # Switching to WAL takes an exclusive lock and ignores the busy timeout: two
            # processes opening a new spool at once must retry it.
            _retry_locked(lambda: db.execute("PRAGMA journal_mode=WAL"))
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # -- ownership ---------------------------------------------------------------------------
    def register_owner(self, role: str = "") -> str:
        """Register this process as an owner and hold its liveness lock; return its token.

        ``role="sync"`` marks a process that only replays (``nbops sync``): others may wait
        for it to finish instead of calling its backlog "live"."""
        if self.token:
            return self.token
        prefix = f"{role}-" if role else ""
        token = f"{prefix}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        lock = open(self.home / "owners" / f"{token}.lock", "w")  # noqa: SIM115 - held for life
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock_file = lock
        with self._tx() as db:
            db.execute("INSERT INTO owners VALUES (?, ?, ?, ?)",
                       (token, os.getpid(), socket.gethostname(), time.time()))
        self.token = token
        return token

    def owner_alive(self, token: str) -> bool:
        """True while the process that registered ``token`` still holds its lock."""
        if token == self.token:
            return True
        path = self.home / "owners" / f"{token}.lock"
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def dead_owners(self) -> list[str]:
        rows = self._db().execute(
            "SELECT DISTINCT owner FROM runs WHERE status = 'RUNNING' OR uid IN "
            "(SELECT run_uid FROM events WHERE shipped = 0)"
        ).fetchall()
        return [r[0] for r in rows if not self.owner_alive(r[0])]

    def adopt(self, dead_owner: str) -> list[RunRecord]:
        """Take over the runs of a dead process; return those that were still RUNNING."""
        assert self.token, "register_owner() first"
        with self._tx() as db:
            rows = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE owner = ? AND "
                              "status = 'RUNNING'", (dead_owner,)).fetchall()
            db.execute("UPDATE runs SET owner = ? WHERE owner = ?", (self.token, dead_owner))
        try:
            (self.home / "owners" / f"{dead_owner}.lock").unlink()
        except FileNotFoundError:
            pass
        return [_record(r) for r in rows]

    # -- writing -----------------------------------------------------------------------------
    def append(self, runs: Iterable[dict[str, Any]], events: Iterable[tuple[str, str, Any]],
               ended: Iterable[tuple[str, str, float]] = ()) -> None:
        """Write new runs, events ``(run_uid, kind, payload)`` and local run ends atomically."""
        with self._tx() as db:
            db.executemany(
                "INSERT OR IGNORE INTO runs (uid, owner, parent_uid, parent_mlflow_id, experiment,"
                " name, started, store_uri) VALUES (:uid, :owner, :parent_uid, :parent_mlflow_id,"
                " :experiment, :name, :started, :store_uri)",
                [{"store_uri": None, **r} for r in runs],
            )
            db.executemany(
                "INSERT INTO events (run_uid, kind, payload) VALUES (?, ?, ?)",
                [(uid, kind, json.dumps(payload, default=str)) for uid, kind, payload in events],
            )
            db.executemany("UPDATE runs SET status = ?, ended = ? WHERE uid = ?",
                           [(status, when, uid) for uid, status, when in ended])

    def mark_create_attempted(self, uid: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET create_attempted = 1 WHERE uid = ?", (uid,))

    def set_mlflow_id(self, uid: str, mlflow_id: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE runs SET mlflow_id = ? WHERE uid = ?", (mlflow_id, uid))

    def mark_shipped(self, seqs: Iterable[int]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE events SET shipped = 1 WHERE seq = ?", [(s,) for s in seqs])

    def prune(self) -> int:
        """Delete shipped events of ended runs (kept only while a run is live); return count."""
        with self._tx() as db:
            cur = db.execute("DELETE FROM events WHERE shipped = 1 AND run_uid IN "
                             "(SELECT uid FROM runs WHERE status != 'RUNNING')")
        return cur.rowcount

    def retry_rejected(self) -> int:
        """Put every set-aside event back in the queue; return how many."""
        with self._tx() as db:
            cur = db.execute("UPDATE events SET shipped = 0, error = NULL WHERE shipped = 2")
        return cur.rowcount

    def mark_rejected(self, seq: int, error: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE events SET shipped = 2, error = ? WHERE seq = ?", (error, seq))

    # -- reading -----------------------------------------------------------------------------
    def run(self, uid: str) -> RunRecord | None:
        row = self._db().execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE uid = ?",
                                 (uid,)).fetchone()
        return _record(row) if row else None

    def pending(self, owner: str, limit: int = 200) -> list[Event]:
        """The oldest unshipped events of ``owner``'s runs, in order."""
        rows = self._db().execute(
            "SELECT e.seq, e.run_uid, e.kind, e.payload FROM events e JOIN runs r "
            "ON r.uid = e.run_uid WHERE e.shipped = 0 AND r.owner = ? ORDER BY e.seq LIMIT ?",
            (owner, limit),
        ).fetchall()
        return [Event(seq, uid, kind, json.loads(payload)) for seq, uid, kind, payload in rows]

    def backlog(self, owner: str | None = None) -> int:
        """Number of unshipped events (of one owner, or of everyone)."""
        if owner is None:
            sql, args = "SELECT COUNT(*) FROM events WHERE shipped = 0", ()
        else:
            sql = ("SELECT COUNT(*) FROM events e JOIN runs r ON r.uid = e.run_uid "
                   "WHERE e.shipped = 0 AND r.owner = ?")
            args = (owner,)
        return self._db().execute(sql, args).fetchone()[0]

    def syncing_backlog(self) -> int:
        """Unshipped events owned by other live ``nbops sync`` processes."""
        rows = self._db().execute(
            "SELECT r.owner, COUNT(*) FROM events e JOIN runs r ON r.uid = e.run_uid "
            "WHERE e.shipped = 0 AND r.owner LIKE 'sync-%' GROUP BY r.owner").fetchall()
        return sum(n for owner, n in rows if owner != self.token and self.owner_alive(owner))

    def run_backlog(self, uid: str) -> int:
        return self._db().execute(
            "SELECT COUNT(*) FROM events WHERE shipped = 0 AND run_uid = ?", (uid,)
        ).fetchone()[0]

    def rejected(self) -> list[tuple[int, str, str, str]]:
        """Events MLflow refused as invalid: (seq, run_uid, kind, error)."""
        return self._db().execute(
            "SELECT seq, run_uid, kind, error FROM events WHERE shipped = 2 ORDER BY seq"
        ).fetchall()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def _retry_locked(fn: Any, seconds: float = 60.0) -> Any:
    """Call ``fn`` until SQLite stops answering "database is locked" (bounded)."""
    deadline = time.monotonic() + seconds
    delay = 0.01
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(0.5, delay * 2)


_RUN_COLUMNS = ("uid, owner, parent_uid, parent_mlflow_id, experiment, name, mlflow_id, "
                "create_attempted, status, started, ended, store_uri")


def _record(row: tuple) -> RunRecord:
    (uid, owner, parent_uid, parent_mlflow_id, experiment, name, mlflow_id, attempted, status,
     started, ended, store_uri) = row
    return RunRecord(uid, owner, parent_uid, parent_mlflow_id, experiment, name, mlflow_id,
                     bool(attempted), status, started, ended, store_uri)

"""Helpers shared by the test modules (a real mlflow server, subprocess runners)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """A real ``mlflow server`` subprocess on 127.0.0.1 (SQLite or PostgreSQL backend, proxied
    artifacts in a local folder)."""

    def __init__(self, root: Path, port: int | None = None,
                 backend_store_uri: str | None = None, workers: int | None = 1) -> None:
        self.root = root
        self.workers = workers  # None: MLflow's default (4), as docs/configuration.md starts it
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.backend_store_uri = backend_store_uri or f"sqlite:///{root / 'server.db'}"

    def start(self, timeout: float = 90.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
             str(self.port), "--backend-store-uri", self.backend_store_uri,
             "--artifacts-destination", str(self.root / "artifacts"),
             *(["--workers", str(self.workers)] if self.workers else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            # MLflow's job runner (GenAI jobs, trace roll-ups; seven worker processes on a
            # database store) serves nothing nbops uses.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.proc.returncode}")
        raise RuntimeError("mlflow server did not become healthy in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(10)


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (a separate process, like a second kernel)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


class PostgresServer:
    """A real PostgreSQL server from Debian's package, in a temp folder, on 127.0.0.1.

    ``make test`` installs the package (`apt-get install -y postgresql`). As root the server
    runs as the ``postgres`` user (PostgreSQL refuses to run as root).
    """

    def __init__(self, port: int | None = None, root: Path | None = None) -> None:
        import tempfile

        # Its own folder under /tmp: the postgres user must be able to reach it (pytest's
        # tmp_path is private to root). A given ``root`` is kept after :meth:`stop`, with its
        # databases, for the next start (the benchmarks' seeded stores).
        self.keep = root is not None
        self.root = root or Path(tempfile.mkdtemp(prefix="nbops-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/mlflow"

    @staticmethod
    def bindir() -> Path | None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        return found[-1].parent if found else None

    def start(self, timeout: float = 60.0) -> None:
        bindir = self.bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `apt-get install -y postgresql`"
                               " (make test does).")
        user = {"user": "postgres"} if os.geteuid() == 0 else {}
        data = self.root / "pgdata"
        if os.geteuid() == 0:
            import shutil

            shutil.chown(self.root, "postgres")
        if not (data / "PG_VERSION").exists():
            subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8", "--no-sync"], check=True,
                           capture_output=True, **user)
        self.proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(self.port), "-k",
             str(self.root), "-h", "127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            **user)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run([str(bindir / "createdb"), "-h", "127.0.0.1", "-p",
                                   str(self.port), "-U", "postgres", "mlflow"],
                                  capture_output=True, text=True)
            if done.returncode == 0 or "already exists" in done.stderr:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}")
            time.sleep(0.3)
        raise RuntimeError("PostgreSQL did not accept connections in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        if not self.keep:
            import shutil

            shutil.rmtree(self.root, ignore_errors=True)


class TeamStore:
    """The team setup for the store suites: one PostgreSQL server and one ``mlflow server``
    on it (proxied artifacts) for the whole test session; :meth:`reset` empties the MLflow
    database between tests, so each test sees a store as fresh as a new SQLite file."""

    #: Rows a freshly migrated MLflow database already holds (the schema version, the default
    #: workspace and experiment 0): kept by :meth:`reset`.
    KEPT = ("alembic_version", "workspaces", "experiments")

    def __init__(self, root: Path) -> None:
        self.pg = PostgresServer()
        self.server = MlflowServer(root, backend_store_uri=self.pg.url)
        self.url = self.server.url

    def start(self) -> None:
        self.pg.start()
        try:
            self.server.start(timeout=240)
        except BaseException:
            self.pg.stop()
            raise

    def stop(self) -> None:
        self.server.stop()
        self.pg.stop()

    def reset(self) -> None:
        """Delete every run, experiment (but the default one), model and dataset: ~0.1 s.

        Row deletes, not TRUNCATE: TRUNCATE waits for an exclusive lock on every table, and a
        request the server is still serving (a previous test's late shipping) holds one
        connection while waiting for another from its pool, which then waits behind the
        TRUNCATE: a deadlock. Foreign-key triggers are off for the session (replica role), so
        the order of the deletes does not matter."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.pg.port, user="postgres",
                             dbname="mlflow") as conn:
            conn.execute("SET LOCAL lock_timeout = '20s'")
            conn.execute("SET LOCAL session_replication_role = replica")
            tables = [row[0] for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            for table in tables:
                if table not in self.KEPT:
                    conn.execute(f'DELETE FROM "{table}"')
            conn.execute("DELETE FROM experiments WHERE experiment_id <> 0")

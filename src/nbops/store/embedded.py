"""The embedded SQLite store: built where a crash cannot be seen, checked before it is used.

MLflow builds a new SQLite store by running its schema migrations (about 2.4 s) in place; a
process that ends during them leaves a half-migrated file that nothing can open again. nbops
never lets that happen to ``<home>/mlflow.db``:

1. One process builds, the others wait: an exclusive ``flock`` on ``<home>/mlflow.db.lock``.
2. The store is migrated in a temporary file beside it (``.mlflow.db.building-<pid>``), closed,
   fsynced and renamed into place in one ``os.replace``. A build that dies leaves only its
   temporary file, which the next build deletes.
3. An empty store, once migrated, is kept as a template in the user's cache folder
   (``$XDG_CACHE_HOME/nbops``, else ``~/.cache/nbops``), one per MLflow schema revision; the
   next new store is a copy of it (milliseconds instead of seconds of migrations).
4. :func:`store_problem` reads an existing file without MLflow (``nbops status`` stays fast) and
   says what is wrong with it and what to do; :func:`ensure_sqlite_store` moves a half-made store
   that holds no runs aside by itself and builds a new one.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlparse

from nbops.exceptions import StoreUnavailableError

__all__ = ["StoreProblem", "ensure_sqlite_store", "ensure_store", "sqlite_path", "store_problem"]

BUILD_LOCK_TIMEOUT = 120.0


class StoreProblem(str):
    """A sentence saying why a SQLite store cannot be used and what to do (a ``str``)."""

    half_made: bool = False


def sqlite_path(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` URI, or None for other stores (and in-memory SQLite)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    path = parsed.path[1:] if parsed.path.startswith("//") else parsed.path
    if not path or path == ":memory:":
        return None
    return Path(path)


def ensure_store(uri: str) -> None:
    """Before opening ``uri`` with a plain ``MlflowClient``: a SQLite store that does not exist
    yet is built here, atomically (MLflow would migrate it in place, racing every other
    process opening it). Other stores, and SQLite stores that exist, are left to MLflow."""
    path = sqlite_path(uri)
    if path is None or path.exists():
        return
    # The embedded store keeps its artifacts beside it in <home>/artifacts (Settings).
    root = path.parent / "artifacts" if path.name == "mlflow.db" else path.parent
    ensure_sqlite_store(path, root.as_uri())


def ensure_sqlite_store(path: Path, artifact_root: str) -> None:
    """Make sure ``path`` is a usable MLflow SQLite store, building it atomically if missing.

    Never replaces a file someone else made: a store another tool (a plain ``MlflowClient``)
    is migrating in place right now is waited for, not moved aside. Raises
    :class:`StoreUnavailableError` (with a fix-it message) for a store that exists but cannot be
    used and holds runs (an older schema, a foreign file).
    """
    deadline = time.monotonic() + BUILD_LOCK_TIMEOUT
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if not path.exists():
            with _build_lock(path):
                if not path.exists():
                    _build(path, artifact_root)
            continue
        problem = store_problem(path)
        if problem is None:
            return
        if not problem.half_made:
            raise StoreUnavailableError(problem)
        if _in_use(path):  # being built in place by another process: wait for it
            if time.monotonic() >= deadline:
                raise StoreUnavailableError(
                    f"{problem} It has been changing for more than {BUILD_LOCK_TIMEOUT:.0f}s; "
                    "stop the process building it, then retry.")
            time.sleep(0.2)
            continue
        with _build_lock(path):
            if path.exists() and store_problem(path) is not None and not _in_use(path):
                aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
                os.replace(path, aside)
                for suffix in ("-journal", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)


#: A half-made store changed this recently may still be being migrated by its maker.
IN_USE_WINDOW = 30.0


def _in_use(path: Path) -> bool:
    """True when another process holds a lock on the store, or wrote it (or its journal)
    in the last :data:`IN_USE_WINDOW` seconds."""
    now = time.time()
    for file in (path, Path(f"{path}-journal"), Path(f"{path}-wal")):
        try:
            if now - file.stat().st_mtime < IN_USE_WINDOW:
                return True
        except FileNotFoundError:
            continue
    return _journal_is_live(path)


@contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as fh:
        deadline = time.monotonic() + BUILD_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreUnavailableError(
                        f"Another process has been building the store {path} for more than "
                        f"{BUILD_LOCK_TIMEOUT:.0f}s. If no nbops process is running, delete "
                        f"{lock_path} and retry."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _template() -> Path | None:
    """Where the migrated empty store of the installed MLflow is cached (None: unknown)."""
    head = latest_schema_revision()
    if head is None:
        return None
    from nbops.config import user_cache_dir

    return user_cache_dir() / f"empty-mlflow-store-{head}.db"


def _from_template(template: Path | None, tmp: Path, artifact_root: str) -> bool:
    """Copy the cached empty store to ``tmp``, pointing its Default experiment at
    ``artifact_root``; False when there is no usable template."""
    if template is None or not template.is_file() or store_problem(template) is not None:
        return False
    import shutil

    shutil.copyfile(template, tmp)
    with sqlite3.connect(tmp) as db:
        db.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                   (f"{artifact_root.rstrip('/')}/0",))  # as MLflow names it
    db.close()
    return True


def _save_template(built: Path, template: Path | None) -> None:
    """Keep a copy of a freshly migrated empty store for the next new store (best effort)."""
    if template is None or template.is_file():
        return
    import shutil

    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f"{template.name}.{os.getpid()}")
        shutil.copyfile(built, partial)
        os.replace(partial, template)
    except OSError:
        pass  # a read-only home: every new store is migrated, as MLflow does


def _migrate(tmp: Path, artifact_root: str) -> None:
    """Run MLflow's schema migrations on a new file ``tmp`` (about 2.4 s)."""
    import logging

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    uri = f"sqlite:///{tmp}"
    quiet = [logging.getLogger(name) for name in ("mlflow.store.db.utils", "alembic")]
    levels = [log.level for log in quiet]
    for log in quiet:  # MLflow announces its migrations at INFO, into whichever cell runs
        log.setLevel(logging.WARNING)
    try:
        store = SqlAlchemyStore(uri, artifact_root)  # migrations + the Default experiment
        store.engine.dispose()
        SqlAlchemyStore._engine_map.pop(uri, None)
    finally:
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)


def _build(path: Path, artifact_root: str) -> None:
    """Make a new store in a temporary file beside ``path`` (a copy of the cached template, or
    MLflow's migrations), then link it into place in one step (caller holds the build lock);
    the temporary name is removed afterwards."""
    for stale in path.parent.glob(f".{path.name}.building-*"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.building-{os.getpid()}")
    template = _template()
    try:
        if not _from_template(template, tmp, artifact_root):
            _migrate(tmp, artifact_root)
            _save_template(tmp, template)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # into place only if nobody made the file meanwhile
        except FileExistsError:
            return  # another tool made it in place: the caller checks it again
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            leftover.unlink(missing_ok=True)


def store_problem(path: Path) -> StoreProblem | None:
    """None when ``path`` is an MLflow SQLite store at the installed MLflow's schema; else what
    is wrong and what to do. Reads the file with ``sqlite3`` only (no MLflow import)."""
    uri = f"sqlite:///{path}"
    if Path(f"{path}-journal").exists() and not _journal_is_live(path):
        hot = " (with a hot journal left by a process that died)"
    else:
        hot = ""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = None
            if "alembic_version" in tables:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
                version = row[0] if row else None
            runs = sum(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                       for t in ("runs", "registered_models") if t in tables)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return StoreProblem(
            f"{path} is not a readable MLflow SQLite store ({exc}). Move it aside "
            f"(`mv {path} {path}.broken`) and run `nbops sync`: nbops builds a new store and "
            "replays what is spooled."
        )
    head = latest_schema_revision()
    if not tables:  # an empty file (another tool touched the path): nothing to lose
        problem = StoreProblem(f"{path} is an empty database with no MLflow schema; nbops moves "
                               "it aside and builds a new one at the next `nbops sync` or "
                               "tracked run.")
        problem.half_made = True
        return problem
    tmp_tables = sorted(t for t in tables if t.startswith("_alembic_tmp_"))
    if tmp_tables or (version is None and tables) or (runs == 0 and version != head and tables):
        if runs == 0:
            problem = StoreProblem(
                f"{path} is a half-made MLflow store{hot}: its schema migration was interrupted "
                f"({', '.join(tmp_tables) or 'no schema version'}). It holds no runs or models; nbops moves "
                "it aside and builds a new one at the next `nbops sync` or tracked run."
            )
            problem.half_made = True
            return problem
        return StoreProblem(
            f"{path} holds {runs} run(s) or model(s) but its schema migration was interrupted{hot}. Back it "
            f"up (`cp {path} {path}.bak`), then run `mlflow db upgrade {uri}`; if that fails, "
            f"move it aside and run `nbops sync` to rebuild it from what is spooled."
        )
    if head is not None and version != head:
        return StoreProblem(
            f"{path} has MLflow schema {version}, but the installed MLflow expects {head}. Back "
            f"it up (`cp {path} {path}.bak`), then run `mlflow db upgrade {uri}`."
        )
    return None


def _journal_is_live(path: Path) -> bool:
    """True when another process holds a write lock on the store (its journal is in use)."""
    try:
        db = sqlite3.connect(str(path), timeout=0)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            return False
        finally:
            db.close()
    except sqlite3.OperationalError:
        return True


_HEAD: list[str | None] = []


def latest_schema_revision() -> str | None:
    """The head of the installed MLflow's migration chain, read from its migration scripts
    without importing MLflow or alembic; None when it cannot be determined."""
    if _HEAD:
        return _HEAD[0]
    head = None
    spec = find_spec("mlflow")
    if spec is not None and spec.submodule_search_locations:
        versions = Path(list(spec.submodule_search_locations)[0]) / "store" / "db_migrations" \
            / "versions"
        revisions: set[str] = set()
        parents: set[str] = set()
        for script in versions.glob("*.py"):
            text = script.read_text(encoding="utf-8", errors="replace")
            rev = re.search(r"^revision\s*=\s*['\"]([0-9a-f]+)['\"]", text, re.M)
            down = re.search(r"^down_revision\s*=\s*(.+)$", text, re.M)
            if rev:
                revisions.add(rev.group(1))
            if down:
                parents.update(re.findall(r"['\"]([0-9a-f]+)['\"]", down.group(1)))
        heads = revisions - parents
        head = heads.pop() if len(heads) == 1 else None
    _HEAD.append(head)
    return head

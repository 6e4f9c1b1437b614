"""First contact: what a new user meets first, started from nothing.

No template store, no in-process shell: a fresh folder holding only a pyproject.toml, and real
processes (`jupyter nbconvert`, a plain script, a Jupyter kernel, the `nbops` CLI, a real
`mlflow server`) that exit as soon as their work is done.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from first_contact_support import (
    artifacts_of,
    embedded_uri,
    kernel,
    nbops_cli,
    run_in_kernel,
    runs_in,
    tiny_notebook,
)
from first_contact_support import (
    env_without_nbops as _env,
)
from nbops_test_support import MlflowServer, free_port

pytestmark = pytest.mark.slow

# -- 1. the first headless run never leaves a half-made store -----------------------------------


def test_nbconvert_ten_fresh_folders_always_leaves_a_usable_store(tmp_path: Path) -> None:
    def first_run(i: int) -> None:
        root = tmp_path / f"fresh{i}"
        root.mkdir()
        (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
        tiny_notebook(root / "tiny.ipynb")
        done = subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook",
             "--output", "out.ipynb", "tiny.ipynb"],
            cwd=root, env=_env(), capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        sync = nbops_cli("sync", cwd=root)
        assert sync.returncode == 0, (i, sync.stdout, sync.stderr)
        status = nbops_cli("status", cwd=root)
        assert "store health   : ok" in status.stdout, status.stdout
        runs = runs_in(embedded_uri(root))
        cell_runs = [r for r in runs if r.data.tags.get("nbops.session") != "true"]
        assert [r.data.metrics for r in cell_runs] == [{"m": 1.0}], i
        assert not list((root / ".nbops").glob(".mlflow.db.building-*"))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # two folders at a time: ten first runs in all
        list(pool.map(first_run, range(10)))


def test_a_half_made_store_is_detected_then_rebuilt_by_sync(fresh: Path) -> None:
    home = fresh / ".nbops"
    home.mkdir()
    db = sqlite3.connect(home / "mlflow.db")  # what an interrupted migration leaves behind
    db.executescript("CREATE TABLE experiments (experiment_id INTEGER);"
                     "CREATE TABLE _alembic_tmp_experiments (experiment_id INTEGER);")
    db.close()
    an_hour_ago = time.time() - 3600  # left by a process that died earlier, not being built now
    os.utime(home / "mlflow.db", (an_hour_ago, an_hour_ago))
    status = nbops_cli("status", cwd=fresh)
    assert "half-made MLflow store" in status.stdout and "moves it aside" in status.stdout

    script = "import nbops\nwith nbops.track('after-repair'):\n    nbops.log(m=2.0)\n"
    assert subprocess.run([sys.executable, "-c", script], cwd=fresh, env=_env(),
                          timeout=120).returncode == 0
    sync = nbops_cli("sync", cwd=fresh)
    assert sync.returncode == 0, sync.stderr
    assert [r.info.run_name for r in runs_in(embedded_uri(fresh))] == ["after-repair"]
    assert list(home.glob("mlflow.db.broken-*"))  # kept aside, never deleted


def test_a_store_with_an_old_schema_and_runs_says_how_to_upgrade(fresh: Path) -> None:
    home = fresh / ".nbops"
    home.mkdir()
    db = sqlite3.connect(home / "mlflow.db")
    db.executescript("CREATE TABLE alembic_version (version_num TEXT);"
                     "INSERT INTO alembic_version VALUES ('0000old');"
                     "CREATE TABLE runs (run_uuid TEXT); INSERT INTO runs VALUES ('r1');")
    db.close()
    status = nbops_cli("status", cwd=fresh)
    assert "mlflow db upgrade" in status.stdout
    script = "import nbops\nwith nbops.track('x'):\n    nbops.log(m=1.0)\n"
    assert subprocess.run([sys.executable, "-c", script], cwd=fresh, env=_env(),
                          timeout=120).returncode == 0
    sync = nbops_cli("sync", "--timeout", "20", cwd=fresh)
    assert sync.returncode == 1  # events stay spooled: the store cannot take them
    assert "mlflow db upgrade" in sync.stderr
    assert (home / "mlflow.db").exists()  # never moved or touched: it holds runs


# -- 2. a script that exits right after its run --------------------------------------------------


def test_the_second_new_store_is_a_copy_of_the_cached_empty_store(fresh: Path,
                                                                  new_user_cache: Path) -> None:
    """The first new store runs MLflow's migrations and leaves an empty template in the user's
    cache; the next project's store is a copy whose Default experiment is its own."""
    import sqlite3

    from nbops.store.embedded import ensure_store

    ensure_store(embedded_uri(fresh))
    (template,) = (new_user_cache / "nbops").glob("empty-mlflow-store-*.db")
    other = fresh.parent / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text("[project]\nname = 'other'\n")
    (other / "short.py").write_text("import nbops\nwith nbops.track('short'):\n"
                                    "    nbops.log(loss=1.0)\n")
    proc = subprocess.run([sys.executable, "short.py"], cwd=other, env=_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert nbops_cli("sync", cwd=other).returncode == 0
    with sqlite3.connect(other / ".nbops" / "mlflow.db") as db:
        (location,) = db.execute("SELECT artifact_location FROM experiments "
                                 "WHERE experiment_id = 0").fetchone()
    assert location == (other / ".nbops" / "artifacts" / "0").as_uri()
    (run,) = runs_in(embedded_uri(other))
    assert run.data.metrics == {"loss": 1.0}
    assert run.info.artifact_uri.startswith((other / ".nbops" / "artifacts").as_uri())
    assert template.stat().st_size > 0


def test_a_script_exits_at_once_and_its_run_arrives(fresh: Path) -> None:
    (fresh / "short.py").write_text("import sys, time\nimport nbops\nwith nbops.track('short'):"
                                    "\n    nbops.log(loss=1.0)\nprint(time.time(), flush=True)\n")
    proc = subprocess.run([sys.executable, "short.py"], cwd=fresh, env=_env(),
                          capture_output=True, text=True, timeout=60)
    exited = time.time()
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "RuntimeError" not in proc.stderr
    # A bounded exit (flush_timeout = 1 s, then a background sync), not a 10 s hang.
    assert exited - float(proc.stdout.split()[-1]) < 8.0  # generous: a loaded machine
    sync = nbops_cli("sync", cwd=fresh)  # waits for the background sync the script started
    assert sync.returncode == 0, sync.stderr
    (run,) = runs_in(embedded_uri(fresh))
    assert run.info.status == "FINISHED" and run.data.metrics == {"loss": 1.0}
    assert "nbops.env.python" in run.data.tags and "nbops.command" in run.data.tags
    assert "code/short.py" in artifacts_of(embedded_uri(fresh), run.info.run_id)


# -- 3./4. a dead server at start: the cell runs, everything arrives later ----------------------


def test_dead_server_at_start_runs_the_cell_and_sync_delivers_everything(fresh: Path,
                                                                          tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _env(MLFLOW_TRACKING_URI=url)
    km, kc = kernel(fresh, env)
    try:
        loaded = run_in_kernel(kc, "%load_ext nbops")
        assert "unreachable" in loaded and "ERROR" not in loaded
        cell = run_in_kernel(kc, "%%track offline\nimport nbops\nlr = 0.1\nfor i in range(5):\n"
                        "    nbops.log(loss=1.0 / (i + 1))\nprint('CELL RAN')")
        assert "CELL RAN" in cell and "ERROR" not in cell
        assert "unreachable" in cell  # the one warning, in the run summary
        status = run_in_kernel(kc, "%nbops status")
        assert "ERROR" not in status and "unreachable" in status
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    server = MlflowServer(tmp_path / "server", port=port)
    server.start()
    try:
        sync = nbops_cli("sync", cwd=fresh, env=_env())  # a shell with no URI: the run's own
        assert sync.returncode == 0, sync.stderr
        runs = {r.info.run_name: r for r in runs_in(url)}
        run = runs["offline"]
        assert run.data.params["lr"] == "0.1"
        assert run.data.metrics["loss"] == pytest.approx(0.2)
        assert run.data.tags["mlflow.parentRunId"] in {r.info.run_id for r in runs.values()}
        assert "nbops.env.python" in run.data.tags and "nbops.command" in run.data.tags
        arts = artifacts_of(url, run.info.run_id)
        assert "code/cell.py" in arts and "environment/requirements.txt" in arts
        assert "notebook/history.ipynb" in arts
        assert not (fresh / ".nbops" / "mlflow.db").exists()  # nothing went to the wrong store
    finally:
        server.stop()


def test_killed_kernel_keeps_what_it_logged_and_captured(fresh: Path) -> None:
    km, kc = kernel(fresh, _env())
    try:
        run_in_kernel(kc, "%load_ext nbops")
        kc.execute("%%track doomed\nimport nbops, time\nfor i in range(20):\n"
                   "    nbops.log(v=float(i))\ntime.sleep(600)")
        from nbops.config import load_settings
        from nbops.tracking.spool import Spool

        spool = Spool(load_settings(fresh).home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            kinds = {(row[0], row[1]) for row in spool._db().execute(
                "SELECT e.kind, substr(e.payload, 1, 400) FROM events e JOIN runs r "
                "ON r.uid = e.run_uid WHERE r.name = 'doomed'")}
            if any(k == "metrics" for k, _ in kinds) and any(
                    k == "artifact" and "code" in p for k, p in kinds):
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the kernel never spooled its points and capture")
        time.sleep(0.3)
    finally:
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    sync = nbops_cli("sync", cwd=fresh)
    assert sync.returncode == 0, sync.stderr
    (run,) = [r for r in runs_in(embedded_uri(fresh)) if r.info.run_name == "doomed"]
    assert run.info.status == "FAILED"
    assert len(run.data.metrics) == 1 and "nbops.env.python" in run.data.tags
    arts = artifacts_of(embedded_uri(fresh), run.info.run_id)
    assert "code/cell.py" in arts and "environment/requirements.txt" in arts


# -- 5. an import race never becomes the user's error -------------------------------------------


RACE = """
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
ip.run_cell("%load_ext nbops", store_history=True)
for _ in range(20):
    r = ip.run_cell("%%track\\nx = 1", store_history=True)
    assert r.success, r.error_in_exec
r = ip.run_cell("%%track\\nimport pandas as pd\\ndf = pd.DataFrame({'a': [1, 2]})\\n"
                "df.to_csv('a.csv')\\nprint(len(pd.read_csv('a.csv')))", store_history=True)
assert r.success, repr(r.error_in_exec)
print("OK")
"""


def test_tracked_cells_during_the_background_import_never_fail(fresh: Path) -> None:
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", RACE], cwd=fresh, env=_env(),
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0 and "OK" in proc.stdout, proc.stderr[-3000:]


# -- 7. failure paths that must not lose or mislabel data ---------------------------------------


def test_a_lost_artifact_is_set_aside_and_listed_not_marked_shipped(fresh: Path) -> None:
    script = ("import nbops, pathlib\n"
              "p = pathlib.Path('big.txt'); p.write_text('x')\n"
              "with nbops.track('art') as run:\n"
              "    nbops.log_artifact(str(p))\n"
              "    p.unlink()\n"
              "    nbops.log(m=1.0)\n")
    assert subprocess.run([sys.executable, "-c", script], cwd=fresh, env=_env(),
                          timeout=120).returncode == 0
    sync = nbops_cli("sync", cwd=fresh)
    status = nbops_cli("status", cwd=fresh)
    assert "set aside" in status.stdout and "big.txt no longer exists" in status.stdout
    (run,) = runs_in(embedded_uri(fresh))
    assert run.info.status == "FINISHED" and run.data.metrics == {"m": 1.0}
    assert sync.returncode in (0, 3)


def test_sync_exits_non_zero_while_the_server_is_down(fresh: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    script = "import nbops\nwith nbops.track('x'):\n    nbops.log(m=1.0)\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=fresh,
                          env=_env(MLFLOW_TRACKING_URI=url), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    assert "nbops sync" in proc.stderr  # the one-line hint at exit
    sync = nbops_cli("sync", "--timeout", "20", cwd=fresh)
    assert sync.returncode == 1
    assert "still spooled" in sync.stderr and url in sync.stderr


# -- 8. what is recorded is right ----------------------------------------------------------------


def test_runs_are_named_with_the_execution_count_the_user_sees(fresh: Path) -> None:
    tiny_notebook(fresh / "tiny.ipynb")
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "notebook",
         "--output", "out.ipynb", "tiny.ipynb"],
        cwd=fresh, env=_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert nbops_cli("sync", cwd=fresh).returncode == 0
    (run,) = [r for r in runs_in(embedded_uri(fresh)) if r.data.tags.get("nbops.session") != "true"]
    executed = nbformat.read(fresh / "out.ipynb", as_version=4)
    assert executed.cells[1].execution_count == 2
    assert run.info.run_name == "cell-2"
    assert run.data.tags["nbops.execution_count"] == "2"


@pytest.mark.parametrize("args", [
    ("lineage", "churn@prod"),
    ("monitor", "churn@prod", "--current", "current.csv"),
    ("reproduce", "0123456789abcdef0123456789abcdef"),
    ("runs", "some-experiment"),
])
def test_a_store_outage_is_never_reported_as_not_found(fresh: Path, args: tuple) -> None:
    (fresh / "current.csv").write_text("x\n1\n")
    url = f"http://127.0.0.1:{free_port()}"
    done = nbops_cli(*args, cwd=fresh, env=_env(MLFLOW_TRACKING_URI=url,
                                                MLFLOW_HTTP_REQUEST_MAX_RETRIES="0"))
    text = done.stdout + done.stderr
    assert done.returncode != 0
    assert "not found" not in text.lower() and "no run with id" not in text.lower(), text
    assert "No model" not in text and "Traceback" not in text, text
    assert url in text or "reach" in text or "unavailable" in text.lower(), text


def test_a_store_another_tool_is_building_in_place_is_waited_for_not_moved(fresh: Path) -> None:
    """A plain MlflowClient creates the store in place while an nbops script starts."""
    uri = embedded_uri(fresh)
    (fresh / ".nbops").mkdir()
    builder = subprocess.Popen([sys.executable, "-c",
                                f"from mlflow import MlflowClient; MlflowClient({uri!r})"
                                ".search_experiments()"], cwd=fresh, env=_env())
    script = "import nbops\nwith nbops.track('beside'):\n    nbops.log(m=1.0)\n"
    assert subprocess.run([sys.executable, "-c", script], cwd=fresh, env=_env(),
                          timeout=180).returncode == 0
    assert builder.wait(180) == 0
    sync = nbops_cli("sync", cwd=fresh)
    assert sync.returncode == 0, sync.stderr
    assert [r.info.run_name for r in runs_in(uri)] == ["beside"]
    assert not list((fresh / ".nbops").glob("mlflow.db.broken-*"))

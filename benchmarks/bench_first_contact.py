"""What a user waits for, measured on whole processes:

1. the added latency of `%%track` in a real Jupyter kernel, over ZMQ, as the notebook client
   sees it (round trip of `execute_interactive`), beside the bare cell and the same cell
   tracked by hand with MLflow on an equivalent SQLite store (and, to show what any rich
   output costs in a kernel, a cell that only displays a small summary);
2. a short script that logs one metric: its wall time, its exit after its last line, and the
   time from its exit until the run and its metric are in MLflow, beside the same script
   written with plain MLflow. In the first project of a machine (no empty store cached: MLflow's
   migrations run), in a brand-new folder (the cached empty store is copied), and in a folder
   whose store exists.

    python benchmarks/bench_first_contact.py [--cells 100] [--pace 0.05] [--repeat 5]

The kernel runs in a fresh project folder that is a git repository with one commit
(pyproject.toml and a saved `train.ipynb`), with `JPY_SESSION_NAME` pointing at that notebook
as jupyter_server sets it. MLflow's SQLite file is polled with the `sqlite3` module every
20 ms (no MLflow import in the polling loop). The floor of exit-to-data is measured in the same
run: a new process that imports mlflow and opens the store. JSON on stdout; the 1-minute load
average at start and end says how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, fresh_project, machine, stats_ms  # noqa: E402

#: Variables that would point nbops or MLflow elsewhere than the fresh folder's own store.
CLEAN_ENV = ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME", "NBOPS_EXPERIMENT",
             "NBOPS_NO_CAPTURE", "NBOPS_PARENT_RUN_ID", "NBOPS_NOTEBOOK_PATH",
             "NBOPS_FLUSH_TIMEOUT", "JPY_SESSION_NAME")
POLL = 0.02

NBOPS_SCRIPT = """\
import time
import nbops
with nbops.track("short"):
    nbops.log(loss=1.0)
print(time.time(), flush=True)
"""

MLFLOW_SCRIPT = """\
import time
import mlflow
mlflow.set_tracking_uri({uri!r})
with mlflow.start_run(run_name="short"):
    mlflow.log_metric("loss", 1.0)
print(time.time(), flush=True)
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env.update(extra)
    return env


# -- 1. %%track in a real kernel over ZMQ -------------------------------------------------------


def notebook_project() -> Path:
    """A fresh project: a git repository with one commit of pyproject.toml and train.ipynb."""
    import nbformat

    root = fresh_project()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("%load_ext nbops"),
                nbformat.v4.new_code_cell("%%track\nx = 1")]
    nbformat.write(nb, root / "train.ipynb")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "pyproject.toml", "train.ipynb"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "train"], cwd=root, check=True)
    return root


def run_cell(kc, code: str, timeout: float = 300) -> str:
    """Execute one cell; return its text output (streams, results, errors)."""
    out: list[str] = []

    def hook(msg: dict) -> None:
        content = msg["content"]
        if msg["msg_type"] == "stream":
            out.append(content["text"])
        elif msg["msg_type"] in ("execute_result", "display_data"):
            out.append(content["data"].get("text/plain", ""))
        elif msg["msg_type"] == "error":
            out.append(f"ERROR {content['ename']}: {content['evalue']}\n")

    kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return "".join(out)


#: Untimed setup cell: the kernel notes when each cell starts and ends (IPython's own events),
#: so the report can split a round trip into the kernel's part and the messaging around it.
KERNEL_CLOCK = """\
import time as _bench_time
_bench_marks = []
get_ipython().events.register(
    'pre_run_cell', lambda *a: _bench_marks.append(('pre', _bench_time.perf_counter())))
get_ipython().events.register(
    'post_run_cell', lambda *a: _bench_marks.append(('post', _bench_time.perf_counter())))
"""
KERNEL_SIDE = """\
import statistics as _bench_stats
_bench_ms, _bench_pre = [], None
for _bench_kind, _bench_t in _bench_marks:
    if _bench_kind == 'pre':
        _bench_pre = _bench_t
    elif _bench_pre is not None:
        _bench_ms.append((_bench_t - _bench_pre) * 1000)
        _bench_pre = None
print(round(_bench_stats.median(_bench_ms), 3) if _bench_ms else 'none')
_bench_marks.clear()
"""


def kernel_side_ms(kc) -> float | None:
    """Median in-kernel time (pre_run_cell to post_run_cell) of the cells since the last call."""
    out = run_cell(kc, KERNEL_SIDE).strip().splitlines()
    try:
        return float(out[-1])
    except (IndexError, ValueError):
        return None


def timed_cells(kc, code: str, n: int, pace: float) -> tuple[list[float], int]:
    """Client-side round trips of `n` executions of `code`; also count cells that errored."""
    samples, errors = [], 0

    def hook(msg: dict) -> None:
        nonlocal errors
        errors += msg["msg_type"] == "error"

    for _ in range(n):
        t0 = time.perf_counter()
        kc.execute_interactive(code, timeout=120, output_hook=hook)
        samples.append(time.perf_counter() - t0)
        time.sleep(pace)
    return samples, errors


def kernel_latency(cells: int, pace: float) -> dict:
    from jupyter_client.manager import KernelManager

    root = notebook_project()
    notebook = root / "train.ipynb"
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(root), env=clean_env(JPY_SESSION_NAME=str(notebook)))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        t0 = time.perf_counter()
        setup = run_cell(kc, "%load_ext nbops")
        setup += run_cell(kc, "%%track warmup\nx = 0")
        setup += run_cell(kc, "%nbops sync")  # store created, mlflow imported: steady state
        warmup_s = time.perf_counter() - t0

        run_cell(kc, KERNEL_CLOCK)
        kernel_side_ms(kc)
        bare, bare_err = timed_cells(kc, "x = 1", cells, pace)
        bare_in_kernel = kernel_side_ms(kc)
        tracked, tracked_err = timed_cells(kc, "%%track\nx = 1", cells, pace)
        tracked_in_kernel = kernel_side_ms(kc)
        synced = run_cell(kc, "%nbops sync")
        # What showing any output costs in a kernel: a cell that only displays a small rich
        # output, as the tracked cell's run summary is (a reference, not a tracking tool).
        run_cell(kc, "from IPython.display import display as _bench_display")
        kernel_side_ms(kc)
        shown, _ = timed_cells(kc, "_bench_display({'text/plain': 'run finished', "
                                   "'text/html': '<b>run</b> finished'}, raw=True)", cells, pace)
        shown_in_kernel = kernel_side_ms(kc)

        manual_uri = f"sqlite:///{root / 'by-hand' / 'mlflow.db'}"
        (root / "by-hand").mkdir()
        manual_setup = run_cell(
            kc, "import mlflow\n"
                f"mlflow.set_tracking_uri({manual_uri!r})\n"
                "mlflow.set_experiment('by-hand')\n"
                "with mlflow.start_run():\n    mlflow.log_param('x', 0)\n")  # store created
        kernel_side_ms(kc)  # forget the setup cells
        manual, manual_err = timed_cells(
            kc, "with mlflow.start_run():\n    mlflow.log_param('x', 1)\n    x = 1", cells, pace)
        manual_in_kernel = kernel_side_ms(kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)

    nbops_db = root / ".nbops" / "mlflow.db"
    with sqlite3.connect(f"file:{nbops_db}?mode=ro", uri=True) as db:
        tracked_runs = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'FINISHED'"
                                  ).fetchone()[0]
        notebook_tags = db.execute("SELECT COUNT(*) FROM tags WHERE key = 'nbops.notebook_path'"
                                   ).fetchone()[0]
    b, t, m, d = stats_ms(bare), stats_ms(tracked), stats_ms(manual), stats_ms(shown)
    return {
        "setup_output": (setup + synced + manual_setup).strip().splitlines()[-3:],
        "warmup_s": round(warmup_s, 2),
        "cells": cells, "pace_s": pace,
        "bare_cell": b, "tracked_cell": t, "by_hand_mlflow_cell": m,
        "display_only_cell": d,
        "in_kernel_median_ms": {"bare": bare_in_kernel, "tracked": tracked_in_kernel,
                                "by_hand": manual_in_kernel, "display_only": shown_in_kernel},
        "cells_that_errored": {"bare": bare_err, "tracked": tracked_err, "by_hand": manual_err},
        "finished_runs_in_nbops_store": tracked_runs,
        "runs_tagged_with_the_notebook": notebook_tags,
        "added_latency_median_ms": round(t["median_ms"] - b["median_ms"], 3),
        "added_latency_p90_ms": round(t["p90_ms"] - b["p90_ms"], 3),
        "by_hand_added_median_ms": round(m["median_ms"] - b["median_ms"], 3),
        "by_hand_added_p90_ms": round(m["p90_ms"] - b["p90_ms"], 3),
        "display_only_added_median_ms": round(d["median_ms"] - b["median_ms"], 3),
        "goal_added_latency_ms": 2.0,
    }


# -- 2. a short script: exit, and exit to data in MLflow ----------------------------------------


def metric_run_ids(db_path: Path) -> set[str] | None:
    """Run ids holding a `loss` metric in MLflow's SQLite file; None while it is not readable."""
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.01)
    except sqlite3.Error:
        return None
    try:
        rows = db.execute("SELECT DISTINCT r.run_uuid FROM runs r JOIN metrics m "
                          "ON m.run_uuid = r.run_uuid WHERE m.key = 'loss'").fetchall()
        return {r[0] for r in rows}
    except sqlite3.Error:  # not created yet, or locked by a writer: poll again
        return None
    finally:
        db.close()


def run_status(db_path: Path, run_id: str) -> str | None:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT status FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        return row[0] if row else None
    except sqlite3.Error:
        return None


def one_script(folder: Path, name: str, source: str, db_path: Path,
               data_timeout: float = 120, **env: str) -> dict:
    """Run `source` as a whole process in `folder` (with `env` added); time it, then poll until
    its run and metric are in `db_path`."""
    script = folder / name
    script.write_text(source)
    before = metric_run_ids(db_path) or set()
    t0 = time.time()
    proc = subprocess.run([sys.executable, name], cwd=folder, env=clean_env(**env),
                          capture_output=True, text=True, timeout=300)
    exited = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"{name} in {folder} failed with exit code {proc.returncode}:\n"
                         f"{proc.stderr[-2000:]}")
    last_line = float(proc.stdout.split()[-1])
    arrived = None
    while time.time() - exited < data_timeout:
        ids = metric_run_ids(db_path)
        if ids and ids - before:
            arrived = time.time()
            break
        time.sleep(POLL)
    new = sorted((metric_run_ids(db_path) or set()) - before)
    return {
        "wall_s": exited - t0,
        "last_line_to_exit_s": exited - last_line,
        "exit_to_data_s": None if arrived is None else arrived - exited,
        "status_at_data": run_status(db_path, new[0]) if new else None,
        "stderr_lines": [ln for ln in proc.stderr.splitlines() if ln.strip()][-3:],
    }


def wait_for_background_sync(folder: Path) -> None:
    """`nbops sync` waits for the detached sync a script started; untimed, between samples."""
    subprocess.run([sys.executable, "-m", "nbops", "sync"], cwd=folder, env=clean_env(),
                   capture_output=True, text=True, timeout=300)


def process_wall(code: str, cwd: Path) -> float:
    t0 = time.time()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=clean_env(), check=True,
                   capture_output=True, timeout=300)
    return time.time() - t0


def summary(samples: list[dict]) -> dict:
    out: dict = {}
    for key in ("wall_s", "last_line_to_exit_s", "exit_to_data_s"):
        values = [s[key] for s in samples if s[key] is not None]
        out[key] = {"median": round(statistics.median(values), 3) if values else None,
                    "min": round(min(values), 3) if values else None,
                    "max": round(max(values), 3) if values else None,
                    "n": len(values)}
    out["data_never_arrived"] = sum(s["exit_to_data_s"] is None for s in samples)
    out["status_at_data"] = sorted({str(s["status_at_data"]) for s in samples})
    out["stderr_seen"] = sorted({ln for s in samples for ln in s["stderr_lines"]})[:5]
    return out


def short_scripts(repeat: int) -> dict:
    nbops_first, nbops_new, nbops_existing, mlflow_new, mlflow_existing = [], [], [], [], []
    floor_import, floor_open = [], []
    stray_nbops_home = 0  # plain-MLflow folders in which a .nbops/ appeared (nothing should)
    for _ in range(repeat):
        # The first project on a machine: no empty store cached yet, MLflow's migrations run.
        folder = fresh_project()
        cache = folder / "empty-user-cache"
        nbops_first.append(one_script(folder, "short.py", NBOPS_SCRIPT,
                                      folder / ".nbops" / "mlflow.db",
                                      XDG_CACHE_HOME=str(cache)))
        wait_for_background_sync(folder)

        folder = fresh_project()
        db = folder / ".nbops" / "mlflow.db"
        nbops_new.append(one_script(folder, "short.py", NBOPS_SCRIPT, db))
        wait_for_background_sync(folder)
        nbops_existing.append(one_script(folder, "short2.py", NBOPS_SCRIPT, db))
        wait_for_background_sync(folder)
        # The floor of exit-to-data once the writing process is gone: a new process must
        # import mlflow and open the store before it can write anything.
        floor_import.append(process_wall("import mlflow", folder))
        floor_open.append(process_wall(
            f"import mlflow\nmlflow.MlflowClient({f'sqlite:///{db}'!r}).search_experiments()",
            folder))

        folder = fresh_project()
        db = folder / "mlflow.db"
        source = MLFLOW_SCRIPT.format(uri=f"sqlite:///{db}")
        mlflow_new.append(one_script(folder, "short.py", source, db, data_timeout=5))
        mlflow_existing.append(one_script(folder, "short2.py", source, db, data_timeout=5))
        stray_nbops_home += (folder / ".nbops").exists()
    return {
        "repeat": repeat,
        "nbops_first_project_on_the_machine": summary(nbops_first),
        "nbops_new_folder": summary(nbops_new),
        "nbops_store_exists": summary(nbops_existing),
        "plain_mlflow_new_store": summary(mlflow_new),
        "plain_mlflow_store_exists": summary(mlflow_existing),
        "floor_new_process_import_mlflow_s": round(statistics.median(floor_import), 3),
        "floor_new_process_import_mlflow_and_open_store_s": round(statistics.median(floor_open), 3),
        "plain_mlflow_folders_with_a_nbops_home": stray_nbops_home,
        "goal_exit_s": 2.0,
        "goal_exit_to_data_s": 1.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--pace", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    result = {"benchmark": "first_contact", "machine": machine(),
              "kernel_over_zmq": kernel_latency(args.cells, args.pace),
              "short_script": short_scripts(args.repeat)}
    result["load_average_1min"] = {"start": round(load, 2),
                                   "end": round(os.getloadavg()[0], 2)}
    emit(result)


if __name__ == "__main__":
    main()

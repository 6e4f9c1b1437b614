"""Pipeline runner figures, whole processes as a user types them (prints JSON; see
docs/benchmarks.md):

* a 6-step chain of 3-cell notebooks: ``nbops run chain.yaml`` against one Python process
  running the same six notebooks through papermill's API (the tool nbops wraps);
* a fully cached re-run of that chain (``nbops run chain.yaml`` again);
* the chain on a running Dask cluster over TCP (``--executor dask``): a ``LocalCluster`` of one
  worker process, started before the timed runs as a real cluster would be; the first run on
  it is reported on its own (its worker imports papermill and boots its first kernel), the
  figure is the median of the runs after it;
* 8 independent steps, ``--workers 1`` against ``--workers 2`` (``--force``): the 3-cell
  notebooks (a tenth of a second of work each), and notebooks whose step does a fixed amount
  of pure-Python work (``WORK_LOOPS`` additions, about 1 s of one core here, then four times
  that);
* ``nbops --help``, ``nbops run --help`` and ``nbops status``, beside the floor a typer
  command line pays before running anything (importing typer and its rich help formatter).

Every figure is the median of ``REPEAT`` runs, each a fresh process. ``nbops run`` returns when
its steps are done and leaves the records it has not shipped yet to a background ``nbops
sync``: before the next run starts, the benchmark waits (untimed) until that is done, so no
run pays for the previous one. How long the chain's records take to be all in MLflow is
reported too (``until_in_mlflow_s``: from the start of ``nbops run`` until nbops' spool holds
no unshipped event).

    .venv/bin/python benchmarks/bench_pipeline.py
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, fresh_project, load_average, machine  # noqa: E402

STEPS = 6
REPEAT = 3
NBOPS = [sys.executable, "-m", "nbops"]
PAPERMILL = """
import sys, papermill
for i in range(int(sys.argv[1])):
    papermill.execute_notebook("three.ipynb", "out.ipynb", parameters={"x": i},
                               progress_bar=False)
"""


WORK_LOOPS = 15_000_000


def _notebook(path: Path, work: int = 0) -> None:
    """A 3-cell notebook; its middle cell does ``work`` x WORK_LOOPS additions (0: none)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    middle = (f"y = 0\nfor i in range({work * WORK_LOOPS}):\n    y += i * x" if work
              else "y = x * 2")
    nb = new_notebook(cells=[new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                             new_code_cell(middle), new_code_cell("print(y)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def _spec(root: Path, name: str, n: int, chained: bool, notebook: str = "three.ipynb") -> Path:
    lines = [f"name: {name}", "steps:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    notebook: {notebook}", f"    parameters: {{x: {i}}}"]
        if chained and i:
            lines.append(f"    depends_on: [s{i - 1}]")
    path = root / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _unshipped(root: Path) -> int:
    """Events in the project's spool not yet in MLflow (0 without a spool)."""
    spool = root / ".nbops" / "spool.db"
    if not spool.exists():
        return 0
    with sqlite3.connect(spool, timeout=30) as db:
        return db.execute("SELECT COUNT(*) FROM events WHERE shipped = 0").fetchone()[0]


def _until_shipped(root: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while _unshipped(root) and time.monotonic() < deadline:
        time.sleep(0.05)


def _timed(cmd: list[str], cwd: Path, check: bool = True, shipped: list[float] | None = None
           ) -> float:
    """Median wall time of ``REPEAT`` runs of ``cmd``, each a new process; each run then waits
    (untimed) for its records to be in MLflow, whose times go to ``shipped`` when given."""
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=check, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
        _until_shipped(cwd)
        if shipped is not None:
            shipped.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


CLUSTER = """
import sys, time
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(processes=True, n_workers=1, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()  # until the benchmark closes it
"""


def _dask_chain(run: list[str], chain: Path, root: Path) -> tuple[float, float]:
    """The chain on a one-worker Dask cluster over TCP (cluster start-up not timed): the first
    run on the new cluster (its worker imports papermill and boots its first kernel), then the
    median of ``REPEAT`` runs on the cluster that has served a run, as a running one has."""
    (root / "cluster.py").write_text(CLUSTER)
    cluster = subprocess.Popen([sys.executable, "cluster.py"], cwd=root, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = cluster.stdout.readline().strip()
        cmd = [*run, str(chain), "--force", "--executor", "dask", "--scheduler", address]
        t = time.perf_counter()
        subprocess.run(cmd, cwd=root, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        first = round(time.perf_counter() - t, 3)
        _until_shipped(root)
        return first, _timed(cmd, root)
    finally:
        cluster.stdin.close()
        cluster.wait(60)


def main() -> None:
    load_at_start = load_average()
    root = fresh_project()
    _notebook(root / "three.ipynb")
    _notebook(root / "work.ipynb", work=1)
    _notebook(root / "long.ipynb", work=4)
    chain = _spec(root, "chain", STEPS, chained=True)
    wide = _spec(root, "wide", 8, chained=False)
    working = _spec(root, "working", 8, chained=False, notebook="work.ipynb")
    long = _spec(root, "long", 8, chained=False, notebook="long.ipynb")
    run = [*NBOPS, "run"]
    subprocess.run([*run, str(chain)], cwd=root, check=True, capture_output=True)  # the store
    _until_shipped(root)  # its background `nbops sync` must not run beside papermill's figure

    papermill_s = _timed([sys.executable, "-c", PAPERMILL, str(STEPS)], root)
    shipped: list[float] = []
    nbops_s = _timed([*run, str(chain), "--force"], root, shipped=shipped)
    cached_s = _timed([*run, str(chain)], root)
    dask_first_s, dask_s = _dask_chain(run, chain, root)
    serial_s = _timed([*run, str(wide), "--force", "-w", "1"], root)
    parallel_s = _timed([*run, str(wide), "--force", "-w", "2"], root)
    work_serial_s = _timed([*run, str(working), "--force", "-w", "1"], root)
    work_parallel_s = _timed([*run, str(working), "--force", "-w", "2"], root)
    long_serial_s = _timed([*run, str(long), "--force", "-w", "1"], root)
    long_parallel_s = _timed([*run, str(long), "--force", "-w", "2"], root)
    cli = {name: _timed([*NBOPS, *args], root, check=False) for name, args in
           (("nbops --help", ["--help"]), ("nbops run --help", ["run", "--help"]),
            ("nbops status", ["status"]))}
    cli["floor: python -c 'import typer.main, typer.rich_utils'"] = _timed(
        [sys.executable, "-c", "import typer.main, typer.rich_utils"], root)
    emit({
        "benchmark": "pipeline (whole processes)",
        "machine": machine(),
        "load_average": {"start": load_at_start, "end": load_average()},
        "repeat": REPEAT,
        "chain_6_steps": {"papermill_api_one_process_s": papermill_s, "nbops_run_s": nbops_s,
                          "ratio": round(nbops_s / papermill_s, 2), "goal_ratio": 0.5,
                          "until_in_mlflow_s": round(statistics.median(shipped), 3)},
        "cached_rerun_6_steps_s": cached_s,
        "chain_6_steps_on_dask_1_worker": {"nbops_run_s": dask_s,
                                           "ratio_to_papermill": round(dask_s / papermill_s, 2),
                                           "goal_ratio": 0.5,
                                           "first_run_on_the_new_cluster_s": dask_first_s},
        "independent_8_steps": {"workers_1_s": serial_s, "workers_2_s": parallel_s,
                                "speedup": round(serial_s / parallel_s, 2), "goal": 1.8},
        "independent_8_working_steps": {
            "work_per_step": f"{WORK_LOOPS:,} pure-Python additions (about 1 s of one core)",
            "workers_1_s": work_serial_s, "workers_2_s": work_parallel_s,
            "speedup": round(work_serial_s / work_parallel_s, 2), "goal": 1.8},
        "independent_8_long_steps": {
            "work_per_step": f"{4 * WORK_LOOPS:,} pure-Python additions (about 4 s of one core)",
            "workers_1_s": long_serial_s, "workers_2_s": long_parallel_s,
            "speedup": round(long_serial_s / long_parallel_s, 2), "goal": 1.8},
        "cli_s": cli,
    })


if __name__ == "__main__":
    main()

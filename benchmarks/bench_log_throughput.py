"""10,000 metric points: nbops.log (time in the caller, time until all are in MLflow) vs the
store's own floor and MLflow's async logging, on the embedded SQLite store AND on the team
setup (a real `mlflow server` backed by PostgreSQL), side by side in one run.

    python benchmarks/bench_log_throughput.py [--points 10000] [--stores sqlite,postgres]
                                              [--with-sync] [--repeat 3]

Per store, in a fresh process each:

* ``nbops`` / ``nbops_full_capture``: ``nbops.log`` in a loop inside ``nbops.track``; the clock
  stops when every point is in MLflow (``run.wait``), checked by reading them back.
* ``mlflow_log_batch_floor``: the same points handed straight to ``MlflowClient.log_batch`` in
  batches of 1,000: the fastest any client of this store can get them in.
* ``mlflow_async_1s_buffer``: ``mlflow.log_metric(..., synchronous=False)`` in a run, with
  ``MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1``; ``end_run`` waits for MLflow's async queue.
* ``mlflow_sync`` (``--with-sync``): ``mlflow.log_metric`` one point per call (minutes).

Medians of ``--repeat``. PostgreSQL comes from Debian's package (`make pg-deps`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, fresh_project, load_average, machine, team_server  # noqa: E402


def measure(n: int, repeat: int, with_sync: bool) -> dict:
    """All figures for the store the environment points at (a fresh project)."""
    root = fresh_project()
    os.chdir(root)

    import mlflow

    import nbops
    from nbops.tracking.run import default_tracker

    tracker = default_tracker()
    with nbops.track("warmup"):
        nbops.log(x=1.0)
    tracker.logger.flush(120)
    uri = tracker.settings.tracking_uri
    client = mlflow.MlflowClient(uri)
    samples: dict[str, list[dict]] = {}

    # nbops: the metrics path alone (capture switched off), then a run with full capture
    for _ in range(repeat):
        for label, skip in (("nbops", {"code", "git", "env", "notebook", "figures", "io"}),
                            ("nbops_full_capture", set())):
            with nbops.track(label, no_capture=skip) as run:
                t0 = time.perf_counter()
                for i in range(n):
                    nbops.log(loss=1.0 / (i + 1), step=i)
                caller = time.perf_counter() - t0
            t_end = time.perf_counter() - t0
            assert run.wait(600), "nbops did not ship in 600 s"
            total = time.perf_counter() - t0
            assert len(client.get_metric_history(run.mlflow_run_id, "loss")) == n
            samples.setdefault(label, []).append({
                "caller_s": caller, "caller_incl_run_end_s": t_end, "until_in_mlflow_s": total})

    from mlflow.entities import Metric

    mlflow.set_tracking_uri(uri)
    exp_id = mlflow.set_experiment("mlflow-baseline").experiment_id
    for _ in range(repeat):
        # The store's own floor: the same points handed to MLflow in log_batch calls of 1,000.
        floor_run = client.create_run(exp_id)
        points = [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(n)]
        t0 = time.perf_counter()
        for i in range(0, n, 1000):
            client.log_batch(floor_run.info.run_id, metrics=points[i:i + 1000])
        samples.setdefault("mlflow_log_batch_floor", []).append(
            {"until_in_mlflow_s": time.perf_counter() - t0})

        os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"
        with mlflow.start_run():
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
            caller = time.perf_counter() - t0
        total = time.perf_counter() - t0  # end_run waits for the async queue
        samples.setdefault("mlflow_async_1s_buffer", []).append(
            {"caller_s": caller, "until_in_mlflow_s": total})

    if with_sync:
        with mlflow.start_run():
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            samples["mlflow_sync"] = [{"caller_s": time.perf_counter() - t0}]

    result = {label: {key: round(statistics.median(s[key] for s in runs), 3) for key in runs[0]}
              for label, runs in samples.items()}
    floor = result["mlflow_log_batch_floor"]["until_in_mlflow_s"]
    result["nbops_vs_floor"] = round(result["nbops"]["until_in_mlflow_s"] / floor, 2)
    result["load_average"] = load_average()
    return result


def in_child(store_url: str | None, args: argparse.Namespace) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "NBOPS_TRACKING_URI", "NBOPS_HOME")}
    if store_url:
        env["NBOPS_TRACKING_URI"] = store_url
    cmd = [sys.executable, __file__, "--child", "--points", str(args.points), "--repeat",
           str(args.repeat)] + (["--with-sync"] if args.with_sync else [])
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout[done.stdout.index("{"):])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--with-sync", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        emit(measure(args.points, args.repeat, args.with_sync))
        return
    result: dict = {"benchmark": "log_throughput", "points": args.points,
                    "repeat": args.repeat, "machine": machine()}
    stores = args.stores.split(",")
    if "sqlite" in stores:
        result["sqlite_embedded"] = in_child(None, args)
    if "postgres" in stores:
        with team_server() as url:
            result["postgres_mlflow_server"] = in_child(url, args)
    result["goals"] = {"caller_s": 0.02, "nbops_vs_floor": 1.1,
                       "postgres_until_in_mlflow_s": 0.5}
    emit(result)


if __name__ == "__main__":
    main()

"""10,000 metric points: nbops.log (time in the caller, time until all are in MLflow) vs
MLflow's synchronous `log_metric` and its async mode with a 1 s buffer, same store, same run.

    python benchmarks/bench_log_throughput.py [--points 10000] [--skip-sync]

MLflow's synchronous path takes ~0.5-2 minutes for 10,000 points; `--skip-sync` leaves it out.
`mlflow_log_batch_floor` is the same points handed straight to the store with `log_batch`: the
fastest any client of this store can get them in.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, fresh_project, machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--skip-sync", action="store_true")
    args = ap.parse_args()
    n = args.points
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
    result: dict = {"benchmark": "log_throughput", "points": n, "machine": machine()}

    # nbops: the metrics path alone (capture switched off), then a run with full capture
    for label, skip in (("nbops", {"code", "git", "env", "notebook", "figures", "io"}),
                        ("nbops_full_capture", set())):
        with nbops.track(label, no_capture=skip) as run:
            t0 = time.perf_counter()
            for i in range(n):
                nbops.log(loss=1.0 / (i + 1), step=i)
            caller = time.perf_counter() - t0
        t_end = time.perf_counter() - t0
        run.wait(600)
        total = time.perf_counter() - t0
        assert len(client.get_metric_history(run.mlflow_run_id, "loss")) == n
        result[label] = {"caller_s": round(caller, 4), "caller_incl_run_end_s": round(t_end, 4),
                         "until_in_mlflow_s": round(total, 3)}

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("mlflow-baseline")
    if not args.skip_sync:
        with mlflow.start_run():
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
            result["mlflow_sync"] = {"caller_s": round(time.perf_counter() - t0, 3)}

    # The store's own floor: the same points handed to MLflow in log_batch calls of 1,000.
    from mlflow.entities import Metric

    exp_id = client.get_experiment_by_name("mlflow-baseline").experiment_id
    floor_run = client.create_run(exp_id)
    points = [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + i, i) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        client.log_batch(floor_run.info.run_id, metrics=points[i:i + 1000])
    result["mlflow_log_batch_floor"] = {"until_in_mlflow_s": round(time.perf_counter() - t0, 3)}

    os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"
    with mlflow.start_run():
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False)
        caller = time.perf_counter() - t0
    total = time.perf_counter() - t0  # end_run waits for the async queue
    result["mlflow_async_1s_buffer"] = {"caller_s": round(caller, 3),
                                        "until_in_mlflow_s": round(total, 3)}
    result["goals"] = {"caller_s": 0.02, "until_in_mlflow_s": 0.5}
    emit(result)


if __name__ == "__main__":
    main()

"""Lineage query latency on a store with 1,000 runs and 200 registered models.

    python benchmarks/bench_lineage.py [--runs 1000] [--models 200] [--repeat 20]

Seeds a fresh embedded SQLite store with the MLflow client (runs in 5 experiments under 20
pipeline parents, each with two dataset inputs recorded the nbops way; 200 models, every fifth
one with a package version and a monitoring report), then times

* ``nbops.registry.lineage("model-x/1")`` (both directions, fresh query each time), and
* the naive walk a user would write: list every run of every experiment and every model
  version, then walk parent ids, dataset inputs and tags in Python.

Both must find the same nodes. Prints one JSON document (medians of ``--repeat``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, fresh_project, machine, stats_ms  # noqa: E402

from nbops.store import Store


def seed(client, runs: int, models: int) -> dict:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    started = time.perf_counter()
    experiments = [client.create_experiment(f"exp-{i}") for i in range(5)]
    parents = [client.create_run(experiments[i % 5], run_name=f"pipeline-{i}").info.run_id
               for i in range(20)]
    run_ids: list[str] = []
    for i in range(runs - len(parents)):
        digests = {"train": f"{i % 97:032x}", "labels": f"{(i % 89) + 1000:032x}"}
        tags = {"mlflow.parentRunId": parents[i % len(parents)], "mlflow.user": "bench"}
        for name, digest in digests.items():
            tags[f"nbops.dataset.{name}.digest"] = digest
            tags[f"nbops.dataset.{name}.context"] = "training"
        run = client.create_run(experiments[i % 5], run_name=f"train-{i}", tags=tags)
        client.log_inputs(run.info.run_id, [
            DatasetInput(Dataset(name, digest, "code", "{}"),
                         [InputTag("mlflow.data.context", "training")])
            for name, digest in digests.items()])
        run_ids.append(run.info.run_id)
    for m in range(models):
        name = "model-x" if m == 0 else f"model-{m}"
        client.create_registered_model(name)
        source_run = run_ids[m * 3 % len(run_ids)]
        client.create_model_version(name, f"s3://nbops-bench/{name}", run_id=source_run,
                                    tags={"nbops.source_run": source_run})
        if m % 5 == 0:
            client.create_registered_model(f"{name}-onnx")
            client.create_model_version(f"{name}-onnx", f"s3://nbops-bench/{name}-onnx",
                                        run_id=source_run,
                                        tags={"nbops.source_model": f"{name}/1"})
            client.create_run(experiments[m % 5], run_name=f"monitor-{name}",
                              tags={"nbops.monitor.model": f"{name}/1"})
    return {"seconds": round(time.perf_counter() - started, 1),
            "runs": len(client.search_runs(experiments, max_results=50000)),
            "registered_models": len(client.search_registered_models(max_results=1000))}


def naive(client, name: str, version: str) -> set[str]:
    """What a user writes without nbops: fetch everything, walk in Python."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = {}
    token = None
    while True:
        page = client.search_runs(experiments, max_results=50000, page_token=token)
        runs.update({r.info.run_id: r for r in page})
        token = page.token
        if not token:
            break
    all_versions = []
    token = None
    while True:
        page = client.search_model_versions(max_results=10000, page_token=token)
        all_versions.extend(page)
        token = page.token
        if not token:
            break
    mv = client.get_model_version(name, version)
    found = {f"model:{name}/{version}"}
    todo = [mv.run_id]
    while todo:  # upstream: source run, its parents, their datasets
        run = runs.get(todo.pop())
        if run is None:
            continue
        found.add(f"run:{run.info.run_id}")
        for key, value in run.data.tags.items():
            if key.startswith("nbops.dataset.") and key.endswith(".digest"):
                found.add(f"dataset:{key[len('nbops.dataset.'):-len('.digest')]}@{value}")
        parent = run.data.tags.get("mlflow.parentRunId")
        if parent:
            todo.append(parent)
    ref = f"{name}/{version}"
    for v in all_versions:  # downstream: packages, reports
        if v.tags.get("nbops.source_model") == ref:
            found.add(f"model:{v.name}/{v.version}")
            for r in runs.values():
                if r.data.tags.get("nbops.monitor.model") == f"{v.name}/{v.version}":
                    found.add(f"run:{r.info.run_id}")
    for r in runs.values():
        if r.data.tags.get("nbops.monitor.model") == ref:
            found.add(f"run:{r.info.run_id}")
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    root = fresh_project()
    os.chdir(root)
    from mlflow import MlflowClient

    from nbops.config import load_settings
    from nbops.registry import lineage

    client = MlflowClient(load_settings().tracking_uri)
    seeded = seed(client, args.runs, args.models)

    graph = lineage("model-x/1", store=Store(client.tracking_uri))  # warm: SQLAlchemy engine, imports
    expected = naive(client, "model-x", "1")
    assert set(graph.nodes) == expected, (sorted(set(graph.nodes) ^ expected))

    ours, theirs = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        lineage("model-x/1", store=Store(client.tracking_uri))
        ours.append(time.perf_counter() - start)
    for _ in range(args.repeat):
        start = time.perf_counter()
        naive(client, "model-x", "1")
        theirs.append(time.perf_counter() - start)
    emit({
        "benchmark": "lineage",
        "machine": machine(),
        "store": {"uri": "sqlite (embedded)", **seeded},
        "graph": {"nodes": len(graph.nodes), "edges": len(graph.edges)},
        "nbops_lineage": stats_ms(ours),
        "naive_full_scan": stats_ms(theirs),
        "speedup": round(sorted(theirs)[len(theirs) // 2] / sorted(ours)[len(ours) // 2], 1),
        "goal_ms": 200,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    })


if __name__ == "__main__":
    main()

"""The registry on the team setup: 1,000 models x 10 versions in a real `mlflow server` backed by
PostgreSQL; the sidebar's models call through a real JupyterLab, and the lineage query.

    python benchmarks/bench_store_pg.py [--keep ~/.cache/nbops/bench-pg] [--repeat 20]

Seeding takes minutes over HTTP, so the database (and the server's artifact folder) is kept in
``--keep`` and reused by the next run; ``--reseed`` starts it again. The store holds the
lineage benchmark's shape (1,000 runs with dataset inputs under 20 pipeline parents, 200 models
with packages and monitoring runs: benchmarks/bench_lineage.py) plus 1,000 models x 10
versions (a ``champion`` alias each, a monitoring status on every 4th), every version made
from one of those runs. Then, with the load average next to each figure:

* ``GET /nbops/api/models?max_results=50`` over HTTP to a running JupyterLab with the nbops
  server extension (goal <= 150 ms), beside MLflow's bare ``search_registered_models(50)``;
* ``nbops.registry.lineage("model-x/1")`` and ``GET /nbops/api/lineage?ref=model-x/1`` (goal
  <= 200 ms), beside the naive full scan a user would write (bench_lineage.naive), with the
  store calls one query makes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, load_average, machine, stats_ms, team_server  # noqa: E402

from nbops.config import user_cache_dir
from nbops.store import Store

MODELS, VERSIONS = 1000, 10


def seed(url: str) -> dict:
    """The store described above, over HTTP (4 client threads); returns counts and seconds."""
    from bench_lineage import seed as seed_lineage
    from mlflow import MlflowClient

    from nbops.config import load_settings
    from nbops.monitoring.status import set_status
    from nbops.store.client import open_store

    client = MlflowClient(url)
    store = open_store(load_settings(), tracking_uri=url)
    t0 = time.perf_counter()
    lineage_part = seed_lineage(client, 1000, 200)
    runs = [r.info.run_id for r in client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=1000)]
    statuses = ("ok", "warning", "drift", "error")

    def one_model(i: int) -> None:
        name = f"model-{i:04d}"
        client.create_registered_model(name, description=f"benchmark model {i}")
        for v in range(VERSIONS):
            run_id = runs[(i * VERSIONS + v) % len(runs)]
            client.create_model_version(name, f"s3://nbops-bench/{name}/{v}", run_id=run_id,
                                        tags={"nbops.source_run": run_id})
        client.set_registered_model_alias(name, "champion", str(VERSIONS))
        if i % 4 == 0:
            set_status(store, name, str(VERSIONS), statuses[(i // 4) % 4],
                       report_run_id=runs[i % len(runs)])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one_model, range(MODELS)))
    return {"seconds": round(time.perf_counter() - t0, 1), "lineage_shape": lineage_part,
            "models_x_versions": f"{MODELS} x {VERSIONS}"}


def counting_calls(calls: list[str], fn):
    """``fn()``, with what each store call it makes does appended to ``calls``."""
    real = Store.call

    def call(self, what, *args, **kwargs):
        calls.append(what)
        return real(self, what, *args, **kwargs)

    Store.call = call
    try:
        return fn()
    finally:
        Store.call = real


def get_json(url: str, path: str, token: str) -> object:
    req = urllib.request.Request(f"{url}{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def timed(fn, repeat: int, warm: int = 3) -> dict:
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {**stats_ms(samples), "load_average": load_average()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, default=user_cache_dir() / "bench-pg",
                    help="where the seeded database is kept between runs")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--reseed", action="store_true")
    args = ap.parse_args()
    marker = args.keep / "seeded.json"
    if args.reseed or not marker.exists():  # a seeding that did not finish starts again
        shutil.rmtree(args.keep, ignore_errors=True)
    args.keep.mkdir(parents=True, exist_ok=True)
    result: dict = {"benchmark": "store_pg", "machine": machine(),
                    "goals_ms": {"models_http": 150, "lineage": 200}}
    with team_server(args.keep) as url:
        if not marker.exists():
            marker.write_text(json.dumps(seed(url)))
        result["store"] = {"backend": "mlflow server on PostgreSQL", "kept_in": str(args.keep),
                           "seed": json.loads(marker.read_text())}
        from bench_lineage import naive
        from bench_ui import TOKEN, start_lab
        from mlflow import MlflowClient

        from nbops.registry import lineage

        client = MlflowClient(url)
        root = Path(tempfile.mkdtemp(prefix="nbops-bench-lab-"))
        lab, lab_url = start_lab(root, url)
        try:
            deadline = time.monotonic() + 120  # the first call imports MLflow (503 meanwhile)
            while True:
                try:
                    page = get_json(lab_url, "/nbops/api/models?max_results=50", TOKEN)
                    break
                except urllib.error.HTTPError as exc:
                    if exc.code != 503 or time.monotonic() > deadline:
                        raise
                    time.sleep(1)
            assert len(page["models"]) == 50 and page["next_page_token"], "unexpected page"
            result["models_http"] = timed(
                lambda: get_json(lab_url, "/nbops/api/models?max_results=50", TOKEN),
                args.repeat)
            result["mlflow_search_registered_models_50"] = timed(
                lambda: client.search_registered_models(max_results=50), args.repeat)
            ref = urllib.parse.quote("model-x/1")
            calls: list[str] = []
            graph = counting_calls(calls, lambda: lineage("model-x/1",
                                                          store=Store(client.tracking_uri)))
            expected = naive(client, "model-x", "1")
            result["graph"] = {"nodes": len(graph.nodes), "edges": len(graph.edges),
                               "store_calls": len(calls), "calls": calls,
                               "nodes_naive_walk": len(expected),
                               "not_in_both": sorted(set(graph.nodes) ^ expected)[:10]}
            result["nbops_lineage"] = timed(
                lambda: lineage("model-x/1", store=Store(client.tracking_uri)), args.repeat)
            result["lineage_http"] = timed(
                lambda: get_json(lab_url, f"/nbops/api/lineage?ref={ref}", TOKEN), args.repeat)
            result["naive_full_scan"] = timed(lambda: naive(client, "model-x", "1"),
                                              max(3, args.repeat // 4), warm=1)
        finally:
            lab.terminate()
            lab.wait(30)
            shutil.rmtree(root, ignore_errors=True)
    emit(result)


if __name__ == "__main__":
    main()

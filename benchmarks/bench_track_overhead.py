"""Added latency of `%%track` on a trivial cell, with full capture, vs the bare cell and vs
tracking the same cell by hand with MLflow's own API on the same SQLite store.

    python benchmarks/bench_track_overhead.py [--cells 200] [--pace 0.1]

Cells run in a real IPython shell. `--pace` sleeps between cells (not timed), as a person
running cells would; the background shipper then keeps up. JSON on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, fresh_project, machine, stats_ms  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--pace", type=float, default=0.1)
    args = ap.parse_args()

    root = fresh_project()
    os.chdir(root)
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nbops")
    import nbops.tracking.run as run_mod

    tracker = run_mod.default_tracker()
    with contextlib.redirect_stdout(io.StringIO()):
        ip.run_cell("%%track warmup\nx = 0")
    tracker.logger.flush(120)  # store created, mlflow imported: measure the steady state

    def timed(cell: str) -> list[float]:
        out = []
        with contextlib.redirect_stdout(io.StringIO()):  # run summaries: keep stdout JSON
            for _ in range(args.cells):
                t0 = time.perf_counter()
                ip.run_cell(cell, silent=True)
                out.append(time.perf_counter() - t0)
                time.sleep(args.pace)
        return out

    bare = timed("x = 1")
    tracked = timed("%%track\nx = 1")
    tracker.logger.flush(300)

    import mlflow

    mlflow.set_tracking_uri(tracker.settings.tracking_uri)
    mlflow.set_experiment("manual")
    ip.push({"mlflow": mlflow})
    manual = timed("with mlflow.start_run():\n    mlflow.log_param('x', 1)\n    x = 1")

    b, t, m = stats_ms(bare), stats_ms(tracked), stats_ms(manual)
    emit({
        "benchmark": "track_overhead",
        "cells": args.cells, "pace_s": args.pace, "machine": machine(),
        "bare_cell": b, "tracked_cell": t, "manual_mlflow_cell": m,
        "added_latency_median_ms": round(t["median_ms"] - b["median_ms"], 3),
        "manual_mlflow_added_median_ms": round(m["median_ms"] - b["median_ms"], 3),
        "goal_added_latency_ms": 5.0,
    })


if __name__ == "__main__":
    main()

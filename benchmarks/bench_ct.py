"""Continuous-training figures (prints JSON; see docs/benchmarks.md), from ``make demo``'s loop
run as a user runs it (``python example_notebooks/run_demo.py`` in a fresh project):

* drift detected → promotion: from the monitoring status being set to ``@champion`` moving,
  split into the triggered retrain (the scheduler's check, retrain.ipynb and package.ipynb as a
  pipeline), the shadow traffic the gate waits for, and the gate itself;
* promotion → the running server answers with the new version;
* the same two notebooks with the same parameters run by hand through papermill's API in one
  Python process (what a user would otherwise run), in the same project, right after.

    .venv/bin/python benchmarks/bench_ct.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, fresh_project, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAPERMILL = """
import json, sys, papermill
params = json.loads(sys.argv[1])
papermill.execute_notebook("example_notebooks/retrain.ipynb", "retrain-out.ipynb",
                           parameters=params, progress_bar=False)
model_uri = "models:/demo-classifier@challenger"
papermill.execute_notebook("example_notebooks/package.ipynb", "package-out.ipynb",
                           parameters={"model_uri": model_uri, "quantize": "", "batch_size": 1,
                                       "data_path": params["out_dir"] + "/retrain_window.csv"},
                           progress_bar=False)
"""


def main() -> None:
    project = fresh_project()
    shutil.copytree(ROOT / "example_notebooks", project / "example_notebooks",
                    ignore=shutil.ignore_patterns("output", "data"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "NBOPS_"))}
    load_before = os.getloadavg()
    start = time.perf_counter()
    demo = subprocess.run([sys.executable, "example_notebooks/run_demo.py"], cwd=project,
                          env=env, capture_output=True, text=True)
    demo_s = time.perf_counter() - start
    if demo.returncode != 0:
        sys.exit(f"the demo failed:\n{demo.stdout[-3000:]}\n{demo.stderr[-3000:]}")
    timings = json.loads((project / "example_notebooks" / "output" / "demo_timings.json")
                         .read_text())
    history = [json.loads(line) for line in
               (project / ".nbops" / "schedule-history.jsonl").read_text().splitlines()]
    started = next(e for e in history if e["event"] == "started")
    finished = next(e for e in history if e["event"] == "finished")
    params = {k: started[k] for k in ("window_start", "window_end", "trigger_reason",
                                      "monitor_run")}
    params.update(model_name="demo-classifier", out_dir="output/by-hand")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", PAPERMILL, json.dumps(params)], cwd=project, env=env,
                   check=True, capture_output=True)
    by_hand_s = time.perf_counter() - start
    emit({"benchmark": "continuous training: make demo's loop", "machine": machine(),
          "loadavg_before": [round(x, 2) for x in load_before],
          "loadavg_after": [round(x, 2) for x in os.getloadavg()],
          "demo_process_s": round(demo_s, 1), **timings,
          "triggered_pipeline_s": finished["duration"],
          "papermill_by_hand_same_notebooks_s": round(by_hand_s, 2)})
    shutil.rmtree(project, ignore_errors=True)


if __name__ == "__main__":
    main()

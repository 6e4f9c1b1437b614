"""`nbops run` from nothing, as a user types it: a fresh folder with no store, real processes.

The first run executes the steps; the re-run is answered from the project's cache index
without importing papermill, nbformat, jsonschema or MLflow, and its records still reach
MLflow (shipped by the background `nbops sync` the exiting process starts).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pipeline_support import write_spec

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline"

SPEC = """
name: fresh
steps:
  produce:
    notebook: produce.ipynb
    parameters: {n: 4, out_path: out/numbers.txt}
    outputs: [data_path, total]
  double:
    notebook: double.ipynb
    parameters: {data_path: "{{ steps.produce.outputs.data_path }}", out_path: out/doubled.txt}
    outputs: [doubled_path]
"""

HEAVY = ("papermill", "nbformat", "jsonschema", "mlflow")


def _nbops(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NBOPS_", "MLFLOW_"))}
    return subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_fresh_folder_runs_then_reruns_from_the_cache_without_heavy_imports(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'fresh'\n")
    for name in ("produce.ipynb", "double.ipynb"):
        shutil.copy(NOTEBOOKS / name, root / name)
    spec = write_spec(root, SPEC)

    first = _nbops(root, "-m", "nbops", "run", spec.name)
    assert first.returncode == 0, first.stderr
    assert (root / "out" / "doubled.txt").read_text().split() == ["2", "4", "6", "8"]
    index = json.loads((root / ".nbops" / "pipeline-cache.json").read_text())
    assert len(index) == 2 and all(e["experiment"] == "fresh" for e in index.values())

    again = _nbops(root, "-X", "importtime", "-m", "nbops", "run", spec.name)
    assert again.returncode == 0, again.stderr
    assert re.search(r"produce\s.*cached", again.stdout) and \
        re.search(r"double\s.*cached", again.stdout), again.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines()
                if line.startswith("import time:")}
    assert not imported & set(HEAVY), imported & set(HEAVY)

    # the re-run's records reach MLflow once its process has exited
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root / '.nbops' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("fresh")
    deadline = time.monotonic() + 120
    cached: list = []
    while len(cached) < 2 and time.monotonic() < deadline:
        cached = client.search_runs([exp.experiment_id],
                                    "tags.`nbops.step.status` = 'cached' and "
                                    "attributes.status = 'FINISHED'")
        time.sleep(0.5)
    assert sorted(r.data.tags["nbops.step"] for r in cached) == ["double", "produce"]
    executed = client.search_runs([exp.experiment_id],
                                  "tags.`nbops.step.status` = 'succeeded'")
    assert {r.data.tags["nbops.cached_from"] for r in cached} == \
        {r.info.run_id for r in executed}

    # without the index (another machine, an older nbops), MLflow answers and the index is
    # written again
    (root / ".nbops" / "pipeline-cache.json").unlink()
    third = _nbops(root, "-m", "nbops", "run", spec.name)
    assert third.returncode == 0, third.stderr
    assert re.search(r"double\s.*cached", third.stdout), third.stdout
    assert len(json.loads((root / ".nbops" / "pipeline-cache.json").read_text())) == 2

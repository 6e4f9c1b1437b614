"""`make demo`: run the example notebooks headless on the embedded store and show what was kept.

Usage: python example_notebooks/run_demo.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import papermill

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    os.chdir(ROOT)  # the embedded store lives in <project root>/.nbops
    from nbops.config import load_settings
    from nbops.tracking.logger import replay

    settings = load_settings()
    out_dir = HERE / "output"
    out_dir.mkdir(exist_ok=True)
    notebook = HERE / "train.ipynb"
    print(f"▸ running {notebook.relative_to(ROOT)} with papermill (store: {settings.tracking_uri})")
    os.environ["NBOPS_NOTEBOOK_PATH"] = str(notebook)
    papermill.execute_notebook(
        str(notebook), str(out_dir / "train.ipynb"), parameters={"epochs": 40, "lr": 0.1},
        cwd=str(HERE), progress_bar=False,
    )
    report = replay(settings, timeout=60)  # anything the kernel could not ship before exiting
    if report.left:
        print(f"! {report.left} event(s) still spooled: {report.problem}. Run `nbops sync`.")
    show_runs(settings.tracking_uri, experiment="train")
    print(f"\nOpen it:  .venv/bin/mlflow ui --backend-store-uri {settings.tracking_uri}")
    return 0


def show_runs(uri: str, experiment: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        print(f"! no experiment {experiment!r} in {uri}")
        return
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"],
                              max_results=3)
    print(f"\nLatest runs in experiment {experiment!r}:")
    for run in reversed(runs):
        tags = run.data.tags
        print(f"• {run.info.run_name}  [{run.info.status}]  run_id={run.info.run_id}")
        if run.data.params:
            print("    params : " + ", ".join(f"{k}={v}" for k, v in sorted(run.data.params.items())))
        if run.data.metrics:
            print("    metrics: " + ", ".join(f"{k}={v:.4g}" for k, v in
                                               sorted(run.data.metrics.items())))
        arts = _artifacts(client, run.info.run_id)
        if arts:
            print("    artifacts: " + ", ".join(arts))
        commit = tags.get("mlflow.source.git.commit")
        if commit:
            print(f"    git: {commit[:10]} dirty={tags.get('nbops.git.dirty')}")


def _artifacts(client, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            out.extend(_artifacts(client, run_id, item.path))
        else:
            out.append(item.path)
    return out


if __name__ == "__main__":
    sys.exit(main())

"""`make demo`: run the example pipeline headless on the embedded store and show what was kept.

Usage: python example_notebooks/run_demo.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> int:
    os.chdir(ROOT)  # the embedded store lives in <project root>/.nbops
    from nbops.config import load_settings
    from nbops.pipeline import run_pipeline
    from nbops.tracking.logger import replay

    settings = load_settings()
    print(f"▸ nbops run example_notebooks/pipeline.yaml   (store: {settings.tracking_uri})\n")
    result = run_pipeline(HERE / "pipeline.yaml", params={"n_rows": 2000})
    replay(settings, timeout=60)  # anything a kernel could not ship before it stopped
    if not result.ok:
        print("\n✗ the pipeline failed; the report above names the step and the cell.")
        return 1
    show(settings, result)
    return 0


def show(settings, result) -> None:
    import nbops
    from nbops.pipeline import schedule

    outputs = {name: step.outputs for name, step in result.steps.items()}
    model_uri = outputs["train"]["model_uri"]
    package_uri = outputs["package"]["package_uri"]
    model_ref = model_uri.removeprefix("models:/")
    print(f"\nPipeline run {result.run_id}: every step is an MLflow run; each notebook's "
          "%%track cells are runs under its step.")
    print(f"\n▸ Registered model  {model_uri}  (alias 'candidate')")
    versions = nbops.registry.versions(model_ref.split("/")[0])
    for v in versions[:3]:
        print(f"    version {v.version}  run {v.run_id}  aliases {v.aliases}  "
              f"monitor: {v.tags.get('nbops.monitor.status', '—')}")
    show_training_run(settings.tracking_uri, versions[0].run_id)
    print(f"▸ ONNX package      {package_uri}")
    print(f"▸ Drift status      {outputs['monitor']['status']} "
          "(model version tag nbops.monitor.status; report in the monitor run)")
    print("\n▸ Lineage:")
    print(nbops.lineage(package_uri.removeprefix("models:/"), direction="upstream").to_text())
    schedule.add("monitor-demo", "0 6 * * *", str(HERE / "monitor.ipynb"),
                 params={"model_uri": model_uri})
    print("\n▸ Scheduled: monitor.ipynb daily at 06:00 (`nbops schedule list`; run due jobs "
          "with `nbops scheduler`)")
    print("\nLook at it:")
    print(f"  .venv/bin/mlflow ui --backend-store-uri {settings.tracking_uri}")
    print(f"  .venv/bin/nbops lineage {model_ref}")
    print("  .venv/bin/nbops runs example-pipeline")


def show_training_run(uri: str, run_id: str) -> None:
    """What %%track recorded for the cell that trained the model."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    run = client.get_run(run_id)
    print(f"▸ Training run      {run.info.run_name!r} [{run.info.status}] {run_id}")
    print("    params   : " + ", ".join(f"{k}={v}" for k, v in sorted(run.data.params.items())))
    print("    metrics  : " + ", ".join(f"{k}={v:.4g}" for k, v in
                                       sorted(run.data.metrics.items())))
    print("    artifacts: " + ", ".join(_artifacts(client, run_id)))
    tags = run.data.tags
    if "mlflow.source.git.commit" in tags:
        print(f"    git      : {tags['mlflow.source.git.commit'][:10]} "
              f"(dirty={tags.get('nbops.git.dirty')}); environment digest "
              f"{tags.get('nbops.env.digest')}")


def _artifacts(client, run_id: str, path: str | None = None) -> list[str]:
    out = []
    for item in client.list_artifacts(run_id, path):
        out.extend(_artifacts(client, run_id, item.path) if item.is_dir else [item.path])
    return out


if __name__ == "__main__":
    sys.exit(main())

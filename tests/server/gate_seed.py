"""A gate verdict on a model version, written by a real process through nbops' API: a tracked
gate run holding ``gate/report.html`` (the page ``nbops.gate`` writes, from its own renderer)
and the version tags ``nbops.gate.run`` / ``nbops.gate.decision``, exactly as the gate sets
them. A model that does not exist yet is registered with one version first.

Imported by tests/server and tests/ui (``seed_gate``), and run as a script by them::

    python gate_seed.py MODEL VERSION:DECISION [VERSION:DECISION ...]   # prints the run ids
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def seed_gate(root: Path, model: str, verdicts: dict[str, str],
              env: dict[str, str] | None = None) -> dict[str, str]:
    """Run this file as a process in ``root``, one gate run per ``{version: decision}``;
    ``{version: gate run id}``."""
    pairs = [f"{v}:{d}" for v, d in verdicts.items()]
    done = subprocess.run([sys.executable, __file__, model, *pairs], cwd=root, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return dict(zip(verdicts, done.stdout.split(), strict=True))


def _report(model: str, version: str, champion: str, decision: str) -> str:
    from nbops.workflows.gate import CriterionRow, ModelScore, _report_html

    passed = decision != "rejected"
    new = ModelScore("challenger", version, "onnx", f"{model}-onnx/{version}",
                     {"accuracy": 0.95 if passed else 0.61, "p99_ms": 0.8}, "unknown")
    old = ModelScore("champion", champion, "onnx", f"{model}-onnx/{champion}",
                     {"accuracy": 0.9, "p99_ms": 0.7}, "drift")
    rows = [CriterionRow("accuracy >= champion + 0.01", new.metrics["accuracy"], 0.9, "0.91",
                         passed),
            CriterionRow("p99_ms <= 5", 0.8, 0.7, "5", True)]
    return _report_html(model, new, old, rows, decision, "classification", 400, 0)


def main(model: str, verdicts: list[str]) -> None:
    import nbops
    from nbops.registry import api
    from nbops.store import open_store

    store = open_store()
    client = store.client
    if not client.search_registered_models(f"name = '{model}'"):
        with nbops.track("train") as run:
            nbops.log(accuracy=0.95)
            source = run.require_mlflow_id()
        client.create_registered_model(model)
        client.create_model_version(model, f"runs:/{source}/model", run_id=source)
    for pair in verdicts:
        version, decision = pair.split(":")
        champion = str(max(1, int(version) - 1))
        with nbops.track(f"gate {model} v{version} vs v{champion}",
                         tags={"nbops.gate.decision": decision, "nbops.gate.model": model}) as run:
            run.log_text(_report(model, version, champion, decision), "gate/report.html")
            run_id = run.require_mlflow_id()
        for key, value in (("nbops.gate.run", run_id), ("nbops.gate.decision", decision)):
            api.set_tag(model, key, value, version=version, store=store)
        print(run_id)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])

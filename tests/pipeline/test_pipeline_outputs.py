"""nbops.output(): the outputs file in a pipeline, a tag on the active run, no-op elsewhere."""

from __future__ import annotations

import json

import pytest

from nbops.exceptions import UsageError
from nbops.pipeline.outputs import OUTPUTS_ENV, output, read_outputs


def test_output_appends_to_the_runner_file(tmp_path, monkeypatch):
    target = tmp_path / "outputs.jsonl"
    monkeypatch.setenv(OUTPUTS_ENV, str(target))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a\n1\n")
    output("rows", 1)
    output("path", "data.csv")
    output("rows", 2)
    assert read_outputs(target) == {
        "rows": {"value": 2, "kind": "value"},
        "path": {"value": str(tmp_path / "data.csv"), "kind": "path"},
    }


def test_output_outside_a_pipeline_records_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(OUTPUTS_ENV, raising=False)
    output("uri", "models:/m/1")  # no file, no run: returns
    assert read_outputs(tmp_path / "missing.jsonl") == {}


def test_output_tags_the_active_run(tracker, monkeypatch):
    monkeypatch.delenv(OUTPUTS_ENV, raising=False)
    from nbops.tracking.run import track

    with track("t", tracker=tracker) as run:
        output("acc", 0.9)
    run.wait()
    from mlflow import MlflowClient

    tags = MlflowClient(tracker.settings.tracking_uri).get_run(run.mlflow_run_id).data.tags
    assert json.loads(tags["nbops.output.acc"]) == 0.9


def test_output_refuses_bad_names_and_values():
    with pytest.raises(UsageError, match="must be an identifier"):
        output("a-b", 1)
    with pytest.raises(UsageError, match="not JSON-serializable"):
        output("obj", object())
    with pytest.raises(UsageError, match="limit is 5000"):
        output("big", "x" * 6000)

"""Running pipelines with real kernels and a real SQLite MLflow store."""

from __future__ import annotations

import json

from pipeline_support import write_spec

from nbops.pipeline.runner import run_pipeline

SPEC = """
name: numbers
params:
  n: 4
steps:
  consume:
    notebook: consume.ipynb
    parameters:
      data_path: "{{ steps.produce.outputs.data_path }}"
      total: "{{ steps.produce.outputs.total }}"
      factor: 3
    outputs: [result]
  produce:
    notebook: produce.ipynb
    parameters: {n: "{{ params.n }}", out_path: data/numbers.txt}
    outputs: [data_path, total]
"""


def _runs(client, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=100)


def test_dag_order_outputs_and_mlflow_records(nbdir, tracker, client):
    spec = write_spec(nbdir, SPEC)
    result = run_pipeline(spec, tracker=tracker, quiet=True)

    assert result.ok and result.exit_code == 0
    assert list(result.steps) == ["produce", "consume"]  # topological, not file order
    produce, consume = result.steps["produce"], result.steps["consume"]
    assert produce.outputs == {"data_path": str(nbdir / "data" / "numbers.txt"), "total": 10}
    assert consume.outputs == {"result": 30}

    runs = {r.info.run_id: r for r in _runs(client, "numbers")}
    parent = runs[result.run_id]
    assert parent.data.tags["nbops.pipeline"] == "numbers"
    assert parent.data.params == {"n": "4"}
    assert parent.info.status == "FINISHED"
    step = runs[consume.run_id]
    assert step.data.tags["mlflow.parentRunId"] == result.run_id
    assert step.data.tags["nbops.step"] == "consume"
    assert step.data.tags["nbops.step.status"] == "succeeded"
    assert step.data.tags["nbops.cache_key"] == consume.cache_key
    assert json.loads(step.data.tags["nbops.output.result"]) == 30
    assert step.data.params["factor"] == "3"
    artifacts = {a.path for a in client.list_artifacts(consume.run_id, "notebook")}
    assert artifacts == {"notebook/consume.ipynb", "notebook/consume.html"}
    executed = json.loads(open(client.download_artifacts(
        consume.run_id, "notebook/consume.ipynb")).read())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"]["tags"]]
    assert "factor = 3" in "".join(injected[0]["source"])

    # --from consume: produce is not selected, so it must come from the cache (it does)
    again = run_pipeline(spec, from_step="consume", force=True, tracker=tracker, quiet=True)
    assert again.ok
    assert again.steps["produce"].status == "cached"
    assert again.steps["produce"].cached_from == produce.run_id
    assert again.steps["consume"].status == "succeeded"
    assert again.steps["consume"].outputs == {"result": 30}


def test_notebook_track_runs_nest_under_the_step_run(nbdir, tracker, client):
    spec = write_spec(nbdir, """
        name: nested
        steps:
          fit:
            notebook: tracked.ipynb
            parameters: {alpha: 2.0}
            outputs: [score]
        """)
    result = run_pipeline(spec, tracker=tracker, quiet=True)
    assert result.ok, result.steps["fit"].failure
    step_id = result.steps["fit"].run_id
    children = [r for r in _runs(client, "nested")
                if r.data.tags.get("mlflow.parentRunId") == step_id]
    assert children, "the notebook's session run is a child of the step run"
    session = children[0]
    assert session.data.tags.get("nbops.session") == "true"
    assert session.info.status == "FINISHED"
    cells = [r for r in _runs(client, "nested")
             if r.data.tags.get("mlflow.parentRunId") == session.info.run_id]
    assert [r.info.run_name for r in cells] == ["fit"]
    assert cells[0].data.metrics["score"] == 4.0
    assert cells[0].data.tags["nbops.output.score"] == "4.0"
    assert result.steps["fit"].outputs == {"score": 4.0}


def test_only_with_force_runs_the_step_and_leaves_unselected_steps_alone(nbdir, tracker,
                                                                         client):
    spec = write_spec(nbdir, SPEC)
    assert run_pipeline(spec, tracker=tracker, quiet=True).ok

    result = run_pipeline(spec, only="produce", force=True, params={"n": 5}, tracker=tracker,
                          quiet=True)
    assert result.ok and result.exit_code == 0
    assert result.steps["produce"].status == "succeeded"
    consume = result.steps["consume"]
    assert (consume.status, consume.reason, consume.run_id) == (
        "skipped", "not selected (--only/--from)", None)
    parent = client.get_run(result.run_id)
    assert parent.data.tags["nbops.pipeline.status"] == "succeeded"
    assert parent.data.tags["nbops.pipeline.failed_steps"] == ""

    # --only consume: its unselected upstream step must be (and is) a cache hit
    again = run_pipeline(spec, only=["consume"], params={"n": 5}, tracker=tracker, quiet=True)
    assert again.ok
    assert again.steps["produce"].status == "cached"
    assert again.steps["consume"].outputs == {"result": 45}

"""The Dask executor against a real distributed LocalCluster (separate worker processes)."""

from __future__ import annotations

import pytest
from pipeline_support import write_spec

from nbops.pipeline.runner import run_pipeline

distributed = pytest.importorskip("distributed")


def test_steps_run_on_a_dask_cluster(nbdir, tracker, client):
    spec = write_spec(nbdir, """
        name: on-dask
        steps:
          produce:
            notebook: produce.ipynb
            parameters: {n: 5, out_path: data/numbers.txt}
            outputs: [data_path, total]
          consume:
            notebook: consume.ipynb
            parameters:
              data_path: "{{ steps.produce.outputs.data_path }}"
              total: "{{ steps.produce.outputs.total }}"
            outputs: [result]
        """)
    # one worker process: the second step finds the kernel it booted during the first
    with distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=1,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        result = run_pipeline(spec, executor="dask", scheduler_address=cluster.scheduler_address,
                              tracker=tracker, quiet=True)
    assert result.ok, {n: s.failure for n, s in result.steps.items()}
    assert result.steps["consume"].outputs == {"result": 15}
    assert result.steps["consume"].reason == "warm kernel"
    run = client.get_run(result.steps["consume"].run_id)
    assert run.data.tags["mlflow.parentRunId"] == result.run_id
    assert {a.path for a in client.list_artifacts(run.info.run_id, "notebook")} == {
        "notebook/consume.ipynb", "notebook/consume.html"}

"""Failures: a report naming the cell, downstream steps skipped, timeouts killed, retries."""

from __future__ import annotations

import json
import time

from pipeline_support import write_spec

from nbops.pipeline.runner import run_pipeline


def test_failure_report_skip_downstream_timeout_and_parallel_steps(nbdir, tracker, client):
    spec = write_spec(nbdir, """
        name: broken
        steps:
          fail:
            notebook: fail.ipynb
            parameters: {x: 41}
            outputs: [never]
          after:
            notebook: consume.ipynb
            parameters: {data_path: "{{ steps.fail.outputs.never }}"}
          slow:
            notebook: slow.ipynb
            parameters: {seconds: 60}
            timeout: 3
        """)
    t0 = time.monotonic()
    result = run_pipeline(spec, workers=2, tracker=tracker, quiet=True)
    elapsed = time.monotonic() - t0

    assert not result.ok and result.exit_code == 1
    assert elapsed < 30, "the 60 s notebook was stopped at its 3 s timeout"
    assert result.steps["after"].status == "skipped"
    assert "upstream step 'fail' failed" in result.steps["after"].reason
    slow = result.steps["slow"]
    assert slow.status == "failed" and slow.failure.kind == "timeout"

    failure = result.steps["fail"].failure
    assert failure.kind == "cell_error"
    assert failure.cell_index == 2  # in fail.ipynb: parameters, `y = x + 1`, the raise
    assert "raise ValueError" in failure.source
    assert failure.ename == "ValueError" and failure.evalue == "boom: y=42"
    assert any("ValueError" in line for line in failure.traceback)

    run = client.get_run(result.steps["fail"].run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["nbops.step.status"] == "failed"
    assert run.data.tags["nbops.failure.cell_index"] == "2"
    assert run.data.tags["nbops.failure.ename"] == "ValueError"
    report = open(client.download_artifacts(run.info.run_id, "failure/report.txt")).read()
    assert "failing cell: index 2" in report and "raise ValueError" in report
    failed_nb = json.loads(open(client.download_artifacts(
        run.info.run_id, "notebook/fail.ipynb")).read())
    errors = [o for c in failed_nb["cells"] for o in c.get("outputs", [])
              if o["output_type"] == "error"]
    assert errors[0]["ename"] == "ValueError"  # papermill's failed notebook, with its banner
    parent = client.get_run(result.run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["nbops.pipeline.failed_steps"] in ("fail,slow", "slow,fail")


def test_retry_then_success(nbdir, tracker, client):
    spec = write_spec(nbdir, """
        name: flaky
        steps:
          flaky:
            notebook: flaky.ipynb
            parameters: {counter_path: counter.txt, fail_times: 1}
            retries: 2
            retry_delay: 0.1
        """)
    result = run_pipeline(spec, tracker=tracker, quiet=True)
    step = result.steps["flaky"]
    assert result.ok and step.status == "succeeded" and step.attempts == 2
    assert (nbdir / "counter.txt").read_text() == "2"
    run = client.get_run(step.run_id)
    assert run.data.tags["nbops.step.attempts"] == "2"
    first = open(client.download_artifacts(step.run_id, "attempts/1/failure/report.txt")).read()
    assert "flaky failure on attempt 1" in first


def test_failure_reports_as_a_user_reads_them(nbdir, tracker, client):
    """The real message of an IPython UsageError, the cell index in the notebook as written
    (stale papermill banners in it), the running cell of a timeout with its partial outputs,
    and the HTML page of a failed notebook."""
    spec = write_spec(nbdir, """
        name: reports
        steps:
          magic: {notebook: magic.ipynb, parameters: {x: 2}}
          banners: {notebook: stale_banners.ipynb, parameters: {x: 2}}
          hang: {notebook: hang.ipynb, parameters: {seconds: 60}, timeout: 4}
        """)
    result = run_pipeline(spec, tracker=tracker, quiet=True)
    assert [s.status for s in result.steps.values()] == ["failed"] * 3

    magic = result.steps["magic"].failure
    assert magic.ename == "UsageError"
    assert "undefined_magic_xyz" in magic.evalue and magic.cell_index == 2
    assert magic.message.startswith("UsageError: Line magic function")

    banners = result.steps["banners"].failure
    assert banners.cell_index == 5 and banners.evalue == "still broken: z=6"

    hang = result.steps["hang"].failure
    assert hang.kind == "timeout" and hang.cell_index == 1
    assert "while running cell 1" in hang.message and "time.sleep" in hang.source
    run_id = result.steps["hang"].run_id
    executed = json.loads(open(client.download_artifacts(run_id, "notebook/hang.ipynb")).read())
    printed = [o for c in executed["cells"] for o in c.get("outputs", [])
               if o.get("output_type") == "stream"]
    assert "before the wait" in "".join(printed[0]["text"])

    tracker.logger.flush(60)
    for name in ("magic", "hang"):
        arts = {a.path for a in client.list_artifacts(result.steps[name].run_id, "notebook")}
        assert f"notebook/{name}.html" in arts, arts

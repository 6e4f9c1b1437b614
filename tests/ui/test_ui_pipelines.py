"""The "Pipelines" sidebar in a real JupyterLab and Chromium, at the default sidebar width: a
two-step pipeline run from "Run now" (real kernels), its steps' notebooks opened read-only, and a
failing step's error."""

from __future__ import annotations

from lab_helpers import Lab, contrasts, open_lab, outside, shot
from pipeline_seed import write_pipelines
from playwright.sync_api import expect


def open_pipelines(page):
    panel = page.locator("#nbops-pipelines")
    tab = page.locator('.jp-SideBar [data-id="nbops-pipelines"]')
    tab.wait_for()
    if not panel.is_visible():
        tab.click()
    panel.wait_for(state="visible")
    return panel


def test_run_now_then_open_a_step_notebook(page, lab: Lab):
    write_pipelines(lab.root)
    open_lab(page, lab)
    panel = open_pipelines(page)
    numbers = panel.locator('.nbops-pipeline[data-path="numbers/pipeline.yaml"]')
    expect(numbers.locator(".nbops-pipeline-steps")).to_have_text("produce → consume")
    expect(numbers).to_contain_text("No runs yet.")
    numbers.get_by_role("button", name="Run now").click()
    expect(panel.locator(".nbops-note-ok")).to_contain_text("Started numbers")
    run = numbers.locator(".nbops-pipeline-run").first
    expect(run).to_have_attribute("data-status", "succeeded", timeout=240_000)
    expect(run.locator(".nbops-step")).to_have_text(["produce: succeeded",
                                                     "consume: succeeded"])
    assert outside(panel, "button, .nbops-badge") == []
    assert [c for c in contrasts(panel) if c["ratio"] < 4.5] == []
    shot(page.locator("#jp-left-stack"), "pipelines-panel.png")

    run.locator('.nbops-step[data-step="consume"]').click()
    notebook = page.locator(".jp-NotebookPanel.nbops-snapshot:visible")
    expect(notebook).to_contain_text("factor = 3")
    expect(notebook.locator(".jp-Toolbar-kernelName")).to_contain_text("No Kernel")
    expect(page.locator(".jp-Dialog")).to_have_count(0)

    # run with params: the spec's defaults shown, a bad line refused, the params recorded
    numbers.get_by_role("button", name="Run with params…").click()
    dialog = page.locator(".jp-Dialog")
    params = dialog.locator(".nbops-params")
    expect(params).to_have_value("n=4")
    expect(params).to_be_focused()
    params.fill("n 5")
    expect(dialog.locator(".nbops-mod-error")).to_contain_text('Line 1 "n 5": write KEY=VALUE')
    expect(dialog.locator(".jp-Dialog-button.jp-mod-accept")).to_be_disabled()
    params.fill("n=5")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    latest = numbers.locator(".nbops-pipeline-run").first
    expect(latest.locator(".nbops-run-params-used")).to_have_text("n=5", timeout=60_000)
    expect(latest).to_have_attribute("data-status", "succeeded", timeout=240_000)
    expect(numbers.locator(".nbops-pipeline-run")).to_have_count(2)

    broken = panel.locator('.nbops-pipeline[data-path="broken/pipeline.yaml"]')
    broken.get_by_role("button", name="Run now").click()
    failed = broken.locator(".nbops-pipeline-run").first
    expect(failed).to_have_attribute("data-status", "failed", timeout=240_000)
    expect(failed.locator(".nbops-step-failure")).to_contain_text("ValueError: boom: y=2")
    expect(failed.locator(".nbops-step-failure")).to_contain_text("(cell 3)")

"""The "Models" sidebar in a real JupyterLab and Chromium: list, model view, promote through the
confirm dialog (audited), the source notebook snapshot, drift status, error states."""

from __future__ import annotations

import json
import re

from lab_helpers import Lab, open_lab, open_sidebar, shot, widen_sidebar
from playwright.sync_api import expect

from nbops.registry import api


def test_sidebar_lists_models_with_aliases_and_status(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    churn = panel.locator('.nbops-model-item[data-model="churn"]')
    expect(churn).to_be_visible()
    expect(churn.locator(".nbops-status-drift")).to_have_text("drift")
    expect(churn.locator(".nbops-badge-alias").first).to_have_text("champion → v2")
    expect(panel.locator('.nbops-model-item[data-model="fraud"] .nbops-status-ok')).to_be_visible()
    expect(panel.locator(".nbops-model-item")).to_have_count(3)
    page.wait_for_function("document.querySelector('#nbops-registry').dataset.firstPaintMs")
    widen_sidebar(page)
    shot(page.locator("#jp-left-stack"), "sidebar-list.png")
    # search narrows the list on the server side
    panel.locator(".nbops-search").fill("fra")
    expect(panel.locator(".nbops-model-item")).to_have_count(1)
    panel.locator(".nbops-search").fill("")
    expect(panel.locator(".nbops-model-item")).to_have_count(3)


def test_model_view_promote_audit_snapshot_and_drift(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    expect(panel.locator(".nbops-model-title")).to_have_text("churn")
    expect(panel.locator(".nbops-versions tbody tr")).to_have_count(3)
    expect(panel.locator('tr[data-version="1"] .nbops-metrics')).to_have_text(
        "accuracy=0.91, loss=0.2")
    # drift status of v2, linking to the monitoring run
    drift = panel.locator('.nbops-monitor-row[data-version="2"]')
    expect(drift.locator(".nbops-status-drift")).to_be_visible()
    expect(drift.locator(".nbops-report-link")).to_have_text(
        f"report run {lab.seeded.monitor_run[:8]}")
    expect(panel.locator(".nbops-lineage svg .nbops-lineage-node").first).to_be_visible()
    expect(panel.locator(".nbops-history-entry")).to_have_count(3)
    page.set_viewport_size({"width": 1400, "height": 1000})
    widen_sidebar(page)
    shot(page.locator("#jp-left-stack"), "model-view.png")

    # promote v3 to champion through the confirm dialog
    panel.locator('tr[data-version="3"] .nbops-promote').click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    dialog.locator(".nbops-input-alias").fill("champion")
    dialog.locator(".nbops-input-reason").fill("promoted from the UI test")
    shot(dialog.locator(".jp-Dialog-content"), "promote-dialog.png")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(panel.locator(".nbops-note-ok")).to_contain_text("champion → v3")
    first = panel.locator(".nbops-history-entry").first
    expect(first).to_contain_text("champion: v2 → v3")
    expect(first).to_contain_text("promoted from the UI test")
    client = lab.client()
    assert client.get_registered_model("churn").aliases["champion"] == 3
    record = api.history("churn", "champion", client=client)[-1]
    assert (record.from_version, record.to_version, record.reason, record.action) == (
        "2", "3", "promoted from the UI test", "set")

    # open the executed snapshot of v1's source run in a notebook tab
    panel.locator('tr[data-version="1"] .nbops-open-notebook').click()
    run = lab.seeded.train_runs[0]
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{run[:12]}-history")
    expect(tab).to_be_visible()
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(notebook.locator(".jp-MarkdownOutput h1, .jp-Cell").first).to_be_visible()
    expect(notebook).to_contain_text("Training churn v1")
    expect(notebook).to_contain_text("accuracy 0.91")
    saved = lab.root / "nbops-snapshots" / f"{run[:12]}-history.ipynb"
    assert json.loads(saved.read_text())["cells"][0]["source"] == ["# Training churn v1\n"]


def test_rollback_through_the_dialog(page, lab: Lab):
    client = lab.client()
    api.set_alias("fraud", "prod", "1", reason="seed for rollback", client=client)
    client.create_model_version("fraud", f"runs:/{lab.seeded.train_runs[1]}/model",
                                run_id=lab.seeded.train_runs[1])
    api.set_alias("fraud", "prod", "2", reason="v2", client=client)
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator('.nbops-model-item[data-model="fraud"]').click()
    panel.locator('.nbops-alias-row[data-alias="prod"] .nbops-rollback').click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator(".nbops-input-reason").fill("v2 regressed")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(panel.locator(".nbops-history-entry").first).to_contain_text(
        "prod: v2 → v1 by")
    expect(panel.locator(".nbops-history-entry").first).to_contain_text("(rollback) — v2 regressed")
    assert client.get_registered_model("fraud").aliases["prod"] == 1


def test_error_states_show_the_server_message(page, lab: Lab):
    message = "The MLflow tracking store cannot be reached: connection refused."
    models_url = re.compile(r".*/nbops/api/models(\?.*)?$")
    page.route(models_url, lambda route: route.fulfill(
        status=503, content_type="application/json",
        body=json.dumps({"status": 503, "reason": "store_unavailable", "message": message,
                         "extra": {}})))
    open_lab(page, lab)
    panel = open_sidebar(page)
    error = panel.locator('.nbops-error[data-status="503"]')
    expect(error).to_contain_text("The model store is unreachable")
    expect(error).to_contain_text(message)
    page.unroute(models_url)
    error.locator("button", has_text="Retry").click()
    expect(panel.locator(".nbops-model-item")).to_have_count(3)
    # a 4xx from the server keeps its message
    page.route(re.compile(r".*/nbops/api/models/churn(\?.*)?$"), lambda route: route.fulfill(
        status=404, content_type="application/json",
        body=json.dumps({"status": 404, "reason": "not_found",
                         "message": "Model 'churn' was deleted meanwhile.", "extra": {}})))
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    expect(panel.locator('.nbops-error[data-status="404"]')).to_contain_text(
        "Model 'churn' was deleted meanwhile.")


def test_empty_search_shows_the_how_to(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator(".nbops-search").fill("no-such-model")
    expect(panel.locator(".nbops-empty")).to_contain_text('No model matches "no-such-model"')

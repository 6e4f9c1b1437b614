"""The "Models" sidebar in a real JupyterLab and Chromium, at the default sidebar width: list,
model view, promote and rollback through their dialogs (audited), read-only snapshots, error
states. Layout and contrast are measured in tests/ui/test_ui_layout.py."""

from __future__ import annotations

import json
import re

from conftest import LONG_NAME
from lab_helpers import Lab, node_places, open_lab, open_sidebar, shot
from playwright.sync_api import expect

from nbops.registry import api
from nbops.store import Store


def test_sidebar_lists_models_with_aliases_and_status(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    churn = panel.locator('.nbops-model-item[data-model="churn"]')
    expect(churn).to_be_visible()
    expect(churn.locator(".nbops-status-drift")).to_have_text("drift")
    expect(churn.locator(".nbops-badge-alias").first).to_have_text("champion → v2")
    expect(panel.locator('.nbops-model-item[data-model="fraud"] .nbops-status-ok')).to_be_visible()
    expect(panel.locator(".nbops-model-item")).to_have_count(4)
    page.wait_for_function("document.querySelector('#nbops-registry').dataset.firstPaintMs")
    long = panel.locator(f'.nbops-model-item[data-model="{LONG_NAME}"] .nbops-model-name')
    expect(long).to_have_attribute("title", LONG_NAME)
    shot(page.locator("#jp-left-stack"), "sidebar-list.png")
    # the sort control is labelled; search narrows the list on the server side
    expect(panel.get_by_label("Sort by")).to_be_visible()
    panel.locator(".nbops-search").fill("fra")
    expect(panel.locator(".nbops-model-item")).to_have_count(1)
    panel.locator(".nbops-search").fill("_")  # a literal underscore, not a wildcard
    expect(panel.locator(".nbops-empty")).to_contain_text('No model matches "_"')
    panel.locator(".nbops-search").fill("")
    expect(panel.locator(".nbops-model-item")).to_have_count(4)
    # keyboard: Down moves between models, Enter opens one
    panel.locator(".nbops-model-item").first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(panel.locator(".nbops-model-title")).to_be_visible()


def test_model_view_promote_with_the_keyboard_and_dialog(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    expect(panel.locator(".nbops-model-title")).to_have_text("churn")
    expect(panel.locator(".nbops-version-card")).to_have_count(3)
    expect(panel.locator('.nbops-version-card[data-version="1"] .nbops-metrics')).to_have_text(
        "accuracy=0.91, loss=0.2")
    drift = panel.locator('.nbops-monitor-row[data-version="2"]')
    expect(drift.locator(".nbops-status-drift")).to_be_visible()
    expect(drift.locator(".nbops-report-link")).to_have_text(
        f"report run {lab.seeded.monitor_run[:8]}")
    expect(panel.locator(".nbops-lineage svg .nbops-lineage-node").first).to_be_visible()
    node_places(panel.locator(".nbops-lineage svg .nbops-lineage-node"))
    expect(panel.locator(".nbops-history-entry")).to_have_count(3)
    shot(page.locator("#jp-left-stack"), "model-view.png")

    client = lab.client()
    panel.locator('.nbops-version-card[data-version="3"] .nbops-promote').click()
    dialog = page.locator(".jp-Dialog")
    alias, reason = dialog.locator(".nbops-input-alias"), dialog.locator(".nbops-input-reason")
    accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
    # nothing pre-filled, focus in the alias field, Promote disabled
    expect(alias).to_have_value("")
    expect(alias).to_be_focused()
    expect(accept).to_be_disabled()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    # an alias but no reason: Enter still moves nothing
    alias.type("champion")
    expect(dialog.locator(".nbops-field-hint").first).to_have_text('"champion" moves from v2 to v3.')
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".nbops-mod-error")).to_have_text(
        "Give a reason: it is recorded in the audit trail.")
    assert client.get_registered_model("churn").aliases["champion"] == 2
    # an emptied alias says what is missing
    alias.fill("")
    alias.dispatch_event("input")
    expect(dialog.locator(".nbops-mod-error").first).to_have_text(
        "Give the alias to move, e.g. champion.")
    alias.fill("champion")
    reason.fill("promoted from the UI test")
    shot(dialog.locator(".jp-Dialog-content"), "promote-dialog.png")
    reason.press("Enter")
    expect(dialog).to_have_count(0)
    expect(panel.locator(".nbops-note-ok")).to_contain_text("champion → v3")
    first = panel.locator(".nbops-history-entry").first
    expect(first).to_contain_text("champion: v2 → v3")
    expect(first).to_contain_text("promoted from the UI test")
    assert client.get_registered_model("churn").aliases["champion"] == 3
    record = api.history("churn", "champion", store=Store(client.tracking_uri))[-1]
    assert (record.from_version, record.to_version, record.reason, record.action) == (
        "2", "3", "promoted from the UI test", "set")


def test_rollback_names_its_target_and_is_offered_only_with_one(page, lab: Lab):
    client = lab.client()
    api.set_alias("fraud", "prod", "1", reason="seed for rollback", store=Store(client.tracking_uri))
    client.create_model_version("fraud", f"runs:/{lab.seeded.train_runs[1]}/model",
                                run_id=lab.seeded.train_runs[1])
    api.set_alias("fraud", "prod", "2", reason="v2", store=Store(client.tracking_uri))
    api.set_alias("fraud", "shadow", "2", reason="new alias", store=Store(client.tracking_uri))
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator('.nbops-model-item[data-model="fraud"]').click()
    expect(panel.locator('.nbops-alias-row[data-alias="shadow"]')).to_be_visible()
    expect(panel.locator('.nbops-alias-row[data-alias="shadow"] .nbops-rollback')).to_have_count(0)
    rollback = panel.locator('.nbops-alias-row[data-alias="prod"] .nbops-rollback')
    expect(rollback).to_have_text("Roll back to v1")
    rollback.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text('"prod" of fraud moves from v2 back to v1.')
    expect(dialog.locator(".jp-Dialog-button.jp-mod-accept")).to_be_disabled()
    dialog.locator(".nbops-input-reason").fill("v2 regressed")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(panel.locator(".nbops-history-entry").first).to_contain_text("prod: v2 → v1 by")
    expect(panel.locator(".nbops-history-entry").first).to_contain_text("(rollback) — v2 regressed")
    assert client.get_registered_model("fraud").aliases["prod"] == 1
    # A colleague rolls prod back again (to v2) while this sidebar still shows it on v1: the
    # stale "Roll back" is refused, not applied a second time (which would land on v1 again).
    again = panel.locator('.nbops-alias-row[data-alias="prod"] .nbops-rollback')
    expect(again).to_have_text("Roll back to v2")
    api.rollback("fraud", "prod", reason="colleague", store=Store(client.tracking_uri))
    again.click()
    dialog.locator(".nbops-input-reason").fill("stale view")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(panel.locator(".nbops-note-error")).to_contain_text("points at v2, not v1")
    assert client.get_registered_model("fraud").aliases["prod"] == 2
    # the lab's store is shared by the tests after this one: prod back where they expect it
    api.set_alias("fraud", "prod", "1", reason="as before", store=Store(client.tracking_uri))


def test_snapshot_opens_read_only_without_kernel_or_save_prompt(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    panel.locator('.nbops-version-card[data-version="1"] .nbops-open-notebook').click()
    run = lab.seeded.train_runs[0]
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{run}-train")
    expect(tab).to_be_visible()
    notebook = page.locator(".jp-NotebookPanel.nbops-snapshot:visible")
    expect(notebook).to_contain_text("Training churn v1")
    expect(notebook).to_contain_text("%time print('accuracy', 0.91)")  # the source as typed
    expect(notebook).to_contain_text("accuracy 0.91")  # and its output
    expect(notebook.locator(".jp-Toolbar-kernelName")).to_contain_text("No Kernel")
    page.wait_for_timeout(2000)  # a kernel dialog would have popped up by now
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    # typing into a cell changes nothing: the cells are read-only, the tab never "modified"
    notebook.locator(".jp-CodeCell .cm-content").first.click()
    page.keyboard.type("xyz")
    expect(notebook.locator(".jp-CodeCell .cm-content").first).not_to_contain_text("xyz")
    expect(tab).not_to_have_class(re.compile(r"jp-mod-dirty"))
    assert tab.get_attribute("title") is None or "Read-only snapshot" in (
        tab.get_attribute("title") or "")
    saved = lab.root / "nbops-snapshots" / f"{run}-train.ipynb"
    cells = json.loads(saved.read_text())["cells"]
    assert cells[1]["source"] == ["%time print('accuracy', 0.91)"]
    assert all(c["metadata"]["editable"] is False for c in cells)
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    expect(tab).to_have_count(0)
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    # a monitoring report run opens its notebook too
    panel.locator(".nbops-report-link").click()
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab",
                        has_text=f"{lab.seeded.monitor_run}-monitor")).to_be_visible()


def test_panel_is_restored_after_a_reload(page, lab: Lab):
    open_lab(page, lab)
    open_sidebar(page)
    page.wait_for_timeout(1500)  # the layout is saved shortly after it changes
    open_lab(page, lab, reset=False)
    expect(page.locator("#nbops-registry")).to_be_visible()
    expect(page.locator('#nbops-registry .nbops-model-item[data-model="churn"]')).to_be_visible()


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
    expect(panel.locator(".nbops-model-item")).to_have_count(4)
    page.route(re.compile(r".*/nbops/api/models/churn(\?.*)?$"), lambda route: route.fulfill(
        status=404, content_type="application/json",
        body=json.dumps({"status": 404, "reason": "not_found",
                         "message": "Model 'churn' was deleted meanwhile.", "extra": {}})))
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    expect(panel.locator('.nbops-error[data-status="404"]')).to_contain_text(
        "Model 'churn' was deleted meanwhile.")


def test_unreachable_store_shows_an_error_with_retry_within_10_s(page, down_lab: Lab):
    """A tracking server that never answers: loading state, then the error (not a blank panel)."""
    open_lab(page, down_lab)
    panel = open_sidebar(page)
    error = panel.locator('.nbops-error[data-status="503"]')
    expect(error).to_be_visible(timeout=10_000)
    expect(error).to_contain_text("The model store is unreachable")
    expect(error).to_contain_text("did not answer within")
    retry = error.get_by_role("button", name="Retry")
    expect(retry).to_be_focused()
    retry.click()
    expect(panel.locator(".nbops-loading")).to_be_visible()
    expect(panel.locator('.nbops-error[data-status="503"]')).to_be_visible(timeout=10_000)


def test_refresh_keeps_pages_and_scroll_and_never_overlaps(page, lab: Lab):
    client = lab.client()
    names = [f"bulk-{i:02d}" for i in range(60)]
    for n in names:
        client.create_registered_model(n)
    try:
        open_lab(page, lab)
        panel = open_sidebar(page)
        items = panel.locator(".nbops-model-item")
        expect(items.first).to_be_visible()
        with page.expect_response(lambda r: "search=bulk-" in r.url):
            panel.locator(".nbops-search").fill("bulk-")
        expect(panel.locator(".nbops-loading")).to_have_count(0)
        expect(items).to_have_count(50)
        panel.locator(".nbops-more").click()
        expect(items).to_have_count(60)
        body = panel.locator(".nbops-body")
        page.wait_for_function("""() => {
            const b = document.querySelector('#nbops-registry .nbops-body');
            b.scrollTop = b.scrollHeight;
            return b.scrollTop > 0;
        }""")
        scrolled = body.evaluate("b => b.scrollTop")
        events: list[tuple[int, str]] = []  # (+1 sent / -1 answered, url)
        watched = lambda r: "/nbops/api/models" in r.url  # noqa: E731
        page.on("request", lambda r: events.append((1, r.url)) if watched(r) else None)
        page.on("requestfinished", lambda r: events.append((-1, r.url)) if watched(r) else None)
        page.on("requestfailed", lambda r: events.append((-1, r.url)) if watched(r) else None)
        refresh = panel.locator(".nbops-refresh button, button.nbops-refresh").first
        for _ in range(3):  # clicks while a refresh is pending join it
            refresh.click()
        page.wait_for_function("!document.querySelector('#nbops-registry')"
                               ".classList.contains('nbops-mod-busy')")
        page.wait_for_timeout(300)
        in_flight = [sum(d for d, _ in events[:i + 1]) for i in range(len(events))]
        assert events and max(in_flight) == 1, events
        assert all("max_results=60" in url for _, url in events)
        expect(items).to_have_count(60)
        assert body.evaluate("b => b.scrollTop") == scrolled
    finally:
        for n in names:
            client.delete_registered_model(n)

"""The gate verdict on the version cards of the Models sidebar, and its report opened in a
JupyterLab tab, in a real JupyterLab and Chromium at the default sidebar width."""

from __future__ import annotations

from lab_helpers import Lab, open_lab, open_sidebar, shot
from playwright.sync_api import expect


def test_version_cards_show_the_gate_verdict_and_open_its_report(page, lab: Lab):
    open_lab(page, lab)
    panel = open_sidebar(page)
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    rejected = panel.locator('.nbops-version-card[data-version="3"]')
    promoted = panel.locator('.nbops-version-card[data-version="2"]')
    expect(rejected.locator(".nbops-gate")).to_have_text("gate: rejected")
    expect(rejected.locator(".nbops-gate")).to_have_class(
        "nbops-badge nbops-status nbops-gate nbops-status-error")
    expect(promoted.locator(".nbops-gate")).to_have_text("gate: promoted")
    expect(promoted.locator(".nbops-gate")).to_have_class(
        "nbops-badge nbops-status nbops-gate nbops-status-ok")
    ungated = panel.locator('.nbops-version-card[data-version="1"]')
    expect(ungated.locator(".nbops-gate, .nbops-gate-report")).to_have_count(0)

    button = rejected.locator(".nbops-gate-report")
    expect(button).to_have_text("gate report")
    inside = rejected.evaluate("""(card) => {
        const c = card.getBoundingClientRect();
        return Array.from(card.querySelectorAll('button, .nbops-badge')).every(e => {
            const r = e.getBoundingClientRect();
            return r.left >= c.left - 0.5 && r.right <= c.right + 0.5; });
    }""")
    assert inside, "a button or badge sticks out of the version card"
    rejected.scroll_into_view_if_needed()
    shot(page.locator("#jp-left-stack"), "sidebar-gate.png")

    button.click()
    run = lab.gates["3"]
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{run}-gate-report")
    expect(tab).to_be_visible()
    report = page.frame_locator("#jp-main-dock-panel iframe").last
    expect(report.locator("h2")).to_have_text("gate churn: rejected")
    expect(report.locator("body")).to_contain_text("challenger v3 (onnx) vs champion v2 (onnx)")
    expect(report.locator("body")).to_contain_text("accuracy >= champion + 0.01")
    saved = lab.root / "nbops-snapshots" / f"{run}-gate-report.html"
    assert "<h2>gate churn: rejected</h2>" in saved.read_text()
    expect(page.locator(".jp-Dialog")).to_have_count(0)

"""The anywidget registry browser and lineage widget rendered by a real kernel in JupyterLab."""

from __future__ import annotations

import json

from lab_helpers import Lab, contrasts, node_places, open_lab, shot
from playwright.sync_api import expect

CELLS = [
    "from nbops.widgets import registry_browser, lineage_widget\nbrowser = registry_browser()\n"
    "browser",
    "lineage_widget('churn@champion', direction='upstream')",
]


def test_widgets_render_and_sync_both_ways(page, lab: Lab):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                     "outputs": [], "source": src} for i, src in enumerate(CELLS)],
          "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                      "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (lab.root / "widgets.ipynb").write_text(json.dumps(nb))
    open_lab(page, lab, "lab/tree/widgets.ipynb")
    expect(page.locator(".jp-StatusBar-TextItem", has_text="Idle").first).to_be_visible(
        timeout=90_000)
    page.wait_for_function(
        "() => /ipykernel\\) \\| Idle/.test(document.querySelector('#jp-main-statusbar')"
        ".innerText)", timeout=90_000)
    page.locator(".jp-Cell").first.click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    registry = page.locator(".nbw-registry")
    expect(registry.locator('.nbw-item[data-model="churn"]')).to_be_visible(timeout=60_000)
    expect(registry.locator('.nbw-item[data-model="fraud"] .nbw-status-ok')).to_be_visible()
    registry.locator('.nbw-item[data-model="churn"]').click()  # JS -> Python -> JS
    expect(registry.locator(".nbw-versions tbody tr")).to_have_count(3)
    expect(registry.locator(".nbw-lineage svg .nbw-node").first).to_be_visible()
    lineage = page.locator(".nbw-lineage-widget")
    expect(lineage.locator("svg .nbw-node").first).to_be_visible(timeout=60_000)
    node_places(lineage.locator("svg .nbw-node"))
    node_places(registry.locator(".nbw-lineage svg .nbw-node"))
    shot(page.locator(".jp-NotebookPanel:visible .jp-Cell").first, "widget-registry.png")
    measured = contrasts(registry)
    assert measured and [c for c in measured if c["ratio"] < 4.5] == []
    expect(registry.locator(".nbw-back")).to_have_css("cursor", "pointer")

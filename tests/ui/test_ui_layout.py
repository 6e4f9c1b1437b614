"""Layout and contrast of the sidebar, measured in Chromium from computed styles: at JupyterLab's
default sidebar width (not widened) and at 400 px, in the light and dark themes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import LONG_NAME
from lab_helpers import Lab, contrasts, open_lab, open_sidebar, outside, set_theme, widen_sidebar
from playwright.sync_api import expect

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
MIN_CONTRAST = 4.5


@pytest.fixture(params=["light", "dark"])
def theme(request, lab: Lab) -> Iterator[str]:
    set_theme(lab, THEMES[request.param])
    yield request.param
    set_theme(lab, THEMES["light"])


def low_contrast(locator) -> list[dict]:
    found = contrasts(locator)
    assert found, "no text measured"
    return [c for c in found if c["ratio"] < MIN_CONTRAST]


def check_fits(panel) -> None:
    assert outside(panel, "button, .nbops-badge, .nbops-model-name, svg") == []
    overflow = panel.locator(".nbops-body").evaluate("b => b.scrollWidth - b.clientWidth")
    assert overflow <= 1, f"the panel scrolls sideways by {overflow} px"


@pytest.mark.parametrize("width", [None, 400], ids=["default-width", "400px"])
def test_layout_and_contrast(page, lab: Lab, theme: str, width: int | None):
    open_lab(page, lab)
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-name", THEMES[theme])
    panel = open_sidebar(page)
    if width:
        widen_sidebar(page, width)
    panel_width = panel.evaluate("p => p.getBoundingClientRect().width")
    if width is None:
        assert panel_width < 320, f"the default sidebar is {panel_width} px wide"
    else:
        assert abs(panel_width - width) < 30
    expect(panel.locator(".nbops-model-item")).to_have_count(4)

    # the list: long names end in an ellipsis and show in full on hover
    name = panel.locator(f'.nbops-model-item[data-model="{LONG_NAME}"] .nbops-model-name')
    assert name.evaluate("e => e.scrollWidth > e.clientWidth && "
                         "getComputedStyle(e).textOverflow === 'ellipsis'")
    expect(name).to_have_attribute("title", LONG_NAME)
    check_fits(panel)
    assert low_contrast(panel) == []

    # the model view: cards, buttons inside the panel, lineage fitted to the width
    panel.locator('.nbops-model-item[data-model="churn"]').click()
    expect(panel.locator(".nbops-version-card")).to_have_count(3)
    svg = panel.locator(".nbops-lineage svg")
    expect(svg.locator(".nbops-lineage-node").first).to_be_visible()
    check_fits(panel)
    for card in panel.locator(".nbops-version-card").all():
        expect(card.locator(".nbops-promote")).to_be_in_viewport()
    gated = panel.locator(".nbops-version-card .nbops-gate-report")
    expect(gated).to_have_count(2)  # churn v2 and v3 were gated
    for button in gated.all():
        expect(button).to_be_in_viewport()
    view = panel.locator(".nbops-lineage-view")
    assert view.evaluate("v => v.scrollWidth <= v.clientWidth + 1"), "the lineage is clipped"
    label_px = svg.locator(".nbops-lineage-label").first.evaluate(
        "t => t.getBoundingClientRect().height")
    assert label_px >= 10, f"lineage labels render {label_px} px tall"
    # zoom in overflows and pans; Fit brings it back to the width
    panel.locator(".nbops-zoom-in").click()
    panel.locator(".nbops-zoom-in").click()
    expect(panel.locator(".nbops-zoom-level")).to_have_text("150%")
    panel.locator(".nbops-zoom-fit").click()
    expect(panel.locator(".nbops-zoom-level")).to_have_text("100%")
    assert low_contrast(panel) == []

    # the promote dialog in this theme
    panel.locator('.nbops-version-card[data-version="2"] .nbops-promote').click()
    dialog = page.locator(".jp-Dialog-content")
    dialog.locator(".nbops-input-alias").fill("staging")
    dialog.locator(".nbops-input-reason").fill("x")
    dialog.locator(".nbops-input-reason").fill("")
    expect(dialog.locator(".nbops-mod-error")).to_be_visible()
    assert low_contrast(dialog) == []
    page.keyboard.press("Escape")
    expect(page.locator(".jp-Dialog")).to_have_count(0)

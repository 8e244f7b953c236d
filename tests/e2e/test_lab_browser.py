"""The Lab in a real browser: start a short synthetic run, let the worker finish it, then see its
label-efficiency curve on Results and its embedding plot on Embeddings."""

import os

import pytest

from sslcore.paths import PROJECT_ROOT

pytestmark = pytest.mark.e2e
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
RUN_SECONDS = 600  # about 60 s on an idle 2-core machine; generous for a loaded CI host


def _wait_for_run(page):
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=120_000)


def _set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    _wait_for_run(page)


def _screenshot(page, name: str) -> None:
    if os.environ.get("MEDSSL_UPDATE_SCREENSHOTS"):  # refresh the README's pictures on request only
        page.set_viewport_size({"width": 1400, "height": 2000})
        page.wait_for_timeout(2000)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_a_quick_run_ends_in_a_curve_and_an_embedding_plot(app_page):
    page = app_page
    page.get_by_role("link", name="Lab").first.click()
    page.get_by_text("Estimated time on").wait_for(timeout=120_000)
    _screenshot(page, "lab.png")
    page.get_by_text("Advanced settings").click()
    _set_number(page, "Epochs", 1)
    _set_number(page, "Training images (0: all)", 512)
    _set_number(page, "Seeds per fraction", 1)
    page.get_by_role("button", name="Start").click()
    # The live view polls the run store; the worker process runs the job.
    page.get_by_text("See its label-efficiency curve").wait_for(timeout=RUN_SECONDS * 1000)
    assert page.get_by_text("succeeded").first.is_visible()

    page.get_by_role("link", name="Results").first.click()
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert {"SimCLR, linear", "from scratch (supervised)", "random encoder, linear"} <= set(legend)
    _screenshot(page, "results.png")

    page.get_by_role("link", name="Embeddings").first.click()
    charts = page.locator(".vega-embed")
    charts.nth(1).wait_for(timeout=60_000)
    assert charts.count() == 2  # before and after pretraining
    assert _hover_shows_an_image(page, charts.nth(1))
    _screenshot(page, "embeddings.png")


def _hover_shows_an_image(page, chart) -> bool:
    """Sweep the pointer over the chart until Vega's tooltip shows a dot's image."""
    box = chart.bounding_box()
    tooltip = page.locator("#vg-tooltip-element img")
    for row in range(4, 40):
        for column in range(4, 40):
            page.mouse.move(box["x"] + box["width"] * column / 44, box["y"] + box["height"] * row / 44)
            if tooltip.count() and tooltip.first.is_visible():
                return tooltip.first.get_attribute("src").startswith("data:image/png")
    return False


def test_a_two_arm_comparison_ends_in_a_leaderboard(app_page):
    page = app_page
    page.get_by_role("link", name="Lab").first.click()
    page.get_by_text("Estimated time on").wait_for(timeout=120_000)
    page.get_by_text("Advanced settings").click()
    _set_number(page, "Epochs", 1)  # the scale you change applies to every arm
    _set_number(page, "Training images (0: all)", 512)
    _set_number(page, "Seeds per fraction", 1)
    methods = page.locator("[data-testid='stMultiSelect']").filter(has_text="Methods")
    methods.click()
    page.keyboard.type("Rotation")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")  # close the open list, which would cover the buttons below
    _wait_for_run(page)
    page.get_by_role("button", name="Queue the comparison").click()
    page.get_by_text("Follow it on the Comparisons page").click()
    page.get_by_text("Leaderboard", exact=True).wait_for(timeout=RUN_SECONDS * 1000)
    # The page reruns itself as arms finish; the cancel button goes when the last one has.
    page.get_by_role("button", name="Cancel the whole comparison").wait_for(state="detached",
                                                                            timeout=RUN_SECONDS * 1000)
    page.locator(".js-plotly-plot .legendtext").first.wait_for(timeout=60_000)
    legend = set(page.locator(".js-plotly-plot .legendtext").all_text_contents())
    assert {"from scratch", "simclr", "rotation"} <= legend
    assert page.locator("[data-testid='stDataFrame']").first.is_visible()
    _screenshot(page, "compare.png")

"""The catalogue in a real browser: search, facet counts, a row's details, a click on the modality x
strategy matrix, and how long a change takes to reach the table (printed, never asserted)."""

import os
import re
import statistics

import pytest
from playwright.sync_api import expect

from sslcore.catalogue import Filters, load_catalogue
from sslcore.paths import PROJECT_ROOT

pytestmark = pytest.mark.e2e
SCREENSHOT = PROJECT_ROOT / "docs" / "screenshots" / "catalogue.png"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(include_user=False)


@pytest.fixture
def catalogue_page(app_page):
    page = app_page
    page.get_by_role("link", name="Catalogue").first.click()
    page.get_by_text("Studies found").wait_for(timeout=60_000)
    return page


def _found(page, n, total):
    """Wait until the page says ``n of total`` studies were found."""
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(f"{n} of {total}", timeout=WAIT_MS)


def _titles(page):
    # The grid draws on a canvas; its cells are mirrored in a hidden accessible table.
    return page.get_by_test_id("stDataFrame").first.locator("td[role='gridcell'][aria-colindex='1']")


def _search(page, query):
    box = page.get_by_role("textbox", name="Search")
    box.fill(query)
    box.press("Enter")


def _multiselect(page, label):
    return page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text(label, exact=True))


def _open(page, label):
    """Open a facet's list of values (its text field: a click on a chosen value's chip would remove it)."""
    _multiselect(page, label).locator("input").click()


def _click(page, locator):
    """Click the middle of an SVG mark (Plotly's drag layer lies over the marks)."""
    locator.evaluate("mark => mark.scrollIntoView({block: 'center'})")
    box = locator.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_search_facet_counts_and_filter(catalogue_page, catalogue):
    page, total = catalogue_page, len(catalogue)
    if os.environ.get("MEDSSL_UPDATE_SCREENSHOTS"):  # refresh the README's picture on request only
        page.set_viewport_size({"width": 1400, "height": 2000})
        page.wait_for_timeout(2000)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    _search(page, "moco chest")
    moco_chest = catalogue.search("moco chest")
    _found(page, len(moco_chest), total)

    # each modality shows its count among the studies found so far
    _open(page, "Modality")
    x_ray = sum(s.modality == "x-ray" for s in moco_chest)
    option = page.get_by_role("option", name=f"X-ray ({x_ray})", exact=True)
    expect(option).to_be_visible(timeout=WAIT_MS)
    option.click()
    page.keyboard.press("Escape")
    filtered = catalogue.search("moco chest", Filters(modality={"x-ray"}))
    _found(page, len(filtered), total)
    expect(_titles(page)).to_have_count(len(filtered), timeout=WAIT_MS)
    assert _titles(page).first.text_content() == filtered[0].title
    # the other facets now count within the X-ray studies
    _open(page, "SSL strategy")
    contrastive = sum(s.ssl_strategy == "contrastive" for s in filtered)
    expect(page.get_by_role("option", name=f"Contrastive ({contrastive})", exact=True)).to_be_visible(
        timeout=WAIT_MS)
    page.keyboard.press("Escape")


def test_a_row_click_opens_the_study_details(catalogue_page, catalogue):
    page = catalogue_page
    _search(page, "moco chest")
    first = catalogue.search("moco chest")[0]
    expect(_titles(page).first).to_have_text(first.title, timeout=WAIT_MS)
    grid = page.get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 + 33)  # the first row's selection box
    details = page.get_by_test_id("stMarkdownContainer").filter(has_text="Authors:")
    expect(details).to_contain_text(first.authors[0], timeout=WAIT_MS)
    expect(details).to_contain_text(first.claim[:60])
    expect(details.get_by_role("link", name="the public record that confirms this entry")).to_have_attribute(
        "href", first.source)


def test_a_click_on_the_matrix_filters_the_studies(catalogue_page, catalogue):
    page, total = catalogue_page, len(catalogue)
    _found(page, total, total)
    page.get_by_role("tab", name="Charts").click()
    chart = page.locator(".js-plotly-plot").first
    chart.locator(".scatterlayer path.point").first.wait_for(timeout=WAIT_MS)
    cells = chart.evaluate("plot => plot.data[0].customdata")
    target = ["ct", "contrastive"]
    _click(page, chart.locator(".scatterlayer path.point").nth(cells.index(target)))
    expected = catalogue.search("", Filters(modality={"ct"}, strategy={"contrastive"}))
    _found(page, len(expected), total)
    expect(_multiselect(page, "Modality")).to_contain_text("CT")
    expect(_multiselect(page, "SSL strategy")).to_contain_text("Contrastive")
    page.get_by_role("tab", name="Studies").click()
    # the grid mirrors only the rows on screen in its accessible table
    expect(_titles(page).first).to_have_text(expected[0].title, timeout=WAIT_MS)
    assert set(_titles(page).all_text_contents()) <= {s.title for s in expected}


def test_a_click_on_a_method_bar_filters_the_studies(catalogue_page, catalogue):
    page, total = catalogue_page, len(catalogue)
    page.get_by_role("tab", name="Charts").click()
    chart = page.locator(".js-plotly-plot").nth(1)
    chart.locator(".barlayer path").first.wait_for(timeout=WAIT_MS)
    families = chart.evaluate("plot => plot.data[0].customdata")
    _click(page, chart.locator(".barlayer path").nth(families.index("MoCo")))
    _found(page, len(catalogue.search("", Filters(method={"MoCo"}))), total)
    expect(_multiselect(page, "Method family")).to_contain_text("MoCo")


# Armed in the page just before a change: resolves with the milliseconds until the count and the
# first row of the table both show the expected study (a MutationObserver, so no polling delay).
ARM = """([count, title]) => { window.__updated = new Promise((resolve, reject) => {
  const start = performance.now();
  const shown = () => {
    const metric = document.querySelector("[data-testid='stMetricValue']");
    const first = document.querySelector("[data-testid='stDataFrame'] td[role='gridcell'][aria-colindex='1']");
    return metric && metric.textContent === count && first && first.textContent === title;
  };
  const observer = new MutationObserver(() => {
    if (shown()) { observer.disconnect(); resolve(performance.now() - start); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  setTimeout(() => { observer.disconnect(); reject(new Error("the table did not update in 30 s")); }, 30000);
}); }"""


def test_time_from_a_change_to_the_updated_table(catalogue_page, catalogue):
    """Measured, not asserted: from a search or facet change to the new count and first row. Facet
    changes add a value (values of one facet combine with OR)."""
    page, total = catalogue_page, len(catalogue)
    values = {"CT": "ct", "MRI": "mri", "X-ray": "x-ray", "Ultrasound": "ultrasound", "Endoscopy": "endoscopy",
              "Contrastive": "contrastive", "Hybrid": "hybrid", "Generative (reconstruction)": "generative",
              "Non-contrastive": "non-contrastive"}
    steps = [("search", q) for q in ("masked autoencoder", "contrastive", "dino", "chest x-ray", "ultrasound",
                                     "retina", "mae ct", "moco", "histopathology", "self-supervised")]
    steps += [("Modality", label) for label in ("CT", "MRI", "X-ray", "Ultrasound", "Endoscopy")]
    steps += [("SSL strategy", label) for label in ("Contrastive", "Hybrid", "Generative (reconstruction)",
                                                    "Non-contrastive")]
    query, chosen, timings, shown = "", {"Modality": set(), "SSL strategy": set()}, [], None
    for kind, value in steps:
        if kind == "search":
            query = value
            page.get_by_role("textbox", name="Search").fill(value)
        else:
            chosen[kind].add(values[value])
            _open(page, kind)
        expected = catalogue.search(query, Filters(modality=chosen["Modality"], strategy=chosen["SSL strategy"]))
        now = (len(expected), expected[0].title)
        assert now != shown, "each step must change what the table shows"
        page.evaluate(ARM, [f"{now[0]} of {total}", now[1]])
        if kind == "search":
            page.get_by_role("textbox", name="Search").press("Enter")
        else:
            page.get_by_role("option", name=re.compile(rf"^{re.escape(value)} \(\d+\)$")).click()
        timings.append((page.evaluate("() => window.__updated") / 1000, kind))
        if kind != "search":
            page.keyboard.press("Escape")
        shown = now
    for name, kinds in (("any change", {"search", "Modality", "SSL strategy"}), ("search", {"search"}),
                        ("facet", {"Modality", "SSL strategy"})):
        seconds = sorted(s for s, kind in timings if kind in kinds)
        print(f"\ncatalogue {name} -> updated table ({len(seconds)} changes): p50 {statistics.median(seconds):.2f} s, "
              f"p95 {seconds[round(0.95 * (len(seconds) - 1))]:.2f} s, max {seconds[-1]:.2f} s")

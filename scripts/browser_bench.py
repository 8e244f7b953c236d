"""How fast the app answers, as a user sees it: an on-demand benchmark in headless Chromium.

Starts the app (``streamlit run app.py``) on a free localhost port with a fresh data folder, drives
the system's Chromium through Playwright (``/usr/bin/chromium``; Playwright's own browser download is
never used) and measures, from a change to the updated element:

- the catalogue: a new search (``--changes`` of them) and a facet change (as many: a value added,
  then removed again), until the study count and the first row of the table show the new result;
- the Learn page: the alteration-strength slider, the finding select, the random-draw number and
  the share-of-tiles slider (``--learn-changes`` each), until the script run has ended and every
  picture that changed has loaded;
- the first load of each page until it is interactive (its title drawn, its script run ended and
  the browser's main thread free), on the first visit after the server started and on later visits
  (``--visits``, each in a new tab).

It prints a markdown table with the targets (catalogue change < 1 s at p95, Learn widget change
< 1.5 s, every page interactive < 4 s; reported, never asserted) and writes JSON with ``--out``.
Not a test and not run in CI: ``python scripts/browser_bench.py --out bench_out/browser.json``.
The machine may be shared: each figure is a median (p50) or a 95th percentile over its changes.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
STARTUP_SECONDS = 120
WAIT_MS = 60_000
TARGETS = {"catalogue": 1.0, "learn": 1.5, "page": 4.0}  # seconds: catalogue p95, Learn change, page load
# url path -> title of each page (app.py's navigation; the home page is the default one).
PAGES = {"": "MedSSL Explorer", "learn": "Learn: self-supervised learning in pictures",
         "catalogue": "Study catalogue", "evidence": "Evidence", "lab": "Lab", "results": "Results",
         "compare": "Comparisons", "embeddings": "Embeddings", "runs": "Runs"}
SEARCHES = ("masked autoencoder", "contrastive", "dino", "chest x-ray", "ultrasound", "retina", "mae ct", "moco",
            "histopathology", "self-supervised", "simclr", "segmentation", "mri brain", "byol", "pathology",
            "dermatology", "rotation", "barlow twins", "ct", "jigsaw")
FACETS = (("Modality", "CT", "modality", "ct"), ("SSL strategy", "Contrastive", "strategy", "contrastive"),
          ("Modality", "MRI", "modality", "mri"), ("SSL strategy", "Hybrid", "strategy", "hybrid"),
          ("Modality", "X-ray", "modality", "x-ray"),
          ("SSL strategy", "Generative (reconstruction)", "strategy", "generative"),
          ("Modality", "Ultrasound", "modality", "ultrasound"),
          ("SSL strategy", "Non-contrastive", "strategy", "non-contrastive"),
          ("Modality", "Endoscopy", "modality", "endoscopy"), ("Modality", "Histopathology", "modality", "histopathology"))

# Armed just before a catalogue change: resolves with the milliseconds until the count and the
# first row show the expected result (a MutationObserver: no polling delay).
ARM_TABLE = """([count, title]) => { window.__updated = new Promise((resolve, reject) => {
  const start = performance.now();
  const shown = () => {
    const metric = document.querySelector("[data-testid='stMetricValue']");
    const first = document.querySelector("[data-testid='stDataFrame'] td[role='gridcell'][aria-colindex='1']");
    return metric && metric.textContent === count && (title === null || (first && first.textContent === title));
  };
  const observer = new MutationObserver(() => {
    if (shown()) { observer.disconnect(); resolve(performance.now() - start); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  setTimeout(() => { observer.disconnect(); reject(new Error("the table did not update in 30 s")); }, 30000);
}); }"""

# Armed just before a Learn change: resolves with the milliseconds until the script run that the
# change started has ended and every picture whose address changed has loaded.
ARM_PICTURES = """() => { window.__updated = new Promise((resolve, reject) => {
  const start = performance.now();
  const app = document.querySelector("[data-testid='stApp']");
  const before = new Set([...document.querySelectorAll("[data-testid='stImage'] img")].map(img => img.src));
  let ran = false;
  const check = (records) => {
    // a run can start and end between two callbacks: the records keep the states it went through
    for (const record of records || []) {
      if (record.attributeName === "data-test-script-state" && record.oldValue === "running") ran = true;
    }
    const state = app.getAttribute("data-test-script-state");
    if (state === "running") { ran = true; return; }
    if (!ran || state !== "notRunning") return;
    const images = [...document.querySelectorAll("[data-testid='stImage'] img")];
    const changed = images.filter(img => !before.has(img.src));
    if (changed.length && changed.every(img => img.complete)) {
      observer.disconnect(); resolve(performance.now() - start);
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, {subtree: true, childList: true, attributes: true, attributeOldValue: true,
                                   attributeFilter: ["data-test-script-state", "src"]});
  document.addEventListener("load", () => check([]), true);  // an image finished loading
  setTimeout(() => { observer.disconnect(); reject(new Error("the pictures did not update in 30 s")); }, 30000);
}); }"""

# Installed in every tab before the app loads: records when the browser's main thread was last busy
# with a long task (50 ms or more), during which a click or a key press would wait.
LONG_TASKS = """window.__busyUntil = 0;
new PerformanceObserver((list) => {
  for (const task of list.getEntries()) window.__busyUntil = Math.max(window.__busyUntil, task.startTime + task.duration);
}).observe({type: "longtask", buffered: true});"""

# The page's title is drawn and its script run has ended: the time (ms since the navigation started).
DRAWN = """(title) => {
  const app = document.querySelector("[data-testid='stApp']");
  const heading = [...document.querySelectorAll("[data-testid='stMain'] h1")].some(h => h.textContent.includes(title));
  return heading && app && app.getAttribute("data-test-script-state") === "notRunning" && performance.now();
}"""
QUIET_MS = 500  # interactive: drawn, and then no long task for this long


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class App:
    """``streamlit run app.py`` of the checkout ``root`` on a free port with its own data folder;
    stopped on exit with the worker it may have started."""

    def __init__(self, root: Path = PROJECT_ROOT) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="browser_bench_"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.home / "streamlit.log", "w")
        self.server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(self.port), "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=root, env={**os.environ, "MEDSSL_HOME": str(self.home)}, stdout=self.log,
            stderr=subprocess.STDOUT)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.server.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.server.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.2)

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()
        self.log.close()
        from sslcore.runs.worker import PID_FILE

        pid_file = self.home / PID_FILE  # the app's worker is detached so that runs outlive a tab
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)  # "pid start-time"
            except (ProcessLookupError, ValueError):
                pass


def _summary(seconds: list[float | None]) -> dict[str, float | None]:
    """p50, p95 and max of the changes that completed; ``failed`` counts those that timed out."""
    ordered = sorted(value for value in seconds if value is not None)
    if not ordered:
        return {"n": len(seconds), "failed": len(seconds), "p50": None, "p95": None, "max": None}
    return {"n": len(seconds), "failed": len(seconds) - len(ordered), "p50": round(statistics.median(ordered), 3),
            "p95": round(ordered[round(0.95 * (len(ordered) - 1))], 3), "max": round(ordered[-1], 3)}


def _updated(page) -> float | None:
    """Seconds the armed change took, or None when it timed out (reported as failed)."""
    from playwright.sync_api import Error

    try:
        return page.evaluate("() => window.__updated") / 1000
    except Error as error:
        print(f"a change did not complete: {error.message.splitlines()[0]}", file=sys.stderr)
        return None


def open_page(browser, url: str, title: str) -> tuple[object, object, float]:
    """A new tab at ``url``; the seconds from the navigation until it was interactive: drawn (its
    title shown, its script run ended) and its main thread free (the end of the last long task
    before a quiet window of ``QUIET_MS``), as in the time-to-interactive of web performance tools."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(LONG_TASKS)
    page = context.new_page()
    page.goto(url)
    drawn = page.wait_for_function(DRAWN, arg=title, timeout=WAIT_MS, polling=50).json_value()
    page.wait_for_function(f"() => performance.now() - Math.max(window.__busyUntil, {drawn}) > {QUIET_MS}",
                           timeout=WAIT_MS, polling=50)
    return context, page, max(drawn, page.evaluate("() => window.__busyUntil")) / 1000


def page_loads(browser, app: App, visits: int) -> dict[str, dict]:
    """Each page: its first visit after the server started, then ``visits`` more in new tabs."""
    results = {}
    for path, title in PAGES.items():
        seconds = []
        for _ in range(1 + visits):
            context, _, elapsed = open_page(browser, f"{app.url}/{path}", title)
            seconds.append(elapsed)
            context.close()
        results[path or "home"] = {"first": round(seconds[0], 3), "later": _summary(seconds[1:]) if visits else None}
    return results


def catalogue_changes(browser, app: App, changes: int) -> dict[str, dict]:
    """Searches and facet changes on the catalogue page, each timed until the table shows it."""
    import re

    from sslcore.catalogue import Filters, load_catalogue

    catalogue = load_catalogue(include_user=False)
    total = len(catalogue)
    context, page, _ = open_page(browser, f"{app.url}/catalogue", PAGES["catalogue"])

    def timed(expected, act) -> float:
        page.evaluate(ARM_TABLE, [f"{len(expected)} of {total}", expected[0].title if expected else None])
        act()
        return _updated(page)

    def search(query: str) -> None:
        box = page.get_by_role("textbox", name="Search")
        box.fill(query)
        box.press("Enter")

    searches = []
    for query in (SEARCHES * (changes // len(SEARCHES) + 1))[:changes]:
        searches.append(timed(catalogue.search(query), lambda: search(query)))
    timed(catalogue.search(""), lambda: search(""))
    facets = []
    for n in range(changes):
        label, option, field, value = FACETS[(n // 2) % len(FACETS)]
        facet = page.get_by_test_id("stMultiSelect").filter(has=page.get_by_text(label, exact=True))
        if n % 2 == 0:  # add the value ...
            expected = catalogue.search("", Filters(**{field: {value}}))
            facet.locator("input").click()
            page.keyboard.type(option)  # filters the list in the browser (no rerun): long lists are virtual

            def act(option=option) -> None:
                page.get_by_role("option", name=re.compile(rf"^{re.escape(option)} \(\d+\)$")).click()
        else:  # ... then take it out again (Backspace removes the last chosen value)
            expected = catalogue.search("")
            facet.locator("input").click()

            def act() -> None:
                page.keyboard.press("Backspace")
        facets.append(timed(expected, act))
        page.keyboard.press("Escape")
    context.close()
    return {"search": _summary(searches), "facet": _summary(facets)}


def learn_changes(browser, app: App, changes: int) -> dict[str, dict]:
    """The Learn page's widgets, each change timed until its pictures are redrawn."""
    context, page, _ = open_page(browser, f"{app.url}/learn", PAGES["learn"])

    def timed(act) -> float:
        page.evaluate(ARM_PICTURES)
        act()
        return _updated(page)

    def slider(label: str, key: str):
        thumb = page.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
        return lambda: thumb.press(key)

    def number(label: str, value: int):
        box = page.get_by_test_id("stNumberInput").filter(has_text=label).locator("input")

        def act() -> None:
            box.fill(str(value))
            box.press("Enter")
        return act

    def finding(index: int):
        select = page.get_by_test_id("stSelectbox").filter(has_text="Finding")

        def act() -> None:
            select.click()
            page.get_by_role("option").nth(index).click()
        return act

    results = {}
    for name, actions in (
        ("alteration strength (slider)", [slider("Alteration strength", "ArrowRight" if n % 2 == 0 else "ArrowLeft")
                                          for n in range(changes)]),
        ("finding (select)", [finding(1 + n % 3) for n in range(changes)]),
        ("random draw (number)", [number("Random draw", n + 1) for n in range(changes)]),
        ("share of tiles hidden (slider)", [slider("Share of tiles hidden", "ArrowRight" if n % 2 == 0 else "ArrowLeft")
                                            for n in range(changes)]),
    ):
        results[name] = _summary([timed(act) for act in actions])
    context.close()
    return results


def markdown(report: dict) -> str:
    """The report as a table, each row with its target."""
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = ["| what | changes (failed) | p50 (s) | p95 (s) | target |", "|---|---|---|---|---|"]
    for name, value in report["catalogue"].items():
        rows.append(f"| catalogue {name} -> table | {value['n']} ({value['failed']}) | {seconds(value['p50'])} | "
                    f"{seconds(value['p95'])} | p95 < {TARGETS['catalogue']:g} s |")
    for name, value in report["learn"].items():
        rows.append(f"| Learn {name} -> pictures | {value['n']} ({value['failed']}) | {seconds(value['p50'])} | "
                    f"{seconds(value['p95'])} | < {TARGETS['learn']:g} s |")
    rows += ["", "| page | first visit (s) | later visits p50 (s) | later visits max (s) | target |",
             "|---|---|---|---|---|"]
    for name, value in report["pages"].items():
        later = value["later"]
        rows.append(f"| {name} | {value['first']:.2f} | {later['p50']:.2f} | {later['max']:.2f} | "
                    f"< {TARGETS['page']:g} s |" if later else f"| {name} | {value['first']:.2f} | | | "
                    f"< {TARGETS['page']:g} s |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--changes", type=int, default=20, help="catalogue searches and facet changes (default 20)")
    parser.add_argument("--learn-changes", type=int, default=6, help="changes of each Learn widget (default 6)")
    parser.add_argument("--visits", type=int, default=3, help="later visits of each page (default 3)")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser (default {CHROMIUM})")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT,
                        help="the checkout whose app to measure (default: this one; e.g. an older commit's "
                             "`git archive` for a before/after comparison)")
    args = parser.parse_args(argv)
    if args.changes < 1 or args.learn_changes < 1 or args.visits < 0:
        parser.error("--changes and --learn-changes must be at least 1 and --visits at least 0")
    if not Path(args.chromium).exists():
        parser.error(f"no browser at {args.chromium}: install Chromium (apt-get install chromium) or pass --chromium")
    from playwright.sync_api import sync_playwright

    if not (args.root / "app.py").exists():
        parser.error(f"{args.root} has no app.py")
    app = App(args.root)
    try:
        app.wait_until_up()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            report = {"pages": page_loads(browser, app, args.visits),
                      "catalogue": catalogue_changes(browser, app, args.changes),
                      "learn": learn_changes(browser, app, args.learn_changes),
                      "root": str(args.root), "targets_seconds": TARGETS, "cpu_count": os.cpu_count(),
                      "load_average": os.getloadavg()}
            browser.close()
    finally:
        app.stop()
    print(markdown(report))
    if args.out:
        from sslcore.io import atomic_write_json

        args.out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A classroom on one server: an on-demand load test in headless Chromium (not a test, not in CI).

Starts the app (``streamlit run app.py``) on a free localhost port with a fresh data folder, queues
two Quick CPU demo runs for the worker (as two students pressing Start would), then opens
``--sessions`` browser sessions at once, each in its own process with its own Chromium: each visits
the Catalogue, searches it, and visits the Learn page, ``--visits`` times. It reports the p50, p95
and max seconds until each page was interactive (its title drawn, its script run ended, the
browser's main thread free: ``scripts/browser_bench.py``'s measure) and how many visits failed.

    python scripts/load_test.py --sessions 10 --out bench_out/load.json

Target (the hardening issue): p95 under 10 s on 2 cores with the two runs going.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import browser_bench as bench  # noqa: E402

TARGET_P95_S = 10.0
SEARCH = "contrastive chest x-ray"


def session(url: str, visits: int) -> dict[str, list[float | None]]:
    """One student: ``visits`` rounds of Catalogue (then a search) and Learn, each timed to interactive."""
    from playwright.sync_api import Error, sync_playwright

    times: dict[str, list[float | None]] = {"catalogue": [], "learn": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=bench.CHROMIUM, args=bench.CHROMIUM_ARGS)
        for _ in range(visits):
            for path in times:
                try:
                    context, page, seconds = bench.open_page(browser, f"{url}/{path}", bench.PAGES[path])
                    if path == "catalogue":
                        box = page.get_by_role("textbox", name="Search")
                        box.fill(SEARCH)
                        box.press("Enter")
                    context.close()
                except Error as error:
                    print(f"a visit to {path} failed: {error.message.splitlines()[0]}", file=sys.stderr)
                    seconds = None
                times[path].append(seconds)
        browser.close()
    return times


def queue_quick_demos(app: bench.App, n: int) -> list[int]:
    """Queue ``n`` Quick CPU demos in the app's run store and start its worker."""
    from sslcore.experiments.presets import preset
    from sslcore.runs import RunStore, ensure_worker

    store = RunStore(app.home / "runs.sqlite")
    ids = [store.create_run("experiment", preset("cpu-quick").to_dict(), name=f"load test {i + 1}") for i in range(n)]
    ensure_worker(store.path)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions at once (default 10)")
    parser.add_argument("--visits", type=int, default=2, help="rounds of page visits per session (default 2)")
    parser.add_argument("--runs", type=int, default=2, help="Quick CPU demos queued meanwhile (default 2)")
    parser.add_argument("--out", type=Path, help="write the report as JSON")
    args = parser.parse_args(argv)

    app = bench.App()
    os.environ["MEDSSL_HOME"] = str(app.home)  # the queued runs go to the app's store
    try:
        app.wait_until_up()
        queued = queue_quick_demos(app, args.runs)
        time.sleep(5)  # let the first run start training
        with multiprocessing.get_context("spawn").Pool(args.sessions) as pool:
            results = pool.starmap(session, [(app.url, args.visits)] * args.sessions)
        from sslcore.runs import RunStore

        states = [RunStore(app.home / "runs.sqlite").get(run_id).status for run_id in queued]
    finally:
        app.stop()
    report = {"sessions": args.sessions, "visits": args.visits, "runs": args.runs, "run_states_at_end": states,
              "pages": {path: bench._summary([t for result in results for t in result[path]])
                        for path in ("catalogue", "learn")}}
    print("| page | visits | failed | p50 (s) | p95 (s) | max (s) | p95 < 10 s |")
    print("|---|---|---|---|---|---|---|")
    for path, summary in report["pages"].items():
        met = summary["p95"] is not None and summary["p95"] < TARGET_P95_S
        print(f"| {path} | {summary['n']} | {summary['failed']} | {summary['p50']} | {summary['p95']} | "
              f"{summary['max']} | {'yes' if met else 'no'} |")
    print(f"{args.sessions} sessions at once; {args.runs} Quick CPU demos queued ({', '.join(states)} at the end).")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""End-to-end fixtures: the app served by `streamlit run` and a headless Chromium page (Playwright)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sslcore.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
STARTUP_SECONDS = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives the running app in headless Chromium")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """URL of the app started with `streamlit run app.py` on a free port, with its own MEDSSL_HOME."""
    port = _free_port()
    home = tmp_path_factory.mktemp("e2e_medssl_home")
    log = open(home / "streamlit.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=PROJECT_ROOT, env={**os.environ, "MEDSSL_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with {server.returncode}: {Path(log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        _stop_worker(home)


def _stop_worker(home: Path) -> None:
    """The app's worker is detached so that runs outlive the tab; the tests end it themselves."""
    from sslcore.runs.worker import PID_FILE

    pid_file = home / PID_FILE
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (the system's; Playwright's own download is never used)."""
    if not (shutil.which("chromium") or os.path.exists(CHROMIUM)):
        pytest.skip("Chromium not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh 1400 px wide browser page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def app_page(app_url, page):
    """``page`` at the app's home, once the app's own navigation is drawn. Until the entry script's
    first ``st.navigation`` call, Streamlit lists the files of pages/ instead, and a click there
    would run a page without app.py."""
    page.goto(app_url)
    page.locator("[data-testid='stSidebarNav']").get_by_text("Experiments").wait_for(timeout=120_000)
    return page

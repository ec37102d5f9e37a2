"""Real-browser test: serve the app with `streamlit run`, open every page in Debian's chromium (Python
playwright), wait for its charts and tables, check that nothing failed, and keep a screenshot of each page.

Screenshots go to pytest's tmp folder, and also to reports/screenshots/ when env DUNNING_SCREENSHOTS is set.
Skipped, with the command to fix it, when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from dashboards.app_pages import PAGES

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONTENT = '[data-testid="stPlotlyChart"], [data-testid="stDataFrame"]'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.3)
    raise TimeoutError(f"{url} not healthy after {timeout} s")


@contextlib.contextmanager
def serve(warehouse: Path):
    """`streamlit run dashboards/app.py` on a free port of 127.0.0.1; yields the base URL; always stopped."""
    port = free_port()
    env = {**os.environ, "DUNNING_WAREHOUSE": str(warehouse)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboards" / "app.py"),
         "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        if proc.stdout:
            proc.stdout.close()


def wait_rendered(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page's script has finished and its charts are drawn."""
    page.wait_for_selector(CONTENT, timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            const state = app && app.getAttribute('data-test-script-state');
            return state !== 'running' && !document.querySelector('[data-testid="stSkeleton"]');
        }""", timeout=timeout_ms)
    # plotly draws after the script ends: wait for every chart's SVG
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(c => c.querySelector('.main-svg'))""", timeout=timeout_ms)
    page.wait_for_timeout(500)


def screenshot_full(page, path: Path) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main container, so the viewport is grown to
    the content's height for the shot (capped at 12,000 px) and restored after."""
    size = page.viewport_size
    height = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        return Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight);
    }""")
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 12_000)})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium: run `apt-get install -y chromium` "
                    "(make test does this on a fresh machine)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshot_dirs(tmp_path_factory) -> list[Path]:
    dirs = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("DUNNING_SCREENSHOTS"):
        target = ROOT / "reports" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        dirs.append(target)
    return dirs


def test_every_page_in_a_real_browser(browser, app_warehouse, screenshot_dirs):
    with serve(app_warehouse) as base:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        timings = {}
        try:
            for i, (_, title, url_path) in enumerate(PAGES):
                started = time.perf_counter()
                page.goto(f"{base}/" if i == 0 else f"{base}/{url_path}")
                wait_rendered(page)
                timings[title] = time.perf_counter() - started
                assert page.locator('[data-testid="stException"]').count() == 0, f"{title}: exception on the page"
                assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"{title}: error shown"
                assert page.locator("h1").first.inner_text().strip() == title
                shot = screenshot_dirs[0] / f"{i + 1:02d}-{url_path}.png"
                screenshot_full(page, shot)
                for folder in screenshot_dirs[1:]:
                    shutil.copyfile(shot, folder / shot.name)
        finally:
            context.close()
    outside = sorted({u for u in requests if urlparse(u).hostname not in ("127.0.0.1", "localhost")
                      and not u.startswith(("data:", "blob:"))})
    assert not outside, f"the app loaded resources from outside the machine: {outside[:5]}"
    print("page load seconds:", {k: round(v, 2) for k, v in timings.items()})


def test_missing_warehouse_in_a_real_browser(browser, tmp_path):
    with serve(tmp_path / "nothing-here.duckdb") as base:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        try:
            for i, (_, title, url_path) in enumerate(PAGES[:3]):
                page.goto(f"{base}/" if i == 0 else f"{base}/{url_path}")
                page.wait_for_selector('[data-testid="stAlertContentInfo"]', timeout=60_000)
                text = page.locator('[data-testid="stAlertContentInfo"]').first.inner_text()
                assert "make demo" in text and "dunning build" in text, title
                assert page.locator('[data-testid="stException"]').count() == 0, title
        finally:
            context.close()

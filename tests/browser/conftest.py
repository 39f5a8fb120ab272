"""Fixtures for the browser tests: one Streamlit server and one headless Chromium per session.

Run with ``python -m pytest tests/browser -q -s``. Needs Debian's chromium at
/usr/bin/chromium (Playwright's own browser download is never used) and the
``playwright`` Python package; without either, every test here is skipped.
Server logs and screenshots go to ``test-output/``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tools.browser_driver import CHROMIUM, ROOT, SERVER_START_TIMEOUT, VIEWPORT, streamlit_server

OUTPUT = ROOT / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
TIMINGS = pytest.StashKey[dict]()


def pytest_collection_modifyitems(config, items):
    """Mark every test of this folder as a browser test (and slow: each drives a real server), and skip them all
    when the browser can't run."""
    reason = None
    if not CHROMIUM.exists():
        reason = "Debian chromium not installed: apt-get install -y chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed: pip install playwright (its browser download is not needed)"
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def server_log() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT / "streamlit-server.log"


@pytest.fixture(scope="session")
def app_url(server_log: Path, browser):
    """The base URL of one Streamlit server shared by all the tests, warmed up through its home page.

    The warm-up loads the model, so that the timings of the tests don't include it.
    """
    with streamlit_server(server_log) as (url, _):
        context = browser.new_context(viewport=VIEWPORT)
        try:
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url, timeout=SERVER_START_TIMEOUT * 1000)
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"] textarea[aria-label="Your text"]',
                                   timeout=SERVER_START_TIMEOUT * 1000)
            print(f"\n  warm-up: home page drawn in {time.perf_counter() - started:.1f} s")
        finally:
            context.close()
        yield url


@pytest.fixture
def fresh_server_log() -> Path:
    return OUTPUT / "streamlit-fresh-server.log"


@pytest.fixture
def fresh_server(browser, fresh_server_log):
    """A second server that no page has been opened on yet (for the tests that need that), logging to
    ``fresh_server_log``."""
    OUTPUT.mkdir(exist_ok=True)
    with streamlit_server(fresh_server_log) as (url, _):
        yield url


@pytest.fixture
def page(browser, app_url):
    """A fresh browser context and page per test, so no session state leaks between tests."""
    context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    context.set_default_timeout(60_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def timings(request) -> dict[str, float]:
    """Seconds from committing a prompt to the page being drawn, per page; summed up at the end of the run."""
    return request.config.stash.setdefault(TIMINGS, {})


def pytest_terminal_summary(terminalreporter, config):
    measured = config.stash.get(TIMINGS, None)
    if measured:
        terminalreporter.section("browser: seconds from committing a prompt to the page drawn")
        for name, seconds in measured.items():
            terminalreporter.write_line(f"{seconds:6.2f} s  {name}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

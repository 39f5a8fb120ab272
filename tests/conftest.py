"""Shared fixtures: the two embedded models, loaded once per test session."""

import os

import pytest
import torch
from streamlit.runtime.pages_manager import PagesManager

from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, load_model
from explainer.runtime import THREADS_VARIABLE
from explainer.training.kept_models import DATA_DIR_VARIABLE
from tools.browser_driver import CHROMIUM, CHROMIUM_ARGS

# The app sets torch's threads per operation when a page runs (explainer/runtime.py); the tests keep the default.
os.environ.setdefault(THREADS_VARIABLE, str(torch.get_num_threads()))


@pytest.fixture(scope="session", autouse=True)
def data_directory(tmp_path_factory):
    """Kept models go to a temporary data directory, not the repository's .cache/data."""
    os.environ[DATA_DIR_VARIABLE] = str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (Playwright's sync API allows one per thread)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def gpt():
    return load_model(EMBEDDED_GPT)


@pytest.fixture(scope="session")
def bert():
    return load_model(EMBEDDED_BERT)


@pytest.fixture(autouse=True)
def navigation_not_pages_folder(monkeypatch):
    """Run pages through app.py's st.navigation, as a real session does.

    AppTest resets Streamlit's class-wide "uses a pages/ folder" flag before
    every run, and the folder's existence turns it on, so AppTest would run a
    page script directly, without app.py's sidebar. In a server, the flag is
    turned off for good on the first run (see pages/shared.py).
    """
    original_init = PagesManager.__init__

    def init_with_navigation(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init_with_navigation)

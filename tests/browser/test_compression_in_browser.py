"""The "Make it smaller" and "Break it and see" pages in headless Chromium at 1280×720: every section draws its
charts, a distillation run trains to the end, and a hostile prompt stays text. Screenshots go to
``test-output/screenshots/`` (compression-*.png, ablation*.png) for a human to look at.

    python -m pytest tests/browser/test_compression_in_browser.py -q -s
"""

from __future__ import annotations

import re

import pytest

from tools.browser_driver import (
    PROJECTOR,
    RUN_TIMEOUT,
    commit_prompt,
    screenshot,
    wait_for_charts,
    wait_for_rerun,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)> javascript:alert(3)"
SLOW_TIMEOUT = 300_000  # ms: the head removal and the KV-cache timing, on a CPU shared with other work
TRAINING_TIMEOUT = 400_000  # ms: two students of 60 steps on a CPU shared with other work


@pytest.fixture
def small_page(browser, app_url):
    context = browser.new_context(viewport=PROJECTOR, base_url=app_url)
    context.set_default_timeout(RUN_TIMEOUT)
    tab = context.new_page()
    dialogs: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.dialogs = dialogs
    yield tab
    context.close()


def charts(page) -> int:
    """How many Plotly charts the page shows, once every shown one has drawn."""
    wait_for_charts(page)
    return page.locator(".js-plotly-plot >> visible=true").count()


def open_section(page, label: str) -> None:
    page.locator(".st-key-compression_section").get_by_text(label, exact=True).click()
    wait_until_idle(page)


def test_make_it_smaller_draws_every_section(small_page, screenshots):
    page = small_page
    page.goto("/compression", timeout=RUN_TIMEOUT)
    wait_until_idle(page)
    assert charts(page) == 3  # the precision bars, the histograms, the two distributions
    screenshot(page, screenshots / "compression-quantization.png")

    open_section(page, "Pruning")
    wait_for_charts(page)
    page.get_by_role("button", name="Rank the heads and remove them").click()
    page.get_by_text("Least important:", exact=False).wait_for(timeout=SLOW_TIMEOUT)
    wait_until_idle(page)
    assert charts(page) == 2  # the pruning curve and the head-removal curve
    screenshot(page, screenshots / "compression-pruning.png")

    open_section(page, "The KV cache")
    page.get_by_role("button", name="Measure, with and without the cache").click()
    page.get_by_text("Both ways generated", exact=False).wait_for(timeout=SLOW_TIMEOUT)
    wait_until_idle(page)
    assert charts(page) == 1
    screenshot(page, screenshots / "compression-kv-cache.png")

    open_section(page, "Distillation")
    page.locator(".st-key-distillation_steps input[type=range]").press("ArrowLeft")  # 60 steps per student
    wait_until_idle(page)
    page.get_by_role("button", name="Train both students").click()
    page.get_by_text("Training distillation vs hard labels", exact=False).wait_for()
    page.get_by_text(re.compile(r"(finished|stopped) after|finished in")).wait_for(timeout=TRAINING_TIMEOUT)
    page.get_by_text("hard labels: perplexity", exact=True).wait_for()  # the whole page has rerun once, with both
    wait_until_idle(page)
    curves = page.locator(".js-plotly-plot").last  # the live panel redraws it: wait for this one, not "every chart"
    curves.scroll_into_view_if_needed()
    curves.locator(".main-svg").first.wait_for()
    assert page.locator(".js-plotly-plot").count() == 1
    screenshot(page, screenshots / "compression-distillation.png")
    assert not page.dialogs


def test_break_it_and_see_draws_its_charts(small_page, screenshots):
    page = small_page
    page.goto("/ablation", timeout=RUN_TIMEOUT)
    wait_until_idle(page)
    assert charts(page) == 6  # prediction, token losses, head ranking, norms, MLP activity, MLP heatmap
    screenshot(page, screenshots / "ablation.png")


@pytest.mark.parametrize("path", ["/compression", "/ablation"])
def test_a_hostile_prompt_stays_text(small_page, path, screenshots):
    page = small_page
    page.goto(path, timeout=RUN_TIMEOUT)
    wait_until_idle(page)
    commit_prompt(page, HOSTILE)
    wait_for_rerun(page, HOSTILE)
    wait_for_charts(page)
    main = page.locator('[data-testid="stMain"]')
    assert main.locator('img[src="x"]').count() == 0
    assert main.locator("script", has_text="alert").count() == 0
    assert not page.dialogs
    if path == "/ablation":
        screenshot(page, screenshots / "ablation-hostile.png")

"""The training pages in headless Chromium: a live run updates its curve, Stop stops it,
and the scaling-law and fine-tuning pages draw. Screenshots go to test-output/screenshots/."""

from __future__ import annotations

import re
import time

import pytest

from tools.browser_driver import main_text_contains, screenshot, wait_for_charts, wait_until_idle

pytestmark = pytest.mark.browser


def _tokens_seen(page) -> int:
    """The "Tokens seen" metric of the pretraining page, as a number."""
    value = page.locator('[data-testid="stMetric"]', has_text="Tokens seen").locator('[data-testid="stMetricValue"]')
    return int(re.sub(r"\D", "", value.inner_text()))


def test_a_live_pretraining_run_updates_its_curve_and_stops(page, screenshots):
    page.goto("/pretraining")
    wait_until_idle(page)
    page.get_by_role("button", name="Train").click()
    main_text_contains(page, "Training Small model on Austen")
    main_text_contains(page, "Tokens seen")
    first = _tokens_seen(page)
    page.wait_for_function(  # the metric and the curve redraw every two seconds without any click
        "first => { const m = [...document.querySelectorAll('[data-testid=stMetric]')]"
        ".find(e => e.textContent.includes('Tokens seen'));"
        " return m && parseInt(m.querySelector('[data-testid=stMetricValue]').textContent.replace(/\\D/g, '')) > first; }",
        arg=first, timeout=60_000,
    )
    assert _tokens_seen(page) > first
    wait_for_charts(page)
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() >= 2  # train and validation loss
    time.sleep(8)  # let a few samples arrive for the screenshot
    screenshot(page, screenshots / "pretraining_live.png")
    page.get_by_role("button", name="Stop").click()
    main_text_contains(page, "because you pressed Stop")
    main_text_contains(page, "on the other pages")
    wait_for_charts(page)
    screenshot(page, screenshots / "pretraining_stopped.png")


def test_the_scaling_law_page_draws_the_committed_sweep(page, screenshots):
    page.goto("/scaling_law")
    wait_until_idle(page)
    main_text_contains(page, "L∞")
    assert wait_for_charts(page) >= 2
    screenshot(page, screenshots / "scaling_law.png")


def test_fine_tuning_trains_both_classifiers_and_predicts_the_learners_sentence(page, screenshots):
    page.goto("/fine_tuning")
    wait_until_idle(page)
    page.get_by_role("button", name="Fine-tune and train from scratch").click()
    main_text_contains(page, "finished in", timeout=240_000)
    main_text_contains(page, "after training")
    wait_for_charts(page)
    screenshot(page, screenshots / "fine_tuning.png")


def test_the_mini_sweep_trains_four_sizes_live_and_draws_them(page, screenshots):
    page.goto("/scaling_law")
    wait_until_idle(page)
    charts_before = wait_for_charts(page)
    page.get_by_role("button", name="Run the mini sweep").click()
    main_text_contains(page, "Training a mini scaling sweep")
    main_text_contains(page, "finished in", timeout=240_000)
    main_text_contains(page, "4 of 4 sizes finished")
    # the four sizes and the law fitted to them, on log-log axes: drawn a moment after the text above
    assert wait_for_charts(page, more_than=charts_before) == charts_before + 1
    screenshot(page, screenshots / "scaling_mini_sweep.png")

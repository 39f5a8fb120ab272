"""The chain-of-thought page in headless Chromium at a projector's 1280×720: the accuracies, a bad number refused with
a message, a good one answered by both models with their charts; screenshots in ``test-output/screenshots/``.

    python -m pytest tests/browser/test_chain_of_thought_in_browser.py -q -s
"""

from __future__ import annotations

import pytest

from explainer import chain_of_thought as cot
from tools.browser_driver import RUN_TIMEOUT, main_text_contains, open_on_projector, screenshot, wait_for_charts, wait_until_idle

pytestmark = pytest.mark.browser

NUMBER_BOX = ".st-key-cot_problem input"


def test_both_models_answer_a_number_and_a_bad_one_gets_a_message(page, screenshots):
    results = cot.load_results()
    open_on_projector(page, "/chain_of_thought?lang=en")
    main_text_contains(page, "Right on 1,000 held-out problems")
    main_text_contains(page, results["command"])
    main_text_contains(page, f"{results['models']['steps']['tokens_seen']:,}")  # the token budget
    for model in results["models"].values():
        if len(model["answers_written"]) == 1:  # a model that learnt one answer is named as such
            main_text_contains(page, f"writes {next(iter(model['answers_written']))} for every held-out problem")
    assert wait_for_charts(page) >= 4  # accuracies, two models' tokens, the attention
    screenshot(page, screenshots / "chain_of_thought_top.png")
    page.locator(NUMBER_BOX).fill("12<b>4")
    page.locator(NUMBER_BOX).press("Enter")
    main_text_contains(page, "Write exactly 8 digits")
    page.locator(NUMBER_BOX).fill("9876 5432")
    page.locator(NUMBER_BOX).press("Enter")
    main_text_contains(page, "98765432 = 7 × 14109347 + 3")
    wait_for_charts(page)
    assert page.get_by_text("Traceback").count() == 0
    page.get_by_text("Where the answer looks").scroll_into_view_if_needed()
    screenshot(page, screenshots / "chain_of_thought_attention.png")


def test_the_small_retrain_runs_on_the_job_board_and_shows_both_accuracies(page, screenshots):
    page.goto("/chain_of_thought?lang=en", timeout=RUN_TIMEOUT)
    wait_until_idle(page)
    page.get_by_role("button", name="Retrain both, small").click()
    main_text_contains(page, "Training direct vs steps, small")
    main_text_contains(page, "finished in", timeout=300_000)
    main_text_contains(page, "steps first: held-out accuracy")
    page.get_by_text("finished in").scroll_into_view_if_needed()
    screenshot(page, screenshots / "chain_of_thought_retrained.png")

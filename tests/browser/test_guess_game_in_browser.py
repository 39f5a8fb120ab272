"""The guessing game in headless Chromium at a projector's 1280×720: two rounds played, then a screenshot of the page
(``test-output/screenshots/guess_game.png``) for a human to look at.

    python -m pytest tests/browser/test_guess_game_in_browser.py -q -s
"""

from __future__ import annotations

import pytest

from explainer.guessing import PASSAGES
from tools.browser_driver import (
    APP_IDLE,
    RUN_TIMEOUT,
    main_text_contains,
    open_on_projector,
    screenshot,
    wait_for_charts,
)

pytestmark = pytest.mark.browser

GUESS_BOX = ".st-key-guess_game_input input"


def test_two_rounds_at_a_projectors_size(page, screenshots):
    open_on_projector(page, "/guess_game?lang=en")
    main_text_contains(page, "Round 1 of 10")
    for number, guess in ((1, PASSAGES[0].rounds[0].answer), (2, "town")):
        page.locator(GUESS_BOX).fill(guess)
        page.get_by_role("button", name="Guess", exact=True).click()
        main_text_contains(page, f"Round {number}: the word was")
        page.wait_for_selector(APP_IDLE, timeout=RUN_TIMEOUT)
        wait_for_charts(page)
    main_text_contains(page, "Round 3 of 10")
    assert page.get_by_text("3 / 10").count() == 1
    assert page.locator(GUESS_BOX).input_value() == ""  # the box is cleared for the next round
    screenshot(page, screenshots / "guess_game.png")

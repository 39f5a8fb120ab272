"""The translation page in headless Chromium at a projector's 1280×720: a number typed, its translation and the
attention heatmaps drawn, a bad number refused; screenshots (``test-output/screenshots/translation*.png``) for a
human to look at.

    python -m pytest tests/browser/test_translation_in_browser.py -q -s
"""

from __future__ import annotations

import pytest

from tools.browser_driver import main_text_contains, open_on_projector, screenshot, wait_for_charts, wait_until_idle

pytestmark = pytest.mark.browser

SOURCE_BOX = ".st-key-translation_source input"


def test_a_number_is_translated_with_its_attention(page, screenshots):
    open_on_projector(page, "/translation?lang=en")
    main_text_contains(page, "三万零五百一十二")
    page.locator(SOURCE_BOX).fill("20400")
    page.locator(SOURCE_BOX).press("Enter")
    main_text_contains(page, "二万零四百")  # at least in the right answer's line
    wait_until_idle(page)
    assert wait_for_charts(page) >= 4  # the beams, the cross-attention, the encoder's and the decoder's
    screenshot(page, screenshots / "translation.png")
    page.locator(SOURCE_BOX).fill("<b>12</b>")
    page.locator(SOURCE_BOX).press("Enter")
    main_text_contains(page, "digits 0–9 only")


def test_the_page_in_chinese(page, screenshots):
    open_on_projector(page, "/translation?lang=zh")
    main_text_contains(page, "三万零五百一十二")
    wait_for_charts(page)
    screenshot(page, screenshots / "translation_zh.png")

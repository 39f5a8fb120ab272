"""User text, token strings and model names are shown as text: never as a link, an image, a formula or formatting.

Streamlit's Markdown turns a bare ``https://…`` into a live link even when it is backslash-escaped, so untrusted
text may enter the app's Markdown only inside a code span (``pages.untrusted.literal``), and elsewhere only as
escaped HTML, a table cell, a chart label or a widget's value. These tests open every page with a payload and
read every element that Streamlit renders as Markdown.
"""

import codecs
import io
import re

import pandas as pd
import pytest

from pages.shared import csv_bytes
from pages.untrusted import literal
from tests.app_harness import open_page
from tests.test_app import ALL_PAGES

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

PAYLOAD = ("[sign in again](https://evil.example/login) ![](http://evil.example/pixel.png) "
           "$\\href{https://evil.example/x}{click}$ <img src=http://evil.example/i.png> www.evil.example **bold**")
MARKDOWN_ELEMENTS = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                     "toast", "latex")
WIDGETS = ("button", "selectbox", "slider", "radio", "text_input", "text_area", "number_input", "checkbox", "metric",
           "tabs", "expander", "select_slider", "toggle", "multiselect")
CODE_SPAN = re.compile(r"(`+).+?\1")


def outside_code_spans(markdown: str) -> str:
    return CODE_SPAN.sub("", markdown)


def rendered_text_outside_code(app) -> list[str]:
    """Every piece of Markdown the page renders (bodies, labels, help), with its code spans removed."""
    texts = []
    for kind in MARKDOWN_ELEMENTS:
        texts += [outside_code_spans(str(element.value)) for element in app.get(kind)]
    for kind in WIDGETS:
        for widget in app.get(kind):
            texts += [outside_code_spans(str(getattr(widget, field, "") or "")) for field in ("label", "help")]
    return texts


def html_bodies(app) -> list[str]:
    return [element.proto.body for element in app.get("html")]


def assert_shown_only_as_text(app) -> None:
    assert not app.exception
    leaked = [text for text in rendered_text_outside_code(app) if "evil" in text]
    assert not leaked, f"untrusted text reached Markdown outside a code span: {leaked}"
    for body in html_bodies(app):
        assert not re.search(r"<(a|img)\b[^>]*evil", body), body


@pytest.mark.parametrize("page", ALL_PAGES)
def test_a_markdown_html_and_latex_payload_is_shown_as_text_on_every_page(page):
    app = open_page(page, prompt=PAYLOAD)
    if page == "pages/generation.py":
        next(button for button in app.button if button.label.startswith("Run")).click().run()
        assert any("evil.example" in body for body in html_bodies(app))  # the text so far is on the page, as text
    assert_shown_only_as_text(app)


def test_a_model_name_from_the_url_is_quoted_as_code_in_its_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = open_page("pages/loss.py", prompt="Once upon a time", model="www.evil.example")
    assert any("`www.evil.example`" in error.value for error in app.error)  # the message names it, as code
    assert_shown_only_as_text(app)


@pytest.mark.parametrize("text", ["a`b", "``x``", "https://evil.example", "$x^2$", "line\nbreak", " "])
def test_literal_is_one_code_span_that_holds_the_text(text):
    markdown = literal(text)
    fence = re.match(r"`+", markdown)[0]
    assert markdown.startswith(fence + " ") and markdown.endswith(" " + fence)
    inside = markdown[len(fence) + 1:-len(fence) - 1]
    assert fence not in inside  # the text cannot close the span early
    assert "\n" not in inside


def test_csv_downloads_open_in_excel_with_chinese_intact_and_formulas_as_text():
    data = pd.DataFrame({"token": ["猫", "␣cat", "=cmd|' /C calc'!A0", "@SUM(A1)"], "p": [0.5, 0.25, -0.125, 1.0]})
    raw = csv_bytes(data)
    assert raw.startswith(codecs.BOM_UTF8)  # Excel reads UTF-8 only with the mark
    read = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert list(read["token"]) == ["猫", "␣cat", "'=cmd|' /C calc'!A0", "'@SUM(A1)"]
    assert list(read["p"]) == [0.5, 0.25, -0.125, 1.0]  # numbers stay numbers

"""The translation catalogs: every marked string is in them, translated, and compiled.

The code's English strings are the message ids. Babel extracts them here, in
the test process, exactly as ``pybabel extract -F babel.cfg`` does, so a
string marked in the code but missing from the catalog fails (run the
extract/update commands of the README). The committed ``.mo`` (the only file
the app reads) must say what the ``.po`` says.
"""

import gettext
import re
import threading
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from markdown_it import MarkdownIt

from explainer import i18n
from explainer.i18n import LANGUAGES, N_, _, choose_language, current_language, lazy, set_language

ROOT = Path(__file__).resolve().parent.parent
TRANSLATED = [code for code in LANGUAGES if code != i18n.DEFAULT_LANGUAGE]
PLACEHOLDER = re.compile(r"%\{[^}]*\}|\{\w*[^{}]*\}|%\(\w+\)[#0 +-]*\d*(?:\.\d+)?[a-z]")  # Plotly, str.format, %
WEB_SYNTAX = re.compile(r"\*\*|<br>|<extra>|</extra>|\[MASK\]|`")  # must survive translation as often


def catalog_path(code: str, suffix: str) -> Path:
    return ROOT / "locales" / code / "LC_MESSAGES" / f"{i18n.DOMAIN}{suffix}"


def read_catalog(code: str):
    with open(catalog_path(code, ".po"), "rb") as file:
        return read_po(file)


def key(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def extracted() -> dict[str, str]:
    """Every string marked in the code (msgid -> where), extracted with babel.cfg."""
    with open(ROOT / "babel.cfg") as file:
        method_map, options_map = parse_mapping_cfg(file)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        found.setdefault(message if isinstance(message, str) else message[0], f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def marked():
    return extracted()


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_string_marked_in_the_code_is_in_the_catalog(code, marked):
    in_catalog = {key(m) for m in read_catalog(code) if m.id}
    missing = {message: where for message, where in marked.items() if message not in in_catalog}
    assert not missing, f"marked but not in locales/{code}: {missing} (run the README's extract and update commands)"


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_catalog_has_nothing_the_code_no_longer_uses(code, marked):
    unused = {key(m) for m in read_catalog(code) if m.id} - set(marked)
    assert not unused, f"in locales/{code} but no longer in the code: {unused}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_entry_is_translated(code):
    untranslated = [key(m) for m in read_catalog(code) if m.id and not all(m.string if isinstance(m.string, tuple)
                                                                             else [m.string])]
    fuzzy = [key(m) for m in read_catalog(code) if m.id and m.fuzzy]
    assert not untranslated, f"no {code} translation: {untranslated}"
    assert not fuzzy, f"fuzzy (a guess by `pybabel update`, not checked by a person): {fuzzy}"


@pytest.mark.parametrize("code", TRANSLATED)
def test_translations_keep_placeholders_and_markup(code):
    """A translation that loses ``{n}`` or ``%{x}`` would crash ``.format()`` or blank a hover label."""
    for message in read_catalog(code):
        if not message.id:
            continue
        originals = [message.id] if isinstance(message.id, str) else list(message.id)
        for translated in [message.string] if isinstance(message.string, str) else list(message.string):
            assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(originals[0])), translated
            assert sorted(WEB_SYNTAX.findall(translated)) == sorted(WEB_SYNTAX.findall(originals[0])), translated


def stars_left_as_text(markdown: str) -> list[str]:
    """The runs of text in which CommonMark, the Markdown that Streamlit renders, leaves a ``**`` or ``*`` as stars.

    A ``**`` closes only when it is not both after punctuation and before a letter: ``**任务：**求`` stays as text,
    ``**任务**：求`` is bold. Each placeholder is read as the word it becomes.
    """
    blocks = MarkdownIt("commonmark").parse(PLACEHOLDER.sub("x", markdown))
    return [child.content for block in blocks for child in block.children or []
            if child.type == "text" and "*" in child.content]


def test_stars_left_as_text_is_found():
    assert stars_left_as_text("**任务：**求一个 {n} 位数") and stars_left_as_text("**a.**{n}") and stars_left_as_text("*「x」*y")
    assert not stars_left_as_text("**任务**：求一个 {n} 位数") and not stars_left_as_text("**Why.** It is {n}.")


@pytest.mark.parametrize("code", TRANSLATED)
def test_bold_and_italic_text_render_in_every_language(code):
    """Chinese punctuation inside a bold span, before a character, leaves the stars on screen: move it out."""
    left = {}
    for message in read_catalog(code):
        for text in ([message.id] if isinstance(message.id, str) else list(message.id)) + (
                [message.string] if isinstance(message.string, str) else list(message.string)):
            if text and stars_left_as_text(text):
                left[text[:60]] = stars_left_as_text(text)
    assert not left, left


CHINESE = "[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef“”‘’…—]"
LINE_BREAK_IN_CHINESE = re.compile(rf"(?<={CHINESE})\n(?={CHINESE}|\*\*|\{{)")


def test_chinese_paragraphs_have_no_line_break_between_characters():
    """Markdown shows a line break inside a paragraph as a space: between two Chinese characters, a gap no one
    wrote. Code blocks keep their lines."""
    broken = []
    for message in read_catalog("zh"):
        for text in [message.string] if isinstance(message.string, str) else list(message.string):
            inline = [block.content for block in MarkdownIt("commonmark").parse(text or "") if block.type == "inline"]
            broken += [text[:60] for paragraph in inline if LINE_BREAK_IN_CHINESE.search(paragraph)]
    assert not broken, broken


@pytest.mark.parametrize("code", TRANSLATED)
def test_the_committed_mo_matches_the_po(code):
    """The app reads only the .mo: it must be compiled from the current .po (``pybabel compile -d locales``)."""
    with open(catalog_path(code, ".mo"), "rb") as file:
        compiled = gettext.GNUTranslations(file)._catalog
    expected = {}
    for message in read_catalog(code):
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            expected.update({(message.id[0], n): text for n, text in enumerate(message.string)})
        else:
            expected[message.id] = message.string
    compiled = {k: v for k, v in compiled.items() if k != ""}  # "" is the header
    stale = {k for k in expected.keys() | compiled.keys() if expected.get(k) != compiled.get(k)}
    assert not stale, f"locales/{code} .mo is stale for {sorted(map(str, stale))[:5]}…: run `pybabel compile -d locales`"


def test_translation_follows_the_language_of_the_run():
    set_language("zh")
    try:
        assert _("probability") == "概率"
        assert str(lazy(N_("perplexity"))) == "困惑度"
        seen = []
        other = threading.Thread(target=lambda: seen.append((current_language(), _("probability"))))
        other.start()
        other.join()
        assert seen == [("en", "probability")]  # another script run (thread) starts in English
    finally:
        set_language("en")
    assert _("probability") == "probability" and str(lazy(N_("perplexity"))) == "perplexity"
    assert set_language("xx") == "en"  # an unknown code is English


@pytest.mark.parametrize(("url", "locale", "expected"), [
    ("zh", "en-US", "zh"), ("en", "zh-CN", "en"),  # the URL wins
    (None, "zh-CN", "zh"), (None, "zh-TW", "zh"), (None, "zh", "zh"),  # else the browser
    (None, "en-GB", "en"), (None, "fr-FR", "en"), (None, None, "en"), ("klingon", None, "en"),  # else English
])
def test_the_first_language_comes_from_the_url_then_the_browser(url, locale, expected):
    assert choose_language(url, locale) == expected

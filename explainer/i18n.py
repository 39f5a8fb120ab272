"""Translations: the app's words in English and Simplified Chinese.

Plain Python (stdlib ``gettext``); it never imports streamlit. The strings in
the code are the English originals and serve as gettext message ids; the
Chinese lives in ``locales/zh/LC_MESSAGES/messages.po``, compiled to the
``messages.mo`` beside it, which is all the app reads at run time. Babel
(a development tool only) extracts, updates and compiles the catalogs: see
the README, "Languages".

The current language belongs to one script run, not to the process: every
Streamlit run (and every fragment rerun) is its own thread, so it lives in a
``ContextVar`` that app.py sets at the start of each run and each
``st.fragment`` body sets again. Outside a run (tests, scripts, training
threads) it is English.

Write whole sentences with named placeholders, never translated pieces glued
together, so the Chinese may order them differently::

    _("After {n} tokens, the model's guesses:").format(n=len(tokens))
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "zh": "中文"}  # code -> its own name, as the language switch shows it
DEFAULT_LANGUAGE = "en"

_language: ContextVar[str] = ContextVar("language", default=DEFAULT_LANGUAGE)


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalog of ``code`` (English, the source language, translates to itself)."""
    if code == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)


def set_language(code: str | None) -> str:
    """Make ``code`` the language of this run (an unknown code means English); return the code in use."""
    code = code if code in LANGUAGES else DEFAULT_LANGUAGE
    _language.set(code)
    return code


def current_language() -> str:
    return _language.get()


def choose_language(requested: str | None, browser_locale: str | None) -> str:
    """The language of a new session: the URL's ``?lang=`` if it names one, else the browser's, else English."""
    if requested in LANGUAGES:
        return requested
    browser = (browser_locale or "").replace("_", "-").split("-")[0].lower()  # "zh-CN" -> "zh"
    return browser if browser in LANGUAGES else DEFAULT_LANGUAGE


def _(message: str) -> str:
    """``message`` in the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language (Chinese has one form)."""
    return translations(current_language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it yet (e.g. in a module-level table).

    Translate it where it is shown, with ``_(message)``.
    """
    return message


class LazyText(str):
    """A message that translates itself whenever it is turned into text with ``str()``.

    For text fixed when a module is imported but shown later, such as a cache
    decorator's ``show_spinner`` (Streamlit calls ``str()`` on it each time).
    """

    def __str__(self) -> str:
        return _(str.__str__(self))


def lazy(message: str) -> LazyText:
    """``LazyText(message)``; mark the message with ``N_`` so Babel finds it: ``lazy(N_("Loading…"))``."""
    return LazyText(message)


def labelled(options, label) -> Callable[[object], str]:
    """A widget's ``format_func`` whose labels are made now, in this run's language.

    ``format_func=lambda i: _("layer {i}").format(i=i)`` would translate when
    it is called, and Streamlit's AppTest calls it again outside the run,
    in English; this table keeps the labels the page drew.
    """
    table = {option: label(option) for option in options}
    return table.__getitem__

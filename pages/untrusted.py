"""Untrusted text (prompts, token strings, model names, error messages) inside the app's own Markdown."""

import re

from explainer.tokenization import visible


def literal(text: str) -> str:
    """Return Markdown that shows ``text`` exactly, as inline code, for a sentence of the app's own Markdown.

    User text, token strings and model names are untrusted: in plain Markdown, Streamlit turns a bare
    ``https://…`` into a live link even when it is backslash-escaped, and ``$…$`` into a formula. Inside a
    code span nothing is interpreted. The fence is longer than any run of backticks in the text, and line
    breaks are shown as ↵.
    """
    shown = visible(text)
    longest_run = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest_run + 1)
    return f"{fence} {shown} {fence}"

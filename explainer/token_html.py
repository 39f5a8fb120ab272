"""Tokens drawn as coloured chips in HTML (for the tokenization and loss views).

Every token string is user input: it is HTML-escaped here, and the result is
meant for ``st.html``, which sanitises again and runs no script.
"""

from __future__ import annotations

import html

from explainer.i18n import _
from explainer.tokenization import TokenizedText

PALETTE = ("#cfe8ff", "#ffe3b8", "#d7f5d0", "#f9d3e3", "#e6dcff", "#fff3a8")  # light, readable on projectors

CHIP_STYLE = (
    "display:inline-block;margin:2px 1px;padding:2px 5px;border-radius:4px;"
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:15px;line-height:1.9;color:#1b1b1b;"
    "white-space:pre;border:1px solid rgba(0,0,0,.08)"
)


def token_chips(tokens: TokenizedText, colours: list[str] | None = None, titles: list[str] | None = None) -> str:
    """Return HTML with one chip per token; its hover title gives the id (or ``titles``).

    ``colours`` (one per token) defaults to a repeating palette, so neighbours differ.
    A newline token also breaks the line, so the layout follows the text.
    """
    chips = []
    for index, display in enumerate(tokens.display):
        colour = colours[index] if colours else PALETTE[index % len(PALETTE)]
        title = titles[index] if titles else _("id {id} · position {position}").format(id=tokens.ids[index], position=index)
        shown = html.escape(display)
        if tokens.special[index]:
            shown = f"<b>{shown}</b>"
        chips.append(
            f'<span style="{CHIP_STYLE};background:{colour}" title="{html.escape(title, quote=True)}">{shown}</span>'
        )
        if display.endswith("↵"):
            chips.append("<br>")
    return f'<div style="line-height:2.1">{"".join(chips)}</div>'


def legend(items: dict[str, str]) -> str:
    """Return an HTML legend: one coloured chip per label."""
    return " ".join(
        f'<span style="{CHIP_STYLE};background:{colour}">{html.escape(label)}</span>' for label, colour in items.items()
    )

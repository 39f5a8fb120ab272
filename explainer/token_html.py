"""Tokens drawn as coloured chips in HTML (for the tokenization and loss views).

Every token string is user input: it is HTML-escaped here, and the result is
meant for ``st.html``, which sanitises again and runs no script.
"""

from __future__ import annotations

import html
import unicodedata

from explainer.i18n import _
from explainer.tokenization import CharacterGroup, TokenizedText, visible

PALETTE = ("#cfe8ff", "#ffe3b8", "#d7f5d0", "#f9d3e3", "#e6dcff", "#fff3a8")  # light, readable on projectors

CHIP_STYLE = (
    "display:inline-block;margin:2px 1px;padding:2px 5px;border-radius:4px;"
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:15px;line-height:1.9;color:#1b1b1b;"
    "white-space:pre;border:1px solid rgba(0,0,0,.08)"
)


GROUP_STYLE = (  # a frame around the byte tokens of one character, its label underneath
    "display:inline-flex;flex-direction:column;align-items:center;vertical-align:top;margin:0 2px;"
    "padding:0 2px 1px;border:1.5px solid #8a8a8a;border-radius:6px;background:rgba(0,0,0,.03)"
)
GROUP_LABEL_STYLE = (
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;line-height:1.3;color:#444;white-space:nowrap"
)


def token_chips(tokens: TokenizedText, colours: list[str] | None = None, titles: list[str] | None = None,
                groups: list[CharacterGroup] | None = None) -> str:
    """Return HTML with one chip per token; its hover title gives the id (or ``titles``).

    ``colours`` (one per token) defaults to a repeating palette, so neighbours differ.
    A newline token also breaks the line, so the layout follows the text.
    ``groups`` (from ``tokenization.character_groups``) frames the tokens that together
    make one character, labelled underneath, e.g. "猫 = E7 8C AB"; groups that share
    a token share one frame with both labels.
    """
    chips = _chips(tokens, colours, titles)
    frames = {first: (last, labels) for first, last, labels in _frames(groups or [])}
    parts, index = [], 0
    while index < len(chips):
        if index not in frames:
            parts.append(chips[index])
            index += 1
            continue
        last, labels = frames[index]
        inside = [chip.replace("<br>", "") for chip in chips[index:last + 1]]
        label = " · ".join(html.escape(text) for text in labels)
        parts.append(f'<span style="{GROUP_STYLE}"><span style="white-space:nowrap">{"".join(inside)}</span>'
                     f'<span style="{GROUP_LABEL_STYLE}">{label}</span></span>')
        if any(chip.endswith("<br>") for chip in chips[index:last + 1]):
            parts.append("<br>")
        index = last + 1
    return f'<div style="line-height:2.1">{"".join(parts)}</div>'


def _frames(groups: list[CharacterGroup]) -> list[tuple[int, int, list[str]]]:
    """(first token, last token, labels) per frame: groups that share a token are merged into one frame."""
    frames: list[tuple[int, int, list[str]]] = []
    for group in groups:
        label = f"{_shown_character(group.character)} = {group.hex}"
        if frames and group.tokens[0] <= frames[-1][1]:
            first, last, labels = frames[-1]
            frames[-1] = (first, max(last, group.tokens[-1]), labels + [label])
        else:
            frames.append((group.tokens[0], group.tokens[-1], [label]))
    return frames


def _shown_character(character: str) -> str:
    """A character for a frame's label; a combining mark alone (e.g. the emoji selector U+FE0F) as its code point."""
    if unicodedata.category(character).startswith("M"):
        return f"<U+{ord(character):04X}>"
    return visible(character)


def _chips(tokens: TokenizedText, colours: list[str] | None, titles: list[str] | None) -> list[str]:
    """One chip's HTML per token (followed by ``<br>`` after a newline)."""
    chips = []
    for index, display in enumerate(tokens.display):
        colour = colours[index] if colours else PALETTE[index % len(PALETTE)]
        title = titles[index] if titles else _("id {id} · position {position}").format(id=tokens.ids[index], position=index)
        shown = html.escape(display)
        if tokens.special[index]:
            shown = f"<b>{shown}</b>"
        chip = f'<span style="{CHIP_STYLE};background:{colour}" title="{html.escape(title, quote=True)}">{shown}</span>'
        chips.append(chip + "<br>" if display.endswith("↵") else chip)
    return chips


def legend(items: dict[str, str]) -> str:
    """Return an HTML legend: one coloured chip per label."""
    return " ".join(
        f'<span style="{CHIP_STYLE};background:{colour}">{html.escape(label)}</span>' for label, colour in items.items()
    )

"""The one style of every figure: a Plotly template, a palette, margins, how a token is named, and the colour
range of a diverging scale.

Token strings are untrusted. They reach Plotly only through ``escape`` (or ``position_label``, which calls it),
which escapes the characters Plotly would read as its own HTML-like markup.

Sizes are for a classroom projector at 1280×720: tick labels 13 px and axis titles 14 px, in dark grey, titles
18 px. ``styled`` applies the template and also writes its text style on the figure itself, because
``st.plotly_chart``'s default theme merges Streamlit's own fonts (12 px, light grey) into a figure's template
but leaves the figure's own layout alone.
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_CONFIG = {  # passed to st.plotly_chart: the camera button saves a PNG
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}

# ------------------------------------------------------------------- palette

PAPER = "white"  # the background, pinned like the fonts: dark text stays on white whatever Streamlit's theme
INK = "#333333"  # text, tick labels, axis titles and dividing lines
BLUE = "#3b6fb6"  # a main series: train loss, measured points, the tokens of your text
SOFT_BLUE = "#6c8ebf"  # plain bars: token counts, the English sentence, the keys of a query
PALE_BLUE = "#9db7d5"  # the model's own softmax; the tokens that were not picked
DARK_BLUE = "#1f3f73"  # the one bar singled out among SOFT_BLUE ones: the query's own key
RED = "#e4572e"  # what was picked or changed (the drawn token, the reshaped distribution), the second series
GREEN = "#2ca02c"  # the fine-tuned model
GREY = "#888888"  # reference lines (zero, chance, 1 token per character) and the model trained from scratch
MASKED_COLOUR = "#d9d9d9"  # what the causal mask hides
ATTENTION_SCALE = "Blues"  # sequential, 0 (white) to 1 (dark blue): attention weights and probabilities
VECTOR_SCALE = "RdBu_r"  # diverging: negative blue, zero white, positive red (see ``diverging``)

# ---------------------------------------------------------------- template

TEMPLATE = "explainer"  # its name in plotly.io.templates
TICK_FONT = {"size": 13, "color": INK}
AXIS_TITLE_FONT = {"size": 14, "color": INK}
TITLE_FONT = {"size": 18, "color": INK}
TEXT_FONT = {"size": 14, "color": INK}  # legends, annotations (subplot titles are 16), colour bars
TOKEN_FONT = {"family": "monospace"}  # tick labels and cell text that are tokens or vectors
HOVER_FONT = {"size": 14}  # no colour: Plotly picks black or white against the hovered trace's colour
MARGIN = {"l": 10, "r": 10, "t": 20, "b": 10}  # pixels; axis labels push them out (automargin)
MAX_TICK_LABELS = 40


def _template() -> go.layout.Template:
    """Plotly's "plotly_white" with the explainer's fonts and margins."""
    template = go.layout.Template(pio.templates["plotly_white"])
    axis = {"tickfont": TICK_FONT, "title": {"font": AXIS_TITLE_FONT}}
    template.layout.update(font=TEXT_FONT, title={"font": TITLE_FONT}, legend={"font": TEXT_FONT},
                           hoverlabel={"font": HOVER_FONT}, margin=MARGIN, xaxis=axis, yaxis=axis)
    return template


pio.templates[TEMPLATE] = _template()
TEMPLATE_JSON = pio.templates[TEMPLATE].to_plotly_json()  # merged into each figure as plain JSON (see ``styled``)
AXIS_KEY = re.compile(r"[xy]axis\d*")  # a layout's axes: xaxis, xaxis2, …, yaxis, yaxis2, …


def styled(figure: go.Figure, **margin: int) -> go.Figure:
    """Return ``figure`` in the shared style: the "explainer" template, ``MARGIN`` updated by ``margin`` (e.g.
    ``t=50``), and the template's fonts and background written on the figure's own layout and on every axis, so
    Streamlit's chart theme can't replace them. What a builder set itself (a monospace family, a larger size, a
    grey plot area behind masked cells) stays.

    The style is merged into the figure's plain JSON and the result is wrapped without Plotly's validation (the
    figure itself was validated as it was built): validating the template and every axis font again cost 20 to
    60 ms a figure, which a page with six figures paid on every update.
    """
    spec = figure.to_plotly_json()  # {"data": [...], "layout": {...}}
    layout = spec["layout"]
    layout.update(template=TEMPLATE_JSON, margin={**MARGIN, **layout.get("margin", {}), **margin},
                  paper_bgcolor=PAPER, plot_bgcolor=layout.get("plot_bgcolor") or PAPER)
    layout["font"] = {**layout.get("font", {}), **TEXT_FONT}
    for part in ("legend", "hoverlabel"):
        layout[part] = {**layout.get(part, {}), "font": {**layout.get(part, {}).get("font", {}),
                                                        **(TEXT_FONT if part == "legend" else HOVER_FONT)}}
    if isinstance(layout.get("title"), dict) and layout["title"].get("text"):
        layout["title"]["font"] = {**TITLE_FONT, **layout["title"].get("font", {})}
    for name in {"xaxis", "yaxis", *(key for key in layout if AXIS_KEY.fullmatch(key))}:
        axis = layout.setdefault(name, {})
        title = axis["title"] if isinstance(axis.get("title"), dict) else {"text": axis["title"]} if "title" in axis else {}
        axis.update(tickfont={**TICK_FONT, **axis.get("tickfont", {})},
                    title={**title, "font": {**AXIS_TITLE_FONT, **title.get("font", {})}})
    return go.Figure(spec, _validate=False)


# ---------------------------------------------------------- naming tokens


def escape(text: str) -> str:
    """``text`` as Plotly will show it literally: ``&``, ``<`` and ``>`` escaped (Plotly reads tags such as ``<b>``)."""
    return html.escape(text, quote=False)


def position_label(position: int, token: str) -> str:
    """``"position: token"`` with the token escaped: how every figure names a token at its place in the text
    (unique even when a token repeats)."""
    return f"{position}: {escape(token)}"


def position_labels(tokens: list[str], first: int = 0) -> list[str]:
    """``position_label`` of each of ``tokens``, the first one being at position ``first``."""
    return [position_label(first + i, token) for i, token in enumerate(tokens)]


def label_pairs(rows: list[str], columns: list[str]) -> np.ndarray:
    """(R, C, 2) strings: the row's and the column's label of every cell, for a heatmap's hover."""
    return np.array([[[row, column] for column in columns] for row in rows])


def category_ticks(texts: list[str], most: int = MAX_TICK_LABELS) -> dict:
    """Axis settings with a tick at index i labelled ``texts[i]`` (already escaped), at every index, or at
    every n-th when there are more than ``most``."""
    step = max(1, math.ceil(len(texts) / most))
    positions = list(range(0, len(texts), step))
    return {"tickmode": "array", "tickvals": positions, "ticktext": [texts[p] for p in positions]}


# ----------------------------------------------------- diverging colours


def symmetric_limit(matrix: np.ndarray) -> float:
    """The colour range ±limit of every diverging figure: the 99th percentile of |values| (1.0 if they are all 0).

    Zero is white, and a few outliers can't wash out the rest: the learned position embeddings of
    tiny-gpt-austen reach 1.36 in size at position 0, while 99% of their values are within ±0.09. The rarer, larger
    values take the extreme colour, and their hover gives the number.
    """
    return float(np.percentile(np.abs(matrix), 99)) or 1.0


def diverging(matrix: np.ndarray) -> dict:
    """Heatmap settings for values around zero: ``VECTOR_SCALE`` from −``symmetric_limit`` to +``symmetric_limit``."""
    limit = symmetric_limit(matrix)
    return {"colorscale": VECTOR_SCALE, "zmin": -limit, "zmax": limit}


# ------------------------------------------------------- a figure's caption

SOURCE_FONT = {"size": 13, "color": GREY}
SOURCE_CHARACTERS = 60  # of the prompt, in the line that says what a figure was computed for
CAPTION_HEIGHT = 64  # pixels above the figure's own top margin for its title and source line


def source_line(model_name: str, text: str | None = None) -> str:
    """What a figure was computed for, as its subtitle shows it: ``“text” · model`` (the text on one line, cut to
    ``SOURCE_CHARACTERS`` with an ellipsis) or the model alone; escaped for Plotly."""
    if text is None:
        return escape(model_name)
    line = " ".join(text.split())
    if len(line) > SOURCE_CHARACTERS:
        line = line[:SOURCE_CHARACTERS - 1] + "…"
    return f"“{escape(line)}” · {escape(model_name)}"


def captioned(figure: go.Figure, title: str, source: str) -> go.Figure:
    """Return ``figure`` with a title and, under it, ``source`` (see ``source_line``), so that the PNG its camera
    button saves says what it shows and for which text. A figure that has a title keeps it (``ValueError`` when
    neither it nor ``title`` gives one). The two lines take ``CAPTION_HEIGHT`` pixels above the figure's own top
    margin, where subplot titles and top axes already sit, and the figure grows by as much. Merged into the plain
    JSON, like ``styled``."""
    spec = figure.to_plotly_json()
    layout = spec["layout"]
    own_title = layout.get("title", {}).get("text") if isinstance(layout.get("title"), dict) else layout.get("title")
    if not (own_title or title):
        raise ValueError("a figure shown to the class needs a title")
    layout["title"] = {
        "text": own_title or escape(title), "x": 0, "xanchor": "left", "xref": "paper", "y": 1, "yref": "container",
        "yanchor": "top", "pad": {"t": 8}, "font": TITLE_FONT,
        "subtitle": {"text": source, "font": SOURCE_FONT},
    }
    margin = layout.setdefault("margin", {})
    margin["t"] = margin.get("t", MARGIN["t"]) + CAPTION_HEIGHT
    if layout.get("height"):
        layout["height"] += CAPTION_HEIGHT
    return go.Figure(spec, _validate=False)

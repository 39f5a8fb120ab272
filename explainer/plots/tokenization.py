"""Tokenization: how many tokens each tokenizer needs for a text, and for one sentence in two languages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import N_, _
from explainer.plots.style import GREY, RED, SOFT_BLUE, escape, styled

SENTENCE_COLOURS = {"zh": RED, "en": SOFT_BLUE}  # language code -> bar colour
SENTENCE_NAMES = {"zh": N_("Chinese sentence"), "en": N_("English sentence")}  # legend, shown with ``_()``


def token_count_bars(counts: dict[str, int], characters: int) -> go.Figure:
    """How many tokens each tokenizer needs for the same text, against its character count."""
    names = list(counts)
    figure = go.Figure(go.Bar(x=[counts[n] for n in names], y=[escape(n) for n in names], orientation="h",
                              marker_color=SOFT_BLUE))
    figure.add_vline(x=characters, line_dash="dot", line_color=GREY)
    figure.add_annotation(x=characters, y=1, yref="paper", yanchor="bottom", showarrow=False,  # above the plot area,
                          text=_("{n} characters").format(n=characters))  # never over a bar
    figure.update_layout(
        height=80 + 40 * len(names),
        xaxis={"title": _("tokens")},
        yaxis={"autorange": "reversed"},
    )
    return styled(figure, t=36)


def tokens_per_character_bars(table: pd.DataFrame) -> go.Figure:
    """Tokens per character of the same sentence in each language, grouped by tokenizer (horizontal bars).

    ``table`` has one row per (tokenizer, sentence): ``name`` (the tokenizer as shown), ``language``
    (a key of ``SENTENCE_NAMES``), ``characters``, ``tokens`` and ``tokens_per_character``.
    """
    names = list(dict.fromkeys(table["name"]))
    figure = go.Figure()
    for language, rows in table.groupby("language", sort=False):
        figure.add_bar(
            x=rows["tokens_per_character"].tolist(),
            y=[escape(name) for name in rows["name"]],
            orientation="h",
            name=_(SENTENCE_NAMES.get(language, language)),
            marker_color=SENTENCE_COLOURS.get(language, GREY),
            customdata=np.stack([rows["tokens"], rows["characters"]], axis=-1),  # (rows, 2)
            text=[f"{value:.2f}" for value in rows["tokens_per_character"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=_("%{y}<br>%{customdata[0]} tokens ÷ %{customdata[1]} characters "
                            "= %{x:.2f} tokens per character<extra></extra>"),
        )
    figure.add_vline(x=1, line_dash="dot", line_color=GREY,
                     annotation_text=_("1 token per character"), annotation_position="top")
    figure.update_layout(
        barmode="group",
        title=_("Tokens per character: the same sentence in Chinese and in English"),
        height=130 + 48 * len(names),
        xaxis={"title": _("tokens per character"), "rangemode": "tozero",
               "range": [0, 1.15 * max(1.0, float(table["tokens_per_character"].max()))]},
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": [escape(n) for n in names]},
        legend={"orientation": "h", "y": -0.18, "x": 0},
    )
    return styled(figure, r=30, t=60)

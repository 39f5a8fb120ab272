"""Chain of thought: the two models' held-out accuracy, and each written token's probability.

The attention from the answer digits back to the steps is ``attention.attention_rows``.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.prediction import BAR_TOKEN_FONT
from explainer.plots.style import BLUE, GREY, PALE_BLUE, RED, escape, styled


def cot_accuracy_bars(table: pd.DataFrame) -> go.Figure:
    """``table`` (model, accuracy in [0, 1], problems): one bar per model, labelled with its accuracy in %."""
    figure = go.Figure(go.Bar(
        x=table["accuracy"], y=[escape(name) + "  " for name in table["model"]], orientation="h",
        marker_color=[GREY, BLUE][: len(table)] if len(table) == 2 else BLUE,
        text=[f"{a:.1%}" for a in table["accuracy"]], textposition="outside", cliponaxis=False, textfont={"size": 15},
        customdata=table[["problems"]], hovertemplate=_("%{y}<br>%{x:.1%} of %{customdata[0]} problems<extra></extra>"),
    ))
    figure.update_layout(height=60 * len(table) + 110, showlegend=False,
                         xaxis={"title": _("exactly right on held-out problems"), "range": [0, 1.15], "tickformat": ".0%"},
                         yaxis={"autorange": "reversed", "type": "category"})
    return styled(figure, r=30)


def cot_token_probabilities(tokens: list[str], probabilities: list[float], answer_from: int) -> go.Figure:
    """One bar per written token (in order), its height the probability the model gave it when it chose it; the
    answer's tokens (from index ``answer_from``) in red, the steps in blue, <eos> pale."""
    colours = [RED if i >= answer_from else PALE_BLUE if token.startswith("<") else BLUE for i, token in enumerate(tokens)]
    labels = [str(i + 1) for i in range(len(tokens))]  # the token itself is written above its bar
    figure = go.Figure(go.Bar(
        x=labels, y=probabilities, marker_color=colours, text=[escape(token) for token in tokens],
        textposition="outside", cliponaxis=False, textfont={**BAR_TOKEN_FONT, "size": 16},
        customdata=[escape(token) for token in tokens],
        hovertemplate=_("token %{x}: %{customdata}<br>p = %{y:.4f}<extra></extra>"),
    ))
    figure.update_layout(height=300, showlegend=False,
                         xaxis={"title": _("written token, in order"), "type": "category"},
                         yaxis={"title": _("probability when chosen"), "range": [0, 1.18], "tickformat": ".0%"})
    return styled(figure, t=30)

"""The guessing game: the model's 10 most likely next tokens, the real word in red and the learner's guess in blue."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.prediction import BAR_TOKEN_FONT
from explainer.plots.style import BLUE, PALE_BLUE, RED, escape, styled

GUESS_BAR_HEIGHT = 34  # pixels per bar: tokens and percentages stay readable on a projector


def guess_bars(top: pd.DataFrame, answer_id: int | None, guess_id: int | None) -> go.Figure:
    """Return ``top`` (``explainer.guessing.top_next``: rank, id, token, probability) as horizontal bars, best first,
    each labelled with its probability in %; the real word's token (``answer_id``) in red and the learner's
    one-token guess (``guess_id``) in blue, when they are among them."""
    colours = [RED if i == answer_id else BLUE if i == guess_id else PALE_BLUE for i in top["id"]]
    figure = go.Figure(
        go.Bar(
            x=top["probability"],
            y=[f"{rank}. {escape(token)}  " for rank, token in zip(top["rank"], top["token"])],
            orientation="h",
            marker_color=colours,
            text=[f"{p:.1%}" for p in top["probability"]],
            textposition="outside",
            cliponaxis=False,
            textfont={"size": 14},
            hovertemplate=_("%{y}<br>p = %{x:.4f}<extra></extra>"),
        )
    )
    figure.update_layout(
        height=GUESS_BAR_HEIGHT * len(top) + 90,
        yaxis={"autorange": "reversed", "type": "category", "tickfont": BAR_TOKEN_FONT},
        xaxis={"title": _("probability"), "rangemode": "tozero", "range": [0, 1.2 * float(top["probability"].max())],
               "tickformat": ".0%"},
        showlegend=False,
    )
    return styled(figure, r=30)

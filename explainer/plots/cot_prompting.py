"""Chain-of-thought prompting: each prompt style's accuracy on the bundled questions."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.style import BLUE, GREY, RED, escape, styled

STYLE_COLOURS = {"direct": GREY, "step_by_step": BLUE, "one_example": RED}  # the page's three prompt styles


def prompting_accuracy_bars(scores: pd.DataFrame, style_names: dict[str, str]) -> go.Figure:
    """Return ``scores`` (``explainer.cot_prompting.scores_table``: style, questions, correct, accuracy,
    mean_new_tokens) as one bar per style, labelled "correct / questions", its height the accuracy; ``style_names``
    names each style in the current language. The hover adds the replies' mean length in tokens."""
    figure = go.Figure(
        go.Bar(
            x=[escape(style_names[style]) for style in scores["style"]],
            y=scores["accuracy"],
            marker_color=[STYLE_COLOURS[style] for style in scores["style"]],
            text=[f"{correct} / {questions}" for correct, questions in zip(scores["correct"], scores["questions"])],
            textposition="outside",
            cliponaxis=False,
            textfont={"size": 14},
            customdata=scores[["mean_new_tokens"]],
            hovertemplate=_("%{x}<br>accuracy %{y:.0%}<br>%{customdata[0]:.0f} tokens a reply on average<extra></extra>"),
        )
    )
    figure.update_layout(
        height=360,
        yaxis={"title": _("accuracy"), "range": [0, 1.12], "tickformat": ".0%"},
        xaxis={"type": "category"},
        showlegend=False,
    )
    return styled(figure, t=30)

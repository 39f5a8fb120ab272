"""The class's guesses for the next word beside the model's distribution (the Class room page)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import _
from explainer.plots.prediction import BAR_TOKEN_FONT
from explainer.plots.style import PALE_BLUE, RED, escape, styled

BAR_HEIGHT = 30  # pixels per bar


def class_and_model_bars(class_guesses: pd.DataFrame, model_top: pd.DataFrame) -> go.Figure:
    """Two panels of horizontal bars: the share of students per guess (``rooms.tally``'s columns guess, share),
    and the model's next-token probabilities (``guessing.top_next``'s columns token, probability)."""
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.18,
                           subplot_titles=(_("the class: share of students"), _("the model: probability")))
    figure.add_trace(go.Bar(x=class_guesses["share"], y=[f"{escape(g)}  " for g in class_guesses["guess"]],
                            orientation="h", marker_color=RED, customdata=class_guesses["students"],
                            hovertemplate=_("%{y}: %{customdata} students (%{x:.0%})<extra></extra>")), row=1, col=1)
    figure.add_trace(go.Bar(x=model_top["probability"], y=[f"{escape(t)}  " for t in model_top["token"]],
                            orientation="h", marker_color=PALE_BLUE,
                            hovertemplate="%{y}: p = %{x:.3f}<extra></extra>"), row=1, col=2)
    figure.update_yaxes(autorange="reversed", type="category", tickfont=BAR_TOKEN_FONT)
    figure.update_xaxes(rangemode="tozero", tickformat=".0%", row=1, col=1)
    figure.update_xaxes(rangemode="tozero", row=1, col=2)
    figure.update_layout(showlegend=False, height=max(320, BAR_HEIGHT * max(len(class_guesses), len(model_top)) + 120))
    return styled(figure)

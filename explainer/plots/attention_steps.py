"""Attention, step by step: q, k and v as strips of numbers, one bar per key, and the heads joined by W_O."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.style import (
    DARK_BLUE,
    GREY,
    INK,
    MASKED_COLOUR,
    SOFT_BLUE,
    TOKEN_FONT,
    category_ticks,
    diverging,
    escape,
    position_label,
    position_labels,
    styled,
)


def vector_strip(table: pd.DataFrame, title: str, divider: int) -> go.Figure:
    """Vectors as a heatmap strip: one row per row of ``table`` (named by its ``vector`` column),
    one column per dimension (``d0`` …); a line separates the rows before ``divider`` from the rest."""
    names = [escape(n) for n in table["vector"]]
    matrix = table.filter(regex=r"^d\d+$").to_numpy()  # (N, d)
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            y=list(range(len(names))),
            customdata=np.array([[n] * matrix.shape[1] for n in names]),  # (N, d)
            hovertemplate=_("%{customdata}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
            **diverging(matrix),
            colorbar={"title": {"text": _("value")}, "thickness": 12},
        )
    )
    figure.add_hline(y=divider - 0.5, line_color=INK, line_width=2)
    figure.update_layout(
        title=title,
        height=max(220, min(720, 16 * len(names) + 110)),
        xaxis={"title": _("dimension (one number of the vector)")},
        yaxis={**category_ticks(names), "autorange": "reversed", "tickfont": TOKEN_FONT},
    )
    return styled(figure, t=40)


def key_bars(table: pd.DataFrame, column: str, axis_title: str, query: int, show_mask: bool) -> go.Figure:
    """One bar per key token (``key_position``, ``key_token``) of ``table[column]``; the query's own key is
    darker. With ``show_mask``, masked keys (``is_masked``) are a grey band marked −∞ instead of bars."""
    masked = table["is_masked"].to_numpy() & show_mask
    values = table[column].where(~masked)  # masked keys: no bar
    tokens = list(table["key_token"])
    figure = go.Figure(
        go.Bar(
            x=table["key_position"],
            y=values,
            marker_color=[DARK_BLUE if j == query else SOFT_BLUE for j in table["key_position"]],
            customdata=[position_label(j, t) for j, t in zip(table["key_position"], tokens)],
            hovertemplate=_("key %{customdata}<br>%{y:.4f}<extra></extra>"),
        )
    )
    if masked.any():
        first, last = np.flatnonzero(masked)[[0, -1]]
        figure.add_vrect(
            x0=first - 0.5, x1=last + 0.5, fillcolor=MASKED_COLOUR, opacity=0.6, line_width=0, layer="below",
            annotation_text=_("−∞ (masked)"), annotation_position="top left",
        )
    figure.update_layout(
        height=300,
        xaxis={**category_ticks(position_labels(tokens)), "title": _("key token j"), "tickangle": -60,
               "range": [-0.5, len(tokens) - 0.5]},
        yaxis={"title": axis_title, "zeroline": True, "zerolinecolor": GREY},
    )
    return styled(figure)


def multi_head_strip(table: pd.DataFrame) -> go.Figure:
    """The concatenated head outputs and their projection by W_O (two rows of D numbers), with a
    line and a label at each head's slot of the concatenation."""
    matrix = table[["concatenated", "projected"]].to_numpy().T  # (2, D)
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            y=["concat(heads)", "× W_O + b"],
            hovertemplate=_("%{y}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
            **diverging(matrix),
            colorbar={"title": {"text": _("value")}, "thickness": 12},
        )
    )
    for head, dimensions in table.groupby("head")["dimension"]:
        if head > 0:
            figure.add_vline(x=dimensions.min() - 0.5, line_color=INK, line_width=1)
        figure.add_annotation(x=dimensions.mean(), y=1.0, yref="paper", yanchor="bottom", text=_("head {h}").format(h=head),
                              showarrow=False)
    figure.update_layout(
        height=230,
        xaxis={"title": _("dimension")},
        yaxis={"autorange": "reversed", "tickfont": TOKEN_FONT},
    )
    return styled(figure, t=30)

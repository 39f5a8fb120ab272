"""Predictions: the next-token distribution, each step of generation, and BERT's guesses at a [MASK]."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import _
from explainer.plots.style import PALE_BLUE, RED, SOFT_BLUE, TOKEN_FONT, escape, styled

BAR_TOKEN_FONT = {**TOKEN_FONT, "size": 14}  # a bar per token (28 px) leaves room for larger tokens


def logit_bars(table: pd.DataFrame) -> go.Figure:
    """The top next tokens' logits (``prediction.distribution_table``'s rows) as horizontal bars: raw scores."""
    labels = [f"{escape(t)}  " for t in table["token"]]
    figure = go.Figure(go.Bar(x=table["logit"], y=labels, orientation="h", marker_color=SOFT_BLUE,
                              hovertemplate=_("%{y}<br>logit = %{x:.3f}<extra></extra>")))
    figure.update_layout(height=max(320, 28 * len(table) + 80),
                         yaxis={"autorange": "reversed", "type": "category", "tickfont": BAR_TOKEN_FONT},
                         xaxis={"title": _("logit (score before softmax)")})
    return styled(figure)


def distribution_bars(table: pd.DataFrame, reshaped: bool) -> go.Figure:
    """Top next tokens as horizontal bars: the model's softmax, and (if ``reshaped``) the sampling distribution."""
    labels = [f"{escape(t)}  " for t in table["token"]]
    figure = go.Figure(
        go.Bar(
            x=table["probability"],
            y=labels,
            orientation="h",
            name="softmax(logits)",
            marker_color=PALE_BLUE,
            hovertemplate="%{y}<br>p = %{x:.4f}<extra>softmax</extra>",
        )
    )
    if reshaped:
        figure.add_bar(
            x=table["sampling_probability"],
            y=labels,
            orientation="h",
            name=_("after temperature / top-k / top-p"),
            marker_color=RED,
            hovertemplate=_("%{y}<br>p = %{x:.4f}<extra>sampling</extra>"),
        )
    figure.update_layout(
        barmode="group",
        height=max(320, 28 * len(table) + 100),
        yaxis={"autorange": "reversed", "type": "category", "tickfont": BAR_TOKEN_FONT},
        xaxis={"title": _("probability"), "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.15},
    )
    return styled(figure)


def generation_step_bars(tokens: list[str], probabilities: list[float], chosen: int) -> go.Figure:
    """One step's distribution (best first) with the token that was picked in red."""
    labels = [f"{rank + 1}. {escape(t)}" for rank, t in enumerate(tokens)]
    figure = go.Figure(
        go.Bar(
            x=probabilities,
            y=labels,
            orientation="h",
            marker_color=[RED if rank == chosen else PALE_BLUE for rank in range(len(tokens))],
            hovertemplate="%{y}<br>p = %{x:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(300, 28 * len(tokens) + 80),
        yaxis={"autorange": "reversed", "type": "category", "tickfont": BAR_TOKEN_FONT},
        xaxis={"title": _("probability it was drawn with"), "rangemode": "tozero"},
    )
    return styled(figure)


def generated_probabilities(tokens: list[str], picked: list[float], model: list[float]) -> go.Figure:
    """For each generated token: its probability where it was picked, and under the plain softmax."""
    labels = [f"{step + 1}. {escape(t)}" for step, t in enumerate(tokens)]
    figure = go.Figure()
    figure.add_bar(x=labels, y=picked, name=_("in the distribution it was drawn from"), marker_color=RED)
    figure.add_bar(x=labels, y=model, name=_("under the plain softmax (T = 1)"), marker_color=PALE_BLUE)
    figure.update_layout(
        barmode="group",
        height=340,
        yaxis={"title": _("probability"), "rangemode": "tozero"},
        xaxis={"type": "category", "tickangle": -60},
        legend={"orientation": "h", "y": 1.12},
    )
    return styled(figure, t=30)


def fill_mask_bars(table: pd.DataFrame) -> go.Figure:
    """The best guesses at each [MASK] (``mask_index``) as horizontal bars, one panel per [MASK]."""
    masks = table.groupby("mask_index", sort=True)
    columns = min(3, masks.ngroups)
    rows = math.ceil(masks.ngroups / columns)
    titles = [_("[MASK] at position {position}").format(position=group["position"].iloc[0]) for __, group in masks]
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.12)
    for index, (__, group) in enumerate(masks):
        figure.add_trace(
            go.Bar(
                x=group["probability"],
                y=[f"{rank}. {escape(t)}" for rank, t in zip(group["rank"], group["token"])],
                orientation="h",
                marker_color=PALE_BLUE,
                hovertemplate="%{y}<br>p = %{x:.4f}<extra></extra>",
            ),
            row=index // columns + 1,
            col=index % columns + 1,
        )
    guesses = int(masks.size().max())
    figure.update_yaxes(autorange="reversed", type="category", tickfont=BAR_TOKEN_FONT)
    figure.update_xaxes(title=_("probability"), rangemode="tozero")
    figure.update_layout(height=rows * (26 * guesses + 90), showlegend=False)
    return styled(figure, t=40)

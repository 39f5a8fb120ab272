"""Embeddings and positions: the vectors as heatmaps, a 2D map of tokens, and their cosine similarities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import N_, _
from explainer.plots.style import (
    BLUE,
    RED,
    TICK_FONT,
    TOKEN_FONT,
    category_ticks,
    diverging,
    escape,
    label_pairs,
    position_labels,
    styled,
)


def embedding_strips(parts: dict[str, np.ndarray], labels: list[str], offset: int = 0) -> go.Figure:
    """Aligned heatmaps, one per named part (each (T, D): tokens × dimensions), stacked so a column is the
    same dimension in every part; each part has its own symmetric colour bar."""
    names = position_labels(labels, offset)
    height = len(parts) * (max(90, 16 * len(labels)) + 60) + 60  # pixels: 16 per token row, 60 per panel title
    figure = make_subplots(rows=len(parts), cols=1, shared_xaxes=True, vertical_spacing=60 / height,
                           subplot_titles=[escape(name) for name in parts])
    for index, matrix in enumerate(parts.values()):
        domain = figure.layout[f"yaxis{index + 1 if index else ''}"].domain
        figure.add_trace(
            go.Heatmap(
                z=matrix,
                y=names,
                hovertemplate=_("%{y}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
                **diverging(matrix),
                colorbar={"thickness": 12, "y": sum(domain) / 2, "len": domain[1] - domain[0], "yanchor": "middle"},
            ),
            row=index + 1,
            col=1,
        )
    figure.update_yaxes(autorange="reversed", type="category", tickmode="array", tickvals=names, tickfont=TOKEN_FONT)
    figure.update_xaxes(title=_("dimension (one number of the vector)"), row=len(parts), col=1)
    figure.update_layout(height=height)
    return styled(figure, t=30)


def token_map_scatter(points: pd.DataFrame, kept: np.ndarray) -> go.Figure:
    """Tokens (``token``, ``id``, ``group``, ``x``, ``y``) as labelled points on their 2D PCA map."""
    figure = go.Figure()
    for group, colour in ((N_("your text"), BLUE), (N_("your words"), RED)):  # the ``group`` values
        shown = points[points["group"] == group]
        figure.add_trace(
            go.Scatter(
                x=shown["x"],
                y=shown["y"],
                mode="markers+text",
                name=_(group),
                text=[escape(t) for t in shown["token"]],
                textposition="top center",
                textfont={**TOKEN_FONT, "size": TICK_FONT["size"]},
                marker={"color": colour, "size": 9},
                customdata=shown["id"],
                hovertemplate="%{text}<br>id %{customdata}<extra></extra>",
            )
        )
    figure.update_layout(
        height=560,
        xaxis={"title": _("direction 1 ({share:.0%} of the spread)").format(share=kept[0]), "zeroline": False},
        yaxis={"title": _("direction 2 ({share:.0%} of the spread)").format(share=kept[1]), "zeroline": False},
        legend={"orientation": "h", "y": 1.06},
    )
    return styled(figure, t=30)


def similarity_heatmap(matrix: np.ndarray, labels: list[str], offset: int = 0) -> go.Figure:
    """Cosine similarities (T, T) between tokens, from −1 (opposite) through 0 to 1 (same direction), coloured
    blue for negative and red for positive (``diverging``)."""
    names = position_labels(labels, offset)
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            customdata=label_pairs(names, names),  # (T, T, 2)
            hovertemplate=_("%{customdata[0]}<br>%{customdata[1]}<br>cosine %{z:.3f}<extra></extra>"),
            **diverging(matrix),
            colorbar={"title": {"text": _("cosine")}},
        )
    )
    ticks = category_ticks(names)
    figure.update_layout(
        height=max(360, min(760, 22 * len(labels) + 160)),
        xaxis={**ticks, "side": "top", "tickangle": -60},
        yaxis={**ticks, "autorange": "reversed"},
    )
    return styled(figure, t=10)


def position_heatmaps(sinusoidal: np.ndarray, learned: np.ndarray | None) -> go.Figure:
    """The sinusoidal encoding (N, D) beside the model's learned position embeddings (N, D) when it has them."""
    panels = {_("sinusoidal: a fixed formula"): sinusoidal}
    if learned is not None:
        panels[_("learned by this model")] = learned
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.16)
    for index, matrix in enumerate(panels.values()):
        domain = figure.layout[f"xaxis{index + 1 if index else ''}"].domain
        figure.add_trace(
            go.Heatmap(
                z=matrix,
                hovertemplate=_("position %{y}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
                **diverging(matrix),
                colorbar={"thickness": 12, "x": domain[1] + 0.01, "xanchor": "left"},
            ),
            row=1,
            col=index + 1,
        )
    figure.update_xaxes(title=_("dimension"))
    figure.update_yaxes(autorange="reversed")
    figure.update_yaxes(title=_("position"), row=1, col=1)
    figure.update_layout(height=max(360, min(620, 4 * len(sinusoidal) + 160)))
    return styled(figure, t=40)

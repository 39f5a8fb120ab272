"""Attention maps: one head, every head of a layer, GPT beside BERT, and generated tokens over the text."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import _
from explainer.plots.style import ATTENTION_SCALE, MASKED_COLOUR, category_ticks, label_pairs, position_labels, styled

GRID_TICK_LABELS = 12  # token labels per axis of a small panel of the all-heads grid


def _mask_future(matrix: np.ndarray, causal: bool) -> np.ndarray:
    """Return a copy with the causal mask (cells above the diagonal) as NaN, drawn grey."""
    if not causal:
        return matrix
    shown = matrix.astype(float).copy()
    shown[np.triu_indices_from(shown, k=1)] = np.nan
    return shown


def _heatmap_trace(matrix: np.ndarray, labels: list[str], causal: bool, offset: int, showscale: bool) -> go.Heatmap:
    """The heatmap of one head's weights (T, T), its hover naming the query and the key."""
    names = position_labels(labels, offset)
    return go.Heatmap(
        z=_mask_future(matrix, causal),
        customdata=label_pairs(names, names),  # (T, T, 2)
        hovertemplate=_("query %{customdata[0]}<br>key %{customdata[1]}<br>weight %{z:.4f}<extra></extra>"),
        colorscale=ATTENTION_SCALE,
        zmin=0,
        zmax=1,
        showscale=showscale,
        colorbar={"title": {"text": _("weight")}},
    )


def attention_heatmap(matrix: np.ndarray, labels: list[str], causal: bool, title: str, offset: int = 0) -> go.Figure:
    """One head's attention (T, T): rows are queries, columns keys; grey cells are masked."""
    size = max(360, min(760, 22 * len(labels) + 160))
    ticks = category_ticks(position_labels(labels, offset))
    figure = go.Figure(_heatmap_trace(matrix, labels, causal, offset, showscale=True))
    figure.update_layout(
        title=title,
        height=size,
        plot_bgcolor=MASKED_COLOUR,
        xaxis={**ticks, "title": _("key (the token attended to)"), "side": "top", "tickangle": -60},
        yaxis={**ticks, "title": _("query (the token attending)"), "autorange": "reversed"},
    )
    return styled(figure, t=50)


def narrow_attention_heatmap(matrix: np.ndarray, labels: list[str], causal: bool, title: str) -> go.Figure:
    """``attention_heatmap`` for a half-width column: the title goes above the key axis, not over its labels."""
    figure = attention_heatmap(matrix, labels, causal, title)
    figure.update_layout(title={"y": 0.99, "yanchor": "top"}, margin={"t": 130}, height=figure.layout.height + 60)
    return figure


def head_grid(layer_weights: np.ndarray, labels: list[str], causal: bool, offset: int = 0) -> go.Figure:
    """All heads of one layer (H, T, T) as small heatmaps, plus their mean as the last panel."""
    heads = layer_weights.shape[0]
    panels = [*layer_weights, layer_weights.mean(axis=0)]  # H + 1 of (T, T)
    titles = [_("head {h}").format(h=h) for h in range(heads)] + [_("mean of heads")]
    columns = min(len(panels), 5 if len(panels) > 8 else 4 if len(panels) > 3 else len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.06)
    ticks = category_ticks(position_labels(labels, offset), most=GRID_TICK_LABELS)
    for index, matrix in enumerate(panels):
        row, column = index // columns + 1, index % columns + 1
        figure.add_trace(_heatmap_trace(matrix, labels, causal, offset, showscale=index == 0), row=row, col=column)
        figure.update_yaxes(**ticks, showticklabels=column == 1, autorange="reversed", row=row, col=column)
        nothing_below = index + columns >= len(panels)  # the keys are named under the lowest panel of each column
        figure.update_xaxes(**ticks, showticklabels=nothing_below, tickangle=-60, row=row, col=column)
    figure.update_yaxes(automargin=True)
    figure.update_layout(height=260 * rows + 110, plot_bgcolor=MASKED_COLOUR)
    return styled(figure, t=40, b=90)


def attention_rows(matrix: np.ndarray, row_labels: list[str], column_labels: list[str], title: str) -> go.Figure:
    """A rectangular attention map (R, C) (rows attend to columns), e.g. generated tokens over the whole text.

    Row r is the token at text position ``len(column_labels) - len(row_labels) + r``; the columns after
    it are the future a causal model may not see, drawn grey.
    """
    first = len(column_labels) - len(row_labels)
    future = np.arange(len(column_labels))[None, :] > first + np.arange(len(row_labels))[:, None]  # (R, C)
    rows = position_labels(row_labels, first)
    columns = position_labels(column_labels)
    figure = go.Figure(
        go.Heatmap(
            z=np.where(future, np.nan, matrix),
            customdata=label_pairs(rows, columns),  # (R, C, 2)
            hovertemplate=_("%{customdata[0]} attends to %{customdata[1]}<br>weight %{z:.4f}<extra></extra>"),
            colorscale=ATTENTION_SCALE,
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": _("weight")}},
        )
    )
    figure.update_layout(
        title={"text": title, "x": 0, "y": 0.995, "yref": "container", "yanchor": "top"},
        height=max(300, 26 * len(rows) + 240),
        plot_bgcolor=MASKED_COLOUR,
        xaxis={**category_ticks(columns), "side": "top", "tickangle": -60, "showgrid": False},
        yaxis={**category_ticks(rows), "autorange": "reversed", "showgrid": False},
    )
    return styled(figure, t=130)

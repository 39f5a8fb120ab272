"""Every Plotly figure of the app, built from explainer data.

Token strings reach Plotly only through ``_label``, which escapes the
characters Plotly would read as its own HTML-like markup.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.loss import GLTR_COLOURS

PLOTLY_CONFIG = {  # passed to st.plotly_chart: the camera button saves a PNG
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
ATTENTION_SCALE = "Blues"
MASKED_COLOUR = "#d9d9d9"
MAX_TICK_LABELS = 40


def _label(token: str) -> str:
    return html.escape(token, quote=False)


def _ticks(labels: list[str]) -> dict:
    """Axis ticks at every position (or every n-th when long), labelled with escaped tokens."""
    step = max(1, math.ceil(len(labels) / MAX_TICK_LABELS))
    positions = list(range(0, len(labels), step))
    return {"tickmode": "array", "tickvals": positions, "ticktext": [_label(labels[p]) for p in positions]}


def _hover_pairs(labels: list[str], offset: int = 0) -> np.ndarray:
    """(T, T, 2) strings: the query and key token of every cell, with their positions."""
    named = [f"{offset + i}: {_label(t)}" for i, t in enumerate(labels)]
    return np.array([[[q, k] for k in named] for q in named])


def _mask_future(matrix: np.ndarray, causal: bool) -> np.ndarray:
    """Return a copy with the causal mask (cells above the diagonal) as NaN, drawn grey."""
    if not causal:
        return matrix
    shown = matrix.astype(float).copy()
    shown[np.triu_indices_from(shown, k=1)] = np.nan
    return shown


def _heatmap_trace(matrix: np.ndarray, labels: list[str], causal: bool, offset: int, showscale: bool) -> go.Heatmap:
    return go.Heatmap(
        z=_mask_future(matrix, causal),
        customdata=_hover_pairs(labels, offset),
        hovertemplate="query %{customdata[0]}<br>key %{customdata[1]}<br>weight %{z:.4f}<extra></extra>",
        colorscale=ATTENTION_SCALE,
        zmin=0,
        zmax=1,
        showscale=showscale,
        colorbar={"title": {"text": "weight"}},
    )


def attention_heatmap(matrix: np.ndarray, labels: list[str], causal: bool, title: str, offset: int = 0) -> go.Figure:
    """One head's attention (T, T): rows are queries, columns keys; grey cells are masked."""
    size = max(360, min(760, 22 * len(labels) + 160))
    figure = go.Figure(_heatmap_trace(matrix, labels, causal, offset, showscale=True))
    figure.update_layout(
        title=title,
        height=size,
        plot_bgcolor=MASKED_COLOUR,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={**_ticks(labels), "title": "key (the token attended to)", "side": "top", "tickangle": -60},
        yaxis={**_ticks(labels), "title": "query (the token attending)", "autorange": "reversed"},
    )
    return figure


def head_grid(layer_weights: np.ndarray, labels: list[str], causal: bool, offset: int = 0) -> go.Figure:
    """All heads of one layer (H, T, T) as small heatmaps, plus their mean as the last panel."""
    heads = layer_weights.shape[0]
    panels = [*layer_weights, layer_weights.mean(axis=0)]
    titles = [f"head {h}" for h in range(heads)] + ["mean of heads"]
    columns = min(len(panels), 5 if len(panels) > 8 else 4 if len(panels) > 3 else len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.03, vertical_spacing=0.06)
    for index, matrix in enumerate(panels):
        trace = _heatmap_trace(matrix, labels, causal, offset, showscale=index == 0)
        figure.add_trace(trace, row=index // columns + 1, col=index % columns + 1)
    figure.update_xaxes(showticklabels=False)
    figure.update_yaxes(showticklabels=False, autorange="reversed")
    figure.update_layout(height=260 * rows + 40, plot_bgcolor=MASKED_COLOUR, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def distribution_bars(table: pd.DataFrame, reshaped: bool) -> go.Figure:
    """Top next tokens as horizontal bars: the model's softmax, and (if ``reshaped``) the sampling distribution."""
    labels = [f"{_label(t)}  " for t in table["token"]]
    figure = go.Figure(
        go.Bar(
            x=table["probability"],
            y=labels,
            orientation="h",
            name="softmax(logits)",
            marker_color="#9db7d5",
            hovertemplate="%{y}<br>p = %{x:.4f}<extra>softmax</extra>",
        )
    )
    if reshaped:
        figure.add_bar(
            x=table["sampling_probability"],
            y=labels,
            orientation="h",
            name="after temperature / top-k / top-p",
            marker_color="#e4572e",
            hovertemplate="%{y}<br>p = %{x:.4f}<extra>sampling</extra>",
        )
    figure.update_layout(
        barmode="group",
        height=max(320, 28 * len(table) + 100),
        yaxis={"autorange": "reversed", "type": "category", "tickfont": {"family": "monospace", "size": 14}},
        xaxis={"title": "probability", "rangemode": "tozero"},
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def loss_bars(table: pd.DataFrame) -> go.Figure:
    """−log p of each token as bars, coloured by GLTR rank bucket."""
    scored = table[table["bucket"] != ""]
    figure = go.Figure(
        go.Bar(
            x=scored["position"],
            y=scored["neg_log_p"],
            marker_color=[GLTR_COLOURS[b] for b in scored["bucket"]],
            customdata=np.stack([[_label(t) for t in scored["token"]], scored["p"], scored["rank"]], axis=-1),
            hovertemplate="%{customdata[0]}<br>−log p = %{y:.3f}<br>p = %{customdata[1]:.4f}<br>"
            "rank %{customdata[2]}<extra></extra>",
        )
    )
    figure.update_layout(
        height=340,
        xaxis={**_ticks(list(table["token"])), "title": "token", "tickangle": -60},
        yaxis={"title": "−log p (nats)", "rangemode": "tozero"},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def token_count_bars(counts: dict[str, int], characters: int) -> go.Figure:
    """How many tokens each tokenizer needs for the same text, against its character count."""
    names = list(counts)
    figure = go.Figure(go.Bar(x=[counts[n] for n in names], y=names, orientation="h", marker_color="#6c8ebf"))
    figure.add_vline(x=characters, line_dash="dot", annotation_text=f"{characters} characters")
    figure.update_layout(
        height=80 + 40 * len(names),
        xaxis={"title": "tokens"},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


# ------------------------------------------------------------- generation


def generation_step_bars(tokens: list[str], probabilities: list[float], chosen: int) -> go.Figure:
    """One step's distribution (best first) with the token that was picked in red."""
    labels = [f"{rank + 1}. {_label(t)}" for rank, t in enumerate(tokens)]
    figure = go.Figure(
        go.Bar(
            x=probabilities,
            y=labels,
            orientation="h",
            marker_color=["#e4572e" if rank == chosen else "#9db7d5" for rank in range(len(tokens))],
            hovertemplate="%{y}<br>p = %{x:.4f}<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(300, 28 * len(tokens) + 80),
        yaxis={"autorange": "reversed", "type": "category", "tickfont": {"family": "monospace", "size": 14}},
        xaxis={"title": "probability it was drawn with", "rangemode": "tozero"},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def generated_probabilities(tokens: list[str], picked: list[float], model: list[float]) -> go.Figure:
    """For each generated token: its probability where it was picked, and under the plain softmax."""
    labels = [f"{step + 1}. {_label(t)}" for step, t in enumerate(tokens)]
    figure = go.Figure()
    figure.add_bar(x=labels, y=picked, name="in the distribution it was drawn from", marker_color="#e4572e")
    figure.add_bar(x=labels, y=model, name="under the plain softmax (T = 1)", marker_color="#9db7d5")
    figure.update_layout(
        barmode="group",
        height=340,
        yaxis={"title": "probability", "rangemode": "tozero"},
        xaxis={"type": "category", "tickangle": -60},
        legend={"orientation": "h", "y": 1.12},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def attention_rows(matrix: np.ndarray, row_labels: list[str], column_labels: list[str], title: str) -> go.Figure:
    """A rectangular attention map (rows attend to columns), e.g. generated tokens over the whole text."""
    rows = [f"{i}: {_label(t)}" for i, t in enumerate(row_labels)]
    columns = [f"{i}: {_label(t)}" for i, t in enumerate(column_labels)]
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            customdata=np.array([[[r, c] for c in columns] for r in rows]),
            hovertemplate="%{customdata[0]} attends to %{customdata[1]}<br>weight %{z:.4f}<extra></extra>",
            colorscale=ATTENTION_SCALE,
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": "weight"}},
        )
    )
    figure.update_layout(
        title=title,
        height=max(260, 26 * len(rows) + 200),
        xaxis={**_ticks(column_labels), "side": "top", "tickangle": -60},
        yaxis={**_ticks(row_labels), "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
    )
    return figure

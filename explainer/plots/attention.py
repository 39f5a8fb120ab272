"""Every Plotly figure of the app, built from explainer data.

Token strings reach Plotly only through ``_label``, which escapes the
characters Plotly would read as its own HTML-like markup. Titles, axes,
legends and hover text are in the current language (``explainer.i18n``);
Plotly's own ``%{...}`` placeholders stay inside the translated templates.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import N_, _
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
    figure = go.Figure(_heatmap_trace(matrix, labels, causal, offset, showscale=True))
    figure.update_layout(
        title=title,
        height=size,
        plot_bgcolor=MASKED_COLOUR,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={**_ticks(labels), "title": _("key (the token attended to)"), "side": "top", "tickangle": -60},
        yaxis={**_ticks(labels), "title": _("query (the token attending)"), "autorange": "reversed"},
    )
    return figure


def head_grid(layer_weights: np.ndarray, labels: list[str], causal: bool, offset: int = 0) -> go.Figure:
    """All heads of one layer (H, T, T) as small heatmaps, plus their mean as the last panel."""
    heads = layer_weights.shape[0]
    panels = [*layer_weights, layer_weights.mean(axis=0)]
    titles = [_("head {h}").format(h=h) for h in range(heads)] + [_("mean of heads")]
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
            name=_("after temperature / top-k / top-p"),
            marker_color="#e4572e",
            hovertemplate=_("%{y}<br>p = %{x:.4f}<extra>sampling</extra>"),
        )
    figure.update_layout(
        barmode="group",
        height=max(320, 28 * len(table) + 100),
        yaxis={"autorange": "reversed", "type": "category", "tickfont": {"family": "monospace", "size": 14}},
        xaxis={"title": _("probability"), "rangemode": "tozero"},
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
            hovertemplate=_("%{customdata[0]}<br>−log p = %{y:.3f}<br>p = %{customdata[1]:.4f}<br>"
                            "rank %{customdata[2]}<extra></extra>"),
        )
    )
    figure.update_layout(
        height=340,
        xaxis={**_ticks(list(table["token"])), "title": _("token"), "tickangle": -60},
        yaxis={"title": _("−log p (nats)"), "rangemode": "tozero"},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def token_count_bars(counts: dict[str, int], characters: int) -> go.Figure:
    """How many tokens each tokenizer needs for the same text, against its character count."""
    names = list(counts)
    figure = go.Figure(go.Bar(x=[counts[n] for n in names], y=names, orientation="h", marker_color="#6c8ebf"))
    figure.add_vline(x=characters, line_dash="dot", annotation_text=_("{n} characters").format(n=characters),
                     annotation_position="top")  # above the bars, not over the first one
    figure.update_layout(
        height=80 + 40 * len(names),
        xaxis={"title": _("tokens")},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


SENTENCE_COLOURS = {"zh": "#e4572e", "en": "#6c8ebf"}  # language code -> bar colour
SENTENCE_NAMES = {"zh": N_("Chinese sentence"), "en": N_("English sentence")}  # legend, shown with ``_()``


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
            y=[_label(name) for name in rows["name"]],
            orientation="h",
            name=_(SENTENCE_NAMES.get(language, language)),
            marker_color=SENTENCE_COLOURS.get(language, "#999999"),
            customdata=np.stack([rows["tokens"], rows["characters"]], axis=-1),
            text=[f"{value:.2f}" for value in rows["tokens_per_character"]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate=_("%{y}<br>%{customdata[0]} tokens ÷ %{customdata[1]} characters "
                            "= %{x:.2f} tokens per character<extra></extra>"),
        )
    figure.add_vline(x=1, line_dash="dot", line_color="#888",
                     annotation_text=_("1 token per character"), annotation_position="top")
    figure.update_layout(
        barmode="group",
        title=_("Tokens per character: the same sentence in Chinese and in English"),
        height=130 + 48 * len(names),
        xaxis={"title": _("tokens per character"), "rangemode": "tozero",
               "range": [0, 1.15 * max(1.0, float(table["tokens_per_character"].max()))]},
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": [_label(n) for n in names]},
        legend={"orientation": "h", "y": -0.18, "x": 0},
        margin={"l": 10, "r": 30, "t": 60, "b": 10},
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
        xaxis={"title": _("probability it was drawn with"), "rangemode": "tozero"},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def generated_probabilities(tokens: list[str], picked: list[float], model: list[float]) -> go.Figure:
    """For each generated token: its probability where it was picked, and under the plain softmax."""
    labels = [f"{step + 1}. {_label(t)}" for step, t in enumerate(tokens)]
    figure = go.Figure()
    figure.add_bar(x=labels, y=picked, name=_("in the distribution it was drawn from"), marker_color="#e4572e")
    figure.add_bar(x=labels, y=model, name=_("under the plain softmax (T = 1)"), marker_color="#9db7d5")
    figure.update_layout(
        barmode="group",
        height=340,
        yaxis={"title": _("probability"), "rangemode": "tozero"},
        xaxis={"type": "category", "tickangle": -60},
        legend={"orientation": "h", "y": 1.12},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def attention_rows(matrix: np.ndarray, row_labels: list[str], column_labels: list[str], title: str) -> go.Figure:
    """A rectangular attention map (rows attend to columns), e.g. generated tokens over the whole text.

    Row r is the token at text position ``len(column_labels) - len(row_labels) + r``; the columns after
    it are the future a causal model may not see, drawn grey.
    """
    first = len(column_labels) - len(row_labels)
    future = np.arange(len(column_labels))[None, :] > first + np.arange(len(row_labels))[:, None]  # (R, C)
    rows = [f"{first + i}: {_label(t)}" for i, t in enumerate(row_labels)]
    columns = [f"{i}: {_label(t)}" for i, t in enumerate(column_labels)]
    figure = go.Figure(
        go.Heatmap(
            z=np.where(future, np.nan, matrix),
            customdata=np.array([[[r, c] for c in columns] for r in rows]),
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
        xaxis={**_ticks(column_labels), "side": "top", "tickangle": -60, "showgrid": False},
        yaxis={**_ticks(row_labels), "autorange": "reversed", "showgrid": False},
        margin={"l": 10, "r": 10, "t": 130, "b": 10},
    )
    return figure


# ------------------------------------------------ attention, step by step

VECTOR_SCALE = "RdBu_r"  # diverging: negative blue, zero white, positive red
BAR_COLOUR = "#6c8ebf"


def vector_strip(table: pd.DataFrame, title: str, divider: int) -> go.Figure:
    """Vectors as a heatmap strip: one row per row of ``table`` (named by its ``vector`` column),
    one column per dimension (``d0`` …); a line separates the rows before ``divider`` from the rest."""
    names = [_label(n) for n in table["vector"]]
    matrix = table.filter(regex=r"^d\d+$").to_numpy()  # (N, d)
    limit = float(np.abs(matrix).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            y=list(range(len(names))),
            customdata=np.array([[n] * matrix.shape[1] for n in names]),
            hovertemplate=_("%{customdata}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
            colorscale=VECTOR_SCALE,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": {"text": _("value")}, "thickness": 12},
        )
    )
    figure.add_hline(y=divider - 0.5, line_color="black", line_width=2)
    figure.update_layout(
        title=title,
        height=max(220, min(720, 16 * len(names) + 110)),
        xaxis={"title": _("dimension (one number of the vector)")},
        yaxis={**_ticks(list(table["vector"])), "autorange": "reversed", "tickfont": {"family": "monospace"}},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure


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
            marker_color=["#1f3f73" if j == query else BAR_COLOUR for j in table["key_position"]],
            customdata=[f"{j}: {_label(t)}" for j, t in zip(table["key_position"], tokens)],
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
        xaxis={**_ticks(tokens), "title": _("key token j"), "tickangle": -60, "range": [-0.5, len(tokens) - 0.5]},
        yaxis={"title": axis_title, "zeroline": True, "zerolinecolor": "#888"},
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return figure


def multi_head_strip(table: pd.DataFrame) -> go.Figure:
    """The concatenated head outputs and their projection by W_O (two rows of D numbers), with a
    line and a label at each head's slot of the concatenation."""
    matrix = table[["concatenated", "projected"]].to_numpy().T  # (2, D)
    limit = float(np.abs(matrix).max()) or 1.0
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            y=["concat(heads)", "× W_O + b"],
            hovertemplate=_("%{y}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
            colorscale=VECTOR_SCALE,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": {"text": _("value")}, "thickness": 12},
        )
    )
    for head, dimensions in table.groupby("head")["dimension"]:
        if head > 0:
            figure.add_vline(x=dimensions.min() - 0.5, line_color="black", line_width=1)
        figure.add_annotation(x=dimensions.mean(), y=1.0, yref="paper", yanchor="bottom", text=_("head {h}").format(h=head),
                              showarrow=False)
    figure.update_layout(
        height=230,
        xaxis={"title": _("dimension")},
        yaxis={"autorange": "reversed", "tickfont": {"family": "monospace"}},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


# ------------------------------------------------------------ GPT vs BERT


def narrow_attention_heatmap(matrix: np.ndarray, labels: list[str], causal: bool, title: str) -> go.Figure:
    """``attention_heatmap`` for a half-width column: the title goes above the key axis, not over its labels."""
    figure = attention_heatmap(matrix, labels, causal, title)
    figure.update_layout(title={"y": 0.99, "yanchor": "top"}, margin={"t": 130}, height=figure.layout.height + 60)
    return figure


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
                y=[f"{rank}. {_label(t)}" for rank, t in zip(group["rank"], group["token"])],
                orientation="h",
                marker_color="#9db7d5",
                hovertemplate="%{y}<br>p = %{x:.4f}<extra></extra>",
            ),
            row=index // columns + 1,
            col=index % columns + 1,
        )
    guesses = int(masks.size().max())
    figure.update_yaxes(autorange="reversed", type="category", tickfont={"family": "monospace", "size": 14})
    figure.update_xaxes(title=_("probability"), rangemode="tozero")
    figure.update_layout(height=rows * (26 * guesses + 90), showlegend=False,
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


# ------------------------------------------------- embeddings and logit lens

LENS_CELL_CHARACTERS = 12  # longer top tokens are cut in the cell (the hover shows them whole)


def _symmetric_limit(matrix: np.ndarray) -> float:
    """A colour range ±limit that a few outlier dimensions can't wash out: the 99th percentile of |values|."""
    return float(np.percentile(np.abs(matrix), 99)) or 1.0


def _position_labels(labels: list[str], offset: int) -> list[str]:
    """Unique category names "position: token" (escaped), so a repeated token keeps its own row."""
    return [f"{offset + i}: {_label(t)}" for i, t in enumerate(labels)]


def embedding_strips(parts: dict[str, np.ndarray], labels: list[str], offset: int = 0) -> go.Figure:
    """Aligned heatmaps, one per named part (each (T, D): tokens × dimensions), stacked so a column is the
    same dimension in every part; each part has its own symmetric colour bar."""
    names = _position_labels(labels, offset)
    height = len(parts) * (max(90, 16 * len(labels)) + 60) + 60  # pixels: 16 per token row, 60 per panel title
    figure = make_subplots(rows=len(parts), cols=1, shared_xaxes=True, vertical_spacing=60 / height,
                           subplot_titles=[_label(name) for name in parts])
    for index, matrix in enumerate(parts.values()):
        limit = _symmetric_limit(matrix)
        domain = figure.layout[f"yaxis{index + 1 if index else ''}"].domain
        figure.add_trace(
            go.Heatmap(
                z=matrix,
                y=names,
                hovertemplate=_("%{y}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
                colorscale=VECTOR_SCALE,
                zmin=-limit,
                zmax=limit,
                colorbar={"thickness": 12, "y": sum(domain) / 2, "len": domain[1] - domain[0], "yanchor": "middle"},
            ),
            row=index + 1,
            col=1,
        )
    figure.update_yaxes(autorange="reversed", type="category", tickmode="array", tickvals=names,
                        tickfont={"family": "monospace", "size": 11})
    figure.update_xaxes(title=_("dimension (one number of the vector)"), row=len(parts), col=1)
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def token_map_scatter(points: pd.DataFrame, kept: np.ndarray) -> go.Figure:
    """Tokens (``token``, ``id``, ``group``, ``x``, ``y``) as labelled points on their 2D PCA map."""
    figure = go.Figure()
    for group, colour in ((N_("your text"), "#3b6fb6"), (N_("your words"), "#e4572e")):  # the ``group`` values
        shown = points[points["group"] == group]
        figure.add_trace(
            go.Scatter(
                x=shown["x"],
                y=shown["y"],
                mode="markers+text",
                name=_(group),
                text=[_label(t) for t in shown["token"]],
                textposition="top center",
                textfont={"family": "monospace", "size": 13},
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
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return figure


def similarity_heatmap(matrix: np.ndarray, labels: list[str], offset: int = 0) -> go.Figure:
    """Cosine similarities (T, T) between tokens, from −1 (opposite, blue) through 0 to 1 (same direction, red)."""
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            customdata=_hover_pairs(labels, offset),
            hovertemplate=_("%{customdata[0]}<br>%{customdata[1]}<br>cosine %{z:.3f}<extra></extra>"),
            colorscale=VECTOR_SCALE,
            zmin=-1,
            zmax=1,
            colorbar={"title": {"text": _("cosine")}},
        )
    )
    figure.update_layout(
        height=max(360, min(760, 22 * len(labels) + 160)),
        xaxis={**_ticks(labels), "side": "top", "tickangle": -60},
        yaxis={**_ticks(labels), "autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


def position_heatmaps(sinusoidal: np.ndarray, learned: np.ndarray | None) -> go.Figure:
    """The sinusoidal encoding (N, D) beside the model's learned position embeddings (N, D) when it has them."""
    panels = {_("sinusoidal: a fixed formula"): sinusoidal}
    if learned is not None:
        panels[_("learned by this model")] = learned
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.16)
    for index, matrix in enumerate(panels.values()):
        limit = _symmetric_limit(matrix)
        domain = figure.layout[f"xaxis{index + 1 if index else ''}"].domain
        figure.add_trace(
            go.Heatmap(
                z=matrix,
                hovertemplate=_("position %{y}<br>dimension %{x}<br>%{z:.4f}<extra></extra>"),
                colorscale=VECTOR_SCALE,
                zmin=-limit,
                zmax=limit,
                colorbar={"thickness": 12, "x": domain[1] + 0.01, "xanchor": "left"},
            ),
            row=1,
            col=index + 1,
        )
    figure.update_xaxes(title=_("dimension"))
    figure.update_yaxes(autorange="reversed")
    figure.update_yaxes(title=_("position"), row=1, col=1)
    figure.update_layout(height=max(360, min(620, 4 * len(sinusoidal) + 160)), margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return figure


def _cell_text(token: str) -> str:
    short = token if len(token) <= LENS_CELL_CHARACTERS else token[: LENS_CELL_CHARACTERS - 1] + "…"
    return _label(short)


def logit_lens_heatmap(final_probabilities: np.ndarray, top_tokens: list[list[str]], top_probabilities: np.ndarray,
                       final_tokens: list[str], labels: list[str], row_names: list[str], offset: int = 0) -> go.Figure:
    """The logit lens, given as (R, W) arrays of layers × the positions of ``labels``, drawn with one row per
    position (the text reads downwards) and one column per layer (embeddings on the left, output on the right),
    so each cell has room for its top guess. Colour: the probability of the final prediction."""
    inputs = [f"{offset + t}: {_label(token)}" for t, token in enumerate(labels)]
    customdata = np.array(
        [[[_label(top_tokens[r][t]), f"{top_probabilities[r, t]:.3f}", _label(final_tokens[t])]
          for r in range(len(row_names))] for t in range(len(labels))]
    )  # (W, R, 3)
    figure = go.Figure(
        go.Heatmap(
            z=final_probabilities.T,  # (W, R)
            x=row_names,
            y=inputs,
            text=[[_cell_text(top_tokens[r][t]) for r in range(len(row_names))] for t in range(len(labels))],
            texttemplate="%{text}",
            textfont={"family": "monospace", "size": 12},
            customdata=customdata,
            hovertemplate=_("input %{y}<br>%{x}<br>top guess: %{customdata[0]} (p = %{customdata[1]})<br>"
                            "final prediction %{customdata[2]}: p = %{z:.3f}<extra></extra>"),
            colorscale=ATTENTION_SCALE,
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": _("p(final<br>prediction)")}},
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        height=max(300, 24 * len(labels) + 110),
        xaxis={"type": "category", "side": "top"},
        yaxis={"type": "category", "autorange": "reversed", "title": _("input token"),
               "tickfont": {"family": "monospace", "size": 12}},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return figure


# ------------------------------------------------------------------ training


def training_curves(table: pd.DataFrame) -> go.Figure:
    """Train and validation loss (nats) against tokens seen, with perplexity = e^loss on the right axis.

    ``table`` is ``explainer.training.evaluation_table``'s.
    """
    figure = go.Figure()
    for column, name, colour in (("train_loss", _("train loss"), "#1f77b4"), ("val_loss", _("validation loss"), "#d62728")):
        figure.add_trace(go.Scatter(
            x=table["tokens_seen"], y=table[column], name=name, mode="lines+markers",
            line={"color": colour}, customdata=np.exp(table[column]),
            hovertemplate=_("%{x:,} tokens<br>loss %{y:.3f} nats<br>perplexity %{customdata:.1f}<extra>{name}</extra>")
            .replace("{name}", name),
        ))
    losses = table[["train_loss", "val_loss"]].to_numpy()
    low, high = (float(np.nanmin(losses)) - 0.2, float(np.nanmax(losses)) + 0.2) if len(table) else (0.0, 9.0)
    ticks = np.linspace(low, high, 6)
    figure.update_layout(
        height=380, margin={"t": 30, "b": 40, "l": 60, "r": 70}, legend={"orientation": "h", "y": 1.12},
        xaxis={"title": _("tokens seen in training")},
        yaxis={"title": _("loss (nats per token)"), "range": [low, high]},
        yaxis2={"title": _("perplexity"), "overlaying": "y", "side": "right", "range": [low, high],
                "tickmode": "array", "tickvals": ticks, "ticktext": [f"{math.exp(t):.0f}" for t in ticks],
                "showgrid": False},
    )
    figure.add_trace(go.Scatter(x=[], y=[], yaxis="y2", showlegend=False))  # makes the right axis appear
    return figure


def log_axis(title: str, values) -> dict:
    """A plotly log axis whose ticks are 1, 2, 5 × powers of ten within ``values``, labelled 200k, 1M…"""
    values = np.asarray(values, dtype=float)
    low, high = float(values[values > 0].min()), float(values.max())
    ticks = [m * 10 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1) for m in (1, 2, 5)]
    return {"title": title, "type": "log", "tickvals": [t for t in ticks if low / 2 <= t <= high * 2], "tickformat": "~s"}


def scaling_plot(points: pd.DataFrame, x_column: str, x_title: str, fitted: pd.DataFrame) -> go.Figure:
    """Final loss against size on log-log axes: the measured points and the fitted power law."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=fitted["x"], y=fitted["loss"], name=_("fitted power law"), mode="lines", line={"color": "#d62728", "dash": "dash"},
    ))
    figure.add_trace(go.Scatter(
        x=points[x_column], y=points["final_loss"], name=_("measured"), mode="markers+text", text=points["name"],
        textposition="top center", marker={"size": 11, "color": "#1f77b4"},
        hovertemplate=_("%{text}<br>%{x:,} parameters<br>loss %{y:.3f} nats<extra></extra>"),
    ))
    figure.update_layout(
        height=400, margin={"t": 30, "b": 40}, legend={"orientation": "h", "y": 1.1},
        xaxis=log_axis(x_title, fitted["x"]), yaxis={"title": _("validation loss (nats per token)"), "type": "log"},
    )
    return figure


def loss_against_tokens(curves: pd.DataFrame) -> go.Figure:
    """Validation loss against training tokens on log-log axes, one line per model size."""
    figure = go.Figure()
    for name, curve in curves.groupby("name", sort=False):
        figure.add_trace(go.Scatter(x=curve["tokens_seen"], y=curve["val_loss"], name=name, mode="lines+markers",
                                    hovertemplate=_("%{x:,} tokens<br>loss %{y:.3f}<extra>{name}</extra>").replace("{name}", name)))
    figure.update_layout(
        height=400, margin={"t": 30, "b": 40}, legend={"title": _("model (layers×heads×dims)")},
        xaxis=log_axis(_("tokens seen in training"), curves["tokens_seen"]),
        yaxis={"title": _("validation loss (nats per token)"), "type": "log"},
    )
    return figure


def fine_tuning_curves(table: pd.DataFrame) -> go.Figure:
    """Test accuracy and test loss against steps, one colour per start (fine-tuned, from scratch)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("accuracy on the test sentences"),
                                                                   _("loss on the test sentences")))
    colours = {"fine-tuned": "#2ca02c", "from scratch": "#7f7f7f"}
    for start, curve in table.groupby("start", sort=False):
        for column, col in (("test_accuracy", 1), ("test_loss", 2)):
            figure.add_trace(go.Scatter(x=curve["step"], y=curve[column], name=_(start), legendgroup=start,
                                        showlegend=col == 1, mode="lines+markers",
                                        line={"color": colours.get(start)}), row=1, col=col)
    figure.update_yaxes(title_text=_("accuracy"), range=[0, 1.02], tickformat=".0%", row=1, col=1)
    figure.update_yaxes(title_text=_("cross-entropy (nats)"), row=1, col=2)
    figure.update_xaxes(title_text=_("training step"))
    figure.add_hline(y=0.5, line_dash="dot", line_color="#999", annotation_text=_("chance"), row=1, col=1)
    figure.update_layout(height=360, margin={"t": 40, "b": 40}, legend={"orientation": "h", "y": 1.18})
    return figure

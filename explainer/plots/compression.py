"""Make it smaller: weight histograms, quantized predictions, pruning and head-removal curves, distillation, the KV cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import _
from explainer.plots.style import BLUE, GREEN, GREY, PALE_BLUE, RED, TOKEN_FONT, escape, styled

PRECISION_COLOURS = {"fp32": BLUE, "int8": GREEN, "int4": RED, "dynamic int8": GREY}


def weight_histograms(table: pd.DataFrame, matrix: str) -> go.Figure:
    """The histograms of ``compression.weight_histograms``: the whole matrix (left) and its output channel 0
    (right), one outline per precision, so the int4 weights' 15 levels show as spikes."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("all weights of {matrix}").format(matrix=escape(matrix)),
                                                           _("one output channel (channel 0)")))
    for col, scope in ((1, "matrix"), (2, "channel 0")):
        for precision, rows in table[table["scope"] == scope].groupby("precision", sort=False):
            centres = (rows["left"] + rows["right"]) / 2
            figure.add_trace(go.Scatter(
                x=centres, y=rows["count"], name=precision, legendgroup=precision, showlegend=col == 1,
                mode="lines", line={"shape": "hvh", "color": PRECISION_COLOURS[precision],
                                     "width": 2 if precision == "fp32" else 1.5},
                hovertemplate=_("%{x:.4f}: %{y} weights") + f"<extra>{precision}</extra>"), row=1, col=col)
    figure.update_xaxes(title_text=_("weight value"))
    figure.update_yaxes(title_text=_("number of weights"), row=1, col=1)
    figure.update_layout(height=360, legend={"orientation": "h", "y": 1.3, "x": 0, "title": _("precision")})
    return styled(figure, t=90, b=40)


def precision_bars(table: pd.DataFrame) -> go.Figure:
    """Held-out perplexity (left) and size in MB (right) for each precision of ``table``
    (columns precision, perplexity, megabytes)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("perplexity on held-out Austen (lower is better)"),
                                                           _("size (MB)")))
    colours = [PRECISION_COLOURS.get(p, GREY) for p in table["precision"]]
    figure.add_trace(go.Bar(x=table["precision"], y=table["perplexity"], marker_color=colours, showlegend=False,
                            text=[f"{v:.1f}" for v in table["perplexity"]], textposition="outside",
                            hovertemplate=_("%{x}: perplexity %{y:.2f}") + "<extra></extra>"), row=1, col=1)
    figure.add_trace(go.Bar(x=table["precision"], y=table["megabytes"], marker_color=colours, showlegend=False,
                            text=[f"{v:.2f}" for v in table["megabytes"]], textposition="outside",
                            hovertemplate="%{x}: %{y:.2f}<extra></extra>"), row=1, col=2)  # the subplot's title says MB
    figure.update_yaxes(rangemode="tozero")
    figure.update_yaxes(range=[0, float(table["perplexity"].max()) * 1.2], row=1, col=1)
    figure.update_yaxes(range=[0, float(table["megabytes"].max()) * 1.2], row=1, col=2)
    figure.update_layout(height=320)
    return styled(figure, t=40, b=10)


def prediction_pair(table: pd.DataFrame, before: str, after: str) -> go.Figure:
    """The most likely next tokens under two models side by side: ``table`` has columns token (shown as it is
    read), p_before, p_after; ``before`` and ``after`` name the two models."""
    labels = [escape(t) for t in table["token"]]
    figure = go.Figure()
    figure.add_trace(go.Bar(y=labels, x=table["p_before"], orientation="h", name=before, marker_color=PALE_BLUE,
                            hovertemplate="%{y}: %{x:.4f}" + f"<extra>{escape(before)}</extra>"))
    figure.add_trace(go.Bar(y=labels, x=table["p_after"], orientation="h", name=after, marker_color=RED,
                            hovertemplate="%{y}: %{x:.4f}" + f"<extra>{escape(after)}</extra>"))
    figure.update_layout(height=max(260, 26 * len(labels) + 90), barmode="group",
                         yaxis={"autorange": "reversed", "tickfont": TOKEN_FONT, "type": "category"},
                         xaxis={"title": _("probability of being the next token")},
                         legend={"orientation": "h", "y": 1.12})
    return styled(figure, t=40)


def pruning_curve(table: pd.DataFrame) -> go.Figure:
    """Held-out perplexity against sparsity (``compression.pruning_curve``), on a log scale."""
    figure = go.Figure(go.Scatter(
        x=table["sparsity"], y=table["perplexity"], mode="lines+markers", line={"color": BLUE},
        customdata=table["zeroed_weights"],
        hovertemplate=_("%{x:.0%} of the weights set to 0 (%{customdata:,}): perplexity %{y:.1f}") + "<extra></extra>"))
    whole = float(table["perplexity"].iloc[0])  # a trace, not add_hline: a shape's y on a log axis is log10(y)
    figure.add_trace(go.Scatter(x=[table["sparsity"].min(), table["sparsity"].max()], y=[whole, whole], mode="lines",
                                line={"color": GREY, "dash": "dot"}, name=_("the whole model"), hoverinfo="skip"))
    figure.data[0].name = _("pruned")
    figure.update_layout(height=340, legend={"orientation": "h", "y": 1.12},
                         xaxis={"title": _("sparsity: share of each block matrix's weights set to 0"), "tickformat": ".0%"},
                         yaxis={"title": _("perplexity (log scale)"), "type": "log", "dtick": 1})  # 100, 1000, 10000
    return styled(figure, t=30)


def head_removal_curve(table: pd.DataFrame) -> go.Figure:
    """Held-out perplexity as heads are removed one by one, least important first (``compression.head_removal``)."""
    figure = go.Figure(go.Scatter(
        x=table["heads_removed"], y=table["perplexity"], mode="lines+markers", line={"color": RED},
        customdata=table["removed"],
        hovertemplate=_("%{x} heads removed (the last: %{customdata}): perplexity %{y:.1f}") + "<extra></extra>"))
    figure.update_layout(height=340, xaxis={"title": _("heads removed, least important first"), "dtick": 2},
                         yaxis={"title": _("perplexity"), "rangemode": "tozero"})
    return styled(figure, t=30)


def distillation_curves(table: pd.DataFrame, teacher_loss: float | None = None) -> go.Figure:
    """Both students' held-out cross-entropy (left) and training-batch cross-entropy (right) against steps
    (``distillation.curve_table``); a dotted line for the teacher's held-out loss."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("held-out loss"), _("loss on training batches")))
    colours = {"soft targets": GREEN, "hard labels": GREY}
    for target, curve in table.groupby("target", sort=False):
        for column, col in (("val_loss", 1), ("train_loss", 2)):
            figure.add_trace(go.Scatter(x=curve["step"], y=curve[column], name=_(target), legendgroup=target,
                                        showlegend=col == 1, mode="lines+markers", line={"color": colours.get(target)}),
                             row=1, col=col)
    if teacher_loss is not None:
        figure.add_hline(y=teacher_loss, line_dash="dot", line_color=BLUE, annotation_text=_("the teacher"),
                         annotation_position="bottom right", row=1, col=1)
    figure.update_yaxes(title_text=_("cross-entropy (nats)"), row=1, col=1)
    figure.update_xaxes(title_text=_("training step"))
    figure.update_layout(height=380, legend={"orientation": "h", "y": 1.3, "x": 0})
    return styled(figure, t=80, b=40)


def kv_cache_timing(steps: pd.DataFrame) -> go.Figure:
    """Milliseconds per generated token against the length of the text, with and without the KV cache."""
    figure = go.Figure()
    for column, name, colour in (("without_cache_ms", _("without the cache"), RED),
                                 ("with_cache_ms", _("with the KV cache"), GREEN)):
        measured = steps.dropna(subset=[column])  # the uncached step is timed at some lengths only
        smooth = measured[column].rolling(9, min_periods=1, center=True).median()  # a shared CPU adds spikes
        figure.add_trace(go.Scatter(x=measured["length"], y=measured[column], mode="markers", marker={"color": colour, "size": 4,
                                    "opacity": 0.35}, name=name, legendgroup=column, showlegend=False,
                                    hovertemplate=_("%{x} tokens: %{y:.1f} ms") + "<extra></extra>"))
        figure.add_trace(go.Scatter(x=measured["length"], y=smooth, mode="lines", line={"color": colour, "width": 3},
                                    name=name, legendgroup=column, hoverinfo="skip"))
    top = float(np.nanpercentile(steps["without_cache_ms"], 98)) * 1.15 if len(steps) else 1.0
    figure.update_layout(height=360, xaxis={"title": _("tokens in the text so far")},
                         yaxis={"title": _("milliseconds per generated token"), "range": [0, top]},
                         legend={"orientation": "h", "y": 1.12})
    return styled(figure, t=40)

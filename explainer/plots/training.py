"""Training: loss curves while a model learns, the scaling law, and fine-tuning against training from scratch."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explainer.i18n import _
from explainer.plots.style import BLUE, GREEN, GREY, RED, styled


def training_curves(table: pd.DataFrame) -> go.Figure:
    """Train and validation loss (nats) against tokens seen, with perplexity = e^loss on the right axis.

    ``table`` is ``explainer.training.loop.evaluation_table``'s.
    """
    figure = go.Figure()
    for column, name, colour in (("train_loss", _("train loss"), BLUE), ("val_loss", _("validation loss"), RED)):
        figure.add_trace(go.Scatter(
            x=table["tokens_seen"], y=table[column], name=name, mode="lines+markers",
            line={"color": colour}, customdata=np.exp(table[column]),
            hovertemplate=_("%{x:,} tokens<br>loss %{y:.3f} nats<br>perplexity %{customdata:.1f}<extra>{name}</extra>")
            .replace("{name}", name),
        ))
    losses = table[["train_loss", "val_loss"]].to_numpy()  # (evaluations, 2)
    low, high = (float(np.nanmin(losses)) - 0.2, float(np.nanmax(losses)) + 0.2) if len(table) else (0.0, 9.0)
    ticks = np.linspace(low, high, 6)
    figure.update_layout(
        height=380, legend={"orientation": "h", "y": 1.12},
        xaxis={"title": _("tokens seen in training")},
        yaxis={"title": _("loss (nats per token)"), "range": [low, high]},
        yaxis2={"title": _("perplexity"), "overlaying": "y", "side": "right", "range": [low, high],
                "tickmode": "array", "tickvals": ticks, "ticktext": [f"{math.exp(t):.0f}" for t in ticks],
                "showgrid": False},
    )
    figure.add_trace(go.Scatter(x=[], y=[], yaxis="y2", showlegend=False))  # makes the right axis appear
    return styled(figure, t=30, b=40, l=60, r=70)


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
        x=fitted["x"], y=fitted["loss"], name=_("fitted power law"), mode="lines", line={"color": RED, "dash": "dash"},
    ))
    figure.add_trace(go.Scatter(
        x=points[x_column], y=points["final_loss"], name=_("measured"), mode="markers+text", text=points["name"],
        textposition="top center", marker={"size": 11, "color": BLUE},
        hovertemplate=_("%{text}<br>%{x:,} parameters<br>loss %{y:.3f} nats<extra></extra>"),
    ))
    figure.update_layout(
        height=400, legend={"orientation": "h", "y": 1.1},
        xaxis=log_axis(x_title, fitted["x"]), yaxis={"title": _("validation loss (nats per token)"), "type": "log"},
    )
    return styled(figure, t=30, b=40)


def loss_against_tokens(curves: pd.DataFrame) -> go.Figure:
    """Validation loss against training tokens on log-log axes, one line per model size (the template's colours)."""
    figure = go.Figure()
    for name, curve in curves.groupby("name", sort=False):
        hover = _("%{x:,} tokens<br>loss %{y:.3f}<extra>{name}</extra>").replace("{name}", name)
        figure.add_trace(go.Scatter(x=curve["tokens_seen"], y=curve["val_loss"], name=name, mode="lines+markers",
                                    hovertemplate=hover))
    figure.update_layout(
        height=400, legend={"title": _("model (layers×heads×dims)")},
        xaxis=log_axis(_("tokens seen in training"), curves["tokens_seen"]),
        yaxis={"title": _("validation loss (nats per token)"), "type": "log"},
    )
    return styled(figure, t=30, b=40)


def fine_tuning_curves(table: pd.DataFrame) -> go.Figure:
    """Test accuracy and test loss against steps, one colour per start (fine-tuned, from scratch)."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=(_("accuracy on the test sentences"),
                                                                   _("loss on the test sentences")))
    colours = {"fine-tuned": GREEN, "from scratch": GREY}
    for start, curve in table.groupby("start", sort=False):
        for column, col in (("test_accuracy", 1), ("test_loss", 2)):
            figure.add_trace(go.Scatter(x=curve["step"], y=curve[column], name=_(start), legendgroup=start,
                                        showlegend=col == 1, mode="lines+markers",
                                        line={"color": colours.get(start)}), row=1, col=col)
    figure.update_yaxes(title_text=_("accuracy"), range=[0, 1.02], tickformat=".0%", row=1, col=1)
    figure.update_yaxes(title_text=_("cross-entropy (nats)"), row=1, col=2)
    figure.update_xaxes(title_text=_("training step"))
    figure.add_hline(y=0.5, line_dash="dot", line_color=GREY, annotation_text=_("chance"), row=1, col=1)
    figure.update_layout(height=360, legend={"orientation": "h", "y": 1.18})
    return styled(figure, t=40, b=40)

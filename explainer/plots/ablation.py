"""Break it and see: each token's loss with a part switched off, the heads ranked, MLP activations, residual norms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.style import (
    BLUE,
    GREY,
    RED,
    TOKEN_FONT,
    category_ticks,
    diverging,
    position_labels,
    styled,
)


def loss_change_bars(tokens: list[str], before: np.ndarray, after: np.ndarray) -> go.Figure:
    """Each token's loss after − before the ablation (T,), red where it rose; hover gives both losses."""
    labels = position_labels(tokens)
    change = after - before  # (T,) NaN where unscored
    scored = ~np.isnan(change)
    positions = np.arange(len(tokens))[scored]
    figure = go.Figure(go.Bar(
        x=positions, y=change[scored], marker_color=[RED if c > 0 else BLUE for c in change[scored]],
        customdata=np.stack([np.array(labels, dtype=object)[scored], before[scored], after[scored]], axis=-1),
        hovertemplate=_("%{customdata[0]}<br>loss before %{customdata[1]:.3f}, after %{customdata[2]:.3f} nats"
                        "<br>change %{y:+.3f}") + "<extra></extra>"))
    figure.add_hline(y=0, line_color=GREY)
    figure.update_layout(height=330, xaxis={**category_ticks(labels), "title": _("token"), "tickangle": -60,
                                            "tickfont": TOKEN_FONT},
                         yaxis={"title": _("change in −log p (nats)")})
    return styled(figure)


def head_ranking_heatmap(table: pd.DataFrame) -> go.Figure:
    """How much the text's mean loss rises when each head alone is switched off: layers × heads."""
    layers, heads = int(table["layer"].max()) + 1, int(table["head"].max()) + 1
    grid = np.full((layers, heads), np.nan)
    grid[table["layer"], table["head"]] = table["loss_increase"]
    figure = go.Figure(go.Heatmap(
        z=grid, x=[_("head {h}").format(h=h) for h in range(heads)], y=[_("layer {i}").format(i=i) for i in range(layers)],
        **diverging(grid), text=np.vectorize(lambda v: f"{v:+.3f}")(grid), texttemplate="%{text}",
        colorbar={"title": {"text": _("loss rise (nats)")}},
        hovertemplate=_("%{y}, %{x}: the mean loss changes by %{z:+.4f} nats") + "<extra></extra>"))
    figure.update_layout(height=max(240, 46 * layers + 90), yaxis={"autorange": "reversed"})
    return styled(figure, t=10)


def mlp_heatmap(activations: np.ndarray, tokens: list[str], first_neuron: int = 0) -> go.Figure:
    """One layer's MLP activations (T, N) for neurons ``first_neuron`` … : tokens down, neurons across."""
    labels = position_labels(tokens)
    figure = go.Figure(go.Heatmap(
        z=activations, x=np.arange(first_neuron, first_neuron + activations.shape[1]), y=list(range(len(tokens))),
        **diverging(activations), colorbar={"title": {"text": _("activation")}},
        customdata=np.repeat(np.array(labels, dtype=object)[:, None], activations.shape[1], axis=1),
        hovertemplate=_("%{customdata}, neuron %{x}: %{z:.3f}") + "<extra></extra>"))
    figure.update_layout(height=max(280, min(640, 16 * len(tokens) + 120)),
                         xaxis={"title": _("MLP neuron")},
                         yaxis={**category_ticks(labels), "autorange": "reversed", "tickfont": TOKEN_FONT})
    return styled(figure, t=10)


def residual_norms(before: np.ndarray, after: np.ndarray | None = None) -> go.Figure:
    """The residual stream's size, mean over the tokens of the text, entering each block and leaving the last:
    ``before`` (L+1, T) for the whole model, ``after`` (L+1, T) with the ablation, when there is one."""
    stops = [_("input (embeddings)")] + [_("after block {i}").format(i=i) for i in range(len(before) - 1)]
    figure = go.Figure()
    lines = [(before, _("the whole model"), BLUE, "solid", 5)]
    if after is not None:
        lines.append((after, _("with your switches off"), RED, "dash", 2))  # dashed, so the whole model shows under it
    for norms, name, colour, dash, width in lines:
        mean = norms.mean(axis=1)  # (L+1,)
        figure.add_trace(go.Scatter(x=stops, y=mean, mode="lines+markers", name=name,
                                    line={"color": colour, "dash": dash, "width": width},
                                    hovertemplate="%{x}: ‖h‖ = %{y:.2f}<extra></extra>"))
    figure.update_layout(height=320, xaxis={"title": _("where in the model")},
                         yaxis={"title": _("mean ‖h‖ of a token's vector"), "rangemode": "tozero"},
                         legend={"orientation": "h", "y": 1.15})
    return styled(figure, t=30)


def mean_activation_bars(activations: list[np.ndarray]) -> go.Figure:
    """Mean |activation| of each layer's MLP neurons, per layer: how busy each MLP is on the text."""
    means = [float(np.abs(a).mean()) if a.size else 0.0 for a in activations]
    shares = [float((a > 0).mean()) if a.size else 0.0 for a in activations]
    figure = go.Figure(go.Bar(x=[_("layer {i}").format(i=i) for i in range(len(means))], y=means, marker_color=BLUE,
                              customdata=shares,
                              hovertemplate=_("%{x}: mean |activation| %{y:.3f}; %{customdata:.0%} of the values "
                                              "are positive") + "<extra></extra>"))
    figure.update_layout(height=260, yaxis={"title": _("mean |activation|")})
    return styled(figure, t=10)

"""Translation: the decoder's cross-attention over the source, and the probability of each beam."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.style import (
    ATTENTION_SCALE,
    SOFT_BLUE,
    TOKEN_FONT,
    category_ticks,
    escape,
    label_pairs,
    position_labels,
    styled,
)


def cross_attention_heatmap(matrix: np.ndarray, output_tokens: list[str], source_tokens: list[str],
                            title: str) -> go.Figure:
    """Cross-attention (T, S): row t is the decoder while it writes output token t, column s a source token; each
    row sums to 1 over the source."""
    rows, columns = position_labels(output_tokens), position_labels(source_tokens)
    figure = go.Figure(go.Heatmap(
        z=matrix,
        customdata=label_pairs(rows, columns),  # (T, S, 2)
        hovertemplate=_("writing %{customdata[0]}<br>looks at %{customdata[1]}<br>weight %{z:.4f}<extra></extra>"),
        colorscale=ATTENTION_SCALE, zmin=0, zmax=1, colorbar={"title": {"text": _("weight")}},
    ))
    figure.update_layout(
        title={"text": escape(title), "x": 0, "y": 0.995, "yref": "container", "yanchor": "top"},
        height=max(320, 26 * len(rows) + 220),
        xaxis={**category_ticks(columns), "title": _("source token (encoder)"), "side": "top", "tickangle": -60,
               "showgrid": False, "tickfont": TOKEN_FONT},
        yaxis={**category_ticks(rows), "title": _("output token being written (decoder)"), "autorange": "reversed",
               "showgrid": False, "tickfont": TOKEN_FONT},
    )
    return styled(figure, t=130)


def beam_probability_bars(texts: list[str], probabilities: list[float]) -> go.Figure:
    """The finished beams, best first, and each one's probability (the product of its tokens' probabilities)."""
    labels = [f"{rank}: {escape(text) or '∅'}" for rank, text in enumerate(texts, start=1)]
    figure = go.Figure(go.Bar(
        x=probabilities, y=labels, orientation="h", marker_color=SOFT_BLUE,
        text=[f"{p:.3g}" for p in probabilities], textangle=0, cliponaxis=False,
        textposition=["inside" if p > 0.5 else "outside" for p in probabilities],  # a long bar holds its label
        hovertemplate=_("%{y}<br>probability %{x:.4g}<extra></extra>"),
    ))
    figure.update_layout(height=60 * len(labels) + 90, xaxis={"title": _("probability of the whole output"),
                                                              "range": [0, 1]},
                         yaxis={"autorange": "reversed", "tickfont": TOKEN_FONT})
    return styled(figure)

"""Loss: how surprised the model is by each token of the text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.loss import GLTR_COLOURS
from explainer.plots.style import category_ticks, position_label, position_labels, styled


def loss_bars(table: pd.DataFrame) -> go.Figure:
    """−log p of each token as bars, coloured by GLTR rank bucket."""
    scored = table[table["bucket"] != ""]
    figure = go.Figure(
        go.Bar(
            x=scored["position"],
            y=scored["neg_log_p"],
            marker_color=[GLTR_COLOURS[b] for b in scored["bucket"]],
            customdata=np.stack([[position_label(j, t) for j, t in zip(scored["position"], scored["token"])], scored["p"],
                                 scored["rank"]], axis=-1),  # (N, 3)
            hovertemplate=_("%{customdata[0]}<br>−log p = %{y:.3f}<br>p = %{customdata[1]:.4f}<br>"
                            "rank %{customdata[2]}<extra></extra>"),
        )
    )
    figure.update_layout(
        height=340,
        xaxis={**category_ticks(position_labels(list(table["token"]))), "title": _("token"), "tickangle": -60},
        yaxis={"title": _("−log p (nats)"), "rangemode": "tozero"},
    )
    return styled(figure)

"""The logit lens: the top guess of every layer at every position of the text."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from explainer.i18n import _
from explainer.plots.style import ATTENTION_SCALE, TOKEN_FONT, escape, position_labels, styled

LENS_CELL_CHARACTERS = 12  # longer top tokens are cut in the cell (the hover shows them whole)


def _cell_text(token: str) -> str:
    """``token`` escaped, cut to ``LENS_CELL_CHARACTERS`` characters (the last one "…") when longer."""
    short = token if len(token) <= LENS_CELL_CHARACTERS else token[: LENS_CELL_CHARACTERS - 1] + "…"
    return escape(short)


def logit_lens_heatmap(final_probabilities: np.ndarray, top_tokens: list[list[str]], top_probabilities: np.ndarray,
                       final_tokens: list[str], labels: list[str], row_names: list[str], offset: int = 0) -> go.Figure:
    """The logit lens, given as (R, W) arrays of layers × the positions of ``labels``, drawn with one row per
    position (the text reads downwards) and one column per layer (embeddings on the left, output on the right),
    so each cell has room for its top guess. Colour: the probability of the guess printed in the cell."""
    inputs = position_labels(labels, offset)
    customdata = np.array(
        [[[escape(top_tokens[r][t]), f"{final_probabilities[r, t]:.3f}", escape(final_tokens[t])]
          for r in range(len(row_names))] for t in range(len(labels))]
    )  # (W, R, 3)
    figure = go.Figure(
        go.Heatmap(
            z=top_probabilities.T,  # (W, R): how sure each layer is of the guess printed in its cell
            x=row_names,
            y=inputs,
            text=[[_cell_text(top_tokens[r][t]) for r in range(len(row_names))] for t in range(len(labels))],
            texttemplate="%{text}",
            textfont={**TOKEN_FONT, "size": 12},
            customdata=customdata,
            hovertemplate=_("input %{y}<br>%{x}<br>top guess: %{customdata[0]} (p = %{z:.3f})<br>"
                            "final prediction %{customdata[2]}: p = %{customdata[1]}<extra></extra>"),
            colorscale=ATTENTION_SCALE,
            zmin=0,
            zmax=1,
            colorbar={"title": {"text": _("p(top<br>guess)")}},
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        height=max(300, 24 * len(labels) + 110),
        xaxis={"type": "category", "side": "top"},
        yaxis={"type": "category", "autorange": "reversed", "title": _("input token"), "tickfont": TOKEN_FONT},
    )
    return styled(figure, t=10)

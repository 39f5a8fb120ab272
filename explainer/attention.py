"""Stage 3: masked multi-head self-attention, Attention(Q, K, V) = softmax(QKᵀ/√d_k) V.

Reads the attention weights of an ``Analysis`` ([layer, head, query, key])
and prepares them for the heatmaps and for BertViz, whose views are made to
work offline and to treat token text as data, never as markup.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from bertviz import head_view, model_view

from explainer.analysis import Analysis
from explainer.tokenization import window_bounds

VENDOR = Path(__file__).resolve().parent / "vendor"
BERTVIZ_MAX_TOKENS = 64  # BertViz draws every line in SVG; beyond this it gets slow and unreadable
CDN_REQUIRE_TAG = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[^"]+"></script>')
CDN_REQUIRE_CONFIG = re.compile(r"require\.config\(\{\s*paths:\s*\{[^}]*\}\s*\}\);")


def head_weights(analysis: Analysis, layer: int, head: int) -> np.ndarray:
    """Return one head's weights (T, T): row = query token, column = key token."""
    return analysis.attentions[layer][head]


def mean_over_heads(analysis: Analysis, layer: int) -> np.ndarray:
    """Return the layer's weights averaged over its heads (T, T); rows still sum to 1."""
    return analysis.attentions[layer].mean(axis=0)


def is_causal(analysis: Analysis) -> bool:
    """Causal (GPT) models mask the future: weights above the diagonal are exactly 0."""
    return analysis.kind == "causal"


def weights_table(analysis: Analysis, layer: int, head: int | None) -> pd.DataFrame:
    """Return one head's weights (or the mean over heads when ``head`` is None) in long form for CSV."""
    matrix = mean_over_heads(analysis, layer) if head is None else head_weights(analysis, layer, head)
    display = analysis.tokens.display
    queries, keys = np.meshgrid(np.arange(len(display)), np.arange(len(display)), indexing="ij")
    return pd.DataFrame(
        {
            "layer": layer,
            "head": "mean" if head is None else head,
            "query_position": queries.ravel(),
            "query_token": [display[q] for q in queries.ravel()],
            "key_position": keys.ravel(),
            "key_token": [display[k] for k in keys.ravel()],
            "weight": matrix.ravel(),
        }
    )


# ----------------------------------------------------------------- BertViz


LAYER_MENU = 'Layer: <select id="layer"></select>'  # the head view's own layer menu, as BertViz writes it


@lru_cache(maxsize=1)
def _offline_loader() -> str:
    """Inline scripts that stand in for BertViz's CDN: d3 and jQuery as globals, then
    require.js, then the two declared as AMD modules so ``requirejs(['jquery', 'd3'])`` finds them."""
    d3, jquery, require = ((VENDOR / name).read_text() for name in ("d3.min.js", "jquery.min.js", "require.js"))
    modules = "define('d3', [], function () { return window.d3; });\ndefine('jquery', [], function () { return window.jQuery; });"
    return "".join(f"<script>{code}</script>\n" for code in (d3, jquery, require, modules))


def _script_safe_json_string(text: str) -> str:
    """A JSON string literal that cannot end a <script> block or open a comment in it."""
    literal = json.dumps(text, ensure_ascii=True)  # also escapes U+2028/2029
    return literal.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def bertviz_html(analysis: Analysis, view: str, start: int = 0, layer: int | None = None) -> str:
    """Return a self-contained HTML page of BertViz's ``view`` ("head" or "model").

    Shows at most ``BERTVIZ_MAX_TOKENS`` tokens from ``start``. The head view
    with a ``layer`` shows that layer only, without BertViz's own layer menu
    (the page's Layer picker chooses it). Needs no internet: the CDN scripts
    are replaced by inlined copies. Token strings enter the page only as
    escaped JSON string literals.
    """
    begin, end = window_bounds(len(analysis.tokens), start, BERTVIZ_MAX_TOKENS)
    placeholders = [f"bertviz_token_{i}_" for i in range(end - begin)]
    window = np.stack([layer[:, begin:end, begin:end] for layer in analysis.attentions])  # (L, H, W, W)
    weights = np.round(window.astype(np.float64), 3)  # 3 decimals are enough for line opacity
    attention = tuple(torch.from_numpy(layer[None]) for layer in weights)  # L × (1, H, W, W)
    if view == "head":
        page = head_view(attention, placeholders, html_action="return",
                         include_layers=None if layer is None else [layer]).data
        if layer is not None:
            if LAYER_MENU not in page:
                raise RuntimeError("BertViz changed its layer menu; update explainer/attention.py")
            page = page.replace(LAYER_MENU, '<select id="layer" hidden></select>')  # BertViz still fills it
    else:
        page = model_view(attention, placeholders, html_action="return").data
    for placeholder, token in zip(placeholders, analysis.tokens.display[begin:end]):
        page = page.replace(f'"{placeholder}"', _script_safe_json_string(token))
    page = CDN_REQUIRE_TAG.sub("", page)
    page = CDN_REQUIRE_CONFIG.sub("", page)
    if "cdnjs" in page:
        raise RuntimeError("BertViz changed how it loads its scripts; update explainer/attention.py")
    style = "<style>body{background:#fff;color:#222;margin:0;font-family:sans-serif}</style>"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'>{style}{_offline_loader()}</head><body>{page}</body></html>"

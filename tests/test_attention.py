"""The attention data and the offline, injection-proof BertViz page."""

import json
import re

import numpy as np
import pytest

from explainer.analysis import analyze
from explainer.attention import BERTVIZ_MAX_TOKENS, bertviz_html, head_weights, mean_over_heads, weights_table

PAYLOAD = '</script><script>alert(1)</script><img src=x onerror=alert(2)> <!-- javascript:alert(3)'


def test_weights_table_is_the_heatmap_in_long_form(gpt):
    analysis = analyze(gpt, "The cat is on the roof")
    T = len(analysis.tokens)
    table = weights_table(analysis, 1, 2)
    assert len(table) == T * T
    np.testing.assert_array_equal(table["weight"].to_numpy().reshape(T, T), head_weights(analysis, 1, 2))
    np.testing.assert_allclose(mean_over_heads(analysis, 0).sum(axis=-1), 1.0, atol=1e-5)


def test_bertviz_needs_no_internet(gpt):
    page = bertviz_html(analyze(gpt, "The cat is on the roof"), "head")
    assert "cdnjs" not in page and not re.search(r"<script[^>]+src=", page)
    assert "define('d3'" in page and "requirejs(['jquery', 'd3']" in page


@pytest.mark.slow
def test_hostile_tokens_stay_inside_json_strings(gpt, bert):
    for model in (gpt, bert):
        analysis = analyze(model, PAYLOAD)
        for view in ("head", "model"):
            page = bertviz_html(analysis, view)
            params = page[page.index("const params = ") :]
            params = params[: params.index("\n")]
            assert "<" not in params and ">" not in params  # so nothing can close the script block
            assert page.count("</script>") == 5  # d3, jQuery, require.js, module shim, BertViz: no more


def test_bertviz_shows_a_window_of_long_texts(gpt):
    analysis = analyze(gpt, "word " * 300)
    page = bertviz_html(analysis, "model", start=100)
    params = json.loads(page[page.index("const params = ") + len("const params = ") :].split("; //")[0])
    (data,) = params["attention"]
    assert len(data["left_text"]) == BERTVIZ_MAX_TOKENS
    assert np.array(data["attn"]).shape == (analysis.layer_count, analysis.head_count, BERTVIZ_MAX_TOKENS, BERTVIZ_MAX_TOKENS)
    np.testing.assert_allclose(data["attn"][0][0][0][:3], analysis.attentions[0][0, 100, 100:103], atol=6e-4)


def test_the_head_view_shows_the_pages_layer_without_a_second_layer_menu(gpt):
    analysis = analyze(gpt, "The cat is on the roof")
    page = bertviz_html(analysis, "head", layer=2)
    assert '"include_layers": [2]' in page  # BertViz draws that layer only
    assert '<select id="layer" hidden>' in page and "Layer: <select" not in page
    assert "Layer: <select" in bertviz_html(analysis, "head")  # without a layer: BertViz's own menu, all layers

"""Attention step by step: every intermediate agrees with the model's own attention."""

import math

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explainer import plots
from explainer.analysis import analyze
from explainer.attention_steps import MASKED_TEXT, key_table, multi_head_table, query_and_keys, show_work, values_and_output
from tests.app_harness import open_page, open_with_model, tiny_llama, tiny_opt, tiny_qwen

TEXT = "It is a truth universally acknowledged, that a single man"
BERT_TEXT = "She was the [MASK] of the family, and everybody knew it."
CASES = [(0, 0, 0), (1, 2, 5), (-1, -1, -1), (2, 1, -3)]  # (layer, head, query); negative = from the end


@pytest.fixture(scope="module")
def llama(gpt):
    return tiny_llama(gpt.tokenizer)


@pytest.fixture(scope="module")
def qwen(gpt):
    return tiny_qwen(gpt.tokenizer)


FAMILIES = ["gpt", "bert", "llama", "qwen"]  # GPT-2, BERT, and Llama-style with and without shared key/value heads


def worked(request, name, layer, head, query):
    """The model, its analysis and the steps of one case (negative indices count from the end)."""
    loaded = request.getfixturevalue(name)
    analysis = analyze(loaded, BERT_TEXT if name == "bert" else TEXT)
    layer, head, query = layer % analysis.layer_count, head % analysis.head_count, query % len(analysis.tokens)
    return loaded, analysis, show_work(loaded, analysis, layer, head, query)


def attention_module_output(loaded, ids, layer) -> torch.Tensor:
    """The output (T, D) of W_O in ``layer`` during the model's own forward pass, captured by a forward hook."""
    captured = []
    module = loaded.architecture.output_projection(loaded.model, layer)
    handle = module.register_forward_hook(lambda _, __, output: captured.append(output))
    try:
        with torch.no_grad():
            loaded.model(input_ids=torch.tensor([ids]))
    finally:
        handle.remove()
    return captured[0][0]


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("layer,head,query", CASES)
def test_the_weights_are_the_attention_pages_heatmap_row(request, name, layer, head, query):
    _, analysis, steps = worked(request, name, layer, head, query)
    np.testing.assert_allclose(steps.weights, analysis.attentions[steps.layer][steps.head, steps.query], atol=1e-5)
    assert steps.weights.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("layer,head,query", CASES)
def test_the_projected_output_is_the_attention_modules_own(request, name, layer, head, query):
    loaded, analysis, steps = worked(request, name, layer, head, query)
    expected = attention_module_output(loaded, analysis.tokens.ids, steps.layer)[steps.query]  # (D,)
    np.testing.assert_allclose(steps.projected, expected.numpy(), atol=1e-4)


@pytest.mark.parametrize("name", FAMILIES)
def test_each_step_follows_from_the_one_before(request, name):
    loaded, analysis, steps = worked(request, name, 2, 1, 4)
    config = loaded.model.config
    D, H = config.hidden_size, config.num_attention_heads
    T, d_k, head = len(analysis.tokens), D // H, steps.head
    assert steps.q.shape == (d_k,) and steps.keys.shape == steps.values.shape == (T, d_k)
    assert steps.d_k == d_k and steps.head_count == H
    np.testing.assert_allclose(steps.scores, [float(steps.q @ k) for k in steps.keys], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(steps.scaled, steps.scores / math.sqrt(d_k), rtol=1e-6)
    np.testing.assert_allclose(steps.output, steps.weights @ steps.values, atol=1e-6)
    np.testing.assert_array_equal(steps.concatenated[head * d_k : (head + 1) * d_k], steps.output)
    assert steps.concatenated.shape == steps.projected.shape == (H * d_k,) == (D,)


def test_the_causal_mask_hides_exactly_the_later_keys(gpt, bert):
    analysis = analyze(gpt, TEXT)
    query = 3
    steps = show_work(gpt, analysis, 1, 0, query)
    assert steps.causal and steps.projection == "attn.c_proj"
    assert list(steps.is_masked) == [j > query for j in range(len(analysis.tokens))]
    assert (steps.weights[query + 1 :] == 0).all() and (steps.weights[: query + 1] > 0).all()
    np.testing.assert_array_equal(steps.masked[: query + 1], steps.scaled[: query + 1])
    table = key_table(steps, analysis.tokens.display)
    assert list(table["masked_shown"][query + 1 :]) == [MASKED_TEXT] * (len(table) - query - 1)

    bidirectional = show_work(bert, analyze(bert, BERT_TEXT), 1, 0, query)
    assert not bidirectional.causal and bidirectional.projection == "attention.output.dense"
    assert not bidirectional.is_masked.any() and (bidirectional.weights > 0).all()


def test_the_tables_hold_the_steps_numbers(gpt):
    analysis = analyze(gpt, TEXT)
    tokens, T = analysis.tokens.display, len(analysis.tokens)
    steps = show_work(gpt, analysis, 0, 2, T - 1)
    vectors = query_and_keys(steps, tokens)
    assert vectors.shape == (1 + T, 1 + steps.d_k)
    np.testing.assert_array_equal(vectors.iloc[0, 1:].to_numpy(float), steps.q)
    values = values_and_output(steps, tokens)
    assert values.shape == (T + 1, 2 + steps.d_k)
    np.testing.assert_array_equal(values.iloc[-1, 2:].to_numpy(float), steps.output)
    multi = multi_head_table(steps)
    assert len(multi) == gpt.model.config.hidden_size
    assert list(multi["head"].unique()) == list(range(steps.head_count))


def test_token_text_reaches_the_figures_escaped(gpt):
    analysis = analyze(gpt, "<img src=x onerror=alert(1)> <b>bold</b>")
    tokens = analysis.tokens.display
    steps = show_work(gpt, analysis, 0, 0, len(tokens) - 1)
    table = key_table(steps, tokens)
    for figure in (plots.vector_strip(query_and_keys(steps, tokens), "q and k", 1),
                   plots.vector_strip(values_and_output(steps, tokens), "v", len(tokens)),
                   plots.key_bars(table, "weight", "a", steps.query, show_mask=True)):
        shown = str(figure.to_plotly_json())
        assert "<img" not in shown and "<b>" not in shown and "&lt;" in shown


@pytest.mark.slow
def test_other_architectures_get_a_message_not_a_crash(gpt, monkeypatch):
    loaded = tiny_opt(gpt.tokenizer)
    with pytest.raises(ValueError, match="step-by-step view supports GPT-2, BERT and Llama-style"):
        show_work(loaded, analyze(loaded, TEXT), 0, 0, 0)

    app = open_with_model(monkeypatch, loaded, "pages/attention_steps.py", TEXT)
    assert not app.exception and not app.error
    assert any("step-by-step view supports GPT-2, BERT and Llama-style" in i.value for i in app.info)
    assert not [s for s in app.selectbox if s.label == "Layer"]


# ------------------------------------------------------------------ the page


def shown_weights(app: AppTest) -> np.ndarray:
    return app.dataframe[0].value["weight"].to_numpy()


@pytest.mark.slow
def test_the_page_shows_the_explainers_numbers(gpt):
    app = open_page("pages/attention_steps.py", prompt=TEXT)
    assert not app.exception and not app.error
    assert app.sidebar.selectbox(key="model_choice").value == "tiny-gpt-austen"  # app.py's sidebar ran
    pickers = {s.label: s for s in app.selectbox if s.label in ("Layer", "Head", "Query token")}
    analysis = analyze(gpt, TEXT)
    T = len(analysis.tokens)
    assert len(pickers["Layer"].options) == gpt.model.config.n_layer
    assert len(pickers["Head"].options) == gpt.model.config.n_head
    assert len(pickers["Query token"].options) == T and pickers["Query token"].value == T // 2
    assert pickers["Query token"].options[1] == f"1 · {analysis.tokens.display[1]}"
    np.testing.assert_allclose(shown_weights(app), show_work(gpt, analysis, 0, 0, T // 2).weights, atol=1e-7)
    assert len(app.latex) >= 7  # a formula for each of the six steps and the multi-head projection

    pickers["Layer"].set_value(2)
    pickers["Head"].set_value(1)
    pickers["Query token"].set_value(3)
    app.run()
    assert not app.exception
    table = app.dataframe[0].value
    np.testing.assert_allclose(table["weight"].to_numpy(), analysis.attentions[2][1, 3], atol=1e-5)
    assert list(table["masked_shown"][4:]) == [MASKED_TEXT] * (T - 4)


@pytest.mark.slow
def test_the_page_works_on_the_masked_model(bert):
    app = open_page("pages/attention_steps.py", BERT_TEXT, model="tiny-bert-austen")
    assert not app.exception and not app.error
    analysis = analyze(bert, BERT_TEXT)
    np.testing.assert_allclose(shown_weights(app), analysis.attentions[0][0, len(analysis.tokens) // 2], atol=1e-5)
    assert MASKED_TEXT not in list(app.dataframe[0].value["masked_shown"])


@pytest.mark.slow
@pytest.mark.parametrize("blank", ["", "  \n"])
def test_an_empty_prompt_gives_the_hint(blank):
    app = open_page("pages/attention_steps.py", prompt=blank)
    assert not app.exception and not app.error
    assert any("Type some text" in info.value for info in app.info)


@pytest.mark.slow
def test_a_prompt_longer_than_the_context(gpt):
    app = open_page("pages/attention_steps.py", prompt="It was a fine day. " * 300)
    assert not app.exception and not app.error
    assert any(f"Only the first {gpt.context_length} tokens" in w.value for w in app.warning)
    query = next(s for s in app.selectbox if s.label == "Query token")
    assert len(query.options) == gpt.context_length
    assert len(app.dataframe[0].value) == gpt.context_length

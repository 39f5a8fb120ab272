"""The logit lens reads every layer out with the model's own final norm and head; its last row is the model's output."""

import numpy as np
import pytest
import torch

from explainer import plots
from explainer.analysis import analyze
from explainer.logit_lens import layer_logits, lens_table, logit_lens
from explainer.tokenization import token_label
from tests.app_harness import open_page, open_with_model, tiny_llama, tiny_opt
from tests.test_plots import values

PROMPT = "It is a truth universally acknowledged, that a single man"
MASKED_PROMPT = "She was the [MASK] of the family."


def block_outputs(blocks, run) -> list[torch.Tensor]:
    """The output (T, D) of every block, caught with forward hooks while ``run()`` calls the model."""
    caught = []
    hooks = [block.register_forward_hook(lambda module, inputs, output: caught.append(output[0])) for block in blocks]
    try:
        with torch.no_grad():
            run()
    finally:
        for hook in hooks:
            hook.remove()
    return caught


def check_rows(lens, logits_by_row: list[torch.Tensor]) -> None:
    """Compare every row of the lens with logits (T, V) computed independently."""
    final_ids = torch.tensor(lens.final_ids)
    for row, logits in enumerate(logits_by_row):
        probabilities = torch.softmax(logits, dim=-1)  # (T, V)
        np.testing.assert_array_equal(lens.top_ids[row], probabilities.argmax(dim=-1).numpy())
        np.testing.assert_allclose(lens.top_probabilities[row], probabilities.max(dim=-1).values.numpy(), atol=1e-5)
        expected_final = probabilities[torch.arange(len(final_ids)), final_ids].numpy()
        np.testing.assert_allclose(lens.final_probabilities[row], expected_final, atol=1e-5)


@pytest.mark.parametrize("text", [PROMPT, MASKED_PROMPT])
@pytest.mark.parametrize("model_name", ["gpt", "bert"])
def test_the_last_row_is_the_models_own_output(request, model_name, text):
    loaded = request.getfixturevalue(model_name)
    analysis = analyze(loaded, text)
    last = len(analysis.hidden_states) - 1
    with torch.no_grad():
        logits = loaded.model(input_ids=torch.tensor([analysis.tokens.ids])).logits[0]  # (T, V), independently
    np.testing.assert_allclose(layer_logits(loaded, analysis, last).numpy(), logits.numpy(), atol=1e-4)
    lens = logit_lens(loaded, analysis)
    np.testing.assert_array_equal(lens.final_ids, logits.argmax(dim=-1).numpy())
    np.testing.assert_array_equal(lens.top_ids[-1], lens.final_ids)  # at the top, the top guess IS the final one
    np.testing.assert_allclose(lens.final_probabilities[-1], lens.top_probabilities[-1])
    assert lens.final_tokens == [token_label(loaded.tokenizer, int(i)) for i in lens.final_ids]


def test_shapes_are_as_documented(gpt):
    analysis = analyze(gpt, PROMPT)
    lens = logit_lens(gpt, analysis)
    rows, T = gpt.model.config.n_layer + 1, len(analysis.tokens)
    assert lens.top_ids.shape == lens.top_probabilities.shape == lens.final_probabilities.shape == (rows, T)
    assert len(lens.top_tokens) == rows and all(len(row) == T for row in lens.top_tokens)
    assert lens.row_names == ["embeddings"] + [f"after layer {layer}" for layer in range(rows - 1)]
    assert ((lens.final_probabilities >= 0) & (lens.final_probabilities <= lens.top_probabilities + 1e-7)).all()


def test_gpt_rows_recomputed_from_each_blocks_output(gpt):
    """Row 0 = lm_head(ln_f(wte + wpe)); row l = lm_head(ln_f(output of block l-1)), caught by hooks.
    ln_f is applied exactly once, also in the last row, where Hugging Face had already applied it."""
    analysis = analyze(gpt, PROMPT)
    transformer, head = gpt.model.transformer, gpt.model.lm_head
    ids = torch.tensor([analysis.tokens.ids])
    outputs = block_outputs(transformer.h, lambda: gpt.model(input_ids=ids))
    with torch.no_grad():
        embedded = transformer.wte(ids[0]) + transformer.wpe(torch.arange(ids.shape[1]))  # (T, D)
        expected = [head(transformer.ln_f(stream)) for stream in [embedded, *outputs]]
    assert len(expected) == gpt.model.config.n_layer + 1
    check_rows(logit_lens(gpt, analysis), expected)


def test_bert_rows_recomputed_with_the_masked_lm_head(bert):
    analysis = analyze(bert, MASKED_PROMPT)
    ids = torch.tensor([analysis.tokens.ids])
    outputs = block_outputs(bert.model.bert.encoder.layer, lambda: bert.model(input_ids=ids))
    with torch.no_grad():
        embedded = bert.model.bert.embeddings(input_ids=ids)[0]  # (T, D)
        expected = [bert.model.cls(stream) for stream in [embedded, *outputs]]
    check_rows(logit_lens(bert, analysis), expected)


def test_a_rotary_llama_is_read_through_its_final_norm(gpt):
    llama = tiny_llama(gpt.tokenizer)
    analysis = analyze(llama, PROMPT)
    with torch.no_grad():
        logits = llama.model(input_ids=torch.tensor([analysis.tokens.ids])).logits[0]  # (T, V)
    np.testing.assert_allclose(layer_logits(llama, analysis, 1).numpy(), logits.numpy(), atol=1e-4)
    with torch.no_grad():
        embedded = llama.model.model.embed_tokens(torch.tensor(analysis.tokens.ids))  # (T, D)
        first = llama.model.lm_head(llama.model.model.norm(embedded))
    np.testing.assert_allclose(layer_logits(llama, analysis, 0).numpy(), first.numpy(), atol=1e-5)


def test_an_unknown_architecture_gives_none(gpt):
    opt = tiny_opt(gpt.tokenizer)
    assert logit_lens(opt, analyze(opt, PROMPT)) is None


def test_the_table_has_one_row_per_layer_and_position(gpt):
    analysis = analyze(gpt, PROMPT)
    lens = logit_lens(gpt, analysis)
    table = lens_table(lens, analysis.tokens.display)
    rows, T = lens.top_ids.shape
    assert len(table) == rows * T
    cell = table[(table["layer"] == "after layer 1") & (table["position"] == 3)].iloc[0]
    assert cell["input_token"] == analysis.tokens.display[3]
    assert cell["top_token"] == lens.top_tokens[2][3] and cell["p_final"] == lens.final_probabilities[2, 3]


# ---------------------------------------------------------------- the page


@pytest.mark.slow
def test_page_shows_the_lens_of_the_last_position(gpt):
    app = open_page("pages/logit_lens.py", prompt=PROMPT)
    assert not app.exception and not app.error
    analysis = analyze(gpt, PROMPT)
    picker = app.selectbox[0]
    assert picker.label == "Position" and picker.value == len(analysis.tokens) - 1
    assert not app.slider  # a short text fits in one window
    shown = app.dataframe[0].value
    lens = logit_lens(gpt, analysis)
    assert list(shown["layer"]) == lens.row_names
    assert list(shown["top_token"]) == [row[-1] for row in lens.top_tokens]
    assert list(shown["p_final"]) == pytest.approx(list(lens.final_probabilities[:, -1]), abs=1e-6)
    picker.set_value(2).run()
    assert list(app.dataframe[0].value["p_top"]) == pytest.approx(list(lens.top_probabilities[:, 2]), abs=1e-6)


@pytest.mark.slow
def test_page_on_the_masked_model(bert):
    app = open_page("pages/logit_lens.py", MASKED_PROMPT, model="tiny-bert-austen")
    assert not app.exception and not app.error
    analysis = analyze(bert, MASKED_PROMPT)
    assert app.selectbox[0].value == analysis.prediction_position  # the [MASK]
    assert any("Masked model" in c.value for c in app.caption)
    lens = logit_lens(bert, analysis)
    shown = app.dataframe[0].value
    assert list(shown["p_final"]) == pytest.approx(list(lens.final_probabilities[:, analysis.prediction_position]), abs=1e-6)


@pytest.mark.slow
def test_a_long_text_is_shown_forty_positions_at_a_time():
    app = open_page("pages/logit_lens.py", prompt="It was a fine day in the country. " * 12)
    assert not app.exception
    window = app.slider[0]
    assert window.label == "First position shown"
    assert any(f"Showing positions {window.value}–{window.value + 39}" in i.value for i in app.info)
    window.set_value(0).run()
    assert any("Showing positions 0–39" in i.value for i in app.info)


@pytest.mark.slow
def test_page_on_a_rotary_model(monkeypatch, gpt):
    llama = tiny_llama(gpt.tokenizer)
    app = open_with_model(monkeypatch, llama, "pages/logit_lens.py", PROMPT)
    assert not app.exception and not app.error
    lens = logit_lens(llama, analyze(llama, PROMPT))
    assert list(app.dataframe[0].value["p_final"]) == pytest.approx(list(lens.final_probabilities[:, -1]), abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("blank", ["", "   \n"])
def test_empty_prompt_gives_a_friendly_hint(blank):
    app = open_page("pages/logit_lens.py", prompt=blank)
    assert not app.exception and not app.error
    assert any("Type some text" in info.value for info in app.info)


def test_each_cell_is_coloured_by_the_probability_of_the_guess_printed_in_it(gpt):
    analysis = analyze(gpt, PROMPT)
    lens = logit_lens(gpt, analysis)
    tokens = analysis.tokens.display
    figure = plots.logit_lens_heatmap(lens.final_probabilities, lens.top_tokens, lens.top_probabilities,
                                      lens.final_tokens, tokens, lens.row_names)
    heatmap = figure.data[0]
    np.testing.assert_allclose(values(heatmap.z), lens.top_probabilities.T)  # (T, L+1): the printed guess's p
    assert heatmap.text[2][1] == lens.top_tokens[1][2]  # position 2, after layer 0: the guess in the cell
    assert heatmap.customdata[2][1][1] == f"{lens.final_probabilities[1, 2]:.3f}"  # the final prediction's p, on hover

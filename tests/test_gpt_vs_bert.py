"""GPT vs BERT: the side-by-side attention and BERT's fill-in-the-blank agree with the models."""

import numpy as np
import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explainer import plots
from explainer.analysis import analyze
from explainer.attention import mean_over_heads
from explainer.causal_vs_masked import DEFAULT_BLANK, attention_map, fill_mask, filled_in, future_share
from tests.app_harness import open_page

BLANK = "She was the [MASK] of the family."
PROMPT = "It is a truth universally acknowledged"


def model_probabilities(bert, text: str) -> tuple[list[int], torch.Tensor]:
    """An independent computation: the [MASK] positions and softmax(logits) there, (M, V)."""
    ids = bert.tokenizer(text)["input_ids"]
    positions = [t for t, i in enumerate(ids) if i == bert.tokenizer.mask_token_id]
    with torch.no_grad():
        logits = bert.model(input_ids=torch.tensor([ids])).logits[0]  # (T, V)
    return positions, torch.softmax(logits[positions], dim=-1)


def test_fill_mask_is_the_softmax_of_the_logits_at_the_mask(bert):
    table = fill_mask(bert, BLANK, 10)
    (position,), probabilities = model_probabilities(bert, BLANK)
    best = torch.argsort(probabilities[0], descending=True)[:10]
    assert list(table.columns) == ["mask_index", "position", "rank", "id", "token", "probability"]
    assert list(table["position"]) == [position] * 10 and list(table["rank"]) == list(range(1, 11))
    assert list(table["id"]) == best.tolist()
    np.testing.assert_allclose(table["probability"], probabilities[0, best].numpy(), atol=1e-6)
    assert list(table["token"]) == bert.tokenizer.convert_ids_to_tokens(best.tolist())


def test_the_embedded_bert_fills_the_default_blank_with_a_word(bert):
    best = fill_mask(bert, DEFAULT_BLANK, 1)["token"].iloc[0]  # the sentence the page opens with
    assert best.isalpha(), f"{DEFAULT_BLANK!r} -> {best!r}: the model is back on the unigram plateau"


def test_every_mask_gets_its_own_guesses(bert):
    text = "[MASK] was the pride of the [MASK]."
    table = fill_mask(bert, text, 5)
    positions, probabilities = model_probabilities(bert, text)
    assert list(table["mask_index"].unique()) == [0, 1]
    for m, position in enumerate(positions):
        rows = table[table["mask_index"] == m]
        assert (rows["position"] == position).all()
        np.testing.assert_allclose(rows["probability"], probabilities[m].sort(descending=True).values[:5].numpy(), atol=1e-6)
    first, second = table.loc[table["rank"] == 1, "token"]
    assert filled_in(text, table) == f"{first.removeprefix('##')} was the pride of the {second.removeprefix('##')}."


@pytest.mark.parametrize("text,message", [("She was the pride of the family.", "no [MASK]"), ("  ", "Type some text")])
def test_text_without_a_mask_says_so(bert, text, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fill_mask(bert, text, 5)


def test_a_long_text_is_cut_to_the_context(bert):
    table = fill_mask(bert, "[MASK] " + "It was a fine day. " * 200, 3)
    assert list(table["position"]) == [1, 1, 1]  # after [CLS]
    assert table["probability"].is_monotonic_decreasing


def test_only_the_masked_model_looks_ahead(gpt, bert):
    causal, masked = analyze(gpt, PROMPT), analyze(bert, PROMPT)
    for layer in range(causal.layer_count):
        for head in [None, *range(causal.head_count)]:
            assert future_share(attention_map(causal, layer, head)) == 0.0
    assert future_share(attention_map(masked, 0, None)) > 0
    np.testing.assert_array_equal(attention_map(masked, 1, None), mean_over_heads(masked, 1))
    np.testing.assert_array_equal(attention_map(masked, 1, 2), masked.attentions[1][2])
    uniform = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]  # causal: 0 ahead
    assert future_share(uniform) == 0.0 and future_share(np.full((4, 4), 0.25)) == pytest.approx(0.375)


def test_guesses_reach_the_figure_escaped():
    table = pd.DataFrame({"mask_index": [0, 0], "position": [3, 3], "rank": [1, 2], "id": [7, 8],
                          "token": ["<img src=x onerror=alert(1)>", "<b>"], "probability": [0.6, 0.4]})
    shown = str(plots.fill_mask_bars(table).to_plotly_json())
    assert "<img" not in shown and "<b>" not in shown and "&lt;img" in shown


# ------------------------------------------------------------------ the page


def future_metrics(app: AppTest) -> list[str]:
    return [m.value for m in app.metric if m.label == "Attention to later tokens"]


@pytest.mark.slow
def test_the_page_compares_both_models_whatever_the_sidebar_says(gpt, bert):
    app = open_page("pages/gpt_vs_bert.py", prompt=PROMPT)
    assert not app.exception and not app.error
    assert app.sidebar.selectbox(key="model_choice").value == "tiny-gpt-austen"  # app.py's sidebar ran
    assert [s.label for s in app.selectbox if s.label in ("Layer", "Head")] == ["Layer", "Head"] * 2
    assert len(app.selectbox(key="layer_tiny-gpt-austen").options) == gpt.model.config.n_layer
    assert len(app.selectbox(key="head_tiny-bert-austen").options) == bert.model.config.num_attention_heads + 1
    masked = analyze(bert, PROMPT)
    assert future_metrics(app) == ["0.0%", f"{future_share(mean_over_heads(masked, 0)):.1%}"]
    assert len(app.latex) == 2  # the two training objectives

    app.selectbox(key="head_tiny-bert-austen").set_value(1)
    app.selectbox(key="layer_tiny-bert-austen").set_value(2).run()
    assert future_metrics(app)[1] == f"{future_share(masked.attentions[2][1]):.1%}"

    app.sidebar.selectbox(key="model_choice").set_value("tiny-bert-austen").run()
    assert not app.exception and len(future_metrics(app)) == 2


@pytest.mark.slow
def test_the_blank_is_filled_with_the_explainers_numbers(bert):
    app = open_page("pages/gpt_vs_bert.py", prompt=PROMPT)
    assert app.text_input[0].value == BLANK  # the sidebar text has no [MASK]: the default sentence
    shown = app.dataframe[0].value
    expected = fill_mask(bert, BLANK, 8)
    assert list(shown["id"]) == list(expected["id"])
    assert list(shown["probability"]) == pytest.approx(list(expected["probability"]), abs=1e-7)

    app.slider[0].set_value(4)
    app.text_input[0].set_value("[MASK] is a truth universally [MASK].").run()
    assert not app.exception
    assert list(app.dataframe[0].value["mask_index"]) == [0] * 4 + [1] * 4


@pytest.mark.slow
def test_a_mask_in_the_sidebar_text_is_used():
    text = "Emma was the [MASK] of Highbury."
    app = open_page("pages/gpt_vs_bert.py", prompt=text)
    assert app.text_input[0].value == text
    assert len(app.dataframe) == 1 and not app.exception


@pytest.mark.slow
def test_a_sentence_without_a_mask_says_so_plainly():
    app = open_page("pages/gpt_vs_bert.py", prompt=PROMPT)
    app.text_input[0].set_value("She was the pride of the family.").run()
    assert not app.exception and not app.error
    assert any("There is no [MASK]" in info.value for info in app.info)
    assert len(app.dataframe) == 0


@pytest.mark.slow
@pytest.mark.parametrize("blank", ["", "  \n"])
def test_an_empty_prompt_gives_the_hint_and_the_blank_still_works(blank):
    app = open_page("pages/gpt_vs_bert.py", prompt=blank)
    assert not app.exception and not app.error
    assert any("Type some text" in info.value for info in app.info)
    assert len(app.dataframe) == 1  # fill in the blank has its own sentence


@pytest.mark.slow
def test_a_prompt_longer_than_the_context(gpt, bert):
    app = open_page("pages/gpt_vs_bert.py", prompt="It was a fine day. " * 300)
    assert not app.exception and not app.error
    warnings = [w.value for w in app.warning]
    assert any(f"reads at most {gpt.context_length} tokens" in w for w in warnings)
    assert any(f"reads at most {bert.context_length} tokens" in w for w in warnings)
    assert len(future_metrics(app)) == 2

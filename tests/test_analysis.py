"""The analysis agrees with independent computations from the model itself."""

import math
import threading

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from explainer.analysis import analyze
from explainer.models import LoadedModel, ModelSpec
from explainer.tokenization import text_pieces

TEXTS = [
    "The cat is on the roof.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune",
    "大家好，我是一个语言模型。😀👩‍👩‍👧 done",
]


@pytest.mark.parametrize("text", TEXTS)
def test_mean_token_loss_equals_the_models_own_loss(gpt, text):
    analysis = analyze(gpt, text)
    ids = torch.tensor([analysis.tokens.ids])
    with torch.no_grad():
        expected = gpt.model(input_ids=ids, labels=ids).loss.item()
    assert analysis.mean_loss == pytest.approx(expected, abs=1e-5)
    assert np.isnan(analysis.token_losses[0]) and analysis.scored[1:].all()
    assert analysis.perplexity == pytest.approx(math.exp(expected), rel=1e-5)


def test_probabilities_and_ranks_match_a_plain_softmax(gpt):
    analysis = analyze(gpt, TEXTS[1])
    ids = torch.tensor([analysis.tokens.ids])
    with torch.no_grad():
        logits = gpt.model(input_ids=ids).logits[0]  # (T, V)
    probabilities = torch.softmax(logits, dim=-1)
    for t in range(1, len(analysis.tokens)):
        actual = analysis.tokens.ids[t]
        p = probabilities[t - 1, actual].item()
        rank = int((probabilities[t - 1] > probabilities[t - 1, actual]).sum()) + 1
        assert analysis.token_probabilities[t] == pytest.approx(p, rel=1e-4, abs=1e-7)
        assert analysis.token_ranks[t] == rank
    np.testing.assert_allclose(analysis.next_token_probabilities, probabilities[-1].numpy(), atol=1e-6)
    assert analysis.next_token_probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_attention_rows_sum_to_one_and_the_causal_mask_is_exact(gpt, bert):
    causal = np.stack(analyze(gpt, TEXTS[0]).attentions)  # (L, H, T, T)
    masked = np.stack(analyze(bert, TEXTS[0]).attentions)
    for weights in (causal, masked):
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    upper = np.triu_indices(causal.shape[-1], k=1)
    assert (causal[:, :, upper[0], upper[1]] == 0).all()
    upper = np.triu_indices(masked.shape[-1], k=1)
    assert (masked[:, :, upper[0], upper[1]] > 0).all()


@pytest.mark.parametrize("layer,head", [(0, 0), (2, 3)])
def test_one_gpt_head_recomputed_by_hand(gpt, layer, head):
    analysis = analyze(gpt, TEXTS[1])
    block = gpt.model.transformer.h[layer]
    x = torch.from_numpy(analysis.hidden_states[layer])  # (T, D): the residual stream entering the block
    n_embd, n_head = gpt.model.config.n_embd, gpt.model.config.n_head
    d_k = n_embd // n_head
    with torch.no_grad():
        qkv = block.attn.c_attn(block.ln_1(x))  # (T, 3D)
    q, k, _ = qkv.split(n_embd, dim=-1)
    q = q[:, head * d_k : (head + 1) * d_k]  # (T, d_k)
    k = k[:, head * d_k : (head + 1) * d_k]
    scores = q @ k.T / math.sqrt(d_k)  # (T, T)
    future = torch.triu(torch.ones_like(scores, dtype=torch.bool), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    np.testing.assert_allclose(analysis.attentions[layer][head], weights.numpy(), atol=1e-5)


def test_one_bert_head_recomputed_by_hand(bert):
    layer, head = 1, 2
    analysis = analyze(bert, "She was the [MASK] of the family.")
    attention = bert.model.bert.encoder.layer[layer].attention.self
    x = torch.from_numpy(analysis.hidden_states[layer])  # (T, D)
    d_k = bert.model.config.hidden_size // bert.model.config.num_attention_heads
    with torch.no_grad():
        q = attention.query(x)[:, head * d_k : (head + 1) * d_k]  # (T, d_k)
        k = attention.key(x)[:, head * d_k : (head + 1) * d_k]
    weights = torch.softmax(q @ k.T / math.sqrt(d_k), dim=-1)  # no mask: bidirectional
    np.testing.assert_allclose(analysis.attentions[layer][head], weights.numpy(), atol=1e-5)


def test_masked_model_scores_each_token_with_it_hidden(bert):
    analysis = analyze(bert, "She was the pride of the family.")
    position = 4  # "pride" after [CLS] she was the
    ids = torch.tensor([analysis.tokens.ids])
    ids[0, position] = bert.tokenizer.mask_token_id
    with torch.no_grad():
        log_probs = torch.log_softmax(bert.model(input_ids=ids).logits[0, position], dim=-1)
    assert analysis.token_losses[position] == pytest.approx(-log_probs[analysis.tokens.ids[position]].item(), abs=1e-5)
    assert np.isnan(analysis.token_losses[0]) and np.isnan(analysis.token_losses[-1])  # [CLS], [SEP]
    assert analysis.prediction_position == len(analysis.tokens) - 2  # the last ordinary token, hidden


def test_masked_scores_equal_one_masked_copy_at_a_time_at_every_position(bert):
    analysis = analyze(bert, "Mr. Darcy was a very proud man, and she knew it.")
    for position in np.flatnonzero(analysis.scored):
        ids = torch.tensor([analysis.tokens.ids])
        ids[0, position] = bert.tokenizer.mask_token_id
        with torch.no_grad():
            log_probs = torch.log_softmax(bert.model(input_ids=ids).logits[0, position], dim=-1)
        actual = analysis.tokens.ids[position]
        assert analysis.token_losses[position] == pytest.approx(-log_probs[actual].item(), abs=1e-5)
        assert analysis.token_ranks[position] == int((log_probs > log_probs[actual]).sum()) + 1


@pytest.mark.slow
def test_masked_scoring_never_makes_a_tokens_squared_by_vocabulary_tensor(bert):
    """Each masked copy runs the output head at its masked position only, a few copies at a time:
    bert-base on 512 tokens would otherwise build a (512, 512, 30522) tensor, 32 GB."""
    config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=512)
    torch.manual_seed(0)
    model = BertForMaskedLM(config).eval()
    wide = LoadedModel(ModelSpec("test/wide-bert", "masked", "random"), bert.tokenizer, model)
    largest_output = []
    model.get_output_embeddings().register_forward_hook(lambda module, inputs, out: largest_output.append(out.numel()))
    analysis = analyze(wide, "the family " * 400)
    T, V = len(analysis.tokens), config.vocab_size
    assert T == 512
    assert largest_output[0] == T * V  # the one ordinary forward
    assert max(largest_output[1:]) <= 64 * V  # masked copies: one row each, a bounded number at a time
    assert sum(largest_output[1:]) == (T - 2) * V  # every ordinary token was scored, once


def test_masked_scoring_leaves_other_threads_forwards_alone(bert):
    """The head's pre-hook acts only in the thread that scores masked copies."""
    ids = torch.tensor([bert.tokenizer("She was the pride of the family.")["input_ids"]])
    with torch.no_grad():
        expected = bert.model(input_ids=ids).logits
    shapes, stop = [], threading.Event()

    def forward_again_and_again():
        while not stop.is_set():
            with torch.no_grad():
                shapes.append(bert.model(input_ids=ids).logits.shape)

    other = threading.Thread(target=forward_again_and_again)
    other.start()
    for _ in range(5):
        analyze(bert, "Mr. Darcy was a very proud man, and she knew it. " * 2)
    stop.set()
    other.join()
    assert shapes and set(shapes) == {expected.shape}


def test_masked_model_predicts_at_a_typed_mask(bert):
    analysis = analyze(bert, "She was the [MASK] of the family.")
    assert analysis.tokens.ids[analysis.prediction_position] == bert.tokenizer.mask_token_id
    assert analysis.next_token_probabilities.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("text", TEXTS + ["a\x00b\tc\r\nd\u202eé", "  leading and trailing  ", "<|endoftext|> x"])
def test_token_offsets_reproduce_the_text(gpt, text):
    tokens = analyze(gpt, text).tokens
    assert "".join(text_pieces(tokens)) == text


def test_shapes_are_as_documented(gpt):
    analysis = analyze(gpt, TEXTS[0])
    T, V = len(analysis.tokens), len(gpt.tokenizer)
    L, H, D = gpt.model.config.n_layer, gpt.model.config.n_head, gpt.model.config.n_embd
    assert analysis.top_ids.shape == (T,) and analysis.next_token_logits.shape == (V,)
    assert len(analysis.attentions) == L and all(layer.shape == (H, T, T) for layer in analysis.attentions)
    assert analysis.hidden_states.shape == (L + 1, T, D)
    assert analysis.token_losses.shape == analysis.token_ranks.shape == (T,)


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_blank_text_is_a_clear_value_error(gpt, text):
    with pytest.raises(ValueError, match="Type some text"):
        analyze(gpt, text)


@pytest.mark.slow
def test_text_longer_than_the_context_is_truncated(gpt, bert):
    long_text = "It was a fine day in the country. " * 400
    for model in (gpt, bert):
        analysis = analyze(model, long_text)
        assert analysis.truncated
        assert len(analysis.tokens) == model.context_length
        assert analysis.original_token_count > model.context_length
    assert not analyze(gpt, "short").truncated


HOSTILE = [
    "😀👩‍👩‍👧‍👦🏳️‍🌈",
    "中文文本，测试。",
    "مرحبا بالعالم שלום",
    "\x00\x01\x07\x1b[31m",
    "\ud800 lone surrogate",
    "<|endoftext|>[MASK][CLS]",
    "x" * 5000,
    "word " * 20000,
]


@pytest.mark.slow
@pytest.mark.parametrize("text", HOSTILE)
def test_any_unicode_goes_through_both_models(gpt, bert, text):
    for model in (gpt, bert):
        analysis = analyze(model, text)
        assert len(analysis.tokens) >= 1
        assert np.isfinite(analysis.attentions).all()

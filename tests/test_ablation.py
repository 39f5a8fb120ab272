"""Break it and see: switching parts off is exact, leaves other threads alone, and the KV cache changes nothing
but the time."""

import math
import threading

import numpy as np
import pytest
import torch

from explainer import ablation, kv_cache
from explainer.ablation import NOTHING, Ablation, ablated, effect, head_ranking, inside, kl_divergence, scores
from explainer.tokenization import tokenize
from tests.app_harness import open_page
from tests.test_untrusted_text import PAYLOAD, assert_shown_only_as_text

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune"


def manual_gpt2_logits(model, ids: list[int], head: tuple[int, int] | None = None,
                       neurons: tuple[int, int, int] | None = None) -> torch.Tensor:
    """GPT-2's forward pass written out from its weights, with one head's output (or a block of MLP neurons) zeroed:
    (T, V) logits. Independent of the hooks under test."""
    transformer, config = model.transformer, model.config
    T, D, H = len(ids), config.n_embd, config.n_head
    d_k = D // H
    x = transformer.wte(torch.tensor(ids)) + transformer.wpe(torch.arange(T))  # (T, D)
    hidden_mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # (T, T): later keys
    for layer, block in enumerate(transformer.h):
        q, k, v = block.attn.c_attn(block.ln_1(x)).split(D, dim=-1)  # (T, D) each
        q, k, v = (t.view(T, H, d_k).transpose(0, 1) for t in (q, k, v))  # (H, T, d_k)
        weights = torch.softmax((q @ k.transpose(1, 2) / math.sqrt(d_k)).masked_fill(hidden_mask, float("-inf")), -1)
        per_head = weights @ v  # (H, T, d_k)
        if head is not None and head[0] == layer:
            per_head[head[1]] = 0
        x = x + block.attn.c_proj(per_head.transpose(0, 1).reshape(T, D))
        activations = block.mlp.act(block.mlp.c_fc(block.ln_2(x)))  # (T, 4D)
        if neurons is not None and neurons[0] == layer:
            activations[:, neurons[1]:neurons[2]] = 0
        x = x + block.mlp.c_proj(activations)
    return model.lm_head(transformer.ln_f(x))  # (T, V)


@pytest.fixture(scope="module")
def text_ids(gpt):
    return tokenize(gpt.tokenizer, TEXT).ids


@torch.no_grad()
def test_the_written_out_forward_pass_is_the_models(gpt, text_ids):
    expected = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]
    assert torch.allclose(manual_gpt2_logits(gpt.model, text_ids), expected, atol=1e-4)


@torch.no_grad()
def test_ablating_nothing_is_the_model(gpt, text_ids):
    expected = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]  # (T, V)
    with ablated(gpt.model, NOTHING):
        inside_the_block = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]
    assert torch.equal(inside_the_block, expected)
    result = scores(gpt.model, True, text_ids, [False] * len(text_ids), len(text_ids) - 1)
    assert np.allclose(result.logits[1:], expected[:-1].numpy(), atol=1e-5)
    assert np.allclose(result.prediction_logits, expected[-1].numpy(), atol=1e-5)
    losses = torch.nn.functional.cross_entropy(expected[:-1], torch.tensor(text_ids[1:]), reduction="none")
    assert np.isnan(result.token_losses[0]) and np.allclose(result.token_losses[1:], losses.numpy(), atol=1e-5)


@pytest.mark.parametrize("head", [(0, 0), (2, 1), (3, 3)])
@torch.no_grad()
def test_ablating_a_head_is_the_forward_pass_with_that_heads_output_zeroed(gpt, text_ids, head):
    with ablated(gpt.model, Ablation(heads=frozenset({head}))):
        ablated_logits = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]
    expected = manual_gpt2_logits(gpt.model, text_ids, head=head)
    assert torch.allclose(ablated_logits, expected, atol=1e-4)
    assert not torch.allclose(ablated_logits, manual_gpt2_logits(gpt.model, text_ids), atol=1e-3)  # it did change


@torch.no_grad()
def test_ablating_mlp_neurons_is_the_forward_pass_with_them_zeroed(gpt, text_ids):
    block = (1, 64, 192)
    with ablated(gpt.model, Ablation(neurons=frozenset({block}))):
        ablated_logits = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]
    assert torch.allclose(ablated_logits, manual_gpt2_logits(gpt.model, text_ids, neurons=block), atol=1e-4)


@torch.no_grad()
def test_an_ablation_in_one_thread_leaves_the_shared_model_whole_for_the_others(gpt, text_ids):
    expected = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]
    seen = {}

    def other_session():
        seen["logits"] = gpt.model(input_ids=torch.tensor([text_ids])).logits[0]

    with ablated(gpt.model, Ablation(heads=frozenset({(3, 0), (2, 2)}))):
        thread = threading.Thread(target=other_session)
        thread.start()
        thread.join()
    assert torch.equal(seen["logits"], expected)


def test_kl_divergence_is_zero_for_the_same_distribution_and_positive_otherwise():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0)).numpy()
    assert kl_divergence(logits, logits) == 0.0
    assert kl_divergence(logits, logits + 3.0) == pytest.approx(0.0, abs=1e-12)  # the same softmax
    other = torch.randn(50, generator=torch.Generator().manual_seed(1)).numpy()
    assert kl_divergence(logits, other) > 0.01
    p = torch.softmax(torch.tensor(logits, dtype=torch.float64), -1)
    q = torch.softmax(torch.tensor(other, dtype=torch.float64), -1)
    assert kl_divergence(logits, other) == pytest.approx(float((p * (p / q).log()).sum()), rel=1e-9)


def test_the_head_ranking_is_each_heads_own_loss_rise_most_first(gpt, text_ids):
    special = [False] * len(text_ids)
    table = head_ranking(gpt.model, True, text_ids, special, len(text_ids) - 1)
    assert len(table) == gpt.model.config.n_layer * gpt.model.config.n_head
    assert list(table["loss_increase"]) == sorted(table["loss_increase"], reverse=True)
    top = table.iloc[0]
    whole = scores(gpt.model, True, text_ids, special, len(text_ids) - 1).mean_loss
    without = scores(gpt.model, True, text_ids, special, len(text_ids) - 1,
                     ablation=Ablation(heads=frozenset({(int(top["layer"]), int(top["head"]))}))).mean_loss
    assert top["loss_increase"] == pytest.approx(without - whole, abs=1e-6)


def test_the_effect_of_switching_nothing_off_is_nothing(gpt, text_ids):
    result = effect(gpt.model, True, text_ids, [False] * len(text_ids), len(text_ids) - 1, None, NOTHING)
    assert result.kl == 0.0 and result.same_top
    assert np.nanmax(np.abs(result.loss_change)) == 0.0


def test_masked_scores_read_each_token_where_it_was_hidden(bert):
    tokens = tokenize(bert.tokenizer, "She was the best of the family, and everyone knew it.")
    position = len(tokens) - 2  # the last ordinary token
    mask_id = bert.tokenizer.mask_token_id
    result = scores(bert.model, False, tokens.ids, tokens.special, position, mask_id)
    assert np.isnan(result.token_losses[0]) and np.isnan(result.token_losses[-1])  # [CLS], [SEP]
    t = 3
    rows = ablation.masked_rows(torch.tensor(tokens.ids), ~torch.tensor(tokens.special), mask_id)
    row = next(r for r in rows if r[t] == mask_id)  # the one pass that hid token t
    with torch.no_grad():
        logits = bert.model(input_ids=row[None]).logits[0, t]
    expected_loss = float(torch.nn.functional.cross_entropy(logits, torch.tensor(tokens.ids[t])))
    assert result.token_losses[t] == pytest.approx(expected_loss, abs=1e-4)
    hidden = torch.tensor(tokens.ids)
    hidden[position] = mask_id
    with torch.no_grad():
        expected = bert.model(input_ids=hidden[None]).logits[0, position]
    assert np.allclose(result.prediction_logits, expected.numpy(), atol=1e-4)


@torch.no_grad()
def test_residual_norms_and_mlp_activations_are_the_models_own(gpt, text_ids):
    seen = inside(gpt.model, text_ids)
    captured = {}
    last = gpt.model.transformer.h[-1].register_forward_hook(lambda m, a, out: captured.setdefault(
        "last", out[0] if isinstance(out, tuple) else out))
    act = gpt.model.transformer.h[1].mlp.act.register_forward_hook(lambda m, a, out: captured.setdefault("act", out))
    try:
        output = gpt.model(input_ids=torch.tensor([text_ids]), output_hidden_states=True)
    finally:
        last.remove()
        act.remove()
    assert np.allclose(seen.residual_norms[0], output.hidden_states[0][0].norm(dim=-1).numpy(), atol=1e-4)
    assert np.allclose(seen.residual_norms[-1], captured["last"][0].norm(dim=-1).numpy(), atol=1e-3)  # before ln_f
    assert np.allclose(seen.mlp_activations[1], captured["act"][0].numpy(), atol=1e-5)
    assert len(seen.mlp_activations) == 4 and seen.mlp_activations[0].shape == (len(text_ids), ablation.mlp_size(gpt.model))


# ------------------------------------------------------------------ KV cache


@pytest.mark.parametrize("steps", [12])
def test_cached_and_uncached_generations_are_identical_and_greedy(gpt, text_ids, steps):
    prompt = text_ids[:6]
    cached = kv_cache.greedy(gpt.model, prompt, len(prompt) + steps, use_cache=True)
    uncached = kv_cache.greedy(gpt.model, prompt, len(prompt) + steps, use_cache=False)
    assert cached.ids == uncached.ids
    with torch.no_grad():
        generated = gpt.model.generate(torch.tensor([prompt]), max_new_tokens=steps, do_sample=False,
                                       pad_token_id=gpt.tokenizer.eos_token_id)
    assert cached.ids == generated[0].tolist()
    assert cached.lengths == list(range(len(prompt), len(prompt) + steps))


@pytest.mark.slow
def test_the_timing_reports_each_length_and_the_cache_is_faster_at_256_tokens(gpt, text_ids):
    timing = kv_cache.timing(gpt.model, text_ids, gpt.context_length)
    assert timing.same_tokens and len(timing.generated) == 256
    assert list(timing.summary["length"]) == [32, 64, 128, 256]
    assert timing.summary.iloc[-1]["speedup"] > 1.5


# ------------------------------------------------------------------ the page


@pytest.mark.slow
def test_the_page_shows_the_effect_of_switching_off_the_most_important_head(gpt):
    app = open_page("pages/ablation.py", prompt=TEXT)
    assert not app.exception and not app.error
    ids = tokenize(gpt.tokenizer, TEXT).ids
    table = head_ranking(gpt.model, True, ids, [False] * len(ids), len(ids) - 1)
    top = (int(table.iloc[0]["layer"]), int(table.iloc[0]["head"]))
    assert app.multiselect[0].value == [top]
    after = scores(gpt.model, True, ids, [False] * len(ids), len(ids) - 1, ablation=Ablation(heads=frozenset({top})))
    shown = {m.label: m.value for m in app.metric}
    assert shown["Mean loss, switched off"] == f"{after.mean_loss:.3f} nats"


@pytest.mark.slow
def test_the_page_switches_off_mlp_neurons_and_nothing(gpt):
    app = open_page("pages/ablation.py", prompt=TEXT)
    app.selectbox(key="ablation_mlp_layer_tiny-gpt-austen").set_value(2).run()
    app.multiselect[0].set_value([]).run()
    assert not app.exception and not app.error
    shown = {m.label: m.value for m in app.metric}
    assert shown["Same top-1 next token"] in ("yes", "no") and "Mean loss, switched off" in shown
    app.selectbox(key="ablation_mlp_layer_tiny-gpt-austen").set_value(None).run()
    assert any("Nothing is switched off" in info.value for info in app.info)


@pytest.mark.slow
def test_the_page_works_on_the_masked_model():
    app = open_page("pages/ablation.py", prompt="She was the [MASK] of the family.", model="tiny-bert-austen")
    assert not app.exception and not app.error


@pytest.mark.slow
def test_a_hostile_prompt_is_shown_as_text():
    assert_shown_only_as_text(open_page("pages/ablation.py", prompt=PAYLOAD))


@torch.no_grad()
def test_a_llama_style_model_is_taken_apart_through_its_adapter(gpt):
    from tests.app_harness import tiny_qwen

    model = tiny_qwen(gpt.tokenizer).model
    ids = gpt.tokenizer(TEXT)["input_ids"][:12]
    expected = model(input_ids=torch.tensor([ids])).logits[0]
    whole = scores(model, True, ids, [False] * len(ids), len(ids) - 1)
    assert np.allclose(whole.prediction_logits, expected[-1].numpy(), atol=1e-5)
    heads_off = scores(model, True, ids, [False] * len(ids), len(ids) - 1, ablation=Ablation(heads=frozenset({(1, 2)})))
    neurons_off = scores(model, True, ids, [False] * len(ids), len(ids) - 1,
                         ablation=Ablation(neurons=frozenset({(0, 0, 64)})))  # all of layer 0's MLP
    assert not np.allclose(heads_off.prediction_logits, whole.prediction_logits)
    assert not np.allclose(neurons_off.prediction_logits, whole.prediction_logits)
    seen = inside(model, ids)
    assert seen.residual_norms.shape == (3, len(ids)) and seen.mlp_activations[1].shape == (len(ids), 64)

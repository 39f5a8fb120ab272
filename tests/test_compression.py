"""Make it smaller: quantization stays within half a step, pruning removes exactly what it says, the held-out
loss is the loop's own, distillation repeats itself, and the page shows these numbers."""

import copy
import math

import pytest
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from explainer import compression
from explainer.ablation import kl_divergence
from explainer.compression import (
    heldout_loss,
    magnitude_order,
    prunable_matrices,
    prune_,
    pruned_copy,
    quantize,
    quantized_bytes,
    quantized_copy,
    weight_matrices,
)
from explainer.corpus import shipped_prose
from explainer.training import distillation
from explainer.training.loop import causal_loss_on, switch_off_dropout
from tests.app_harness import open_page
from tests.test_untrusted_text import PAYLOAD, assert_shown_only_as_text

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune"


@pytest.fixture(scope="module")
def prose():
    return shipped_prose()


@pytest.fixture(scope="module")
def heldout(gpt, prose):
    return compression.held_out(gpt, prose[1], tokens=1024)


# ------------------------------------------------------------------ quantization


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("output_axis", [0, 1])
def test_dequantized_weights_are_within_half_a_step_of_the_originals(bits, output_axis):
    weight = torch.randn(48, 40, generator=torch.Generator().manual_seed(bits + output_axis)) * 0.05
    weight[3 if output_axis == 0 else slice(None), 3 if output_axis == 1 else slice(None)] = 0  # a channel of zeros
    quantized = quantize(weight, bits, output_axis)
    q_max = 2 ** (bits - 1) - 1
    assert quantized.codes.dtype == torch.int8 and int(quantized.codes.abs().max()) == q_max
    steps = quantized.scales  # (C,) one per output channel
    assert len(steps) == weight.shape[output_axis]
    error = (quantized.dequantized() - weight).abs().movedim(output_axis, 0)  # (C, …)
    assert bool((error <= steps[:, None] / 2 + 1e-7).all())
    largest = weight.abs().movedim(output_axis, 0).amax(dim=1)
    nonzero = largest > 0
    assert torch.allclose(steps[nonzero], largest[nonzero] / q_max)


def test_the_models_matrices_are_found_with_their_output_channels(gpt):
    matrices = {m.name: m for m in weight_matrices(gpt.model)}
    assert matrices["transformer.h.0.mlp.c_fc.weight"].output_axis == 1  # Conv1D stores (in, out)
    assert matrices["transformer.wte.weight"].embedding and matrices["transformer.wte.weight"].output_axis == 0
    assert "lm_head.weight" not in matrices  # tied to the token table: counted once
    assert sum(m.parameter.numel() for m in matrices.values()) + sum(
        p.numel() for p in gpt.model.parameters() if p.dim() < 2) + gpt.model.transformer.wpe.weight.numel() * 0 \
        == sum(p.numel() for p in gpt.model.parameters())


@pytest.mark.slow
def test_a_quantized_copy_leaves_the_model_alone_and_rounds_every_matrix(gpt):
    before = gpt.model.transformer.h[0].mlp.c_fc.weight.detach().clone()
    copy8 = quantized_copy(gpt.model, 8)
    assert torch.equal(gpt.model.transformer.h[0].mlp.c_fc.weight, before)
    expected = quantize(before, 8, output_axis=1).dequantized()
    assert torch.equal(copy8.transformer.h[0].mlp.c_fc.weight, expected)
    assert torch.equal(copy8.lm_head.weight, copy8.transformer.wte.weight)  # still tied
    assert all(torch.equal(a, b) for a, b in zip(quantized_copy(gpt.model, 32).parameters(), gpt.model.parameters()))


def test_sizes_count_bits_and_scales(gpt):
    full = compression.fp32_bytes(gpt.model)
    assert full == 4 * sum(p.numel() for p in gpt.model.parameters())
    matrices = weight_matrices(gpt.model)
    weights = sum(m.parameter.numel() for m in matrices)
    channels = sum(m.parameter.shape[m.output_axis] for m in matrices)
    assert quantized_bytes(gpt.model, 8) == full - 4 * weights + weights + 4 * channels
    assert quantized_bytes(gpt.model, 4) == full - 4 * weights + weights // 2 + 4 * channels
    assert quantized_bytes(gpt.model, 32) == full


@pytest.mark.slow
@torch.no_grad()
def test_int8_predicts_almost_the_same_and_int4_drifts_further(gpt):
    ids = torch.tensor([gpt.tokenizer(TEXT)["input_ids"]])
    logits = gpt.model(input_ids=ids).logits[0, -1].numpy()
    kl8 = kl_divergence(logits, quantized_copy(gpt.model, 8)(input_ids=ids).logits[0, -1].numpy())
    kl4 = kl_divergence(logits, quantized_copy(gpt.model, 4)(input_ids=ids).logits[0, -1].numpy())
    assert 0 < kl8 < kl4 < 1
    assert kl_divergence(logits, logits) == 0


@pytest.mark.slow
@torch.no_grad()
def test_dynamic_int8_turns_gpt2s_conv1d_into_quantized_linear_layers(gpt):
    ids = torch.tensor([gpt.tokenizer(TEXT)["input_ids"]])
    dynamic = compression.dynamic_int8(gpt.model)
    assert not any(isinstance(m, Conv1D) for m in dynamic.modules())
    assert not any(type(m) is nn.Linear for m in dynamic.modules())  # every Linear was replaced
    kl = kl_divergence(gpt.model(input_ids=ids).logits[0, -1].numpy(), dynamic(input_ids=ids).logits[0, -1].numpy())
    assert 0 < kl < 0.05
    assert compression.saved_bytes(dynamic) < compression.saved_bytes(gpt.model)


# ------------------------------------------------------------------ held-out loss


def test_the_heldout_loss_is_the_training_loops_own(gpt, heldout):
    assert len(heldout.ids) == 1024 and heldout.window == 256
    three_windows = heldout.first(3 * 256 + 1)  # the loop's own function keeps one id after its last window
    expected = causal_loss_on(gpt.model, three_windows.ids, three_windows.window)
    assert three_windows.loss(gpt.model) == pytest.approx(expected, rel=1e-5)


def test_the_heldout_slice_is_an_equal_share_of_every_novel(gpt, prose):
    ids = compression.heldout_ids(gpt.tokenizer, prose[1], tokens=600)
    share = math.ceil(600 / len(prose[1]))
    first = gpt.tokenizer(prose[1][0][:2000], add_special_tokens=False)["input_ids"][:share]
    assert ids[:share].tolist() == first and len(ids) == 600


# ------------------------------------------------------------------ pruning


@torch.no_grad()
def test_pruning_at_zero_is_the_identity(gpt):
    pruned = pruned_copy(gpt.model, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(pruned.parameters(), gpt.model.parameters()))


@pytest.mark.slow
@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.9])
def test_pruning_zeroes_that_share_of_each_matrix_the_smallest_first(gpt, sparsity):
    pruned = pruned_copy(gpt.model, sparsity)
    originals = {m.name: m.parameter for m in prunable_matrices(gpt.model)}
    assert "transformer.wte.weight" not in originals and len(originals) == 4 * gpt.model.config.n_layer
    for matrix in prunable_matrices(pruned):
        original = originals[matrix.name].detach()
        assert int((original == 0).sum()) == 0  # so every zero below is a pruned weight
        zeroed = matrix.parameter == 0
        assert int(zeroed.sum()) == round(sparsity * original.numel())
        assert float(original[zeroed].abs().max()) <= float(original[~zeroed].abs().min())
        assert torch.equal(matrix.parameter[~zeroed], original[~zeroed])
    assert torch.equal(pruned.transformer.wte.weight, gpt.model.transformer.wte.weight)


def test_prune_reuses_a_precomputed_order():
    weight = torch.tensor([[0.3, -0.1, 0.0], [2.0, -0.05, 1.0]])
    order = magnitude_order(weight)
    assert prune_([weight], 0.5, [order]) == 3
    assert torch.equal(weight, torch.tensor([[0.3, 0.0, 0.0], [2.0, 0.0, 1.0]]))


@pytest.mark.slow
def test_the_pruning_curve_starts_at_the_model_and_rises(gpt, heldout):
    table = compression.pruning_curve(gpt.model, heldout, sparsities=(0.0, 0.5, 0.9))
    assert table["loss"].iloc[0] == pytest.approx(heldout.loss(gpt.model), rel=1e-6)
    assert list(table["loss"]) == sorted(table["loss"])
    assert table["zeroed_weights"].iloc[0] == 0


@pytest.mark.slow
def test_head_removal_ranks_every_head_and_ends_with_all_of_them_off(gpt, heldout):
    short = heldout.first(512)
    importance, curve = compression.head_removal(gpt.model, short)
    assert len(importance) == 16 and list(importance["loss_increase"]) == sorted(importance["loss_increase"])
    assert list(curve["heads_removed"]) == list(range(17))
    assert curve["loss"].iloc[0] == pytest.approx(short.loss(gpt.model))
    assert curve["loss"].iloc[1] == pytest.approx(short.loss(gpt.model) + importance["loss_increase"].iloc[0], abs=1e-5)


# ------------------------------------------------------------------ distillation


@torch.no_grad()
def test_the_soft_target_loss_is_zero_for_a_student_equal_to_its_teacher_and_positive_otherwise(gpt):
    ids = torch.tensor([gpt.tokenizer(TEXT)["input_ids"]])
    twin = switch_off_dropout(copy.deepcopy(gpt.model))  # the teacher's own weights, as a student without dropout
    same = distillation.Objective(twin, gpt.model, temperature=2.0, soft=True).train()
    assert same(input_ids=ids, labels=ids).loss.item() == pytest.approx(0.0, abs=1e-5)
    assert not gpt.model.training  # the teacher is no submodule: training the objective leaves it in eval mode
    student = distillation.student(gpt.model.config.vocab_size, 0, seed=1)
    objective = distillation.Objective(student, gpt.model, temperature=2.0, soft=True).train()
    assert objective(input_ids=ids, labels=ids).loss.item() > 0.1
    assert [p for p in objective.parameters()] == [p for p in student.parameters()]  # only the student trains
    objective.eval()  # evaluations measure the cross-entropy against the real tokens
    assert objective(input_ids=ids, labels=ids).loss.item() == pytest.approx(
        student(input_ids=ids, labels=ids).loss.item())


def small_run(gpt, prose, seed=7) -> distillation.DistillationRun:
    return distillation.DistillationRun(
        gpt.model, distillation.training_ids(gpt.tokenizer, prose[0], characters=3000),
        compression.heldout_ids(gpt.tokenizer, prose[1], tokens=256), gpt.tokenizer.eos_token_id,
        steps=6, batch_size=4, eval_every=3, seed=seed)


@pytest.mark.slow
def test_the_distillation_run_repeats_exactly_with_the_same_seed(gpt, prose):
    first, second = small_run(gpt, prose), small_run(gpt, prose)
    first.execute(distillation.Unattended())
    torch.rand(5)  # the global generator moves between runs: it must not matter
    second.execute(distillation.Unattended())
    assert distillation.curve_table(first.curves).equals(distillation.curve_table(second.curves))
    assert first.perplexities == second.perplexities and set(first.perplexities) == set(distillation.TARGETS)
    soft, hard = (distillation.curve_table(first.curves).groupby("target")["train_loss"].apply(list)[t]
                  for t in distillation.TARGETS)
    assert soft != hard  # the same batches and start, different targets
    assert first.teacher_perplexity == pytest.approx(math.exp(heldout_loss(gpt.model, True, first.val_ids, 64)))


# ------------------------------------------------------------------ the page


@pytest.mark.slow
def test_the_page_shows_the_measured_perplexities_and_sizes(gpt, prose):
    app = open_page("pages/compression.py", prompt=TEXT)
    assert not app.exception and not app.error
    shown = {m.label: m.value for m in app.metric}
    data = compression.held_out(gpt, prose[1])
    assert shown["fp32: perplexity"] == f"{math.exp(data.loss(gpt.model)):.2f}"
    assert shown["int4: perplexity"] == f"{math.exp(data.loss(quantized_copy(gpt.model, 4))):.2f}"
    assert set(shown) >= {"int8: perplexity", "dynamic int8: perplexity", "KL divergence", "Top-1 agreement over the text"}


@pytest.mark.slow
def test_every_section_of_the_page_runs():
    app = open_page("pages/compression.py", prompt=TEXT)
    app.segmented_control(key="compression_section").set_value("pruning").run()
    assert not app.exception and "50% of the weights at 0" in [m.label for m in app.metric]
    app.segmented_control(key="compression_section").set_value("distillation").run()
    assert not app.exception and any(b.label == "Train both students" for b in app.button)
    app.segmented_control(key="compression_section").set_value("kv_cache").run()
    app.button(key="measure_kv_cache").click().run()
    assert not app.exception and not app.error
    assert list(app.dataframe[0].value["length"]) == [32, 64, 128, 256]


@pytest.mark.slow
def test_a_hostile_prompt_is_shown_as_text():
    assert_shown_only_as_text(open_page("pages/compression.py", prompt=PAYLOAD))

"""The training loop learns, on a tiny model in seconds."""

import math

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

from explainer.training.loop import (
    TrainingSettings,
    causal_batches,
    causal_loss_on,
    estimate_loss,
    learning_rate_at,
    masked_batches,
    train,
)


def _repetitive_ids(length: int) -> torch.Tensor:
    return torch.arange(length) % 7  # a pattern a tiny model learns at once


@pytest.mark.slow
def test_a_few_steps_of_training_lower_the_causal_loss():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=16, n_positions=16, n_embd=32, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    )
    ids = _repetitive_ids(2000)
    before = causal_loss_on(model, ids[:500], 16)
    batches = causal_batches(ids, ids[:500], 8, 16, torch.Generator().manual_seed(0))
    result = train(model, batches, TrainingSettings(max_steps=60, warmup_steps=5, eval_every=30, eval_batches=2))
    assert result.steps == 60 and len(result.evaluations) == 2
    assert causal_loss_on(model, ids[:500], 16) < before / 3


@pytest.mark.slow
def test_masked_batches_hide_about_fifteen_percent_and_training_learns():
    torch.manual_seed(0)
    ids = _repetitive_ids(3000) + 5  # ids 0..4 are reserved for special tokens
    batches = masked_batches(
        ids, ids, 16, 32, torch.Generator().manual_seed(0), mask_token_id=4, vocab_size=12, special_ids=(2, 3)
    )
    batch = batches("train")
    assert (batch["input_ids"][:, 0] == 2).all() and (batch["input_ids"][:, -1] == 3).all()
    hidden = (batch["labels"] != -100).float().mean().item()
    assert 0.08 < hidden < 0.22
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=12,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=32,
        )
    )
    before = estimate_loss(model, batches, "val", batches=4)
    result = train(model, batches, TrainingSettings(max_steps=80, warmup_steps=5, eval_every=40, eval_batches=4))
    assert before == pytest.approx(math.log(12), abs=0.3)  # an untrained model guesses the 12 ids about evenly
    assert result.evaluations[-1].val_loss < before - 0.4


def test_learning_rate_warms_up_then_decays():
    settings = TrainingSettings(max_steps=100, learning_rate=1.0, min_learning_rate=0.1, warmup_steps=10)
    assert learning_rate_at(0, 0, settings) == 0.1
    assert learning_rate_at(9, 0, settings) == 1.0
    assert learning_rate_at(55, 0, settings) < 1.0
    assert learning_rate_at(100, 0, settings) == 0.1


@pytest.mark.slow
def test_a_stop_request_ends_the_run():
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=16, n_positions=16, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0)
    )
    ids = _repetitive_ids(500)
    batches = causal_batches(ids, ids, 4, 16, torch.Generator().manual_seed(0))
    result = train(model, batches, TrainingSettings(max_steps=1000, eval_batches=1), should_stop=lambda: True)
    assert result.stopped_because == "stopped" and result.steps == 1

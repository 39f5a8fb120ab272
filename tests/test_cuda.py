"""On a CUDA machine, every stage gives the numbers the CPU gives (within 1e-4 in fp32); skipped elsewhere.

Each test runs a stage twice: on the GPU with the model as the app loads it, and on the CPU with a copy of the
same weights, and compares what the pages would show.
"""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from explainer.ablation import Ablation, scores
from explainer.analysis import analyze
from explainer.attention_steps import show_work
from explainer.compression import held_out
from explainer.corpus import shipped_prose
from explainer.embeddings import embed
from explainer.generation import generate
from explainer.logit_lens import logit_lens
from explainer.models import LoadedModel
from explainer.prediction import SamplingSettings
from explainer.training.loop import TrainingSettings, causal_batches, train
from explainer.training.pretraining import MODEL_SIZES

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device: the GPU path is compared with the CPU only where there is a GPU")

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def pair(gpt):
    """(the app's GPT on the GPU, the same weights on the CPU)."""
    on_gpu = replace(gpt, model=copy.deepcopy(gpt.model).cuda()) if gpt.model.device.type != "cuda" else gpt
    return on_gpu, replace(gpt, model=copy.deepcopy(on_gpu.model).cpu())


def close(a, b) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), atol=TOLERANCE, rtol=0)


def test_the_analysis_is_the_same(pair):
    gpu, cpu = (analyze(loaded, TEXT) for loaded in pair)
    for field in ("token_losses", "token_probabilities", "next_token_probabilities", "hidden_states"):
        close(getattr(gpu, field), getattr(cpu, field))
    for layer_gpu, layer_cpu in zip(gpu.attentions, cpu.attentions):
        close(layer_gpu, layer_cpu)
    assert (gpu.token_ranks == cpu.token_ranks).all()


def test_the_lens_steps_and_embeddings_are_the_same(pair):
    analyses = [analyze(loaded, TEXT) for loaded in pair]
    lenses = [logit_lens(loaded, analysis) for loaded, analysis in zip(pair, analyses)]
    close(lenses[0].top_probabilities, lenses[1].top_probabilities)
    steps = [show_work(loaded, analysis, layer=1, head=0, query=5) for loaded, analysis in zip(pair, analyses)]
    close(steps[0].weights, steps[1].weights)
    close(steps[0].projected, steps[1].projected)
    parts = [embed(loaded, analysis) for loaded, analysis in zip(pair, analyses)]
    close(parts[0].block_input, parts[1].block_input)


def test_seeded_sampling_draws_the_same_tokens(pair):
    settings = SamplingSettings(temperature=0.9, top_k=40)
    gpu, cpu = (generate(loaded, TEXT, 12, "sample", settings, seed=7) for loaded in pair)
    assert gpu.generated_ids == cpu.generated_ids
    close([s.chosen_probability for s in gpu.steps], [s.chosen_probability for s in cpu.steps])


def test_ablation_and_held_out_loss_are_the_same(pair):
    analysis = analyze(pair[1], TEXT)
    switched_off = Ablation(heads=frozenset({(0, 1), (2, 3)}))
    gpu, cpu = (scores(loaded.model, True, list(analysis.tokens.ids), [False] * len(analysis.tokens), 3,
                       ablation=switched_off) for loaded in pair)
    close(gpu.token_losses, cpu.token_losses)
    __, validation = shipped_prose()
    losses = [held_out(loaded, validation, tokens=1024).loss(loaded.model) for loaded in pair]
    assert abs(losses[0] - losses[1]) < TOLERANCE


def test_training_steps_give_the_same_losses(gpt):
    size = MODEL_SIZES[0]
    ids = torch.arange(4096) % len(gpt.tokenizer)
    settings = TrainingSettings(max_steps=10, batch_size=4, learning_rate=1e-3, eval_every=5, eval_batches=1)
    results = []
    for where in ("cuda", "cpu"):
        model = size.build(len(gpt.tokenizer), gpt.tokenizer.eos_token_id, seed=3).to(where)
        batches = causal_batches(ids, ids, 4, size.context, torch.Generator().manual_seed(3))
        results.append(train(model, batches, settings))
    close([e.val_loss for e in results[0].evaluations], [e.val_loss for e in results[1].evaluations])


def test_the_loaded_model_is_on_the_gpu(gpt):
    assert isinstance(gpt, LoadedModel) and gpt.model.device.type == "cuda"

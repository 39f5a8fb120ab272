"""One adapter per model family: what it says about a model is what the model does."""

import math

import pytest
import torch
from transformers import AutoConfig, GPT2Config, GPT2LMHeadModel

from explainer.architectures import GPT2, Architecture, Bert, Llama, UnknownArchitecture, architecture_of
from explainer.models import REGISTRY
from explainer.training.pretraining import MODEL_SIZES
from tests.app_harness import tiny_llama, tiny_opt, tiny_qwen


@pytest.fixture(scope="module")
def small(gpt):
    """The embedded models and tiny random models of the other families, by name."""
    return {"llama": tiny_llama(gpt.tokenizer), "qwen": tiny_qwen(gpt.tokenizer), "opt": tiny_opt(gpt.tokenizer)}


def test_each_family_has_its_adapter_and_the_kind_it_reads_with(gpt, bert, small):
    assert type(gpt.architecture) is GPT2 and gpt.architecture.kind == "causal"
    assert type(bert.architecture) is Bert and bert.architecture.kind == "masked"
    assert type(small["llama"].architecture) is type(small["qwen"].architecture) is Llama
    assert small["llama"].architecture.causal and not bert.architecture.causal
    assert type(small["opt"].architecture) is Architecture and small["opt"].architecture.kind == "causal"  # from its config


def test_the_loaded_kind_is_the_architectures_and_agrees_with_the_registry(gpt, bert):
    for loaded in (gpt, bert):
        assert loaded.spec.kind == loaded.architecture.kind == REGISTRY[loaded.spec.name].kind


def test_a_config_that_is_no_language_model_is_refused():
    config = AutoConfig.for_model("opt", architectures=["OPTForSequenceClassification"])
    with pytest.raises(UnknownArchitecture, match="is not one"):
        assert architecture_of(config).kind in ("causal", "masked")


def test_the_token_and_position_tables_are_the_models_own(gpt, bert, small):
    assert gpt.architecture.token_table(gpt.model) is gpt.model.get_input_embeddings()
    assert bert.architecture.token_table(bert.model) is bert.model.get_input_embeddings()
    assert gpt.architecture.position_table(gpt.model) is gpt.model.transformer.wpe
    assert bert.architecture.position_table(bert.model) is bert.model.bert.embeddings.position_embeddings
    assert small["llama"].architecture.position_table(small["llama"].model) is None
    assert small["llama"].architecture.position_scheme == "rotary"


@pytest.mark.parametrize("name", ["gpt", "bert", "llama", "qwen"])
def test_the_rebuilt_input_of_block_0_is_the_models_own(request, small, name):
    loaded = small[name] if name in small else request.getfixturevalue(name)
    ids = torch.tensor(loaded.tokenizer("It is a truth universally acknowledged")["input_ids"])  # (T,)
    with torch.no_grad():
        parts = loaded.architecture.input_parts(loaded.model, ids)
        own = loaded.model(input_ids=ids[None], output_hidden_states=True).hidden_states[0][0]  # (T, D)
    torch.testing.assert_close(parts.block_input, own)


def test_embedding_parameters_count_every_table(gpt, bert):
    wte, wpe = gpt.model.transformer.wte.weight, gpt.model.transformer.wpe.weight
    assert gpt.architecture.embedding_parameters(gpt.model) == wte.numel() + wpe.numel()
    tables = bert.model.bert.embeddings
    expected = sum(t.weight.numel() for t in (tables.word_embeddings, tables.position_embeddings, tables.token_type_embeddings))
    assert bert.architecture.embedding_parameters(bert.model) == expected


def test_gpt2_initialisation_is_drawn_from_the_generator_alone():
    config = MODEL_SIZES[1].config(vocab_size=300, end_of_text=0)

    def built(seed: int) -> GPT2LMHeadModel:
        torch.manual_seed(seed + 100)  # the global generator's state must not matter
        model = GPT2LMHeadModel(config)
        GPT2(config).initialize(model, torch.Generator().manual_seed(seed))
        return model

    first, again, other = built(1), built(1), built(2)
    for (name, a), b, c in zip(first.named_parameters(), again.parameters(), other.parameters()):
        assert torch.equal(a, b), name
        assert a.dim() < 2 or not torch.equal(a, c), name
    weights = dict(first.named_parameters())
    residual = weights["transformer.h.0.attn.c_proj.weight"]
    assert residual.std().item() == pytest.approx(0.02 / math.sqrt(2 * config.n_layer), rel=0.1)
    assert weights["transformer.h.0.attn.c_attn.weight"].std().item() == pytest.approx(0.02, rel=0.1)
    assert first.lm_head.weight is first.transformer.wte.weight  # the head is still the token table
    assert torch.equal(weights["transformer.h.0.ln_1.weight"], torch.ones(config.n_embd))


def test_only_families_with_an_adapter_can_show_attention_step_by_step(gpt, bert, small):
    assert gpt.architecture.attention_steps_problem() is None and bert.architecture.attention_steps_problem() is None
    assert small["qwen"].architecture.attention_steps_problem() is None
    assert "Llama-style" in small["opt"].architecture.attention_steps_problem()
    rescaled = GPT2(GPT2Config(scale_attn_by_inverse_layer_idx=True))
    assert rescaled.attention_steps_problem() is not None  # scores scaled by more than 1/√d_k

"""How the tests open the app: AppTest through app.py, with the prompt (and optionally a model) chosen in the sidebar."""

from pathlib import Path

import streamlit as st
import torch
from streamlit.testing.v1 import AppTest
from transformers import LlamaConfig, LlamaForCausalLM, OPTConfig, OPTForCausalLM, Qwen2Config, Qwen2ForCausalLM

from explainer.models import ALLOWLIST_VARIABLE, LoadedModel, ModelSpec, load_model
from pages.shared import OTHER_MODEL

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PROMPT = "It is a truth universally acknowledged"
TINY_LLAMA = "test/tiny-llama"


def open_page(page: str, prompt: str | None = PROMPT, **query) -> AppTest:
    """Run app.py with ``query`` in the URL, type ``prompt`` in the sidebar, and switch to ``page``."""
    app = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    if prompt is not None:
        app.sidebar.text_area(key="prompt").set_value(prompt)
    app.switch_page(page).run()
    return app


def open_with_model(monkeypatch, loaded: LoadedModel, page: str, prompt: str = PROMPT) -> AppTest:
    """Open ``page`` with ``loaded`` chosen as an "other" model (the sidebar's loader is patched to return it).

    Streamlit's caches live as long as the process, so they are cleared first:
    another test may have cached a different model under the same name.
    """
    st.cache_resource.clear()
    st.cache_data.clear()
    monkeypatch.delenv(ALLOWLIST_VARIABLE, raising=False)
    monkeypatch.setattr("pages.shared.load_model",
                        lambda name, **options: loaded if name == loaded.spec.name else load_model(name, **options))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.selectbox(key="model_choice").set_value(OTHER_MODEL).run()
    app.sidebar.text_input(key="custom_model").set_value(loaded.spec.name)
    app.sidebar.text_area(key="prompt").set_value(prompt)
    app.switch_page(page).run()
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def tiny_llama(tokenizer) -> LoadedModel:
    """A randomly initialised one-layer Llama (rotary positions, no position table) with the given tokenizer."""
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         attn_implementation="eager")
    torch.manual_seed(0)
    return LoadedModel(ModelSpec(TINY_LLAMA, "causal", "tiny random Llama for tests"), tokenizer,
                       LlamaForCausalLM(config).eval())


def tiny_qwen(tokenizer) -> LoadedModel:
    """A randomly initialised two-layer Qwen2: biased q, k, v and four query heads sharing two key/value heads."""
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         attn_implementation="eager")
    torch.manual_seed(0)
    return LoadedModel(ModelSpec("test/tiny-qwen2", "causal", "tiny random Qwen2 for tests"), tokenizer,
                       Qwen2ForCausalLM(config).eval())


def tiny_opt(tokenizer) -> LoadedModel:
    """A randomly initialised one-layer OPT: a family without an adapter in explainer/architectures.py."""
    config = OPTConfig(vocab_size=len(tokenizer), hidden_size=16, ffn_dim=32, num_hidden_layers=1,
                       num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=16,
                       attn_implementation="eager", architectures=["OPTForCausalLM"])
    torch.manual_seed(0)
    return LoadedModel(ModelSpec("test/tiny-opt", "causal", "tiny random OPT"), tokenizer, OPTForCausalLM(config).eval())

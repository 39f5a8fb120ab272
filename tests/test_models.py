"""The registry, the allowlist and the loading rules."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from explainer import models
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, ModelSpec, ModelUnavailable, resolve

ROOT = Path(__file__).resolve().parent.parent


def test_registry_has_the_embedded_and_well_known_models():
    assert {EMBEDDED_GPT, EMBEDDED_BERT, "gpt2", "distilgpt2", "bert-base-uncased", "HuggingFaceTB/SmolLM2-135M"} <= set(
        models.REGISTRY
    )
    assert models.DEFAULT_MODEL == EMBEDDED_GPT
    assert models.REGISTRY[EMBEDDED_BERT].kind == "masked"


def test_embedded_models_load_ready_for_analysis(gpt, bert):
    for loaded in (gpt, bert):
        assert not loaded.model.training
        assert loaded.model.config._attn_implementation == "eager"
        assert next(loaded.model.parameters()).dtype == torch.float32  # stored fp16, upcast on load
    assert gpt.spec.kind == "causal" and bert.spec.kind == "masked"
    assert gpt.context_length >= 256


def test_embedded_models_are_small_safetensors_with_cards():
    total = 0
    for name in (EMBEDDED_GPT, EMBEDDED_BERT):
        folder = models.EMBEDDED_DIR / name
        weights = folder / "model.safetensors"
        assert weights.stat().st_size <= 25 * 2**20
        total += weights.stat().st_size
        assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")]
        card = (folder / "README.md").read_text()
        for needed in ("Corpus", "Licence", "parameters", "Wall time", "perplexity", "Samples"):
            assert needed in card
    assert total <= 40 * 2**20


@pytest.mark.parametrize("bad", ["../models/x", "/etc/passwd", "http://evil.example/model", "a/b/c", "", "owner/..", "x y"])
def test_paths_urls_and_malformed_ids_are_refused(bad):
    with pytest.raises(ModelUnavailable):
        resolve(bad)


def test_allowlist_restricts_hub_models_but_never_the_embedded_ones(monkeypatch):
    monkeypatch.setenv(models.ALLOWLIST_VARIABLE, "gpt2")
    assert resolve("gpt2").name == "gpt2"
    assert resolve(EMBEDDED_BERT).embedded
    with pytest.raises(ModelUnavailable, match="not allowed"):
        resolve("distilgpt2")
    with pytest.raises(ModelUnavailable, match="not allowed"):
        resolve("someone/some-model")
    assert [spec.name for spec in models.available_models()] == [EMBEDDED_GPT, EMBEDDED_BERT, "gpt2"]
    monkeypatch.setenv(models.ALLOWLIST_VARIABLE, "*")
    assert resolve("someone/some-model").name == "someone/some-model"


def test_pickle_weights_are_never_loaded(tmp_path, monkeypatch):
    """A folder holding only a pickle checkpoint (pytorch_model.bin) must not load."""
    model = GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=8, n_embd=8, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0))
    folder = tmp_path / "pickled"
    model.config.architectures = ["GPT2LMHeadModel"]
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # a pickle checkpoint
    monkeypatch.setattr(models, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(OSError):
        models._from_pretrained(ModelSpec("pickled", "causal", "test", embedded=True), local_files_only=True)


def test_no_remote_code_anywhere():
    sources = [p for p in ROOT.rglob("*.py") if "tests" not in p.parts]
    assert sources
    for path in sources:
        assert "trust_remote_code=True" not in path.read_text(), path


def test_explainer_never_imports_streamlit():
    code = "import sys, explainer.analysis, explainer.attention, explainer.plots, explainer.prediction, " \
           "explainer.loss, explainer.tokenization, explainer.training, explainer.corpus; " \
           "print('streamlit' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    for path in (ROOT / "explainer").glob("*.py"):
        assert "import streamlit" not in path.read_text()


def test_offline_embedded_loads_and_a_hub_id_fails_fast_and_clearly():
    code = (
        "import time; from explainer.models import load_model, ModelUnavailable\n"
        "load_model('tiny-gpt-austen'); load_model('tiny-bert-austen')\n"
        "t = time.perf_counter()\n"
        "try:\n    load_model('gpt2')\nexcept ModelUnavailable as e:\n    print(round(time.perf_counter() - t, 2), e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seconds, message = result.stdout.strip().split(" ", 1)
    assert float(seconds) < 10
    assert "cannot be reached" in message and "tiny-gpt-austen" in message


def test_unreachable_hub_is_detected_within_the_probe_timeout(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens on the discard port
    started = time.perf_counter()
    assert not models.hub_reachable(timeout=2)
    assert time.perf_counter() - started < 5

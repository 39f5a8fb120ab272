"""Benchmark "Make it smaller" and "Break it and see" on the embedded GPT (tiny-gpt-austen).

    python bench/compression.py        # writes bench/results/compression.json

- perplexity and size at fp32, int8, int4 (and PyTorch's dynamic int8), on the page's held-out slice;
- perplexity at 50% and 90% magnitude sparsity;
- a distilled student against the same student on hard labels, same seed, at two short fixed budgets;
- the most important head on one example text (the one whose removal raises the text's loss most);
- ms per generated token with and without the KV cache at 32 and 256 tokens.

One thread, so the times are those of one core of this (shared) machine.
"""

from __future__ import annotations

import math
import time

import torch

from explainer import ablation, compression, kv_cache
from explainer.corpus import shipped_prose
from explainer.models import EMBEDDED_GPT, load_model
from explainer.tokenization import tokenize
from explainer.training import distillation
from tools.bench_results import save

EXAMPLE = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a"
DISTILLATION_STEPS = (120, 300)  # per student, batch 16 × 64 tokens: two short budgets
TEMPERATURE = 2.0


def main() -> None:
    torch.set_num_threads(1)
    loaded = load_model(EMBEDDED_GPT)
    model = loaded.model
    train_texts, val_texts = shipped_prose()
    heldout = compression.held_out(loaded, val_texts)
    sample = heldout.ids[:128][None]

    precisions = {}
    for precision, bits in compression.PRECISIONS.items():
        version = compression.quantized_copy(model, bits)
        precisions[precision] = {
            "perplexity": round(math.exp(heldout.loss(version)), 2),
            "megabytes": round(compression.quantized_bytes(model, bits) / 2**20, 3),
            "forward_ms_128_tokens": round(compression.forward_milliseconds(version, sample), 2),
        }
    dynamic = compression.dynamic_int8(model)
    precisions["dynamic int8"] = {
        "perplexity": round(math.exp(heldout.loss(dynamic)), 2),
        "megabytes": round(compression.saved_bytes(dynamic) / 2**20, 3),
        "forward_ms_128_tokens": round(compression.forward_milliseconds(dynamic, sample), 2),
    }

    pruning = compression.pruning_curve(model, heldout, sparsities=(0.0, 0.5, 0.9))
    sparsity = {f"{int(row.sparsity * 100)}%": round(row.perplexity, 2) for row in pruning.itertuples()}

    student = distillation.STUDENT
    distilled = {"student": f"{student.layers} layers x {student.heads} heads x {student.dims} dims",
                 "batch": f"16 x {student.context} tokens", "temperature": TEMPERATURE, "budgets": []}
    for steps in DISTILLATION_STEPS:
        started = time.perf_counter()
        run = distillation.DistillationRun(
            model, distillation.training_ids(loaded.tokenizer, train_texts),
            compression.heldout_ids(loaded.tokenizer, val_texts), loaded.tokenizer.eos_token_id, steps=steps,
            temperature=TEMPERATURE)
        run.execute(distillation.Unattended())
        distilled["teacher_perplexity"] = round(run.teacher_perplexity, 2)
        distilled["budgets"].append({
            "steps_per_student": steps, "seed": run.seed,
            "soft_targets_perplexity": round(run.perplexities["soft targets"], 2),
            "hard_labels_perplexity": round(run.perplexities["hard labels"], 2),
            "seconds_both": round(time.perf_counter() - started, 1),
        })

    tokens = tokenize(loaded.tokenizer, EXAMPLE)
    ranking = ablation.head_ranking(model, True, tokens.ids, tokens.special, len(tokens) - 1)
    top = ranking.iloc[0]
    head = {"text": EXAMPLE, "layer": int(top["layer"]), "head": int(top["head"]),
            "mean_loss_whole": round(float(top["mean_loss"] - top["loss_increase"]), 4),
            "mean_loss_without_it": round(float(top["mean_loss"]), 4),
            "next_token_kl": round(float(top["kl"]), 4)}

    timing = kv_cache.timing(model, tokens.ids, loaded.context_length)
    cache = {f"{int(row.length)} tokens": {"with_cache_ms": round(row.with_cache_ms, 2),
                                           "without_cache_ms": round(row.without_cache_ms, 2),
                                           "speedup": round(row.speedup, 2)}
             for row in timing.summary.itertuples()}

    save("compression", {
        "model": EMBEDDED_GPT,
        "heldout_tokens": len(heldout.ids),
        "quantization": precisions,
        "pruning_perplexity": sparsity,
        "distillation": distilled,
        "most_important_head": head,
        "kv_cache_ms_per_token": cache,
        "kv_cache_same_tokens": timing.same_tokens,
    })


if __name__ == "__main__":
    main()

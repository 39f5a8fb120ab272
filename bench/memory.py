"""Benchmark memory: what the embedded models and hub-sized models cost a server process.

    python bench/memory.py     # writes bench/results/memory.json

Measured in one fresh Python process (RSS from /proc): after the imports,
after loading the two embedded models, and after adding two randomly
initialised models of GPT-2 small's size (124M parameters each, fp32; the hub
can't be reached here, so these stand in for two hub models of that size).
The app keeps at most EXPLAINER_MAX_MODELS models loaded (default 3; Streamlit's
cache_resource drops the least recently used), which bounds the last figure.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from explainer.analysis import analyze
from explainer.models import EMBEDDED_BERT, EMBEDDED_GPT, load_model
from tools.bench_results import save
from tools.browser_driver import rss_mb

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    figures = {"after_imports_mb": rss_mb(os.getpid())}
    embedded = [load_model(EMBEDDED_GPT), load_model(EMBEDDED_BERT)]
    for loaded in embedded:
        analyze(loaded, "It is a truth universally acknowledged, that a single man")
    figures["with_both_embedded_models_mb"] = rss_mb(os.getpid())
    hub_sized = []
    for seed in range(2):
        torch.manual_seed(seed)
        hub_sized.append(GPT2LMHeadModel(GPT2Config(attn_implementation="eager")).eval())
    with torch.no_grad():
        for model in hub_sized:
            model(torch.arange(64)[None], output_attentions=True, output_hidden_states=True)
    figures["plus_two_gpt2_small_sized_models_mb"] = rss_mb(os.getpid())
    save("memory", {
        "gpt2_small_parameters": sum(p.numel() for p in hub_sized[0].parameters()),
        **{name: round(value, 1) for name, value in figures.items()},
    })

if __name__ == "__main__":
    main()

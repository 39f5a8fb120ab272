"""Benchmark the peak memory of one masked-model analysis (pseudo-likelihood: one masked copy per token).

    python bench/masked_memory.py     # writes bench/results/masked_memory.json, about a minute

Each case runs in a fresh Python process, which loads the model, runs one
small analysis to warm up, then analyses a text of T tokens; the figure is the
growth of the process's peak RSS (``ru_maxrss``) during that analysis. Cases:
the embedded BERT at its full context (128 tokens) and a randomly initialised
model of bert-base's shape (110M parameters, vocabulary 30,522; the hub can't
be reached here) at 128 and 512 tokens.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from tools.bench_results import save

ROOT = Path(__file__).resolve().parent.parent

TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife. "
CASES = {"embedded BERT, 128 tokens": ("embedded", 128), "bert-base shape, 128 tokens": ("bert-base", 128),
         "bert-base shape, 512 tokens": ("bert-base", 512)}


def measure(model: str, tokens: int) -> dict:
    """In this process: load ``model``, analyse a ``tokens``-token text, return the peak-RSS growth in MB."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from explainer.analysis import analyze
    from explainer.models import EMBEDDED_BERT, LoadedModel, ModelSpec, load_model

    loaded = load_model(EMBEDDED_BERT)
    if model == "bert-base":
        torch.manual_seed(0)
        config = BertConfig(attn_implementation="eager")  # bert-base-uncased's shape
        loaded = LoadedModel(ModelSpec("bert-base shape", "masked", "random"), loaded.tokenizer,
                             BertForMaskedLM(config).eval())
        loaded.model.config.max_position_embeddings = tokens
    analyze(loaded, "warm up")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    analysis = analyze(loaded, TEXT * 40)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tokens": len(analysis.tokens), "peak_growth_mb": round(peak - before, 1)}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
        return
    figures = {}
    for name, (model, tokens) in CASES.items():
        output = subprocess.run([sys.executable, __file__, "--case", model, str(tokens)],
                                capture_output=True, text=True, check=True).stdout
        figures[name] = json.loads(output.strip().splitlines()[-1])
    save("masked_memory", {"cases": figures})


if __name__ == "__main__":
    main()

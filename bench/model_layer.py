"""Benchmark the model layer: size, load time and analysis time of the embedded models.

    python bench/model_layer.py        # writes bench/results/model_layer.json

Times are the median of several runs on this machine; the JSON records which.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from explainer.analysis import analyze
from explainer.models import EMBEDDED_BERT, EMBEDDED_DIR, EMBEDDED_GPT, load_model
from tools.bench_results import save

ROOT = Path(__file__).resolve().parent.parent

REPEATS = 7
TEXT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want "
    "of a wife. However little known the feelings or views of such a man may be on his first entering a "
    "neighbourhood, this truth is so well fixed in the minds of the surrounding families"
)


def median_seconds(action, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    results = {
        "repeats": REPEATS,
        "models": {},
    }
    for name in (EMBEDDED_GPT, EMBEDDED_BERT):
        folder = EMBEDDED_DIR / name
        loaded = load_model(name)
        ids = loaded.tokenizer(TEXT, add_special_tokens=False)["input_ids"][:62]
        text64 = loaded.tokenizer.decode(ids)
        tokens = len(analyze(loaded, text64).tokens)
        metrics = json.loads((folder / "training_metrics.json").read_text())
        results["models"][name] = {
            "parameters": sum(p.numel() for p in loaded.model.parameters()),
            "validation_perplexity": metrics["validation_perplexity"],
            "weights_mb": round((folder / "model.safetensors").stat().st_size / 2**20, 2),
            "folder_mb": round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20, 2),
            "load_seconds": round(median_seconds(lambda name=name: load_model(name)), 4),
            "analysis_tokens": tokens,
            "analysis_seconds": round(median_seconds(lambda loaded=loaded, text=text64: analyze(loaded, text)), 4),
        }
    save("model_layer", results)


if __name__ == "__main__":
    main()

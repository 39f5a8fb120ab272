"""Benchmark the training pages: throughput, when samples turn into words, fine-tuning, and responsiveness.

    python bench/live_training.py     # about 7 minutes; writes bench/results/live_training.json

- Pretraining: each size of the Pretraining page trains on Austen for
  SECONDS_PER_SIZE seconds, as the page runs it (same board, loop, seed,
  samples every 100 steps). Reported: tokens per second, validation loss,
  the seconds to the first loss points, and the first sample whose words are all English, which is when a class
  sees gibberish turn into words. "English" means a word of the Austen
  training text; a sample needs at least 5 words to count.
- Fine-tuning: the Fine-tuning page's run (100 steps each); test accuracy and
  loss of the fine-tuned and the from-scratch classifier.
- Responsiveness: the analysis of a 64-token prompt on the embedded GPT
  (what every other page does on each update), idle and while a Small model
  trains, median of REPEATS.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from pathlib import Path

from explainer.analysis import analyze
from explainer.corpus import shipped_prose
from explainer.models import EMBEDDED_GPT, load_model
from explainer.runtime import use_torch_threads
from explainer.training.fine_tuning import FineTuningRun, load_sentiment
from explainer.training.jobs import JobBoard, TrainingJob
from explainer.training.pretraining import MODEL_SIZES, PretrainingRun, Sample, join_token_ids
from tools.bench_results import save

ROOT = Path(__file__).resolve().parent.parent

SECONDS_PER_SIZE = 60
REPEATS = 7
WORD = re.compile(r"[A-Za-z]+")
PROMPT = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
          "must be in want of a wife. However little known the feelings or views of such a man may be")


def wait(job: TrainingJob, while_waiting=lambda: None) -> None:
    """Keep ``job`` alive (as an open tab would) until it ends, calling ``while_waiting`` meanwhile."""
    while job.running:
        job.heartbeat()
        while_waiting()
        time.sleep(0.5)
    if job.state == "failed":
        raise RuntimeError(job.error)


def first_sample_in_words(samples: list[Sample], english: set[str]) -> Sample | None:
    """The first sample of at least 5 words, every one of them a word of ``english``."""
    for sample in samples:
        words = [w.lower() for w in WORD.findall(sample.text)]
        if len(words) >= 5 and all(w in english for w in words):
            return sample
    return None


def pretraining(tokenizer, train_texts: list[str], val_texts: list[str]) -> list[dict]:
    english = {w.lower() for text in train_texts for w in WORD.findall(text)}
    train_ids, val_ids = join_token_ids(tokenizer, train_texts), join_token_ids(tokenizer, val_texts)
    rows = []
    for size in MODEL_SIZES:
        run = PretrainingRun(size, "Austen", train_ids, val_ids, tokenizer)
        job = JobBoard().start("bench", run, max_seconds=SECONDS_PER_SIZE)
        wait(job)
        words = first_sample_in_words(run.samples, english)
        last = run.evaluations[-1]
        rows.append({
            "size": size.name, "shape": f"{size.layers}×{size.heads}×{size.dims}",
            "tokens_per_second": round(run.tokens_per_second), "steps": run.result.steps,
            "tokens_seen": last.tokens_seen, "val_loss": round(last.val_loss, 3),
            "first_loss_point_seconds": round(run.evaluations[0].seconds, 2),  # step 0: the untrained model
            "first_trained_point_seconds": round(run.evaluations[1].seconds, 2),
            "loss_points_in_first_10_seconds": sum(e.seconds <= 10 for e in run.evaluations),
            "words_after_seconds": round(words.seconds, 1) if words else None,
            "words_after_tokens": words.tokens_seen if words else None,
            "first_sample_in_words": words.text if words else None,
            "last_sample": run.samples[-1].text,
        })
        print(rows[-1], flush=True)
    return rows


def fine_tuning(tokenizer) -> dict:
    train_set, test_set = load_sentiment()
    run = FineTuningRun(tokenizer, train_set, test_set)
    started = time.perf_counter()
    wait(JobBoard().start("bench", run, max_seconds=math.inf))
    figures = {"seconds": round(time.perf_counter() - started, 1), "steps_each": run.steps}
    for start, curve in run.curves.items():
        figures[start] = {"test_accuracy": round(curve.accuracies[-1], 3),
                          "test_loss": round(curve.test_losses[-1], 3)}
    return figures


def responsiveness(tokenizer, train_texts: list[str], val_texts: list[str]) -> dict:
    loaded = load_model(EMBEDDED_GPT)
    text = tokenizer.decode(tokenizer(PROMPT)["input_ids"][:64])

    def seconds_per_analysis() -> float:
        started = time.perf_counter()
        analyze(loaded, text)
        return time.perf_counter() - started

    idle = statistics.median(seconds_per_analysis() for _ in range(REPEATS))
    small = next(size for size in MODEL_SIZES if size.name == "Small")
    run = PretrainingRun(small, "Austen", join_token_ids(tokenizer, train_texts[:1]),
                         join_token_ids(tokenizer, val_texts[:1]), tokenizer)
    job = JobBoard().start("bench", run, max_seconds=30)
    time.sleep(3)  # past the model's construction
    busy = statistics.median(seconds_per_analysis() for _ in range(REPEATS))
    job.stop()
    wait(job)
    return {"analysis_64_tokens_idle_s": round(idle, 4), "analysis_64_tokens_while_training_s": round(busy, 4),
            "slowdown": round(busy / idle, 2)}


def main() -> None:
    use_torch_threads()  # as the server runs torch (explainer/runtime.py)
    tokenizer = load_model(EMBEDDED_GPT).tokenizer
    train_texts, val_texts = shipped_prose()
    save("live_training", {
        "seconds_per_size": SECONDS_PER_SIZE,
        "pretraining": pretraining(tokenizer, train_texts, val_texts),
        "fine_tuning": fine_tuning(tokenizer),
        "responsiveness": responsiveness(tokenizer, train_texts, val_texts),
    })


if __name__ == "__main__":
    main()

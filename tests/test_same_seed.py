"""Same seed, same result, for the whole class: nothing depends on torch's global random generator.

Every session of a server is a thread, and so is every training run. Here a
second thread keeps drawing random numbers from the global generator and
re-seeding it (as dropout and any ``torch.manual_seed`` call do) while the
seeded work runs; its results must equal those of a quiet run.
"""

import threading
from contextlib import contextmanager

import pytest
import torch

from explainer.generation import generate
from explainer.prediction import SamplingSettings
from explainer.training.fine_tuning import Example, FineTuningRun, curve_table
from explainer.training.jobs import JobBoard
from explainer.training.pretraining import ModelSize, PretrainingRun, join_token_ids

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

PROMPT = "It is a truth universally acknowledged"
TINY = ModelSize("Test", layers=1, heads=2, dims=16, learning_rate=1e-2, context=32)


@contextmanager
def another_thread_drawing_random_numbers():
    """While the block runs, another thread draws from torch's global generator and re-seeds it."""
    stop = threading.Event()

    def draw() -> None:
        seed = 0
        while not stop.is_set():
            torch.rand(256)
            seed += 1
            torch.manual_seed(seed)

    thread = threading.Thread(target=draw, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def finished(run):
    job = JobBoard().start("test", run, max_seconds=300)
    job.thread.join(300)
    assert job.state == "finished", job.error
    return run


def test_seeded_generation_gives_the_same_text_while_another_thread_draws(gpt):
    settings = SamplingSettings(temperature=1.5)  # a flat distribution: any disturbance would change the draw
    quiet = generate(gpt, PROMPT, 12, "sample", settings, seed=7).generated_ids
    with another_thread_drawing_random_numbers():
        noisy = [generate(gpt, PROMPT, 12, "sample", settings, seed=7).generated_ids for _ in range(10)]
    assert noisy == [quiet] * 10
    assert generate(gpt, PROMPT, 12, "sample", settings, seed=8).generated_ids != quiet  # the seed matters


def test_a_pretraining_run_repeats_exactly_while_another_thread_draws(gpt):
    ids = join_token_ids(gpt.tokenizer, ["It is a truth universally acknowledged, that a single man " * 60])

    def run() -> PretrainingRun:
        return finished(PretrainingRun(TINY, "Austen", ids, ids, gpt.tokenizer, max_steps=20, eval_every=10,
                                       sample_every=10))

    quiet = run()
    with another_thread_drawing_random_numbers():
        noisy = run()
    assert [e.val_loss for e in noisy.evaluations] == [e.val_loss for e in quiet.evaluations]
    assert [s.text for s in noisy.samples] == [s.text for s in quiet.samples]
    for mine, theirs in zip(noisy.model.parameters(), quiet.model.parameters()):
        assert torch.equal(mine, theirs)


def test_a_fine_tuning_run_repeats_exactly_while_another_thread_draws(gpt):
    words = {0: "dreadful", 1: "delightful"}
    examples = [Example(f"The {thing} was {words[label]}.", label) for thing in ("ball", "walk") for label in (0, 1)]

    def run() -> FineTuningRun:
        return finished(FineTuningRun(gpt.tokenizer, examples, examples, steps=6, batch_size=4, eval_every=3))

    quiet = curve_table(run().curves)
    with another_thread_drawing_random_numbers():
        noisy = curve_table(run().curves)
    assert len(quiet) == 4  # two evaluations of each classifier
    assert noisy.equals(quiet)

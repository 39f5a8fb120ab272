"""Live pretraining: the loss falls, samples are kept, runs repeat, and a finished model works on every page."""

import math
import time

import pytest
import torch

from explainer.analysis import analyze
from explainer.corpus import shipped_prose
from explainer.models import keep_trained_model, load_model
from explainer.pretraining import MODEL_SIZES, ModelSize, PretrainingRun, join_token_ids, split_token_ids
from explainer.training import causal_loss_on
from explainer.training_jobs import JobBoard
from tests.app_harness import open_page

TINY = ModelSize("Test", layers=1, heads=2, dims=16, learning_rate=1e-2, context=32)


@pytest.fixture(scope="module")
def austen_ids(gpt):
    train_texts, val_texts = shipped_prose()
    return join_token_ids(gpt.tokenizer, [train_texts[0][:60_000]]), join_token_ids(gpt.tokenizer, [val_texts[0][:20_000]])


def _train(gpt, austen_ids, steps):
    run = PretrainingRun(TINY, "Austen", *austen_ids, gpt.tokenizer, max_steps=steps, eval_every=20, sample_every=20)
    job = JobBoard().start("test", run, max_seconds=120)
    job.thread.join(120)
    assert job.state == "finished", job.error
    return run


def test_the_shipped_corpus_is_all_six_novels_split_for_validation():
    train_texts, val_texts = shipped_prose()
    assert len(train_texts) == len(val_texts) == 6
    assert "truth universally acknowledged" in train_texts[1]
    assert 3_000_000 < sum(map(len, train_texts)) and 0.03 < sum(map(len, val_texts)) / sum(map(len, train_texts)) < 0.08


def test_a_few_steps_of_pretraining_lower_the_loss_and_leave_samples(gpt, austen_ids):
    untrained = TINY.build(len(gpt.tokenizer), gpt.tokenizer.eos_token_id, seed=1337)
    before = causal_loss_on(untrained, austen_ids[1], TINY.context)
    run = _train(gpt, austen_ids, steps=60)
    assert before == pytest.approx(math.log(len(gpt.tokenizer)), abs=0.3)  # a fresh model guesses evenly
    assert causal_loss_on(run.model, austen_ids[1], TINY.context) < before - 1.0
    assert [e.step for e in run.evaluations] == [20, 40, 60]
    assert [s.step for s in run.samples] == [0, 20, 40, 60]  # the untrained model's sample comes first
    assert all(isinstance(s.text, str) and s.text for s in run.samples)
    assert run.tokens_per_second > 0


def test_a_run_repeats_exactly_with_the_same_seed(gpt, austen_ids):
    first, second = _train(gpt, austen_ids, steps=20), _train(gpt, austen_ids, steps=20)
    assert first.evaluations[-1].val_loss == second.evaluations[-1].val_loss
    assert [s.text for s in first.samples] == [s.text for s in second.samples]


def test_a_kept_model_is_offered_to_the_other_pages_and_its_numbers_are_true(gpt, austen_ids):
    run = _train(gpt, austen_ids, steps=20)
    kept = keep_trained_model("a test model", gpt.tokenizer, run.model)
    assert kept.spec.name.startswith("trained #") and kept.spec.name.endswith(": a test model")
    loaded = load_model(kept.spec.name)
    assert loaded is kept
    analysis = analyze(loaded, "It is a truth universally acknowledged")
    ids = torch.tensor([analysis.tokens.ids])
    with torch.no_grad():
        independent = run.model(input_ids=ids, labels=ids).loss.item()  # mean −log p over tokens 1..T-1
    assert analysis.mean_loss == pytest.approx(independent, rel=1e-5)
    assert analysis.context_length == TINY.context


def test_parameter_counts_match_the_built_model(gpt):
    for size in MODEL_SIZES:
        model = size.build(len(gpt.tokenizer), gpt.tokenizer.eos_token_id, seed=0)
        total, non_embedding = size.parameter_counts(len(gpt.tokenizer))
        assert total == sum(p.numel() for p in model.parameters())
        assert non_embedding == total - model.transformer.wte.weight.numel() - model.transformer.wpe.weight.numel()
    assert [s.parameter_counts(4096)[0] for s in MODEL_SIZES] == sorted(s.parameter_counts(4096)[0] for s in MODEL_SIZES)


def test_a_pasted_corpus_must_be_long_enough_and_keeps_a_tenth_for_validation(gpt):
    with pytest.raises(ValueError, match="at least 2,000 characters"):
        split_token_ids(gpt.tokenizer, "too short\x00")
    train_ids, val_ids = split_token_ids(gpt.tokenizer, "大语言模型 learns from text. 🙂 " * 200)
    assert len(val_ids) == pytest.approx((len(train_ids) + len(val_ids)) * 0.1, abs=1)


def press_train(app) -> None:
    next(button for button in app.button if button.label == "Train").click().run()


def press_stop(app) -> None:
    """Press the page's Stop button and rerun until the page says the run stopped (the thread ends at its next step)."""
    app.button(key="stop_training").click().run()
    for _ in range(40):
        if any("stopped after" in info.value for info in app.info):
            break
        time.sleep(0.25)
        app.run()
    assert any("because you pressed Stop" in info.value for info in app.info)


def test_the_page_turns_a_short_paste_away_and_trains_on_a_hostile_one_until_stopped():
    app = open_page("pages/pretraining.py")
    app.radio[0].set_value("Your own text (paste or upload)").run()
    pasted = next(area for area in app.main.text_area if area.label.startswith("…or paste"))
    pasted.set_value("Too short.").run()
    press_train(app)
    assert not app.exception
    assert any("at least 2,000 characters" in info.value for info in app.info)

    hostile = "<script>alert(1)</script> 大语言模型 🙂 \x07 Emma walked to Hartfield. " * 60
    pasted = next(area for area in app.main.text_area if area.label.startswith("…or paste"))
    pasted.set_value(hostile).run()
    press_train(app)
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    press_stop(app)  # there is a Stop button: this session's run is training
    assert not app.exception


def test_a_second_session_is_told_the_server_is_busy_while_the_first_trains():
    first, second = open_page("pages/pretraining.py"), open_page("pages/pretraining.py")
    press_train(first)
    assert first.button(key="stop_training")  # the first session's run is training
    press_train(second)
    assert not second.exception
    assert any("The server is busy" in warning.value for warning in second.warning)
    press_stop(first)
    press_train(second)  # now the slot is free
    assert second.button(key="stop_training")
    press_stop(second)

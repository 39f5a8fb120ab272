"""Live pretraining: the loss falls, samples are kept, runs repeat, and a finished model works on every page."""

import math
import time

import pytest
import torch

from explainer.analysis import analyze
from explainer.corpus import shipped_prose
from explainer.training.jobs import JobBoard
from explainer.training.kept_models import KeptModels
from explainer.training.loop import causal_loss_on
from explainer.training.pretraining import (
    MAX_CORPUS_BYTES,
    MODEL_SIZES,
    ModelSize,
    PretrainingRun,
    join_token_ids,
    split_token_ids,
)
from tests.app_harness import open_page

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

TINY = ModelSize("Test", layers=1, heads=2, dims=16, learning_rate=1e-2, context=32)


@pytest.fixture(scope="module")
def austen_ids(gpt):
    train_texts, val_texts = shipped_prose()
    return join_token_ids(gpt.tokenizer, [train_texts[0][:60_000]]), join_token_ids(gpt.tokenizer, [val_texts[0][:20_000]])


def _train(gpt, austen_ids, steps):
    run = PretrainingRun(TINY, "Austen", *austen_ids, gpt.tokenizer, max_steps=steps, eval_every=20, sample_every=20)
    job = JobBoard(abandon_after=600).start("test", run, max_seconds=600)  # no page sends heartbeats here
    job.thread.join(600)
    assert job.state == "finished", (job.error, job.stop_reason)
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
    assert [e.step for e in run.evaluations] == [0, 20, 40, 60]  # the curve starts before the first step
    assert run.evaluations[0].val_loss == pytest.approx(math.log(len(gpt.tokenizer)), abs=0.3)
    assert [s.step for s in run.samples] == [0, 20, 40, 60]  # the untrained model's sample comes first
    assert all(isinstance(s.text, str) and s.text for s in run.samples)
    assert run.tokens_per_second > 0


def test_a_run_repeats_exactly_with_the_same_seed(gpt, austen_ids):
    first, second = _train(gpt, austen_ids, steps=20), _train(gpt, austen_ids, steps=20)
    assert first.evaluations[-1].val_loss == second.evaluations[-1].val_loss
    assert [s.text for s in first.samples] == [s.text for s in second.samples]


def test_a_kept_model_is_saved_and_its_numbers_are_true_after_a_restart(gpt, austen_ids, tmp_path):
    run = _train(gpt, austen_ids, steps=20)
    kept = KeptModels(tmp_path).keep("owner", "a test model", gpt.tokenizer, run.model, {"steps": 20})
    assert kept.spec.name.startswith("trained:")
    loaded = KeptModels(tmp_path).load(kept.spec.name)  # a new store on the same folder: the server restarted
    assert loaded is not kept
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
    for _ in range(120):  # up to a minute: on a loaded CPU the run's thread reaches its next step late
        if any("stopped after" in info.value for info in app.info):
            break
        time.sleep(0.5)
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


def test_a_busy_server_turns_the_second_learner_away_before_tokenizing_their_text(monkeypatch):
    """Tokenizing a pasted corpus costs seconds and hundreds of MB: a busy server must not do it for nothing."""
    tokenized = []
    real_split = split_token_ids
    monkeypatch.setattr("explainer.training.pretraining.split_token_ids",
                        lambda *args, **kwargs: tokenized.append(1) or real_split(*args, **kwargs))
    first, second = open_page("pages/pretraining.py"), open_page("pages/pretraining.py")
    press_train(first)
    assert first.button(key="stop_training")
    second.radio[0].set_value("Your own text (paste or upload)").run()
    next(area for area in second.main.text_area if area.label.startswith("…or paste")).set_value(
        "Emma walked to Hartfield in the rain. " * 200).run()
    press_train(second)
    assert any("The server is busy" in warning.value for warning in second.warning)
    assert tokenized == []
    press_stop(first)


def test_uploads_are_limited_to_the_corpus_size_and_a_bigger_file_is_refused_before_decoding():
    app = open_page("pages/pretraining.py")
    app.radio[0].set_value("Your own text (paste or upload)").run()
    uploader = app.get("file_uploader")[0]
    assert uploader.proto.max_upload_size_mb == 15  # Streamlit's default, 200 MB, once grew the server by 1 GB
    too_big = b"x" * (MAX_CORPUS_BYTES + 1)
    uploader.set_value(("corpus.txt", too_big, "text/plain")).run()
    assert not app.exception
    assert any("a corpus may be at most 5,000,000 characters" in warning.value for warning in app.warning)
    assert "uploaded_text" not in app.session_state  # never decoded

    text = "Emma walked to Hartfield. 大语言模型。 " * 100
    app.get("file_uploader")[0].set_value(("corpus.txt", text.encode(), "text/plain")).run()
    assert app.session_state["uploaded_text"][1] == text

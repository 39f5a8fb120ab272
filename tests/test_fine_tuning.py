"""Fine-tuning: the set is as documented, the classifier's numbers are true, and training helps."""

import math
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from explainer.i18n import translations
from explainer.models import EMBEDDED_GPT, EMBEDDED_ZH, load_model
from explainer.training.fine_tuning import (
    LABELS,
    SENTIMENT_SETS,
    STARTS,
    Curve,
    Example,
    FineTuningRun,
    class_probabilities,
    classifier,
    default_sentiment_set,
    encode,
    load_sentiment,
    run_on,
    scores_on,
)
from explainer.training.jobs import JobBoard
from explainer.training.loop import Evaluation
from tests.app_harness import open_page

ROOT = Path(__file__).resolve().parent.parent


def finish(job, seconds: float = 120) -> None:
    """Wait for ``job`` to end, keeping it alive as an open tab does (a run stops 20 s after the last heartbeat)."""
    deadline = time.monotonic() + seconds
    while job.running and time.monotonic() < deadline:
        job.heartbeat()
        job.thread.join(0.5)
    assert job.state == "finished", (job.state, job.error)


def test_the_sentiment_set_is_balanced_and_split_as_its_readme_says():
    train_set, test_set = load_sentiment()
    assert len(train_set) == len(test_set) == 160
    for examples in (train_set, test_set):
        assert sum(e.label for e in examples) == 80
    assert not {e.text for e in train_set} & {e.text for e in test_set}


def test_class_probabilities_are_the_score_of_the_last_real_token(gpt):
    model = classifier("fine-tuned", gpt.tokenizer, seed=0).eval()
    texts = ["A charming evening.", "The soup was cold and the service slow, which was a pity."]
    probabilities = class_probabilities(model, gpt.tokenizer, texts)  # padded batch
    for text, row in zip(texts, probabilities):
        ids = torch.tensor([gpt.tokenizer(text)["input_ids"]])  # alone, no padding
        with torch.no_grad():
            last_state = model.transformer(input_ids=ids).last_hidden_state[0, -1]  # (D,)
            independent = torch.softmax(model.score(last_state), dim=-1)
        assert row == pytest.approx(independent.numpy(), abs=1e-5)
    assert probabilities.sum(axis=1) == pytest.approx([1, 1])


def test_encoding_pads_with_end_of_text_and_masks_the_padding(gpt):
    batch = encode(gpt.tokenizer, ["Yes.", "A longer sentence here."])
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"][0].sum() < batch["attention_mask"][1].sum()
    assert (batch["input_ids"][0][batch["attention_mask"][0] == 0] == gpt.tokenizer.eos_token_id).all()


def test_the_shown_test_accuracy_and_loss_agree_with_one_sentence_at_a_time(gpt):
    model = classifier("fine-tuned", gpt.tokenizer, seed=3).eval()
    _, test_set = load_sentiment()
    examples = test_set[:12]
    accuracy, loss = scores_on(model, gpt.tokenizer, examples)
    hits, losses = [], []
    with torch.no_grad():
        for example in examples:  # no padding, no batch: the plain model on one sentence
            ids = torch.tensor([gpt.tokenizer(example.text)["input_ids"]])
            logits = model(input_ids=ids).logits  # (1, 2)
            hits.append(int(logits.argmax()) == example.label)
            losses.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor([example.label]))))
    assert accuracy == pytest.approx(sum(hits) / len(hits))
    assert loss == pytest.approx(sum(losses) / len(losses), rel=1e-4)


@pytest.mark.slow
def test_fine_tuning_beats_the_untrained_classifier_on_a_trivially_separable_set(gpt):
    words = {0: "dreadful", 1: "delightful"}
    examples = [Example(f"The {thing} was {words[label]}.", label)
                for thing in ("ball", "dinner", "walk", "letter", "visit", "party") for label in (0, 1)]
    untrained, _ = scores_on(classifier("fine-tuned", gpt.tokenizer, seed=1337), gpt.tokenizer, examples)
    run = FineTuningRun(gpt.tokenizer, examples, examples, steps=20, batch_size=8, learning_rate=1e-3, eval_every=10)
    finish(JobBoard().start("test", run, max_seconds=120))
    tuned = run.curves["fine-tuned"]
    assert tuned.accuracies[-1] == 1.0 > untrained
    assert tuned.test_losses[-1] < tuned.test_losses[0]
    assert set(run.curves) == {"fine-tuned", "from scratch"} and LABELS == ("negative", "positive")


# ------------------------------------------------------------ the Chinese set, with tiny-gpt-zh


@pytest.fixture(scope="module")
def zh():
    return load_model(EMBEDDED_ZH)


def test_the_chinese_set_is_balanced_split_and_new_as_its_readme_says():
    train_set, test_set = SENTIMENT_SETS["zh"].load()
    assert len(train_set) == len(test_set) == 160
    for examples in (train_set, test_set):
        assert sum(e.label for e in examples) == 80  # 80 positive, so 80 negative
    texts = [e.text for e in train_set + test_set]
    assert len(set(texts)) == 320  # no sentence twice, so train and test are disjoint
    assert not {e.text for e in train_set} & {e.text for e in test_set}
    assert all(6 <= len(text) <= 30 and "\t" not in text for text in texts)
    assert all(re.search(r"[\u4e00-\u9fff]", text) for text in texts)
    readme = (ROOT / SENTIMENT_SETS["zh"].readme).read_text(encoding="utf-8")
    assert "| train |       80 |       80 |   160 |" in readme and "random.Random(0)" in readme and "CC0" in readme


def test_each_set_has_its_model_and_the_default_follows_the_interface_language():
    assert default_sentiment_set("zh").base_model == EMBEDDED_ZH
    assert default_sentiment_set("en").base_model == EMBEDDED_GPT
    assert default_sentiment_set("fr") == SENTIMENT_SETS["en"]
    for sentiment_set in SENTIMENT_SETS.values():
        assert (ROOT / sentiment_set.readme).parent == sentiment_set.path.parent


def test_the_shown_test_accuracy_and_loss_on_the_chinese_set_agree_with_one_sentence_at_a_time(zh):
    model = classifier("fine-tuned", zh.tokenizer, seed=3, base_model=EMBEDDED_ZH).eval()
    assert model.config.vocab_size == len(zh.tokenizer) and model.transformer.wte.weight.dtype == torch.float32
    _, test_set = SENTIMENT_SETS["zh"].load()
    examples = test_set[:12]
    accuracy, loss = scores_on(model, zh.tokenizer, examples)
    hits, losses = [], []
    with torch.no_grad():
        for example in examples:  # no padding, no batch: the plain model on one sentence
            ids = torch.tensor([zh.tokenizer(example.text)["input_ids"]])
            logits = model(input_ids=ids).logits  # (1, 2)
            hits.append(int(logits.argmax()) == example.label)
            losses.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor([example.label]))))
    assert accuracy == pytest.approx(sum(hits) / len(hits))
    assert loss == pytest.approx(sum(losses) / len(losses), rel=1e-4)


def test_the_fine_tuned_classifier_starts_from_tiny_gpt_zh_and_the_other_from_random_weights(zh):
    tuned = classifier("fine-tuned", zh.tokenizer, seed=0, base_model=EMBEDDED_ZH)
    scratch = classifier("from scratch", zh.tokenizer, seed=0, base_model=EMBEDDED_ZH)
    pretrained = zh.model.transformer.wte.weight
    assert torch.allclose(tuned.transformer.wte.weight, pretrained.float())
    assert not torch.allclose(scratch.transformer.wte.weight, pretrained.float())
    assert torch.equal(tuned.score.weight, scratch.score.weight)  # the new layer: the same random start


@pytest.mark.slow
def test_fine_tuning_tiny_gpt_zh_beats_the_untrained_classifier_on_a_trivially_separable_chinese_set(zh):
    words = {0: "太差了", 1: "太好了"}
    examples = [Example(f"这家{thing}{words[label]}。", label)
                for thing in ("饭店", "酒店", "商店", "医院", "学校", "影院") for label in (0, 1)]
    untrained, _ = scores_on(classifier("fine-tuned", zh.tokenizer, 1337, EMBEDDED_ZH), zh.tokenizer, examples)
    run = FineTuningRun(zh.tokenizer, examples, examples, steps=20, batch_size=8, learning_rate=1e-3, eval_every=10,
                        base_model=EMBEDDED_ZH)
    finish(JobBoard().start("test", run, max_seconds=120))
    tuned = run.curves["fine-tuned"]
    assert tuned.accuracies[-1] == 1.0 > untrained
    assert tuned.test_losses[-1] < tuned.test_losses[0]
    assert run.models["fine-tuned"].config.vocab_size == len(zh.tokenizer)


def tiny_budget(monkeypatch) -> None:
    """The page's runs take 4 steps per classifier (the real budget is measured by bench/live_training.py)."""
    real_run_on = run_on
    monkeypatch.setattr("explainer.training.fine_tuning.run_on",
                        lambda sentiment_set, tokenizer: real_run_on(sentiment_set, tokenizer, steps=4, eval_every=2))


def sentences_judged(app) -> pd.DataFrame:
    return next(frame.value for frame in app.dataframe if "verdict" in frame.value.columns)


@pytest.mark.slow
def test_in_chinese_the_page_fine_tunes_tiny_gpt_zh_on_the_chinese_set_and_judges_a_chinese_sentence(monkeypatch):
    from pages.live_training import job_board

    tiny_budget(monkeypatch)
    app = open_page("pages/fine_tuning.py", lang="zh")
    assert not app.exception, app.exception
    assert app.radio(key="fine_tuning_set_zh").value == "zh"  # the default of a Chinese page
    assert app.text_input(key="fine_tuning_sentence_zh").value == SENTIMENT_SETS["zh"].example
    assert any("data/sentiment_zh/README.md" in block.value for block in app.markdown)
    assert list(sentences_judged(app)["when"]) == ["训练前", "训练前"]

    next(b for b in app.button if b.label == translations("zh").gettext("Fine-tune and train from scratch")).click().run()
    job = job_board().job_of(app.session_state["training_owner"])
    assert job.run.base_model == EMBEDDED_ZH and job.run.test_set == SENTIMENT_SETS["zh"].load()[1]
    finish(job)
    app.run()
    assert not app.exception, app.exception
    judged = sentences_judged(app)
    assert list(judged["when"]) == ["训练前", "训练前", "训练后", "训练后"]
    assert set(judged["verdict"]) <= {"正面", "负面"}
    after = class_probabilities(job.run.models["fine-tuned"], job.run.tokenizer, [SENTIMENT_SETS["zh"].example])[0]
    assert judged["p(positive)"].iloc[2] == pytest.approx(round(float(after[1]), 3))

    app.radio(key="fine_tuning_set_zh").set_value("en").run()  # the English set: this run is not its run
    assert not app.exception, app.exception
    assert app.text_input(key="fine_tuning_sentence_en").value == SENTIMENT_SETS["en"].example
    assert any("tiny-gpt-zh" in info.value for info in app.info)
    assert list(sentences_judged(app)["when"]) == ["训练前", "训练前"]


@pytest.mark.slow
def test_in_english_the_page_offers_the_chinese_set_with_a_chinese_sentence():
    app = open_page("pages/fine_tuning.py", lang="en")
    assert app.radio(key="fine_tuning_set_en").value == "en"  # the default of an English page
    assert app.text_input(key="fine_tuning_sentence_en").value == SENTIMENT_SETS["en"].example
    app.radio(key="fine_tuning_set_en").set_value("zh").run()
    assert not app.exception, app.exception
    assert app.text_input(key="fine_tuning_sentence_zh").value == "这家店的菜很好吃，服务也热情。"
    assert any("data/sentiment_zh/README.md" in block.value and "`tiny-gpt-zh`" in block.value for block in app.markdown)
    judged = sentences_judged(app)
    assert list(judged["when"]) == ["before training", "before training"]
    untrained = untrained_probabilities("这家店的菜很好吃，服务也热情。")
    assert list(judged["p(positive)"]) == pytest.approx([round(p, 3) for p in untrained])


def untrained_probabilities(text: str) -> list[float]:
    """p(positive) of both untrained tiny-gpt-zh classifiers, made here as the page makes them."""
    tokenizer = load_model(EMBEDDED_ZH).tokenizer
    return [float(class_probabilities(classifier(start, tokenizer, FineTuningRun.seed, EMBEDDED_ZH).eval(),
                                      tokenizer, [text])[0][1]) for start in STARTS]


def _curve(train_losses, test_losses) -> Curve:
    curve = Curve("fine-tuned")
    for step, (train_loss, test_loss) in enumerate(zip(train_losses, test_losses), start=1):
        curve.evaluations.append(Evaluation(step * 10, step * 160, float(step), train_loss, math.nan))
        curve.test_losses.append(test_loss)
        curve.accuracies.append(0.7)
    return curve


def test_overfitting_is_named_when_the_test_loss_climbs_while_the_training_loss_falls():
    climbing = _curve([0.7, 0.5, 0.3, 0.1], [0.69, 0.65, 0.8, 1.09]).overfitting()
    assert climbing is not None
    assert (climbing.best_step, climbing.best_test_loss, climbing.last_step, climbing.last_test_loss) == (20, 0.65, 40, 1.09)
    assert (climbing.best_train_loss, climbing.last_train_loss) == (0.5, 0.1)
    assert _curve([0.7, 0.5, 0.3, 0.1], [0.69, 0.6, 0.5, 0.45]).overfitting() is None  # still improving
    assert _curve([0.7, 0.5, 0.3, 0.1], [0.69, 0.6, 0.62, 0.63]).overfitting() is None  # within the margin
    assert _curve([0.7, 0.5, 0.6, 0.8], [0.69, 0.6, 0.8, 1.0]).overfitting() is None  # training got worse too

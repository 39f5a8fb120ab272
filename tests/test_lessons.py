"""Lessons: each stop's answer is computed from the model (checked here against plain transformers), and every
stop of every lesson runs, in both languages, up to its reveal."""

import math

import numpy as np
import pytest
import torch

from explainer import lessons
from explainer.analysis import analyze
from explainer.lessons import LESSONS
from pages.lesson_views import VIEWS
from tests.app_harness import open_page

TEXT = LESSONS["next-token"].prompts["en"]


@pytest.fixture(scope="module")
def plain(gpt):
    """The model's own logits and attentions for TEXT, without the explainer."""
    ids = gpt.tokenizer(TEXT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        output = gpt.model(input_ids=ids, output_attentions=True)
    return ids[0], output.logits[0].double(), [a[0].double() for a in output.attentions]


def test_every_lesson_has_six_to_twelve_stops_each_with_a_live_view():
    assert len(LESSONS) >= 3
    for lesson in LESSONS.values():
        assert 6 <= len(lesson.stops) <= 12
        assert {"en", "zh"} <= set(lesson.prompts)
        assert all(stop.view in VIEWS for stop in lesson.stops)
    assert [stop.view for stop in LESSONS["next-token"].stops] == [
        "tokens", "embeddings", "attention", "logits", "softmax", "temperature", "loss"]


def test_the_stop_in_the_url_is_clamped_into_the_lesson():
    lesson = LESSONS["attention"]
    assert lessons.stop_at(lesson, 0)[0] == 1 and lessons.stop_at(lesson, 99)[0] == len(lesson.stops)
    assert lessons.stop_at(lesson, 3) == (3, lesson.stops[2])


def test_the_token_count_is_the_tokenizers(gpt, plain):
    ids, __, __ = plain
    analysis = analyze(gpt, TEXT)
    answer = lessons.token_count_answer(analysis.tokens.display, TEXT)
    assert answer.options[answer.correct].text == f"{len(ids):,}"
    assert answer.facts == {"count": len(ids), "words": len(TEXT.split()), "characters": len(TEXT)}


def test_the_most_attended_token_is_the_models(gpt, plain):
    __, __, attentions = plain
    analysis = analyze(gpt, TEXT)
    last = len(attentions) - 1
    row = attentions[last][0, -1].numpy()  # head 0, the last token's row
    answer = lessons.most_attended_answer(analysis.attentions[last][0, -1], analysis.tokens.display,
                                          len(row) - 1, "seed")
    chosen = answer.options[answer.correct]
    assert chosen.position == int(np.argmax(row)) and answer.facts["weight"] == pytest.approx(row.max(), abs=1e-6)
    assert len(answer.options) == 4 and len({o.position for o in answer.options}) == 4


def test_the_top_token_its_probability_and_the_temperature_are_the_models(gpt, plain):
    __, logits, __ = plain
    last = logits[-1]  # (V,)
    analysis = analyze(gpt, TEXT)
    top = int(last.argmax())
    labels = [str(i) for i in range(len(last))]
    answer = lessons.top_token_answer(labels, analysis.next_token_logits, "seed")
    assert answer.options[answer.correct].text == str(top)
    p = torch.softmax(last, -1)
    confidence = lessons.confidence_answer("x", float(p[top]))
    assert confidence.correct == (0 if p[top] < 0.1 else 1 if p[top] <= 0.5 else 2)
    warm = lessons.temperature_answer(analysis.next_token_logits, 2.0)
    assert warm.facts["after"] == pytest.approx(float(torch.softmax(last / 2, -1).max()), abs=1e-6)
    assert warm.options[warm.correct].text == "lower"


def test_the_most_surprising_token_is_the_one_with_the_highest_loss(gpt, plain):
    ids, logits, __ = plain
    losses = -torch.log_softmax(logits[:-1], -1)[torch.arange(len(ids) - 1), ids[1:]]  # (T-1,) token t+1's loss
    analysis = analyze(gpt, TEXT)
    answer = lessons.most_surprising_answer(analysis.token_losses, analysis.tokens.display, "seed")
    assert answer.options[answer.correct].position == int(losses.argmax()) + 1
    assert answer.facts["loss"] == pytest.approx(float(losses.max()), abs=1e-4)


def test_distractors_repeat_for_the_same_stop_and_text():
    weights = np.array([0.1, 0.2, 0.05, 0.3, 0.15, 0.2])
    tokens = list("abcdef")
    first, again = (lessons.most_attended_answer(weights, tokens, 5, "attention/3/en") for _ in range(2))
    assert first == again and first.options[first.correct].position == 3


def test_scrambling_keeps_the_words_and_repeats():
    shuffled = lessons.scrambled(TEXT)
    assert sorted(shuffled.split()) == sorted(TEXT.split()) and shuffled != TEXT
    assert lessons.scrambled(TEXT) == shuffled
    assert sorted(lessons.scrambled("小猫坐在垫子上")) == sorted("小猫坐在垫子上")


def test_an_untrained_copy_gives_each_token_about_ln_v(gpt):
    from explainer.training.pretraining import untrained_copy

    untrained = analyze(untrained_copy(gpt, seed=0), TEXT)
    answer = lessons.untrained_loss_answer(untrained.mean_loss, len(gpt.tokenizer))
    assert answer.correct == 2 and abs(untrained.mean_loss - math.log(len(gpt.tokenizer))) < 0.3
    assert analyze(untrained_copy(gpt, seed=0), TEXT).mean_loss == untrained.mean_loss  # a private seed


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("key", list(LESSONS))
def test_every_stop_runs_and_reveals_its_answer(key, lang):
    lesson = LESSONS[key]
    presenting = {"present": "1"} if lang == "zh" else {}  # the presenter reveals without a guess; AppTest can't
    for step in range(1, len(lesson.stops) + 1):         # pick a translated option
        app = open_page("pages/lessons.py", prompt=None, lesson=key, step=str(step), lang=lang, **presenting)
        assert not app.exception, (key, step)
        guess = app.main.radio[0]
        assert guess.value is None  # nothing is revealed before a guess
        if not presenting:
            guess.set_value(0).run()
        app.button(key="lesson_reveal").click().run()
        assert not app.exception, (key, step)
        assert app.main.radio[0].disabled  # the guess is locked in
        shown = [a.value for a in app.success] + [a.value for a in app.warning] + [a.value for a in app.info]
        assert shown, (key, step)

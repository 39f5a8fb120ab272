"""The guessing game: every probability it shows is the model's own, recomputed here one token at a time with plain
transformers; its passages, its score over ten rounds, and its page in both languages, with hostile guesses."""

import math

import numpy as np
import pytest
import torch

from explainer import guessing
from explainer.models import EMBEDDED_ZH, load_model
from explainer.tokenization import tokenize
from pages.untrusted import literal
from tests.app_harness import open_page

PAGE = "pages/guess_game.py"
HOSTILE = {
    "empty": "   ",
    "a 500-character paste": "Emma " * 100,
    "emoji": "😀👩‍👩‍👧",
    "HTML": "<img src=x onerror=alert(1)>",
    "Markdown": "[sign in](https://evil.example) $x$",
}


@pytest.fixture(scope="module")
def zh():
    return load_model(EMBEDDED_ZH)


def reference(loaded, context: str, continuation: str) -> list[float]:
    """p of each token of ``continuation`` after ``context``: one forward pass per token, softmax of the last row."""
    ids = loaded.tokenizer(context)["input_ids"]
    factors = []
    for token in loaded.tokenizer(continuation, add_special_tokens=False)["input_ids"]:
        with torch.no_grad():
            logits = loaded.model(torch.tensor([ids])).logits[0, -1]  # (V,)
        factors.append(float(torch.softmax(logits, dim=-1)[token]))
        ids = [*ids, token]
    return factors


def assert_matches_reference(loaded, context: str, continuation: str, tokens: int | None = None):
    scored = guessing.guess_probability(loaded, context, continuation)
    factors = reference(loaded, context, continuation)
    if tokens is not None:
        assert len(scored.tokens) == tokens
    np.testing.assert_allclose(scored.token_probabilities, factors, atol=1e-5)
    assert scored.probability == pytest.approx(math.prod(factors), abs=1e-5, rel=1e-4)
    assert scored.surprisal == pytest.approx(-math.log2(math.prod(factors)), abs=1e-4)
    return scored


def test_a_one_token_guess_has_the_models_own_probability(gpt):
    context = guessing.PASSAGES[0].rounds[0].context  # "It was a fine"
    assert_matches_reference(gpt, context, " morning", tokens=1)


def test_a_several_token_guess_is_the_chain_rule_product(gpt):
    context = guessing.PASSAGES[0].rounds[1].context
    scored = assert_matches_reference(gpt, context, " umbrella", tokens=5)
    assert scored.tokens[0] == "␣u"  # the leading space belongs to the word's first token


def test_a_chinese_guess_has_the_models_own_probability(zh):
    context = guessing.passages_in("zh")[0].rounds[0].context  # "今天"
    assert_matches_reference(zh, context, "天气", tokens=1)
    assert_matches_reference(zh, context, "阳光灿烂", tokens=None)


@pytest.mark.parametrize("model", ["gpt", "zh"])
def test_the_top_ten_are_the_models_ten_most_likely_tokens(model, request):
    loaded = request.getfixturevalue(model)
    context = guessing.passages_in("en" if model == "gpt" else "zh")[0].rounds[4].context
    ids = loaded.tokenizer(context)["input_ids"]
    with torch.no_grad():
        probabilities = torch.softmax(loaded.model(torch.tensor([ids])).logits[0, -1], dim=-1).numpy()  # (V,)
    top = guessing.top_next(loaded, context)
    expected = np.argsort(-probabilities)[:10]
    assert list(top["id"]) == list(expected)
    np.testing.assert_allclose(top["probability"], probabilities[expected], atol=1e-5)
    np.testing.assert_allclose(top["surprisal"], -np.log2(probabilities[expected]), rtol=1e-4)


@pytest.mark.parametrize("passage", guessing.PASSAGES, ids=lambda p: p.key)
def test_every_answer_is_one_token_at_a_word_boundary(passage, gpt, zh):
    loaded = gpt if passage.language == "en" else zh
    assert passage.model == loaded.spec.name
    assert len(passage.rounds) == guessing.ROUNDS
    text = guessing.ANSWER.sub(r"\1", passage.marked)
    spans = set(tokenize(loaded.tokenizer, text).offsets)
    for round_ in passage.rounds:
        assert round_.separator == (" " if passage.language == "en" else "")
        start = len(round_.context)
        assert (start, start + len(round_.continuation(round_.answer))) in spans  # the passage's own token there
        assert len(loaded.tokenizer(round_.continuation(round_.answer), add_special_tokens=False)["input_ids"]) == 1
        assert "".join(piece for piece, __ in passage.segments(round_.number)) == round_.context


def test_each_language_has_its_own_passages():
    assert {p.language for p in guessing.passages_in("zh")} == {"zh"}
    assert {p.language for p in guessing.passages_in("en")} == {"en"}
    assert guessing.passages_in("fr") == guessing.passages_in("en")


@pytest.mark.parametrize("name", HOSTILE)
def test_a_bad_guess_gets_a_message_not_a_score(name, gpt):
    with pytest.raises(ValueError) as refused:
        guessing.play(gpt, guessing.PASSAGES[0].rounds[0], HOSTILE[name])
    assert str(refused.value)
    assert name == "empty" or HOSTILE[name].strip() not in str(refused.value)  # the message never repeats it
    if name in ("HTML", "Markdown"):  # the characters refused are quoted as the page asks (inline code)
        with pytest.raises(ValueError, match="`"):
            guessing.check_guess(HOSTILE[name], quote=literal)


def test_ordinary_guesses_pass_the_check():
    assert guessing.check_guess("  Knightley ") == "Knightley"
    assert guessing.check_guess("don't") == "don't"
    assert guessing.check_guess("天气") == "天气"


def test_the_score_over_ten_rounds(gpt):
    passage = guessing.PASSAGES[0]
    scripted = ["Morning", "town", "home", "rest", "fire", "pleasant", "visit", "weary", "Elton", "umbrella"]
    results = [guessing.play(gpt, round_, guess) for round_, guess in zip(passage.rounds, scripted)]
    score = guessing.score(results)
    assert score.rounds == 10
    assert score.your_points == 4  # morning (whatever the capitals), home, fire, visit
    model_points, answer_bits, guess_bits = 0, [], []
    for round_, guess in zip(passage.rounds, scripted):
        ids = gpt.tokenizer(round_.context)["input_ids"]
        with torch.no_grad():
            top = int(gpt.model(torch.tensor([ids])).logits[0, -1].argmax())
        model_points += gpt.tokenizer.decode([top]) == " " + round_.answer
        answer_bits.append(-math.log2(math.prod(reference(gpt, round_.context, " " + round_.answer))))
        guess_bits.append(-math.log2(math.prod(reference(gpt, round_.context, " " + guess))))
    assert score.model_points == model_points
    assert score.answer_bits == pytest.approx(np.mean(answer_bits), abs=1e-4)
    assert score.guess_bits == pytest.approx(np.mean(guess_bits), abs=1e-4)
    table = guessing.rounds_table(results)
    assert list(table["your_point"]) == [True, False, True, False, True, False, True, False, False, False]
    assert table["answer_bits"].mean() == pytest.approx(score.answer_bits)
    assert guessing.score([]).rounds == 0


# ------------------------------------------------------------------ the page


def guess(app, text: str):
    """Type ``text`` in the guess box and press the form's Guess button; return the app after the run."""
    app.text_input(key="guess_game_input").input(text)
    submit = next(button for button in app.button if button.proto.is_form_submitter)
    return submit.click().run()


def metric_value(app, index: int) -> str:
    return app.metric[index].value  # 0 round, 1 your points, 2 model's points, 3 bits of the real words, 4 of yours


@pytest.mark.slow
def test_the_page_plays_a_round_in_english_with_the_models_numbers(gpt):
    app = open_page(PAGE, prompt=None)
    assert not app.exception and metric_value(app, 0) == "1 / 10"
    round_ = guessing.PASSAGES[0].rounds[0]
    app = guess(app, "morning")
    assert not app.exception and not app.error
    ids = gpt.tokenizer(round_.context)["input_ids"]
    with torch.no_grad():
        probabilities = torch.softmax(gpt.model(torch.tensor([ids])).logits[0, -1], dim=-1).numpy()  # (V,)
    model_point = gpt.tokenizer.decode([int(probabilities.argmax())]) == " morning"
    assert [metric_value(app, i) for i in range(3)] == ["2 / 10", "1", str(int(model_point))]
    p = math.prod(reference(gpt, round_.context, " morning"))
    assert any(f"p = {p:.1%} ({-math.log2(p):.1f} bits)" in m.value for m in app.markdown)
    np.testing.assert_allclose(app.dataframe[0].value["probability"], np.sort(probabilities)[::-1][:10], atol=1e-5)
    assert len(app.get("plotly_chart")) == 1


@pytest.mark.slow
def test_the_page_plays_ten_rounds_to_a_verdict():
    app = open_page(PAGE, prompt=None)
    for round_ in guessing.PASSAGES[0].rounds:
        app = guess(app, round_.answer)
    assert not app.exception and not app.error
    assert metric_value(app, 1) == "10"
    assert app.success and "10" in app.success[0].value
    assert len(app.dataframe[-1].value) == 10 and app.dataframe[-1].value["your_point"].all()


@pytest.mark.slow
def test_the_page_plays_a_round_in_chinese(zh):
    app = open_page(PAGE, prompt=None, lang="zh")
    assert not app.exception
    passage = guessing.passages_in("zh")[0]
    assert app.selectbox(key="guess_game_passage").value == passage.key
    app = guess(app, "天气")
    assert not app.exception and not app.error
    assert [metric_value(app, i) for i in range(2)] == ["2 / 10", "1"]
    p = math.prod(reference(zh, passage.rounds[0].context, "天气"))
    assert metric_value(app, 3) == f"{-math.log2(p):.1f}"


@pytest.mark.slow
def test_hostile_guesses_get_a_message_shown_as_text():
    app = open_page(PAGE, prompt=None)
    for name, text in HOSTILE.items():
        app = guess(app, text)
        assert not app.exception and not app.error, name
        assert len(app.warning) == 1, name
        assert metric_value(app, 0) == "1 / 10", name  # no round was played
        assert name == "empty" or text.strip() not in app.warning[0].value, name
        if name in ("HTML", "Markdown"):
            assert "`" in app.warning[0].value, name  # the refused characters are inline code, never Markdown

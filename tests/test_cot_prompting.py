"""Chain-of-thought prompting: the prompts, greedy generation, reading the answer, scoring, offline, and the panel.

A hub instruct model cannot be downloaded here: the model is a tiny random Qwen2 with the bilingual embedded
tokenizer and a small chat template of its own.
"""

import json
import time

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest
from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from explainer import cot_prompting, models
from explainer.cot_prompting import STEP_PHRASE, STYLES, extract_answer
from explainer.i18n import set_language
from explainer.models import EMBEDDED_DIR, EMBEDDED_ZH, HubUnreachable, LoadedModel, ModelSpec

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
NEW_TOKENS = 8
QUESTIONS = cot_prompting.load_questions()


@pytest.fixture(scope="module")
def tiny() -> LoadedModel:
    """A one-layer random Qwen2 reading the embedded Chinese tokenizer, which gets a chat template."""
    tokenizer = AutoTokenizer.from_pretrained(EMBEDDED_DIR / EMBEDDED_ZH)
    tokenizer.chat_template = CHAT_TEMPLATE
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=512,
                         eos_token_id=tokenizer.eos_token_id, attn_implementation="eager")
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    return LoadedModel(ModelSpec(cot_prompting.INSTRUCT_MODELS[1], "causal", "tiny random Qwen2"), tokenizer, model)


# ------------------------------------------------------------------ the questions


def test_the_bundled_questions_are_well_formed():
    data = json.loads(cot_prompting.QUESTIONS_FILE.read_text(encoding="utf-8"))
    assert "written for this project" in data["source"].lower() and "MIT" in data["source"]
    assert 15 <= len(QUESTIONS.questions) <= 30
    assert len({q.id for q in QUESTIONS.questions}) == len(QUESTIONS.questions)
    for question in QUESTIONS.questions:
        assert question.answer == int(question.answer)  # one whole number
        assert question.en.isascii() and question.en.endswith("?")
        assert any("\u4e00" <= c <= "\u9fff" for c in question.zh) and question.zh.endswith("？")
        assert len(question.en) < cot_prompting.MAX_QUESTION_CHARACTERS
    for language in ("en", "zh"):  # the worked example's steps end with its own answer
        example = QUESTIONS.examples[language]
        assert extract_answer(example.solution) == example.answer == 19
    assert QUESTIONS.examples["en"].solution.endswith("The answer is 19.")
    assert QUESTIONS.examples["zh"].solution.endswith("答案是19。")


def test_the_bundled_answers_follow_from_the_numbers_in_the_questions():
    """Each answer, worked out again here from the question's own numbers."""
    worked = {"pencils": 3 * 12 - 9, "books_and_pens": 2 * 15 + 3 * 4, "bus": 40 - 12 + 7 - 9, "apple_trees": 5 * 8 * 20,
              "reading": 300 - 8 * 25, "sports": 32 - 32 // 2 - 32 // 4, "egg_boxes": -(-50 // 6), "rope": 50 % 6,
              "ages": 3 * 4 + 5, "square_garden": (36 // 4) ** 2, "oranges": (4 * 15 - 18) // 6,
              "water_tank": 120 - (120 // 2 + 35), "cinema": 2 * 35 + 3 * 20, "bicycle": (240 - 60) // 15,
              "petrol": 8 * 350 // 100, "chalk": 7 * 24 // 12, "temperature": 6 - 11, "cookies": 144 // 12 * 9,
              "restaurant_bill": 96 // 3 + 5, "printer": 18 * 15}
    assert {q.id: q.answer for q in QUESTIONS.questions} == worked


# ------------------------------------------------------------------ the prompts


@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_style_asks_in_its_own_way(tiny, language):
    question = QUESTIONS.questions[0].text(language)
    example = QUESTIONS.examples[language]
    prompts = {style: cot_prompting.chat_prompt(tiny.tokenizer, cot_prompting.build_messages(
        question, style, language, example)) for style in STYLES}
    for style, prompt in prompts.items():
        assert prompt.endswith("<|assistant|>\n")  # the assistant's turn is opened for the reply
        assert question in prompt
        assert (STEP_PHRASE[language] in prompt) == (style == "step_by_step")
        assert (example.solution in prompt) == (style == "one_example")
        assert (cot_prompting.DIRECT_PHRASE[language] in prompt) == (style == "direct")
    assert prompts["one_example"].index(example.question) < prompts["one_example"].index(question)
    assert STEP_PHRASE == {"en": "Let's think step by step.", "zh": "让我们一步一步地思考。"}
    shown = cot_prompting.messages_text(cot_prompting.build_messages(question, "one_example", language, example))
    assert shown == f"user: {example.question}\n\nassistant: {example.solution}\n\nuser: {question}"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 301, "2 + 2\x00?", "what\u202e is 2 + 2?"])
def test_a_bad_question_gets_a_message(bad):
    with pytest.raises(ValueError):
        cot_prompting.check_question(bad)


@pytest.mark.parametrize("fine", ["What is 2 + 2?", "<b>**2**</b> + [3](http://x) = ?", "🍎 × 3 = ?", "两个\n加三个？"])
def test_any_printable_question_is_accepted(fine):
    assert cot_prompting.check_question(f"  {fine} ") == fine


# ------------------------------------------------------------------ generation


def test_a_reply_is_plain_greedy_generation(tiny):
    """The reply equals transformers' own greedy generate, and a hand-written argmax loop, on the same prompt."""
    example = QUESTIONS.examples["zh"]
    question = QUESTIONS.questions[3].zh
    reply = cot_prompting.ask(tiny, question, "step_by_step", "zh", example, 800.0, max_new_tokens=NEW_TOKENS)
    prompt = tiny.tokenizer.apply_chat_template(
        [{"role": "user", "content": f"{question}\n让我们一步一步地思考。"}], tokenize=False, add_generation_prompt=True)
    ids = tiny.tokenizer(prompt, return_tensors="pt")["input_ids"]  # (1, P)
    with torch.no_grad():
        generated = tiny.model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)[0, ids.shape[1]:]
        by_hand = ids
        for _ in range(NEW_TOKENS):
            next_id = tiny.model(by_hand).logits[0, -1].argmax()  # ()
            by_hand = torch.cat([by_hand, next_id.view(1, 1)], dim=1)  # (1, P + n)
            if next_id == tiny.tokenizer.eos_token_id:
                break
    assert reply.prompt == prompt and reply.prompt_tokens == ids.shape[1]
    assert generated.tolist() == by_hand[0, ids.shape[1]:].tolist()
    assert reply.new_tokens == len(generated)
    assert reply.text == tiny.tokenizer.decode(generated, skip_special_tokens=True).strip()
    assert reply.answer == extract_answer(reply.text) and reply.correct == (reply.answer == 800)
    assert reply.finished == (generated[-1].item() == tiny.tokenizer.eos_token_id) and reply.seconds > 0


def test_the_evaluation_is_the_one_at_a_time_replies_scored(tiny, monkeypatch):
    monkeypatch.setattr(cot_prompting, "MAX_NEW_TOKENS", NEW_TOKENS)
    seen = []
    replies, scores = cot_prompting.evaluate(tiny, QUESTIONS, "en", count=1, on_reply=lambda *a: seen.append(a[:2]))
    one_at_a_time = [cot_prompting.ask(tiny, q.en, style, "en", QUESTIONS.examples["en"], q.answer)
                     for q in QUESTIONS.questions[:1] for style in STYLES]
    fields = ("style", "question", "expected", "prompt", "text", "answer", "correct", "new_tokens", "finished")
    assert [[getattr(r, f) for f in fields] for r in replies] == [[getattr(r, f) for f in fields] for r in one_at_a_time]
    assert seen == [(n, 3) for n in range(1, 4)]
    assert [s.style for s in scores] == list(STYLES)
    for s in scores:
        mine = [r for r in replies if r.style == s.style]
        assert s.questions == 1 and s.correct == sum(bool(r.correct) for r in mine)
        assert s.accuracy == s.correct and s.mean_new_tokens == mine[0].new_tokens
    assert list(cot_prompting.scores_table(scores)["style"]) == list(STYLES)
    assert len(cot_prompting.replies_table(replies)) == 3


def test_scores_count_right_and_wrong_replies():
    def reply(style, text, expected):
        answer = extract_answer(text)
        return cot_prompting.Reply(style, "en", "q", expected, "p", 3, text, answer,
                                   cot_prompting.is_right(answer, expected), 4, True, 0.5)

    replies = [reply("direct", "12", 12.0), reply("direct", "13", 12.0), reply("step_by_step", "so 12.", 12.0),
               reply("step_by_step", "no idea", 12.0), reply("one_example", "The answer is 12.", 12.0),
               reply("one_example", "-", None)]  # a learner's own question is not scored
    scores = {s.style: s for s in cot_prompting.score(replies)}
    assert [(s.correct, s.questions) for s in scores.values()] == [(1, 2), (1, 2), (1, 1)]
    assert scores["one_example"].accuracy == 1.0 and cot_prompting.tokens_per_second(replies) == 24 / 3


# ------------------------------------------------------------------ reading the answer


@pytest.mark.parametrize("reply, answer", [
    ("27", 27), ("The answer is 27.", 27), ("3 × 12 = 36, and 36 - 9 = 27. So he has 27 pencils left.", 27),
    ("He pays 1,200 yuan.", 1200), ("1,234,567 people", 1234567), ("3,4 and 5", 5), ("a list: 3, 4", 4),
    ("It is 12.5 litres.", 12.5), ("It is 12.", 12), ("$42", 42), ("-5", -5), ("The temperature is −5 degrees.", -5),
    ("6 - 11 = -5", -5), ("24-5=19", 19), ("24−5", 5), ("(-5)", -5), ("答案是19。", 19), ("一共是4×6=24瓶，还剩19瓶", 19),
    ("答案：１２０", 120), ("气温是－５摄氏度", -5), ("３，５００", 500), ("答案是3，共500个", 500), ("Step1: 7", 7),
    ("\\boxed{81}", 81), ("**Answer: 270**", 270),
])
def test_the_answer_is_the_last_number(reply, answer):
    assert extract_answer(reply) == answer


@pytest.mark.parametrize("reply", ["", "I don't know.", "twelve", "十二", "- . ,"])
def test_a_reply_without_a_number_has_no_answer(reply):
    assert extract_answer(reply) is None
    assert cot_prompting.is_right(None, 12.0) is False and cot_prompting.is_right(None, None) is None


# ------------------------------------------------------------------ offline


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and an endpoint that refuses connections at once (no HF_HUB_OFFLINE: the probe runs)."""
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)


@pytest.mark.parametrize("name", cot_prompting.INSTRUCT_MODELS)
def test_the_instruct_models_fail_fast_offline_saying_so(no_hub, name):
    assert models.REGISTRY[name].kind == "causal" and not models.REGISTRY[name].embedded
    started = time.perf_counter()
    with pytest.raises(HubUnreachable, match="the Hugging Face hub cannot be reached"):
        models.load_model(name)
    set_language("zh")
    try:
        with pytest.raises(HubUnreachable, match="连不上 Hugging Face Hub"):
            models.load_model(name)
    finally:
        set_language("en")
    assert time.perf_counter() - started < 5


# ------------------------------------------------------------------ the panel


def panel_script():
    import streamlit as st

    from explainer.i18n import set_language
    from pages.cot_prompting_panel import draw_prompting

    set_language(st.session_state.get("lang", "en"))
    draw_prompting()


def open_panel(language: str = "en") -> AppTest:
    st.cache_data.clear()
    st.cache_resource.clear()
    app = AppTest.from_function(panel_script, default_timeout=60)
    app.session_state["lang"] = language
    return app.run()


@pytest.mark.slow
@pytest.mark.parametrize("language, says", [("en", "cannot be reached"), ("zh", "Hugging Face")])
def test_offline_the_panel_says_so_and_points_to_the_first_tab(no_hub, language, says):
    app = open_panel(language)
    assert not app.exception
    assert len(app.info) == 1 and says in app.info[0].value
    assert not app.button  # nothing to run
    assert len(app.dataframe[0].value) == len(QUESTIONS.questions)  # the questions and prompts can still be read
    assert STEP_PHRASE[language] in app.code[1].value
    if language == "en":
        assert "first tab" in app.info[0].value


@pytest.mark.slow
def test_online_the_panel_shows_three_replies_and_measures_them(tiny, monkeypatch):
    """With the tiny model standing in for the hub's, the replies shown are ``ask``'s, and the accuracy is theirs."""
    monkeypatch.setattr(cot_prompting, "MAX_NEW_TOKENS", NEW_TOKENS)
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    monkeypatch.setattr("pages.shared.load_model", lambda name, **options: tiny)
    app = open_panel()
    assert not app.exception and not app.info
    app.selectbox(key="cot_prompting_question").set_value("bus")
    app.button[0].click().run()  # ask it three ways
    assert not app.exception
    question = QUESTIONS.questions[2]
    expected = [cot_prompting.ask(tiny, question.en, style, "en", QUESTIONS.examples["en"], 26.0) for style in STYLES]
    shown = [block.value.strip() for block in app.code][3:]  # after the three prompts: each reply, then what it read
    assert shown == [text.strip() for reply in expected for text in (reply.text or " ", reply.prompt)]
    app.button[1].click().run()  # measure 5 questions three ways
    assert not app.exception
    measured = [cot_prompting.ask(tiny, q.en, style, "en", QUESTIONS.examples["en"], q.answer)
                for q in QUESTIONS.questions[:5] for style in STYLES]
    table = app.dataframe[1].value  # after the bundled questions
    assert list(table["correct"]) == [s.correct for s in cot_prompting.score(measured)]
    assert list(table["questions"]) == [5, 5, 5]


@pytest.mark.slow
def test_a_bad_own_question_gets_a_message_in_the_panel(tiny, monkeypatch):
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    monkeypatch.setattr("pages.shared.load_model", lambda name, **options: tiny)
    app = open_panel()
    app.selectbox(key="cot_prompting_question").set_value("own").run()
    assert "empty" in app.info[0].value and not app.exception
    app.text_area(key="cot_prompting_own_text").set_value("2 + 2\x07 = ?").run()
    assert "control characters" in app.info[0].value and not app.exception

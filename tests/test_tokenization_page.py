"""The Tokenization page: five tokenizers compared, and tokens per character of one sentence in two languages."""

import json

import pytest
from transformers import AutoTokenizer

from explainer.models import EMBEDDED_BERT, EMBEDDED_DIR, EMBEDDED_GPT, EMBEDDED_ZH, load_tokenizer
from explainer.tokenization import SAME_MEANING
from tests.app_harness import open_page
from tests.test_app import HARD_TEXTS

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

PAGE = "pages/tokenization.py"
HUB = ("gpt2", "bert-base-uncased", "Qwen/Qwen2.5-0.5B")


def independent_count(name: str, text: str) -> int:
    """Tokens of ``text`` without special tokens, from the tokenizer itself (or by definition)."""
    if name.startswith(("characters", "按字符")):
        return len(text)
    if name.startswith(("UTF-8 bytes", "按 UTF-8 字节")):
        return len(text.encode())
    for model in (EMBEDDED_GPT, EMBEDDED_BERT, EMBEDDED_ZH):
        if name.startswith(model):
            tokenizer = AutoTokenizer.from_pretrained(EMBEDDED_DIR / model)
            break
    else:
        tokenizer = load_tokenizer(name)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def cost_table(app):
    return next(frame.value for frame in app.dataframe if "tokens_per_character" in frame.value.columns)


def cost_figure(app):
    for chart in app.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("barmode") == "group" and "xaxis" in spec["layout"] and len(spec["data"]) == 2:
            return spec
    raise AssertionError("no tokens-per-character figure")


def check_numbers(app, sentences):
    table = cost_table(app)
    expected_rows = 2 * (5 + sum(load_tokenizer(name) is not None for name in HUB))
    assert len(table) == expected_rows
    language_of = {}
    for row in table.itertuples():
        language = "zh" if row.Index % 2 == 0 else "en"  # Chinese then English for every tokenizer
        language_of[row.Index] = language
        text = sentences[language]
        tokens = independent_count(row.name, text)
        assert row.characters == len(text)
        assert row.tokens == tokens, row
        assert row.tokens_per_character == pytest.approx(tokens / len(text), abs=1e-12)
    figure = cost_figure(app)
    for trace, language in zip(figure["data"], ("zh", "en")):
        shown = [row.tokens_per_character for row in table.itertuples() if language_of[row.Index] == language]
        assert trace["x"] == pytest.approx(shown, abs=1e-12)
        assert trace["text"] == [f"{value:.2f}" for value in shown]
    return table


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_runs_and_every_number_is_the_tokenizers_own(lang):
    app = open_page(PAGE, lang=lang)
    assert not app.exception and not app.error
    table = check_numbers(app, SAME_MEANING)
    embedded = [name.split(" ")[0].split("（")[0] for name in table["name"][:6:2]]
    assert embedded == [EMBEDDED_GPT, EMBEDDED_BERT, EMBEDDED_ZH]
    title = {"en": "The same text, {n} ways", "zh": "同一段文字，{n} 种切法"}[lang].format(n=len(table) // 2)
    assert title in [header.value for header in app.subheader]  # the title counts the tokenizers it shows
    by_name = {(row.name, row.Index % 2): row.tokens_per_character for row in table.itertuples()}
    english_bpe = [value for (name, zh), value in by_name.items() if name.startswith(EMBEDDED_GPT) and zh == 0][0]
    assert f"{english_bpe:.2f}" in " ".join(m.value for m in app.markdown)  # the explanation quotes the table


def test_the_learner_can_bring_a_pair_of_sentences():
    app = open_page(PAGE)
    own = {"zh": "我喜欢读书。", "en": "I like reading."}
    app.text_input(key="pair_zh").set_value(own["zh"])
    app.text_input(key="pair_en").set_value(own["en"]).run()
    assert not app.exception
    check_numbers(app, own)


@pytest.mark.parametrize("text", [HARD_TEXTS["HTML and JS"], HARD_TEXTS["emoji and Chinese"],
                                  HARD_TEXTS["control characters"], " "])
def test_hostile_pairs_still_work(text):
    app = open_page(PAGE, lang="zh")
    app.text_input(key="pair_zh").set_value(text).run()
    assert not app.exception
    shown = SAME_MEANING["zh"] if not text.strip() else text
    check_numbers(app, {"zh": shown, "en": SAME_MEANING["en"]})


@pytest.mark.parametrize("text", HARD_TEXTS.values(), ids=HARD_TEXTS.keys())
def test_hard_texts_in_chinese(text):
    app = open_page(PAGE, prompt=text, lang="zh")
    assert not app.exception and not app.error
    check_numbers(app, SAME_MEANING)

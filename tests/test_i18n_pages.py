"""Every page in Chinese shows no untranslated English sentence.

Each page is opened with ``?lang=zh`` and every string it shows is collected:
titles, markdown, captions, alerts, widget labels, options and help, buttons,
metric labels, tabs, expanders, page links, table headers on screen, the
pipeline diagram, and the figures' titles, axes, legends and hover templates.
What is exempt is removed first: code spans, LaTeX, text in 《》 (titles of
papers) or in （）English-only brackets (the glossary's "词元（token）"),
special tokens, model names, the learner's own text and technical words
(GPT, softmax, top-k…). English left over fails the test when it is a run of
two words or more, or, in a string without any Chinese, a single word.

``test_the_checker_*`` prove that the check is not vacuous: it flags an
English caption, label and chart title, and it collects many strings per page.
"""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from explainer.models import REGISTRY
from tests.app_harness import open_page
from tests.test_app import ALL_PAGES

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
EXEMPT_SPANS = [
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"(`+).+?\1", re.S),  # code spans (any fence): tokens, model names, commands, file names
    re.compile(r"\$\$.*?\$\$|\$[^$]+\$", re.S),  # LaTeX
    re.compile(r"《[^》]*》"),  # titles of papers and books
    re.compile(r"（[\x20-\x7e]+）"),  # the English term after its Chinese one: 词元（token）
    re.compile(r"<\|\w+\|>|\[[A-Z]+\]|<[0-9A-F]{2}(?: [0-9A-F]{2})*>"),  # special tokens, byte tokens
    re.compile(r":material/\w+:|:\w+\[|\]\(.*?\)"),  # Streamlit icons and colours, link targets
    re.compile(r"https?://\S+"),
    re.compile(r"</?\w+>|%\{[^}]*\}"),  # Plotly's <br>, <extra> and %{placeholders}
    re.compile(r"\b\w*(?:_|\d)\w*\b"),  # identifiers and units with digits or underscores: d_k, W_O, 4096, 2M
]
NAMES = ["Hugging Face", "Jane Austen", "et al", "Kaplan", "Chinchilla", "Hoffmann", "Transformer", "BertViz",
         "WordPiece", "LayerNorm", "AdamW", "GLTR", "Llama", "SmolLM", "OpenAI", "Google", "Hub", "RoPE", "PCA",
         "CSV", "UTF", "BPE", "GPT", "BERT", "MLP", "MLM", "CPU", "softmax", "Softmax", "logits", "logit", "Logit",
         "top-k", "top-p", "Top-k", "Top-p", "id", "ids", "exp", "log", "ln", "max", "cos", "sin", "pos", "owner/model",
         "English", "nats", "BLEU"]
WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
SENTENCE = re.compile(r"[A-Za-z]{2,}(?:['’-][A-Za-z]+)*(?:[ ,;:]+[A-Za-z]+(?:['’-][A-Za-z]+)*)+")


def untranslated(text: str, exempt: list[str] = (), single_words: bool = True) -> str | None:
    """Return the English a Chinese page should not show in ``text`` (None when there is none).

    ``single_words=False`` lets a lone English word pass (for pickers whose options are tokens).
    """
    for phrase in sorted(exempt, key=len, reverse=True):
        if phrase:
            text = text.replace(phrase, " ")
    for span in EXEMPT_SPANS:
        text = span.sub(" ", text)
    for name in sorted(NAMES, key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", " ", text)
    words = [w for w in WORD.findall(text) if len(w) > 1]
    if sentence := SENTENCE.search(text):
        return sentence.group()
    if single_words and words and not CJK.search(text):
        return words[0]
    return None


def figure_texts(spec: dict) -> list[str]:
    """A Plotly figure's titles, axis titles, legend, annotations, trace names and hover templates."""
    layout, found = spec.get("layout", {}), []

    def title(value):
        return value.get("text") if isinstance(value, dict) else value

    for key, value in layout.items():
        if key == "title" or key.startswith(("xaxis", "yaxis")) or key == "legend":
            found.append(title(value.get("title") if key != "title" else value) if isinstance(value, dict) else None)
    found += [a.get("text") for a in layout.get("annotations", [])]
    for trace in spec.get("data", []):
        found += [trace.get("name"), trace.get("hovertemplate"), title(trace.get("colorbar", {}).get("title"))]
    return [text for text in found if isinstance(text, str)]


def dataframe_headers(element) -> list[str]:
    config = json.loads(element.proto.columns or "{}")
    order = list(element.proto.column_order) or list(element.value.columns)
    return [config.get(column, {}).get("label") or column for column in order
            if config.get(column, {}).get("hidden") is not True]


def shown_texts(app: AppTest) -> list[tuple[str, str]]:
    """(where, text) for every string the page shows, main area and sidebar."""
    found = []

    def add(where, *texts):
        found.extend((where, text) for text in texts if isinstance(text, str) and text.strip())

    def walk(node):
        for child in getattr(node, "children", {}).values():
            kind = getattr(child, "type", type(child).__name__)
            if kind in ("title", "header", "subheader", "markdown", "caption", "alert", "toast", "exception"):
                add(kind, child.value)
            if kind in ("latex", "code"):
                pass  # formulas and code are exempt
            elif kind == "dataframe":
                add("table header", *dataframe_headers(child))
            elif kind == "plotly_chart":
                add("figure", *figure_texts(json.loads(child.proto.spec)))
            elif kind == "page_link":
                add("page link", child.proto.label)
            for attribute in ("label", "help", "placeholder"):
                value = getattr(child, attribute, None)
                if isinstance(value, str):
                    add(f"{kind} {attribute}", value)
            options = getattr(child, "options", None)
            if isinstance(options, list):  # a selectbox's options may be tokens: only sentences are flagged there
                add("token picker option" if kind == "selectbox" else f"{kind} option", *map(str, options))
            walk(child)

    walk(app._tree)
    return found


def problems(app: AppTest) -> list[tuple[str, str, str]]:
    exempt = [w.value for w in [*app.text_area, *app.text_input] if isinstance(w.value, str)]
    exempt += list(REGISTRY) + [str(b.label) for b in app.sidebar.button if b.key and b.key.startswith("example_")]
    return [(where, text, english) for where, text in shown_texts(app)
            if (english := untranslated(text, exempt, single_words=where != "token picker option"))]


@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_in_chinese_has_no_english_sentence(page):
    app = open_page(page, prompt=None, lang="zh")
    assert not app.exception
    texts = shown_texts(app)
    assert len(texts) >= 8, texts  # the page really drew, so the check below has something to check
    assert sum(bool(CJK.search(text)) for _where, text in texts) >= 5
    assert problems(app) == []


def test_the_checker_flags_english_and_spares_what_is_exempt():
    for english in ("Each chip is one token; hover for its id.", "Layer", "Download the numbers (CSV)",
                    "词元 is the unit. The model reads it", "weight %{z:.4f}<extra></extra>", "top guess"):
        assert untranslated(english), english
    for fine in ("词元（token）是模型读文字的基本单位。", "第 `␣the` 个词元", "$p(x_t)$ 的对数", "Softmax",
                 "《Scaling Laws for Neural Language Models》", "tiny-gpt-austen — 4 层 GPT-2", "p（softmax）",
                 "权重 %{z:.4f}<extra></extra>", "d_k = 48", "[MASK] 位置", "Language · 语言", "0.37 M", "q · k"):
        assert untranslated(fine, ["tiny-gpt-austen"]) is None, fine


def page_with_english() -> None:
    import plotly.graph_objects as go
    import streamlit as st

    st.title("标题")
    st.caption("An English caption slipped through.")
    st.slider("层数", 0, 3, help="中文帮助")
    st.button("Run it")
    st.plotly_chart(go.Figure(layout={"title": "Loss against tokens", "xaxis": {"title": "词元数"}}))


def test_the_checker_flags_an_english_caption_label_and_chart_title_on_a_page():
    app = AppTest.from_function(page_with_english).run()
    flagged = {text for _where, text, _english in problems(app)}
    assert flagged == {"An English caption slipped through.", "Run it", "Loss against tokens"}


def test_english_is_the_default_and_the_switch_changes_the_language_and_the_url():
    app = open_page("pages/next_token.py")  # no ?lang and no browser locale: English
    assert app.title[0].value == "3 · Next token" and app.query_params["lang"] == "en"
    app.sidebar.button_group(key="lang").set_value("zh").run()
    assert app.title[0].value == "3 · 下一个词元" and app.query_params["lang"] == "zh"
    assert app.sidebar.selectbox(key="model_choice").label == "模型"
    app.switch_page("pages/loss.py").run()  # the choice follows the learner to the next page
    assert app.title[0].value == "4 · 损失与困惑度"

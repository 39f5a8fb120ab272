"""Every page runs in Streamlit's AppTest and shows the explainer's own numbers."""

import json
import re
import tomllib
from pathlib import Path

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from explainer.analysis import analyze
from explainer.loss import chain_rule
from explainer.prediction import SamplingSettings, distribution_table
from pages.shared import OTHER_MODEL
from tests.app_harness import APP, PROMPT, metric, open_page

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

PAGES = ["pages/home.py", "pages/tokenization.py", "pages/attention.py", "pages/next_token.py", "pages/loss.py"]
ALL_PAGES = re.findall(r'st\.Page\("(pages/\w+\.py)"', Path(APP).read_text())  # every page app.py declares
HARD_TEXTS = {  # lone surrogates can't reach a page (Streamlit's protocol is UTF-8): test_analysis covers them
    "emoji and Chinese": "大家好 😀👩‍👩‍👧 the cat 🏳️‍🌈 是",
    "control characters": "a\x00b\x01\x07\x1b[31m red\u202e\ttab\r\nline",
    "HTML and JS": "</script><script>alert(1)</script><img src=x onerror=alert(2)> {{7*7}} javascript:alert(3)",
    "right-to-left": "مرحبا بالعالم، שלום עולם \u202b mixed עם English",
    "special tokens": "<|endoftext|> [MASK] [CLS] [SEP] [PAD] [UNK] <s></s>",
    "Markdown and LaTeX": "# Title\n**bold** `code` $$\\frac{1}{0}$$ $x^2$ | a | b |\n|---|---|\n```\nunclosed",
    "one 5,000-character word": "Supercalifragilistic" * 250,
    "huge paste": "It was a fine day, and Emma walked to Hartfield. " * 2000,  # 100,000 characters
}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_errors(page):
    app = open_page(page)
    assert not app.exception
    assert not app.error
    assert app.sidebar.selectbox(key="model_choice").value == "tiny-gpt-austen"


@pytest.mark.parametrize("page", PAGES[2:])
def test_every_chart_saves_with_its_title_and_the_text_it_was_computed_for(page):
    app = open_page(page)
    specs = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    assert specs
    assert all(spec["layout"]["title"]["text"] for spec in specs)
    sources = [spec["layout"]["title"]["subtitle"]["text"] for spec in specs]
    assert sources[0] == f"“{PROMPT}” · tiny-gpt-austen"
    if page == "pages/loss.py":  # then the two texts it compares, each under its own chart
        compared = [app.text_input(key=key).value for key in ("compare_a", "compare_b")]
        assert sources[1:] == [f"“{text}” · tiny-gpt-austen" for text in compared]
    else:
        assert set(sources) == {sources[0]}


@pytest.mark.parametrize("page", PAGES[1:])
@pytest.mark.parametrize("model", ["tiny-bert-austen"])
def test_every_page_runs_on_the_masked_model(page, model):
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.selectbox(key="model_choice").set_value(model)
    app.sidebar.text_area(key="prompt").set_value("She was the [MASK] of the family.")
    app.switch_page(page).run()
    assert not app.exception and not app.error


def test_tokenization_counts_match_the_tokenizer(gpt):
    app = open_page("pages/tokenization.py")
    assert metric(app, "Tokens") == str(len(analyze(gpt, PROMPT).tokens))
    assert metric(app, "Characters") == str(len(PROMPT))
    token_table = app.dataframe[0].value  # the first table lists the tokens, the second the tokens per character
    assert list(token_table["id"]) == analyze(gpt, PROMPT).tokens.ids


def test_attention_page_has_layer_and_head_pickers(gpt):
    app = open_page("pages/attention.py")
    assert [s.label for s in app.selectbox if s.label in ("Layer", "Head")] == ["Layer", "Head"]
    layer_picker = next(s for s in app.selectbox if s.label == "Layer")
    assert len(layer_picker.options) == gpt.model.config.n_layer
    assert len(app.tabs) == 4


def test_next_token_table_is_the_explainers(gpt):
    app = open_page("pages/next_token.py")
    shown = app.dataframe[0].value
    expected = distribution_table(analyze(gpt, PROMPT), gpt.tokenizer, SamplingSettings(), rows=15)
    assert list(shown["id"]) == list(expected["id"])
    assert list(shown["probability"]) == pytest.approx(list(expected["probability"]), abs=1e-7)


def test_sliders_reshape_without_changing_the_softmax(gpt):
    app = open_page("pages/next_token.py")
    before = app.dataframe[0].value
    next(s for s in app.slider if s.label.startswith("Temperature")).set_value(0.5).run()
    after = app.dataframe[0].value
    assert list(after["probability"]) == pytest.approx(list(before["probability"]))
    expected = distribution_table(analyze(gpt, PROMPT), gpt.tokenizer, SamplingSettings(temperature=0.5), rows=15)
    assert list(after["sampling_probability"]) == pytest.approx(list(expected["sampling_probability"]), abs=1e-6)


def test_append_walks_the_sentence_forward(gpt):
    app = open_page("pages/next_token.py", prompt="The cat is on the")
    top_id = int(app.dataframe[0].value["id"][0])
    next(b for b in app.button if b.label == "Append").click().run()
    assert app.sidebar.text_area(key="prompt").value == "The cat is on the" + gpt.tokenizer.decode([top_id])
    assert not app.exception


def test_loss_metrics_are_the_explainers(gpt):
    app = open_page("pages/loss.py")
    chain = chain_rule(analyze(gpt, PROMPT))
    assert metric(app, "Perplexity") == f"{chain.perplexity:,.1f}"
    assert metric(app, "Mean loss") == f"{chain.mean_loss:.3f} nats"
    assert metric(app, "p(text)") == chain.probability_text
    assert [t.value for t in app.text_input][:2] == ["The cat is on the roof", "The cat is on the democracy"]


@pytest.mark.parametrize("page", PAGES[1:])
@pytest.mark.parametrize("blank", ["", "   \n"])
def test_empty_prompt_gives_a_friendly_hint(page, blank):
    app = open_page(page, prompt=blank)
    assert not app.exception and not app.error
    assert any("Type some text" in info.value for info in app.info)


def test_app_declares_every_page_file():
    helpers = {"shared.py", "live_training.py", "pretraining_data.py", "untrusted.py", "lesson_views.py",
               "classroom.py", "cot_prompting_panel.py"}  # modules the pages import, not pages
    assert sorted(ALL_PAGES) == sorted(str(p.relative_to(Path(APP).parent)) for p in Path(APP).parent.glob("pages/*.py")
                                       if p.name not in helpers)


@pytest.mark.parametrize("text", HARD_TEXTS.values(), ids=HARD_TEXTS.keys())
@pytest.mark.parametrize("page", ALL_PAGES)
def test_every_page_takes_hard_text_without_a_traceback(page, text):
    app = open_page(page, prompt=text)
    assert not app.exception
    assert not app.error
    assert app.title and app.title[0].value  # the page drew, and did not stop at an error


def test_long_text_shows_a_truncation_notice():
    app = open_page("pages/loss.py", prompt="It was a fine day. " * 300)
    assert not app.exception
    assert any("Only the first 256 tokens" in w.value for w in app.warning)


def test_a_paste_beyond_the_kept_characters_says_which_text_the_tokens_are_of():
    app = open_page("pages/loss.py", prompt="It was a fine day. " * 2000)  # 38,000 characters
    assert not app.exception
    notice = next(w.value for w in app.warning if "characters long" in w.value)
    assert "Your text is 38,000 characters long; the app keeps its first 20,000 characters, which are" in notice
    assert "Only the first 256 tokens" not in notice and "only the first 256 tokens are shown" in notice


def test_an_unloadable_model_gives_a_message_and_the_embedded_model_keeps_working(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.selectbox(key="model_choice").set_value(OTHER_MODEL).run()
    app.sidebar.text_input(key="custom_model").set_value("gpt2")
    app.switch_page("pages/loss.py").run()
    assert not app.exception
    assert any("cannot be reached" in e.value and "tiny-gpt-austen" in e.value for e in app.error)
    assert metric(app, "Perplexity")  # the page still shows the embedded model's numbers


def test_the_url_opens_the_same_view():
    app = open_page("pages/loss.py", prompt=None, text="Once upon a time", model="tiny-bert-austen")
    assert app.sidebar.text_area(key="prompt").value == "Once upon a time"
    assert app.sidebar.selectbox(key="model_choice").value == "tiny-bert-austen"
    assert app.query_params["text"] == "Once upon a time"


def test_a_hostile_model_id_in_the_url_is_refused():
    app = open_page("pages/home.py", prompt=None, model="../../etc/passwd")
    assert not app.exception
    assert any("not a Hugging Face model id" in e.value for e in app.error)


def test_the_server_config_hides_tracebacks_and_skips_the_slow_post_run_collection():
    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"  # users never see a Python traceback
    assert config["runner"]["postScriptGC"] is False  # a full gc.collect after every run held each page back 0.33 s


@pytest.mark.parametrize("how", ["setting", "bound to the network"])
def test_a_classroom_server_offers_only_its_list(monkeypatch, how):
    if how == "setting":
        monkeypatch.setenv("EXPLAINER_REGISTRY_ONLY", "1")
    else:
        monkeypatch.delenv("EXPLAINER_REGISTRY_ONLY", raising=False)
        original = st_config.get_option("server.address")
        st_config.set_option("server.address", "0.0.0.0")
    try:
        app = open_page("pages/loss.py", prompt=None, text="Once upon a time", model="someone/their-model")
        assert not app.exception
        assert OTHER_MODEL not in app.sidebar.selectbox(key="model_choice").options
        assert app.sidebar.selectbox(key="model_choice").value == "tiny-gpt-austen"
        assert any("offers only the models in its list" in w.value for w in app.sidebar.warning)
    finally:
        if how != "setting":
            st_config.set_option("server.address", original)


def test_a_laptop_server_listens_on_this_computer_only():
    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["server"]["maxUploadSize"] == 15
    assert config["server"].get("enableXsrfProtection", True) and config["server"].get("enableCORS", True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_home_pipeline_names_every_stage_in_order_in_the_pages_language(lang):
    app = open_page("pages/home.py", lang=lang)
    assert not app.exception
    flow = next(element.proto.body for element in app.get("html") if "1. " in element.proto.body)
    cards = [m.value.strip("*") for m in app.markdown if re.fullmatch(r"\*\*\d+\. .+\*\*", m.value)]
    assert re.findall(r">(\d+\. [^<]+)</span>", flow) == cards  # the same stages as the cards below, in order
    assert len(cards) == 7

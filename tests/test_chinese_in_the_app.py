"""Chinese text in the app: the bilingual model is offered, is the default in Chinese, and is suggested for Chinese."""

import pytest

from explainer.models import EMBEDDED_ZH, REGISTRY
from tests.app_harness import open_page

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

CHINESE = "猫坐在垫子上，"


def test_the_bilingual_models_are_in_the_registry():
    assert REGISTRY[EMBEDDED_ZH].embedded and REGISTRY[EMBEDDED_ZH].kind == "causal"
    assert REGISTRY["Qwen/Qwen2.5-0.5B"].kind == "causal" and not REGISTRY["Qwen/Qwen2.5-0.5B"].embedded


def test_in_chinese_a_new_session_starts_on_the_bilingual_model():
    assert open_page("pages/next_token.py", lang="zh").sidebar.selectbox(key="model_choice").value == EMBEDDED_ZH
    assert open_page("pages/next_token.py", lang="en").sidebar.selectbox(key="model_choice").value == "tiny-gpt-austen"


def test_chinese_on_an_english_model_suggests_the_bilingual_one_and_its_button_switches():
    app = open_page("pages/loss.py", prompt=CHINESE, lang="en")
    assert any("3 byte tokens" in info.value for info in app.info)
    app.button(key="use_chinese_model").click().run()
    assert app.sidebar.selectbox(key="model_choice").value == EMBEDDED_ZH
    assert not any("3 byte tokens" in info.value for info in app.info)
    assert not app.exception and not app.error


def test_english_text_gets_no_such_hint():
    app = open_page("pages/loss.py", prompt="The cat is on the", lang="en")
    assert not any("3 byte tokens" in info.value for info in app.info)

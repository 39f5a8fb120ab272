"""Translation with an encoder–decoder: the task's pairs, the input check, and every number the page shows checked
against plain transformers (generate's own attentions, scores and outputs) and against one-at-a-time decoding."""

import json
import math
import os
import time
from pathlib import Path

import pytest
import sacrebleu
import torch
from streamlit.testing.v1 import AppTest
from transformers import AutoTokenizer, MarianConfig, MarianMTModel

from explainer import models, translation
from explainer.architectures import architecture_of
from explainer.models import EMBEDDED_TRANSLATOR, HUB_TRANSLATOR, TRANSLATORS, ModelUnavailable
from explainer.translation import TO_ARABIC, TO_CHINESE
from tests.app_harness import APP

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "data" / "translation" / "results.json"
SOURCES = ["<2zh>30512", "<2ar>三万零五百一十二"]
SHORT = 8  # new tokens at most from the random model, which rarely ends by itself: the cut-off is tested too


@pytest.fixture(scope="module")
def tiny():
    """A random 2-layer encoder, 1-layer decoder MarianMTModel on the task's character tokenizer (eager attention)."""
    tokenizer = translation.build_tokenizer()
    config = MarianConfig(vocab_size=len(tokenizer), decoder_vocab_size=len(tokenizer), d_model=16, encoder_layers=2,
                          decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
                          decoder_start_token_id=0, forced_eos_token_id=1, architectures=["MarianMTModel"],
                          attn_implementation="eager")
    model = MarianMTModel(config)
    architecture_of(config).initialize(model, torch.Generator().manual_seed(0))
    model.generation_config.update(bad_words_ids=[[0]], decoder_start_token_id=0, eos_token_id=1, pad_token_id=0)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def shipped():
    loaded = models.load_model(EMBEDDED_TRANSLATOR, kinds=TRANSLATORS)
    return loaded.model, loaded.tokenizer


# ------------------------------------------------------------------ the task


def test_held_out_numbers_are_never_trained_on_and_the_split_is_reproducible():
    train, held_out = translation.split_numbers(0, 2000, 500)
    assert len(set(train)) == 2000 and len(set(held_out)) == 500 and not set(train) & set(held_out)
    assert translation.split_numbers(0, 2000, 500) == (train, held_out)
    assert max(len(str(n)) for n in train) == translation.MAX_DIGITS


@pytest.mark.parametrize("number, chinese", [(30512, "三万零五百一十二"), (10, "十"), (105, "一百零五"),
                                             (1000000007, "十亿零七"), (0, "零")])
def test_pairs_both_ways(number, chinese):
    assert translation.pair(number, TO_CHINESE) == (f"<2zh>{number}", chinese)
    assert translation.pair(number, TO_ARABIC) == (f"<2ar>{chinese}", str(number))
    assert translation.reference(str(number), TO_CHINESE) == chinese
    assert translation.reference(chinese, TO_ARABIC) == str(number)


def test_malformed_chinese_has_no_reference():
    assert translation.reference("万万万", TO_ARABIC) is None


@pytest.mark.parametrize("text, direction", [
    ("", TO_CHINESE), ("   ", TO_ARABIC), ("12a", TO_CHINESE), ("1.5", TO_CHINESE), ("-3", TO_CHINESE),
    ("007", TO_CHINESE), ("1" * 13, TO_CHINESE), ("🙂", TO_CHINESE), ("<b>1</b>", TO_CHINESE),
    ("[x](http://e.example)", TO_ARABIC), ("三万x", TO_ARABIC), ("30512", TO_ARABIC), ("三" * 31, TO_ARABIC),
    ("1\x00", TO_CHINESE),
])
def test_bad_input_gets_a_message(text, direction):
    with pytest.raises(ValueError, match=r"\w"):
        translation.check_source(text, direction)


def test_good_input_passes_and_full_width_digits_become_ascii():
    assert translation.check_source(" 30512 ", TO_CHINESE) == "30512"
    assert translation.check_source("３０５", TO_CHINESE) == "305"
    assert translation.check_source("0", TO_CHINESE) == "0"
    assert translation.check_source("三万零五百一十二", TO_ARABIC) == "三万零五百一十二"


def test_the_tokenizer_reads_characters_and_round_trips(tmp_path):
    tokenizer = translation.build_tokenizer()
    ids = tokenizer("<2zh>305")["input_ids"]
    assert translation.token_names(tokenizer, ids) == ["<2zh>", "3", "0", "5", "</s>"]
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("<2ar>三万零五")["input_ids"] == tokenizer("<2ar>三万零五")["input_ids"]
    assert again.decode(again("<2ar>三万零五")["input_ids"], skip_special_tokens=True) == "三万零五"


# ------------------------------------------------------------------ parity with plain transformers


@torch.no_grad()
def manual_greedy(model, tokenizer, source: str) -> tuple[list[int], list[float]]:
    """Greedy decoding by hand: the whole decoder input rerun at every step, the pad token banned, the raw softmax's
    probability of each chosen token."""
    batch = tokenizer([source], return_tensors="pt")
    ids, probabilities = [model.config.decoder_start_token_id], []
    for _step in range(SHORT):
        logits = model(**batch, decoder_input_ids=torch.tensor([ids])).logits[0, -1]  # (V,)
        banned = logits.clone()
        banned[tokenizer.pad_token_id] = -math.inf
        if _step == SHORT - 1:  # forced_eos_token_id: the last step must end
            banned[:] = -math.inf
            banned[tokenizer.eos_token_id] = 0
        chosen = int(banned.argmax())
        ids.append(chosen)
        probabilities.append(float(logits.softmax(-1)[chosen]))
        if chosen == tokenizer.eos_token_id:
            break
    return ids[1:], probabilities


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES)
def test_greedy_output_and_probabilities_equal_a_hand_written_loop_and_generate(tiny, source):
    model, tokenizer = tiny
    result = translation.translate(model, tokenizer, source, 1, SHORT)
    ids, probabilities = manual_greedy(model, tokenizer, source)
    assert result.output_tokens == translation.token_names(tokenizer, ids)
    assert torch.allclose(result.token_probabilities, torch.tensor(probabilities), atol=1e-5)
    generated = model.generate(**tokenizer([source], return_tensors="pt"), max_new_tokens=SHORT)
    assert result.text == tokenizer.decode(generated[0], skip_special_tokens=True)


@pytest.mark.parametrize("source", SOURCES)
def test_the_three_attentions_equal_generates_own(tiny, source):
    """generate's attentions come step by step from the KV cache; ours from one teacher-forced pass."""
    model, tokenizer = tiny
    result = translation.translate(model, tokenizer, source, 1, SHORT)
    out = model.generate(**tokenizer([source], return_tensors="pt"), max_new_tokens=SHORT,
                         output_attentions=True, return_dict_in_generate=True)
    T, S = len(result.output_tokens), len(result.source_tokens)
    assert result.cross_attention.shape == (1, 2, T, S) and result.encoder_attention.shape == (2, 2, S, S)
    assert result.decoder_attention.shape == (1, 2, T, T)
    encoder = torch.stack([a[0] for a in out.encoder_attentions])  # (L, H, S, S)
    assert torch.allclose(result.encoder_attention, encoder, atol=1e-6)
    for t in range(T):
        for layer in range(1):
            assert torch.allclose(result.cross_attention[layer, :, t], out.cross_attentions[t][layer][0, :, -1], atol=1e-5)
            assert torch.allclose(result.decoder_attention[layer, :, t, : t + 1],
                                  out.decoder_attentions[t][layer][0, :, -1], atol=1e-5)
    assert torch.all(torch.triu(result.decoder_attention, diagonal=1) == 0)  # causal: the future gets weight 0
    assert torch.allclose(result.cross_attention.sum(-1), torch.ones(1, 2, T), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES)
def test_beams_equal_generate_and_their_scores_are_the_teacher_forced_log_probabilities(tiny, source):
    model, tokenizer = tiny
    found = translation.beams(model, tokenizer, source, 4, SHORT)
    best = model.generate(**tokenizer([source], return_tensors="pt"), num_beams=4, do_sample=False,
                          max_new_tokens=SHORT)
    assert found[0].text == tokenizer.decode(best[0], skip_special_tokens=True)
    assert translation.translate(model, tokenizer, source, 4, SHORT).text == found[0].text
    assert [b.score for b in found] == sorted((b.score for b in found), reverse=True)
    for beam in found:
        ids = torch.tensor(tokenizer.convert_tokens_to_ids(beam.tokens))
        forced = translation.attention_of(model, tokenizer, source, ids)
        log_ps = forced.token_probabilities.log()  # (T,)
        cut = len(beam.tokens) == SHORT  # its last token </s> was forced at the length limit: beam search counts it as p = 1
        assert beam.log_probability == pytest.approx(float(log_ps[:-1].sum() if cut else log_ps.sum()), abs=1e-3)
        assert beam.score == pytest.approx(beam.log_probability / len(beam.tokens), abs=1e-4)  # length_penalty 1


@pytest.mark.slow
def test_batched_decoding_equals_one_at_a_time_and_bleu_is_sacrebleus(tiny):
    model, tokenizer = tiny
    pairs = [translation.pair(n, d) for n in (5, 123, 3000000) for d in (TO_CHINESE, TO_ARABIC)]  # lengths differ
    for beams in (1, 4):
        batched = translation.held_out_score(model, tokenizer, pairs, beams, batch_size=4, max_new_tokens=SHORT)
        alone = [translation.decode(model, tokenizer, [source], beams, SHORT)[0] for source, _target in pairs]
        assert batched.outputs == alone
        references = [target for _source, target in pairs]
        assert batched.bleu == sacrebleu.corpus_bleu(alone, [references], tokenize="char").score
        assert batched.exact_match == sum(a == r for a, r in zip(alone, references)) / len(pairs)


def test_the_score_of_right_and_wrong_outputs():
    assert translation.score(["三万零五百一十二"], ["三万零五百一十二"]).bleu == pytest.approx(100)
    half = translation.score(["三万", "九"], ["三万", "十"])
    assert half.exact_match == 0.5 and half.size == 2


# ------------------------------------------------------------------ the shipped model and the hub


def test_the_shipped_model_is_a_small_eager_safetensors_marian(shipped):
    model, _tokenizer = shipped
    folder = models.EMBEDDED_DIR / EMBEDDED_TRANSLATOR
    assert (folder / "model.safetensors").stat().st_size < 3 * 2**20
    assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pkl", ".pth")]
    assert type(model).__name__ == "MarianMTModel" and model.config._attn_implementation == "eager"
    assert not model.training and next(model.parameters()).dtype == torch.float32
    results = json.loads(RESULTS.read_text())
    assert results["parameters"] == sum(p.numel() for p in model.parameters())
    assert results["bytes"] == (folder / "model.safetensors").stat().st_size
    assert results["held_out_numbers"] >= 500


@pytest.mark.slow
def test_the_shipped_model_translates_the_example(shipped):
    model, tokenizer = shipped
    assert translation.translate(model, tokenizer, "<2zh>30512").text == "三万零五百一十二"


def test_translators_and_language_models_stay_on_their_own_pages():
    with pytest.raises(ModelUnavailable, match="translation model"):
        models.load_model(EMBEDDED_TRANSLATOR)  # the sidebar's pages explain language models
    with pytest.raises(ModelUnavailable, match="not a translation model"):
        models.load_model(models.EMBEDDED_GPT, kinds=TRANSLATORS)
    assert EMBEDDED_TRANSLATOR not in [spec.name for spec in models.available_models()]
    assert [spec.name for spec in models.available_models(TRANSLATORS)] == [EMBEDDED_TRANSLATOR, HUB_TRANSLATOR]


def test_the_hub_translator_fails_fast_and_clearly_offline(tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(models.ALLOWLIST_VARIABLE, raising=False)
    started = time.perf_counter()
    with pytest.raises(models.HubUnreachable) as refused:
        models.load_model(HUB_TRANSLATOR, kinds=TRANSLATORS)
    assert time.perf_counter() - started < 5
    message = str(refused.value)
    assert "cannot be reached" in message and EMBEDDED_TRANSLATOR in message and HUB_TRANSLATOR in message


def held_out(results: dict, direction: str) -> list[tuple[str, str]]:
    """The committed figures' held-out pairs in ``direction``, drawn again from the results' seed."""
    _train, numbers = translation.split_numbers(results["seed"], results["train_numbers"], results["held_out_numbers"])
    return [translation.pair(n, direction) for n in numbers]


@pytest.mark.slow
def test_batched_held_out_decoding_equals_one_at_a_time_on_a_sample(shipped):
    """The figures are computed in batches of 64: on every 10th held-out number, each decoded alone gives the same."""
    model, tokenizer = shipped
    results = json.loads(RESULTS.read_text())
    for direction in (TO_CHINESE, TO_ARABIC):
        sample = held_out(results, direction)[::10]
        for beams in (1, results["beams"]):
            batched = translation.held_out_score(model, tokenizer, sample, beams)
            alone = [translation.decode(model, tokenizer, [source], beams)[0] for source, _target in sample]
            assert batched.outputs == alone


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("EXPLAINER_FULL_CHECKS") != "1", reason="12 minutes on a busy 2-core machine: "
                    "set EXPLAINER_FULL_CHECKS=1")
def test_every_held_out_figure_shown_equals_one_at_a_time_decoding(shipped):
    """The committed BLEU and exact match, greedy and beam, both directions, from decoding each number alone."""
    model, tokenizer = shipped
    results = json.loads(RESULTS.read_text())
    for direction, key in translation.RESULT_KEYS.items():
        pairs = held_out(results, direction)
        for way, beams in (("greedy", 1), ("beam", results["beams"])):
            alone = [translation.decode(model, tokenizer, [source], beams)[0] for source, _target in pairs]
            figures = translation.score(alone, [target for _source, target in pairs])
            assert results[key][way]["bleu"] == pytest.approx(figures.bleu, abs=0.005), (key, way)
            assert results[key][way]["exact_match"] == pytest.approx(figures.exact_match, abs=5e-5), (key, way)
            assert results[key]["held_out_size"] == len(pairs)


# ------------------------------------------------------------------ the page


def open_translation(**query) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    app.switch_page("pages/translation.py").run()
    return app


@pytest.mark.slow
def test_the_page_translates_and_shows_the_committed_figures(shipped):
    app = open_translation(lang="en")
    assert not app.exception
    assert app.code[0].value == "三万零五百一十二"
    frames = [frame.value for frame in app.dataframe]
    held_out = next(f for f in frames if "bleu" in f.columns)
    results = json.loads(RESULTS.read_text())
    assert list(held_out["bleu"]) == [results[k][w]["bleu"] for k in ("to_chinese", "to_arabic") for w in ("greedy", "beam")]
    for bad in ("<script>alert(1)</script>", "1" * 13, "🙂"):
        app.text_input(key="translation_source").input(bad).run()
        assert not app.exception and app.warning and "Type" in app.warning[0].value


@pytest.mark.slow
def test_the_hub_model_shows_the_offline_message_and_falls_back(monkeypatch, shipped):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = open_translation(lang="en")
    app.segmented_control(key="translation_model").set_value(HUB_TRANSLATOR).run()
    assert not app.exception
    assert "cannot be reached" in app.error[0].value and app.code[0].value == "三万零五百一十二"

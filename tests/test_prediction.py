"""The next-token controls match what model.generate samples from."""

import numpy as np
import pytest
import torch

from explainer.analysis import analyze
from explainer.prediction import SamplingSettings, continuation_text, distribution_table, reshape, sample

SETTINGS = [
    SamplingSettings(),
    SamplingSettings(temperature=0.7),
    SamplingSettings(temperature=1.5, top_k=20),
    SamplingSettings(top_p=0.8),
    SamplingSettings(temperature=0.5, top_k=50, top_p=0.9),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_reshaped_distribution_is_the_one_generate_samples_from(gpt, settings):
    text = "It is a truth universally acknowledged, that"
    analysis = analyze(gpt, text)
    ids = torch.tensor([analysis.tokens.ids])
    out = gpt.model.generate(
        ids, max_new_tokens=1, output_scores=True, return_dict_in_generate=True, pad_token_id=0,
        do_sample=True, temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p,
    )
    expected = torch.softmax(out.scores[0][0], dim=-1).numpy()  # generate's processed scores
    np.testing.assert_allclose(reshape(analysis.next_token_logits, settings), expected, atol=1e-6)


def test_top_k_and_top_p_keep_the_right_tokens(gpt):
    analysis = analyze(gpt, "Once upon a time")
    assert (reshape(analysis.next_token_logits, SamplingSettings(top_k=7)) > 0).sum() == 7
    kept = reshape(analysis.next_token_logits, SamplingSettings(top_p=0.5))
    ascending = np.sort(analysis.next_token_probabilities.astype(np.float64))  # (V,) least likely first
    dropped = np.cumsum(ascending) <= 1 - 0.5  # the unlikely tail whose mass stays within 1 − top_p
    assert (kept > 0).sum() == (~dropped).sum()  # the smallest set of likeliest tokens with mass > top_p


def test_table_has_every_intermediate(gpt):
    analysis = analyze(gpt, "The cat is on the")
    settings = SamplingSettings(temperature=2.0)
    table = distribution_table(analysis, gpt.tokenizer, settings, rows=10)
    assert list(table["rank"]) == list(range(1, 11))
    assert (np.diff(table["probability"]) <= 0).all()
    np.testing.assert_allclose(table["scaled_logit"], table["logit"] / 2.0, rtol=1e-6)
    top = int(table["id"][0])
    assert table["probability"][0] == pytest.approx(float(analysis.next_token_probabilities[top]))


def test_sampling_is_repeatable_with_a_seed(gpt):
    analysis = analyze(gpt, "Once upon a time")
    p = reshape(analysis.next_token_logits, SamplingSettings(temperature=1.2))
    assert sample(p, 7) == sample(p, 7)
    draws = {sample(p, seed) for seed in range(30)}
    assert all(p[d] > 0 for d in draws)


def test_partial_character_tokens_cannot_be_appended(gpt):
    byte_piece = gpt.tokenizer.convert_tokens_to_ids("å")  # the first byte of many CJK characters
    assert continuation_text(gpt.tokenizer, byte_piece) is None
    the = gpt.tokenizer.encode(" the")[0]
    assert continuation_text(gpt.tokenizer, the) == " the"


def test_the_cumulative_column_is_the_sum_top_p_cuts_so_the_kept_rows_can_be_read_off(gpt):
    # T = 2, top-k 5, top-p 0.5: top-p sums the distribution after temperature and top-k, not the plain softmax.
    analysis = analyze(gpt, "It is a truth universally acknowledged, that")
    settings = SamplingSettings(temperature=2.0, top_k=5, top_p=0.5)
    table = distribution_table(analysis, gpt.tokenizer, settings, rows=10)
    logits = torch.tensor(analysis.next_token_logits, dtype=torch.float64)
    top5 = torch.topk(logits / 2.0, 5)
    after_k = torch.softmax(top5.values, dim=0).numpy()  # (5,) the distribution top-p cuts, best first
    np.testing.assert_allclose(table["cumulative_probability"][:5], np.cumsum(after_k), rtol=1e-4)
    np.testing.assert_allclose(table["cumulative_probability"][5:], 1.0, rtol=1e-4)  # filtered by top-k: adds nothing
    kept = int((table["sampling_probability"] > 0).sum())
    before = np.concatenate([[0.0], table["cumulative_probability"][:-1]])  # the running sum before each row
    assert kept == int((before < 0.5).sum())  # a row is kept while the sum before it is below top_p

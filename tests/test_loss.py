"""Loss, the chain rule and perplexity agree with the model's own numbers."""

import math

import numpy as np
import pytest
import torch

from explainer.analysis import analyze
from explainer.loss import chain_rule, rank_bucket, token_table


def test_chain_rule_multiplies_the_conditional_probabilities(gpt):
    analysis = analyze(gpt, "The cat is on the roof")
    chain = chain_rule(analysis)
    ids = torch.tensor([analysis.tokens.ids])
    with torch.no_grad():
        log_probs = torch.log_softmax(gpt.model(input_ids=ids).logits[0], dim=-1)  # (T, V)
    expected = sum(log_probs[t - 1, ids[0, t]].item() for t in range(1, ids.shape[1]))
    assert chain.log_probability == pytest.approx(expected, abs=1e-4)
    assert math.log(math.prod(p for _, p in chain.factors)) == pytest.approx(expected, abs=1e-4)
    assert chain.perplexity == pytest.approx(math.exp(-expected / chain.scored_tokens), rel=1e-5)
    mantissa, power = chain.probability_text.split(" × 10")
    exponent = int(power.translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")))
    assert float(mantissa) * 10**exponent == pytest.approx(math.exp(expected), rel=1e-2)
    assert chain.probability_latex == rf"{mantissa} \times 10^{{{exponent}}}"


def test_table_rows_follow_the_tokens(gpt):
    analysis = analyze(gpt, "Once upon a time there was")
    table = token_table(analysis)
    assert list(table["token"]) == analysis.tokens.display
    assert table["bucket"][0] == "" and np.isnan(table["neg_log_p"][0]) and table["rank"].isna()[0]  # nothing predicts it
    assert list(table["rank"][1:]) == list(analysis.token_ranks[1:])
    np.testing.assert_allclose(table["neg_log_p"][1:], -np.log(table["p"][1:]), rtol=1e-4)


@pytest.mark.parametrize(
    "rank,bucket", [(0, ""), (1, "top 10"), (10, "top 10"), (11, "top 100"), (1000, "top 1000"), (1001, "beyond")]
)
def test_gltr_buckets(rank, bucket):
    assert rank_bucket(rank) == bucket

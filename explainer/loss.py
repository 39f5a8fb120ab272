"""Stage 5: the loss of each token, −log p(actual token | context), and perplexity.

The probability of a whole text is the product of its conditional
probabilities (the chain rule); the mean of the per-token losses is the
cross-entropy loss the model is trained on, and exp of it is perplexity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explainer.analysis import Analysis
from explainer.numbers import latex_times_ten, power_of_ten, times_ten

GLTR_BUCKETS = ((10, "top 10"), (100, "top 100"), (1000, "top 1000"))
GLTR_COLOURS = {"top 10": "#7fd17f", "top 100": "#f5e46c", "top 1000": "#f4a259", "beyond": "#d9778b", "": "#e4e4e4"}


def rank_bucket(rank: int) -> str:
    """GLTR's bucket for a rank: 'top 10', 'top 100', 'top 1000' or 'beyond'; '' when unscored."""
    if rank <= 0:
        return ""
    return next((label for limit, label in GLTR_BUCKETS if rank <= limit), "beyond")


def token_table(analysis: Analysis) -> pd.DataFrame:
    """Return one row per token: position, token, id, p, −log p (nats), rank and GLTR bucket.

    Unscored tokens (the first token of a causal model, which nothing predicts; [CLS]/[SEP]) have
    empty p, loss and rank, and the bucket ''.
    """
    return pd.DataFrame(
        {
            "position": np.arange(len(analysis.tokens)),
            "token": analysis.tokens.display,
            "id": analysis.tokens.ids,
            "p": analysis.token_probabilities,
            "neg_log_p": analysis.token_losses,
            "rank": pd.Series(analysis.token_ranks, dtype="Int64").where(analysis.scored),  # <NA> where unscored
            "bucket": [rank_bucket(int(r)) for r in analysis.token_ranks],
        }
    )


@dataclass
class ChainRule:
    """p(text) = Π p(token_t | tokens before t), and its summaries."""

    factors: list[tuple[str, float]]  # (token, p) for each scored token, in order
    log_probability: float  # Σ log p, nats
    log10_probability: float  # the same in powers of ten, for showing tiny probabilities
    mean_loss: float  # −(1/N) Σ log p, nats per token
    perplexity: float  # exp(mean_loss)
    scored_tokens: int  # N

    @property
    def probability_text(self) -> str:
        """p(text) written so it never underflows to 0, e.g. '3.20 × 10⁻⁴¹'."""
        return times_ten(*power_of_ten(self.log10_probability))

    @property
    def probability_latex(self) -> str:
        """p(text) as LaTeX, e.g. '3.20 \\times 10^{-41}'."""
        return latex_times_ten(*power_of_ten(self.log10_probability))


def chain_rule(analysis: Analysis) -> ChainRule:
    """Return the chain-rule decomposition of the text's probability under the model."""
    scored = analysis.scored
    factors = [(t, float(p)) for t, p, s in zip(analysis.tokens.display, analysis.token_probabilities, scored) if s]
    log_probability = analysis.log_probability
    return ChainRule(
        factors=factors,
        log_probability=log_probability,
        log10_probability=log_probability / math.log(10),
        mean_loss=analysis.mean_loss,
        perplexity=analysis.perplexity,
        scored_tokens=int(scored.sum()),
    )

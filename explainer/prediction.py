"""Stage 4: logits → softmax → the next-token distribution, and how sampling reshapes it.

Temperature, top-k and top-p are applied with transformers' own logits
processors, in the order ``model.generate(do_sample=True)`` applies them, so
the reshaped distribution is exactly the one ``generate`` samples from.
Moving a slider re-uses the cached logits; the model does not run again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from explainer.analysis import Analysis
from explainer.tokenization import decoder_type, token_label


@dataclass(frozen=True)
class SamplingSettings:
    """The knobs of ``model.generate(do_sample=True, ...)``. top_k = 0 and top_p = 1 switch a filter off."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def processors(self) -> LogitsProcessorList:
        """The warpers ``generate`` would build for these settings, in its order."""
        warpers = LogitsProcessorList()
        if self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.top_k != 0:
            warpers.append(TopKLogitsWarper(top_k=self.top_k))
        if self.top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p=self.top_p))
        return warpers


def reshape(logits: np.ndarray, settings: SamplingSettings) -> np.ndarray:
    """Return the sampling distribution (V,) after temperature, top-k and top-p; sums to 1."""
    scores = torch.tensor(np.asarray(logits, dtype=np.float32))[None]  # (1, V), a copy: cached arrays are read-only
    warped = settings.processors()(torch.zeros((1, 1), dtype=torch.long), scores)  # (1, V), −inf where filtered
    return torch.softmax(warped, dim=-1)[0].numpy()


def distribution_table(analysis: Analysis, tokenizer, settings: SamplingSettings, rows: int = 20) -> pd.DataFrame:
    """Return the ``rows`` most likely next tokens with every teaching intermediate.

    Columns: rank, id, token (readable), logit, scaled_logit (logit / temperature),
    probability (plain softmax, temperature 1), sampling_probability (after
    temperature, top-k and top-p), cumulative_probability (the running sum of
    the distribution top-p cuts: after temperature and top-k, before top-p; a
    token is kept while the sum before it is below top_p).
    """
    logits = analysis.next_token_logits  # (V,)
    probabilities = analysis.next_token_probabilities  # (V,)
    sampling = reshape(logits, settings)  # (V,)
    before_top_p = reshape(logits, replace(settings, top_p=1.0))  # (V,) what TopPLogitsWarper sorts and sums
    order = np.argsort(-logits, kind="stable")[:rows]
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "id": order,
            "token": [token_label(tokenizer, int(i)) for i in order],
            "logit": logits[order],
            "scaled_logit": logits[order] / settings.temperature,
            "probability": probabilities[order],
            "sampling_probability": sampling[order],
            "cumulative_probability": np.cumsum(before_top_p[order]),
        }
    )


def sample(probabilities: np.ndarray, seed: int) -> int:
    """Draw one token id from ``probabilities`` (V,) with a seeded generator; return it."""
    generator = torch.Generator().manual_seed(seed)
    return int(torch.multinomial(torch.from_numpy(probabilities), 1, generator=generator)[0])


def continuation_text(tokenizer, token_id: int) -> str | None:
    """Return the text a token adds to the prompt, or None when it is only part of a
    character (a lone byte of a Chinese character or emoji) and so cannot be typed alone."""
    text = tokenizer.decode([token_id], clean_up_tokenization_spaces=False)
    if "\ufffd" in text or token_id in tokenizer.all_special_ids:
        return None
    if decoder_type(tokenizer) == "WordPiece" and not tokenizer.convert_ids_to_tokens(token_id).startswith("##"):
        return " " + text
    return text

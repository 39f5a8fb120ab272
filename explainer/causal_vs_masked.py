"""GPT vs BERT: a causal and a masked model on the same text, and BERT filling in blanks.

Causal LM (GPT): trained to predict every token from the ones before it,
L = −Σ_t log p(x_t | x_<t), so its attention is masked to the past.
Masked LM (BERT): about 15% of the tokens are hidden and predicted from both
sides, L = −Σ_{t ∈ masked} log p(x_t | the rest), so its attention sees the
whole text. Shapes: T = tokens, V = vocabulary, M = [MASK]s in the text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from explainer.analysis import Analysis
from explainer.attention import head_weights, mean_over_heads
from explainer.i18n import _
from explainer.models import LoadedModel
from explainer.tokenization import clean_text, token_label, tokenize

MASK = "[MASK]"
DEFAULT_BLANK = "She was the [MASK] of the family."  # the fill-in-the-blank the page opens with (English: the BERT's)


def attention_map(analysis: Analysis, layer: int, head: int | None) -> np.ndarray:
    """Return one head's weights (T, T), or the mean over the layer's heads when ``head`` is None."""
    return mean_over_heads(analysis, layer) if head is None else head_weights(analysis, layer, head)


def future_share(matrix: np.ndarray) -> float:
    """Return the share of attention (T, T) that goes to later tokens, averaged over the queries.

    Exactly 0 for a causal model; for a bidirectional one, how much each token looks ahead.
    """
    return float(np.triu(matrix, k=1).sum(axis=-1).mean())


def fill_mask(loaded: LoadedModel, text: str, k: int) -> pd.DataFrame:
    """Return the masked model's ``k`` best guesses at every [MASK] in ``text``.

    One row per (mask, guess). Columns: mask_index (0 = the first [MASK]),
    position (its token index), rank (1 = best), id, token (readable),
    probability (softmax of the model's logits at that position).
    Raises ``ValueError`` with a message for the user when the text is blank
    or has no [MASK] (within the model's context).
    """
    tokens = tokenize(loaded.tokenizer, clean_text(text), max_tokens=loaded.context_length)
    positions = [t for t, i in enumerate(tokens.ids) if i == loaded.tokenizer.mask_token_id]  # M positions
    if not positions:
        raise ValueError(
            _("There is no {mask} in this text. Write {mask}, in capitals, where a word is missing.").format(mask=MASK))
    with torch.no_grad():
        ids = torch.tensor([tokens.ids], device=loaded.model.device)  # (1, T)
        logits = loaded.model(input_ids=ids).logits[0, positions].cpu()  # (M, V)
    probabilities, ids = torch.softmax(logits.float(), dim=-1).topk(k, dim=-1)  # (M, k) each
    return pd.DataFrame(
        [
            {
                "mask_index": m,
                "position": position,
                "rank": rank + 1,
                "id": int(ids[m, rank]),
                "token": token_label(loaded.tokenizer, int(ids[m, rank])),
                "probability": float(probabilities[m, rank]),
            }
            for m, position in enumerate(positions)
            for rank in range(k)
        ]
    )


def filled_in(text: str, guesses: pd.DataFrame) -> str:
    """Return ``text`` with each [MASK], in order, replaced by the model's best guess for it."""
    for token in guesses.loc[guesses["rank"] == 1, "token"]:
        text = text.replace(MASK, token.removeprefix("##"), 1)
    return text

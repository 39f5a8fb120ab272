"""The logit lens: what the model would predict if it stopped after each layer.

The residual stream after every layer is read out with the model's own final
norm and output head, as if the remaining layers were skipped:

- GPT-2: ``lm_head(ln_f(h))``. CAREFUL: in Hugging Face's outputs,
  ``hidden_states[0..L-1]`` are the raw residual stream, but
  ``hidden_states[L]`` is already *after* ``ln_f`` (the library puts the
  model's last hidden state there), so the last row gets only ``lm_head``.
  Llama-style models (final norm ``norm``) follow the same convention.
- BERT: ``cls(h)``, the masked-LM head, which has its own dense layer and
  LayerNorm; BERT has no final norm outside its layers, so every row,
  the last included, goes through the head alone.

Either way the last row is exactly the model's own output. Shapes: L = layers,
T = tokens, V = vocabulary, D = hidden size; row 0 is the embeddings,
row l the stream after block l (the attention page's "layer l-1").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from explainer.analysis import Analysis
from explainer.models import LoadedModel
from explainer.tokenization import token_label


@dataclass
class LogitLens:
    """For every layer × position: the lens's top-1 token and how likely it finds the model's final answer."""

    top_ids: np.ndarray  # (L+1, T) int, the top-1 token read out after each layer
    top_tokens: list[list[str]]  # (L+1, T) the same, as readable strings
    top_probabilities: np.ndarray  # (L+1, T) the probability of that top-1 token
    final_ids: np.ndarray  # (T,) int, the model's own top-1 at each position (Analysis.top_ids)
    final_tokens: list[str]  # (T,) the same, as readable strings
    final_probabilities: np.ndarray  # (L+1, T) the probability the lens gives to final_ids[t]

    @property
    def row_names(self) -> list[str]:
        """(L+1,) names of the rows: 'embeddings', then 'after layer 0' … 'after layer L-1'."""
        return ["embeddings"] + [f"after layer {layer}" for layer in range(len(self.top_ids) - 1)]


def layer_logits(loaded: LoadedModel, analysis: Analysis, row: int) -> torch.Tensor:
    """Return the logits (T, V) read out of the residual stream ``analysis.hidden_states[row]``
    (0 = the embeddings, L = after the last block)."""
    readout = loaded.architecture.readout(loaded.model)
    # (T, D), a copy: the cached analysis is read-only
    stream = torch.tensor(analysis.hidden_states[row], device=loaded.model.device)
    already_normed = readout.last_state_normed and row == len(analysis.hidden_states) - 1
    with torch.no_grad():
        if readout.final_norm is not None and not already_normed:
            stream = readout.final_norm(stream)
        return readout.head(stream).cpu()  # (T, V)


def logit_lens(loaded: LoadedModel, analysis: Analysis) -> LogitLens | None:
    """Decode the residual stream after every layer of ``analysis`` with the model's final norm and head.

    Returns None for architectures whose final norm and head the adapters do not know.
    """
    if loaded.architecture.readout(loaded.model) is None:
        return None
    final_ids = torch.tensor(analysis.top_ids)  # (T,)
    top_ids, top_probabilities, final_probabilities = [], [], []
    for row in range(len(analysis.hidden_states)):
        probabilities = torch.softmax(layer_logits(loaded, analysis, row), dim=-1)  # (T, V)
        best_probability, best_id = probabilities.max(dim=-1)  # (T,), (T,)
        top_ids.append(best_id)
        top_probabilities.append(best_probability)
        final_probabilities.append(probabilities.gather(1, final_ids[:, None])[:, 0])  # (T,)
    top_ids = torch.stack(top_ids).numpy()  # (L+1, T)
    tokenizer = loaded.tokenizer
    return LogitLens(
        top_ids=top_ids,
        top_tokens=[[token_label(tokenizer, int(i)) for i in row] for row in top_ids],
        top_probabilities=torch.stack(top_probabilities).numpy(),
        final_ids=final_ids.numpy(),
        final_tokens=[token_label(tokenizer, int(i)) for i in final_ids],
        final_probabilities=torch.stack(final_probabilities).numpy(),
    )


def lens_table(lens: LogitLens, input_tokens: list[str]) -> pd.DataFrame:
    """Return one row per (layer, position): the input token, the lens's top token and its probability,
    and the model's final prediction with the probability the lens gives it."""
    rows, positions = lens.top_ids.shape
    return pd.DataFrame(
        {
            "layer": np.repeat(lens.row_names, positions),
            "position": np.tile(np.arange(positions), rows),
            "input_token": np.tile(input_tokens, rows),
            "top_token": [token for row in lens.top_tokens for token in row],
            "top_id": lens.top_ids.ravel(),
            "p_top": lens.top_probabilities.ravel(),
            "final_token": np.tile(lens.final_tokens, rows),
            "p_final": lens.final_probabilities.ravel(),
        }
    )

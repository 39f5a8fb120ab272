"""Attention, step by step: one head and one query token, every number from q·k to the output.

Recomputes one layer's attention from the model's own weights and keeps every
intermediate, the way a learner would work it out on paper:

    q = x_i W_Q,  k_j = x_j W_K,  v_j = x_j W_V          (head h: d_k numbers each)
    s_j = q·k_j  →  s_j / √d_k  →  mask (j > i → −∞)  →  softmax  →  o = Σ_j a_j v_j
    multi-head: [o⁽⁰⁾; …; o⁽ᴴ⁻¹⁾] W_O + b_O              (H × d_k = D numbers in, D out)

What x is, how q and k learn positions and what W_O is are the family's
(``explainer/architectures.py``): GPT-2 is pre-norm and causal, x = ln_1(h);
BERT is post-norm and bidirectional, x = h, and nothing is masked; Llama-style
models are causal, x = RMSNorm(h), and q and k are rotated by position.
Shapes: T = tokens, D = hidden size, H = heads, d_k = D / H.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from explainer.analysis import Analysis
from explainer.i18n import N_, _
from explainer.models import LoadedModel

MASKED_TEXT = N_("−∞ (masked)")  # shown translated: ``_(MASKED_TEXT)``


@dataclass
class AttentionSteps:
    """Every intermediate of one head's attention for one query token i = ``query``."""

    layer: int
    head: int
    query: int  # i, the position of the query token
    causal: bool  # True for GPT-2: keys after the query are masked
    projection: str  # the name of W_O inside the layer, e.g. "attn.c_proj"
    q: np.ndarray  # (d_k,) the query token's query vector in this head
    keys: np.ndarray  # (T, d_k) every token's key vector in this head
    values: np.ndarray  # (T, d_k) every token's value vector in this head
    scores: np.ndarray  # (T,) q · k_j
    scaled: np.ndarray  # (T,) q · k_j / √d_k
    masked: np.ndarray  # (T,) scaled, with −inf at the masked keys
    weights: np.ndarray  # (T,) softmax(masked): the attention weights, ≥ 0, sum to 1
    output: np.ndarray  # (d_k,) Σ_j weights_j v_j: this head's output
    head_outputs: np.ndarray  # (H, d_k) every head's output for this query
    concatenated: np.ndarray  # (D,) the head outputs end to end
    projected: np.ndarray  # (D,) concatenated W_O + b_O: the attention module's output

    @property
    def d_k(self) -> int:
        return self.q.shape[0]

    @property
    def head_count(self) -> int:
        return self.head_outputs.shape[0]

    @property
    def is_masked(self) -> np.ndarray:
        """(T,) bool: the keys the query may not look at."""
        return np.isneginf(self.masked)


def check_supported(loaded: LoadedModel) -> None:
    """Raise ``ValueError`` (a message for the user) unless the model's adapter can recompute its attention."""
    problem = loaded.architecture.attention_steps_problem()
    if problem:
        raise ValueError(problem)


def show_work(loaded: LoadedModel, analysis: Analysis, layer: int, head: int, query: int) -> AttentionSteps:
    """Recompute ``layer``'s attention for the token at ``query`` and return every step of ``head``.

    Raises ``ValueError`` for architectures whose adapter cannot (see ``check_supported``).
    """
    check_supported(loaded)
    architecture = loaded.architecture
    causal = architecture.causal
    with torch.no_grad():
        device = loaded.model.device
        hidden = torch.tensor(analysis.hidden_states[layer], device=device)  # (T, D): the hidden state entering the layer
        q, k, v = (vectors.cpu() for vectors in architecture.queries_keys_values(loaded.model, hidden, layer))  # (H, T, d_k)
        per_head = [_attend(q[h, query], k[h], v[h], query, causal) for h in range(q.shape[0])]
        head_outputs = torch.stack([output for *_, output in per_head])  # (H, d_k)
        concatenated = head_outputs.reshape(-1)  # (D,) head 0 first, as the model joins them
        projected = architecture.output_projection(loaded.model, layer)(concatenated.to(device)).cpu()  # (D,)
    scores, scaled, masked, weights, output = per_head[head]
    return AttentionSteps(
        layer=layer,
        head=head,
        query=query,
        causal=causal,
        projection=architecture.output_projection_name,
        q=q[head, query].numpy(),
        keys=k[head].numpy(),
        values=v[head].numpy(),
        scores=scores.numpy(),
        scaled=scaled.numpy(),
        masked=masked.numpy(),
        weights=weights.numpy(),
        output=output.numpy(),
        head_outputs=head_outputs.numpy(),
        concatenated=concatenated.numpy(),
        projected=projected.numpy(),
    )


def _attend(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, query: int, causal: bool):
    """One head, one query: return scores, scaled, masked, weights (T,) each, and the output (d_k,)."""
    scores = keys @ q  # (T,) q · k_j
    scaled = scores / math.sqrt(q.shape[0])  # (T,)
    masked = scaled.clone()
    if causal:
        masked[query + 1 :] = float("-inf")  # (T,) a GPT token may not look ahead
    weights = torch.softmax(masked, dim=-1)  # (T,) e^{−∞} = 0
    return scores, scaled, masked, weights, weights @ values  # output: (d_k,)


# ------------------------------------------------------------------ tables


def key_table(steps: AttentionSteps, tokens: list[str]) -> pd.DataFrame:
    """One row per key token j with its number after every step (2–5).

    Columns: key_position, key_token, score (q·k), scaled (÷√d_k), masked_score
    (−inf where masked), masked_shown (the same as text, "−∞ (masked)"),
    weight (softmax), is_masked.
    """
    return pd.DataFrame(
        {
            "key_position": np.arange(len(tokens)),
            "key_token": tokens,
            "score": steps.scores,
            "scaled": steps.scaled,
            "masked_score": steps.masked,
            "masked_shown": [_(MASKED_TEXT) if np.isneginf(m) else f"{m:.4f}" for m in steps.masked],
            "weight": steps.weights,
            "is_masked": steps.is_masked,
        }
    )


def query_and_keys(steps: AttentionSteps, tokens: list[str]) -> pd.DataFrame:
    """The query vector then every key vector, one row each (1 + T rows): column ``vector`` names
    the row, columns ``d0`` … ``d{d_k−1}`` hold its numbers."""
    names = [f"q  ({steps.query}: {tokens[steps.query]})"] + [f"k{j}  ({t})" for j, t in enumerate(tokens)]
    return _vector_frame(names, np.vstack([steps.q, steps.keys]))


def values_and_output(steps: AttentionSteps, tokens: list[str]) -> pd.DataFrame:
    """Every value vector with its weight, then the head's output as the last row (T + 1 rows);
    columns ``vector``, ``weight`` (empty for the output), ``d0`` … ``d{d_k−1}``."""
    names = [f"v{j}  ({t})" for j, t in enumerate(tokens)] + ["o = Σ a_j v_j"]
    frame = _vector_frame(names, np.vstack([steps.values, steps.output]))
    frame.insert(1, "weight", [*steps.weights, np.nan])
    return frame


def multi_head_table(steps: AttentionSteps) -> pd.DataFrame:
    """The concatenated head outputs and their projection, one row per dimension (D rows).

    Columns: dimension, head (whose output fills that slot of the concatenation),
    concatenated, projected.
    """
    dimensions = np.arange(steps.concatenated.shape[0])
    return pd.DataFrame(
        {
            "dimension": dimensions,
            "head": dimensions // steps.d_k,
            "concatenated": steps.concatenated,
            "projected": steps.projected,
        }
    )


def _vector_frame(names: list[str], matrix: np.ndarray) -> pd.DataFrame:
    """Rows of ``matrix`` (N, d) as a table with a ``vector`` name column and one column per dimension."""
    frame = pd.DataFrame(matrix, columns=[f"d{d}" for d in range(matrix.shape[1])])
    frame.insert(0, "vector", names)
    return frame

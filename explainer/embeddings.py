"""Stage 2: token ids → vectors, and how the model knows where each token is.

GPT-2 looks each token id up in its token-embedding table ``wte`` and each
position up in its position-embedding table ``wpe``, and adds the two rows:
that sum is what block 0 reads (dropout is off in eval mode). BERT adds a
third row (the token type, 0 for a single sentence) and normalises the sum
with a LayerNorm. Rotary models (Llama, SmolLM2) have no position table at
all: they rotate the queries and keys inside every attention layer instead.

Shapes: T = tokens, D = hidden size, P = rows of the position table
(the context length), N = points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from explainer.analysis import Analysis
from explainer.i18n import N_
from explainer.models import LoadedModel
from explainer.tokenization import token_label


@dataclass
class Embeddings:
    """The vectors block 0 reads, taken apart into the rows they are made of."""

    token: np.ndarray  # (T, D) row ids[t] of the token-embedding table
    position: np.ndarray | None  # (T, D) row t of the position table; None when the model has none
    block_input: np.ndarray  # (T, D) what block 0 reads; equals Analysis.hidden_states[0]
    block_input_name: str  # how block_input is made, e.g. "token + position" (English; shown with ``_()``)


def position_table(loaded: LoadedModel) -> np.ndarray | None:
    """Return the learned position-embedding table (P, D), or None when the model has none."""
    table = loaded.architecture.position_table(loaded.model)
    return None if table is None else table.weight.detach().cpu().numpy()


def embed(loaded: LoadedModel, analysis: Analysis) -> Embeddings:
    """Rebuild the input of block 0 from its parts for the analysed text.

    GPT-2: token + position. BERT: LayerNorm(word + position + token type 0).
    Llama-style models: the token embedding alone. Families without an adapter:
    the token embedding and, as block input, the model's own ``hidden_states[0]``.
    """
    model = loaded.model
    ids = torch.tensor(analysis.tokens.ids, device=model.device)  # (T,)
    with torch.no_grad():
        parts = loaded.architecture.input_parts(model, ids)
        if parts is None:
            token = loaded.architecture.token_table(model)(ids)  # (T, D)
            return Embeddings(token.cpu().numpy(), None, analysis.hidden_states[0], N_("the model's own embedding layer"))
    position = None if parts.position is None else parts.position.cpu().numpy()
    return Embeddings(parts.token.cpu().numpy(), position, parts.block_input.cpu().numpy(), parts.name)


def vectors_table(parts: dict[str, np.ndarray], labels: list[str] | None = None, offset: int = 0) -> pd.DataFrame:
    """Return one row per (part, position): the part's name, the position, the token (when ``labels``
    are given) and the D numbers of the vector. Each part is an (N, D) array."""
    frames = []
    for name, vectors in parts.items():
        frame = pd.DataFrame(vectors, columns=[f"d{d}" for d in range(vectors.shape[1])])
        if labels is not None:
            frame.insert(0, "token", labels)
        frame.insert(0, "position", np.arange(offset, offset + len(vectors)))
        frame.insert(0, "part", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------ comparisons


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    """Return the cosine similarity of every pair of rows of ``vectors`` (N, D) as an (N, N) matrix in [-1, 1]."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)  # (N, D), rows of length 1
    return unit @ unit.T  # (N, N)



def similarity_table(matrix: np.ndarray, labels: list[str], offset: int = 0) -> pd.DataFrame:
    """Return a similarity matrix (T, T) in long form: position_a, token_a, position_b, token_b, cosine."""
    first, second = np.meshgrid(np.arange(len(labels)), np.arange(len(labels)), indexing="ij")
    return pd.DataFrame(
        {
            "position_a": offset + first.ravel(),
            "token_a": [labels[i] for i in first.ravel()],
            "position_b": offset + second.ravel(),
            "token_b": [labels[j] for j in second.ravel()],
            "cosine": matrix.ravel(),
        }
    )

def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows (N, D) onto their two directions of largest spread (principal component analysis).

    Centre the rows, factor them as X = U S Vᵀ (singular value decomposition);
    the first two rows of Vᵀ are the principal directions. Returns the
    coordinates X V[:, :2] (N, 2) and the fraction of the total variance each
    axis keeps (2,). With fewer than three points the missing axes are 0.
    """
    centred = torch.from_numpy(vectors).double()
    centred = centred - centred.mean(dim=0)  # (N, D)
    _, singular, directions = torch.linalg.svd(centred, full_matrices=False)  # (K,), (K, D), K = min(N, D)
    coordinates = np.zeros((len(vectors), 2))
    kept = np.zeros(2)
    axes = min(2, len(singular))
    coordinates[:, :axes] = (centred @ directions[:axes].T).numpy()  # (N, axes)
    variance = singular**2  # (K,) variance along each direction, times N - 1
    if variance.sum() > 0:
        kept[:axes] = (variance[:axes] / variance.sum()).numpy()
    return coordinates, kept


@dataclass
class WordToken:
    """A word the learner typed and the first token it becomes."""

    word: str
    token_id: int
    token_count: int  # how many tokens the word needs; only the first is placed on the map


def word_tokens(tokenizer, words: str) -> list[WordToken]:
    """Return each comma-separated word's first token, as the word appears mid-sentence (after a space)."""
    found = []
    for word in (w.strip() for w in words.split(",")):
        ids = tokenizer(" " + word, add_special_tokens=False)["input_ids"] if word else []
        if ids:
            found.append(WordToken(word, int(ids[0]), len(ids)))
    return found


@dataclass
class TokenMap:
    """Token-embedding rows placed on a 2D map by PCA."""

    points: pd.DataFrame  # one row per distinct token: token, id, group ("your text" / "your words"), x, y
    kept: np.ndarray  # (2,) fraction of the variance kept by the x and y axes
    split_words: list[str]  # words that need several tokens (only the first is shown)


def token_map(loaded: LoadedModel, analysis: Analysis, words: list[WordToken]) -> TokenMap:
    """Place the text's distinct tokens and the learner's words (their token-embedding rows) on a 2D PCA map."""
    table = loaded.architecture.token_table(loaded.model).weight.detach()  # (V, D)
    ids, labels, groups = [], [], []
    for token_id, group in [(i, "your text") for i in analysis.tokens.ids] + [(w.token_id, "your words") for w in words]:
        if token_id not in ids:
            ids.append(token_id)
            labels.append(token_label(loaded.tokenizer, token_id))
            groups.append(group)
    coordinates, kept = pca_2d(table[ids].cpu().numpy())  # (N, 2)
    points = pd.DataFrame({"token": labels, "id": ids, "group": groups, "x": coordinates[:, 0], "y": coordinates[:, 1]})
    return TokenMap(points, kept, [w.word for w in words if w.token_count > 1])


# ------------------------------------------------------------- positions


def sinusoidal_encoding(positions: int, dimensions: int) -> np.ndarray:
    """Return the original Transformer's fixed position encoding (positions, dimensions):
    PE(pos, 2i) = sin(pos / 10000^(2i/d)) and PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    position = torch.arange(positions, dtype=torch.float64)[:, None]  # (N, 1)
    even = torch.arange(0, dimensions, 2, dtype=torch.float64)  # (ceil(d/2),) the values 2i
    angles = position / 10000 ** (even / dimensions)  # (N, ceil(d/2))
    encoding = torch.zeros(positions, dimensions, dtype=torch.float64)  # (N, d)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles[:, : dimensions // 2])
    return encoding.numpy()

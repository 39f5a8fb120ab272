"""One forward pass, every intermediate: (model, text) → ``Analysis``.

Every page reads from this one result, so every number on screen comes from
the same forward pass of the real model. Shapes use
T = tokens, V = vocabulary, L = layers, H = heads, D = hidden size.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import torch

from explainer.i18n import _
from explainer.models import LoadedModel, ModelKind
from explainer.tokenization import MAX_TEXT_CHARACTERS, TokenizedText, clean_text, tokenize


@dataclass
class Analysis:
    """Everything the pages show about one text under one model.

    Causal models: row t of ``logits`` predicts token t+1, so the loss of
    token t comes from row t-1 and token 0 has none. Masked models: the loss
    of token t is its pseudo-log-likelihood, −log p(token t | all others),
    with token t replaced by [MASK]; special tokens ([CLS], [SEP]) have none.
    """

    model_name: str
    kind: ModelKind
    tokens: TokenizedText  # T tokens, after truncation
    truncated: bool  # True when the text was longer than the model's context
    original_token_count: int  # tokens before truncation (of the first MAX_TEXT_CHARACTERS)
    context_length: int
    top_ids: np.ndarray  # (T,) int64, argmax of the model's logits at each position (its top-1 guess there)
    # the full (T, V) logits are not kept: 206 MB for GPT-2 at 1,024 tokens, and no page shows them all
    attentions: list[np.ndarray]  # (L,) of (H, T, T) float32: [layer][head, query, key], rows sum to 1
    # kept per layer as the model returns them: one (L, H, T, T) array would copy them (604 MB for GPT-2 at 1,024 tokens)
    hidden_states: np.ndarray  # (L+1, T, D) float32; [0] = embeddings, [l] = after block l
    token_losses: np.ndarray  # (T,) −log p(actual token) in nats; NaN where undefined
    token_probabilities: np.ndarray  # (T,) p(actual token); NaN where undefined
    token_ranks: np.ndarray  # (T,) int, 1 = the model's top guess; 0 where undefined
    prediction_position: int  # the position whose distribution ``next_token_probabilities`` is
    next_token_logits: np.ndarray  # (V,) float32; causal: after the last token; masked: at the [MASK]
    next_token_probabilities: np.ndarray  # (V,) float32, softmax of next_token_logits, sums to 1

    @property
    def scored(self) -> np.ndarray:
        """(T,) bool: the positions that have a loss."""
        return ~np.isnan(self.token_losses)

    @property
    def mean_loss(self) -> float:
        """Mean −log p over the scored tokens (nats per token): the model's loss on the text."""
        return float(np.mean(self.token_losses[self.scored])) if self.scored.any() else float("nan")

    @property
    def perplexity(self) -> float:
        """exp(mean loss): the number of equally likely choices the model was, on average, torn between."""
        return float(np.exp(self.mean_loss))

    @property
    def log_probability(self) -> float:
        """log p(text) = Σ log p(token | context), the chain rule, in nats."""
        return float(-np.sum(self.token_losses[self.scored]))

    @property
    def layer_count(self) -> int:
        return len(self.attentions)

    @property
    def head_count(self) -> int:
        return self.attentions[0].shape[0]


def analyze(loaded: LoadedModel, raw_text: str) -> Analysis:
    """Run ``text`` through the model once and return every intermediate.

    Raises ``ValueError`` with a message for the user for empty or blank text.
    Text longer than the model's context is cut to it and ``truncated`` is set.
    """
    text = clean_text(raw_text)
    tokenizer, model = loaded.tokenizer, loaded.model
    context = loaded.context_length
    full = tokenize(tokenizer, text)
    tokens = tokenize(tokenizer, text, max_tokens=context) if len(full) > context else full
    if len(tokens) == 0:
        raise ValueError(_("The tokenizer produced no tokens for this text."))
    ids = torch.tensor([tokens.ids])  # (1, T)

    with torch.no_grad():
        output = model(input_ids=ids.to(model.device), output_attentions=True, output_hidden_states=True)
    logits = output.logits[0].float().cpu()  # (T, V), back on the CPU like everything below
    hidden_states = torch.stack(output.hidden_states)[:, 0].cpu()  # (L+1, T, D)

    if loaded.spec.kind == "causal":
        losses, probabilities, ranks = _causal_scores(logits, ids[0])
        position = len(tokens) - 1
        next_logits = logits[position]
    else:
        losses, probabilities, ranks, position, next_logits = _masked_scores(loaded, tokens, logits)

    return Analysis(
        model_name=loaded.spec.name,
        kind=loaded.spec.kind,
        tokens=tokens,
        truncated=len(full) > context or len(raw_text) > MAX_TEXT_CHARACTERS,
        original_token_count=len(full),
        context_length=context,
        top_ids=logits.argmax(dim=-1).numpy(),
        attentions=[layer[0].float().cpu().numpy() for layer in output.attentions],
        hidden_states=hidden_states.float().numpy(),
        token_losses=losses.numpy(),
        token_probabilities=probabilities.numpy(),
        token_ranks=ranks.numpy(),
        prediction_position=position,
        next_token_logits=next_logits.numpy(),
        next_token_probabilities=torch.softmax(next_logits, dim=-1).numpy(),
    )


def _scores_of(
    logits: torch.Tensor, targets: torch.Tensor, rows_at_once: int = 64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each row of ``logits`` (N, V) and its target id (N,): −log p, p and rank (1 = top).

    Works through ``rows_at_once`` rows at a time, so a 1,024 × 50,257 logit matrix never needs a second
    matrix of its size.
    """
    target_log_probs = torch.empty(len(targets))  # (N,)
    beaten_by = np.empty(len(targets), dtype=np.int64)  # (N,) how many logits beat the target's
    for start in range(0, len(targets), rows_at_once):
        rows = slice(start, start + rows_at_once)
        log_probs = torch.log_softmax(logits[rows], dim=-1)  # (n, V)
        target_log_probs[rows] = log_probs.gather(1, targets[rows, None])[:, 0]
        beaten_by[rows] = (log_probs.numpy() > target_log_probs[rows, None].numpy()).sum(axis=1)  # numpy sums bools fast
    return -target_log_probs, target_log_probs.exp(), torch.from_numpy(beaten_by) + 1


def _causal_scores(logits: torch.Tensor, ids: torch.Tensor):
    """Token t is scored by the prediction at t-1; token 0 has no prediction."""
    losses, probabilities, ranks = _scores_of(logits[:-1], ids[1:])  # (T-1,) each
    nan = torch.tensor([float("nan")])
    return torch.cat([nan, losses]), torch.cat([nan, probabilities]), torch.cat([torch.tensor([0]), ranks])


def _masked_scores(loaded: LoadedModel, tokens: TokenizedText, logits: torch.Tensor):
    """Pseudo-log-likelihood: hide each ordinary token in turn and score the model's guess for it.

    The prediction shown as "next token" is at the first [MASK] the user typed,
    or else at the last ordinary token, hidden.
    """
    ids = torch.tensor(tokens.ids)  # (T,)
    mask_id = loaded.tokenizer.mask_token_id
    positions = [t for t, special in enumerate(tokens.special) if not special]  # P positions
    losses = torch.full((len(ids),), float("nan"))
    probabilities = torch.full((len(ids),), float("nan"))
    ranks = torch.zeros(len(ids), dtype=torch.long)
    masked_logits = {}
    if positions:
        rows = _logits_at_masks(loaded, ids, positions)  # (P, V)
        scored_losses, scored_probabilities, scored_ranks = _scores_of(rows, ids[positions])
        losses[positions], probabilities[positions], ranks[positions] = scored_losses, scored_probabilities, scored_ranks
        masked_logits = dict(zip(positions, rows))
    typed_masks = [t for t, i in enumerate(tokens.ids) if i == mask_id]
    if typed_masks:
        position = typed_masks[0]
        next_logits = logits[position]
    elif positions:
        position = positions[-1]
        next_logits = masked_logits[position]
    else:
        position = len(ids) - 1
        next_logits = logits[position]
    return losses, probabilities, ranks, position, next_logits


MASKED_COPIES_BYTES = 64 * 2**20  # the activations of the copies run at once stay near this
_masked_positions: ContextVar[torch.Tensor | None] = ContextVar("masked_positions", default=None)  # (C,) or None
_hook_lock = threading.Lock()


def _logits_at_masks(loaded: LoadedModel, ids: torch.Tensor, positions: list[int]) -> torch.Tensor:
    """Return (P, V): the model's logits at position p of a copy of ``ids`` with p replaced by [MASK], for each p.

    Two things keep memory at O(T × V) instead of O(T² × V) (32 GB for bert-base at 512 tokens):
    * the output head (hidden → V scores, the model's last layer, position-wise) is applied only at the
      masked position of each copy: a pre-hook hands it that one row instead of all T;
    * the copies run a few at a time, so that their activations (hidden states, the MLP's wider ones and
      the (H, T, T) attention scores of one layer) stay near ``MASKED_COPIES_BYTES``.
    """
    T = len(ids)
    config = loaded.model.config
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_heads", 1)
    width = getattr(config, "hidden_size", 768)
    wider = getattr(config, "intermediate_size", None) or getattr(config, "hidden_dim", 4 * width)
    bytes_per_copy = 4 * (T * (4 * width + 2 * wider) + 2 * heads * T * T)
    copies_at_once = max(1, MASKED_COPIES_BYTES // bytes_per_copy)
    _hook_output_head(loaded.model)
    rows = []
    for start in range(0, len(positions), copies_at_once):
        chunk = torch.tensor(positions[start:start + copies_at_once])  # (C,)
        batch = ids.repeat(len(chunk), 1)  # (C, T)
        batch[torch.arange(len(chunk)), chunk] = loaded.tokenizer.mask_token_id
        selected = _masked_positions.set(chunk)
        try:
            with torch.no_grad():
                rows.append(loaded.model(input_ids=batch.to(loaded.model.device)).logits[:, 0].float().cpu())  # (C, V)
        finally:
            _masked_positions.reset(selected)
    return torch.cat(rows)  # (P, V)


def _hook_output_head(model) -> None:
    """Give the model's output head, once, a pre-hook that keeps only the masked rows.

    The model is shared by every session's thread, so the hook stays for good and acts only in a thread
    that has set ``_masked_positions`` (a context variable, private to each thread); elsewhere it does nothing.
    """
    head = model.get_output_embeddings()
    with _hook_lock:
        if not getattr(head, "keeps_only_masked_rows", False):
            head.register_forward_pre_hook(_keep_only_masked_rows)
            head.keeps_only_masked_rows = True


def _keep_only_masked_rows(module, inputs):
    positions = _masked_positions.get()  # (C,) or None
    if positions is None:
        return None
    hidden = inputs[0]  # (C, T, D), the hidden states the head was about to turn into V scores
    rows = torch.arange(len(positions), device=hidden.device)
    return (hidden[rows, positions.to(hidden.device)][:, None],)  # (C, 1, D)

"""Break it and see: switch off attention heads or blocks of MLP neurons, and measure what the model loses.

An *ablation* zeroes a part's contribution and runs the same forward pass:

- head h of layer l: the slice ``[h·d_k, (h+1)·d_k)`` of the input of W_O (the heads' outputs, concatenated) is set
  to 0, so the head adds nothing to the residual stream (W_O's bias, shared by all heads, stays);
- neurons [a, b) of layer l's MLP: the same slice of the input of the MLP's output projection (its hidden
  activations, after the nonlinearity) is set to 0.

Where W_O and the MLP's output projection are is the adapter's business (``explainer/architectures.py``).

The models are shared by every session of a server, read-only. The hooks that do the zeroing are installed once
per model and do nothing unless the current run asked for an ablation (``ablated``, a ``ContextVar``, which
belongs to one thread), so another session using the same model at the same moment sees the whole model.

Losses, for both kinds of model, come from ``scores``: a causal model's loss of token t is −log p(token t | the
tokens before it); a masked model's tokens are hidden in ``MASK_GROUPS`` interleaved groups (about 14% of them at
a time, as in training), all in one batch, and each token's loss is read where it was hidden.

Shapes: T tokens, V vocabulary, L layers, H heads, d_k = D / H, D_ff MLP neurons.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from explainer.architectures import architecture_of
from explainer.tokenization import token_label

MASK_GROUPS = 7  # a masked model's tokens are hidden one group in 7 at a time


@dataclass(frozen=True)
class Ablation:
    """What is switched off: heads as (layer, head), MLP neuron blocks as (layer, first, stop) with stop excluded."""

    heads: frozenset[tuple[int, int]] = frozenset()
    neurons: frozenset[tuple[int, int, int]] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.heads and not self.neurons


NOTHING = Ablation()

# What the current run asks of the hooks: (model, ablation) and, when recording, a dict the hooks fill.
_active: ContextVar[tuple[torch.nn.Module, Ablation] | None] = ContextVar("ablation", default=None)
_recording: ContextVar[tuple[torch.nn.Module, dict] | None] = ContextVar("recording", default=None)
_hooked: weakref.WeakSet = weakref.WeakSet()  # the models whose hooks are installed
_install_lock = threading.Lock()


def _layers(config) -> int:
    return int(config.num_hidden_layers)


def _heads(config) -> int:
    return int(config.num_attention_heads)


def _install_hooks(model: torch.nn.Module) -> None:
    """Put the zeroing (and recording) pre-hooks on W_O and the MLP's output projection of every layer, once."""
    with _install_lock:
        if model in _hooked:
            return
        architecture = architecture_of(model.config)
        size = int(model.config.hidden_size) // _heads(model.config)  # d_k: W_O reads H × d_k = D values
        for layer in range(_layers(model.config)):
            architecture.output_projection(model, layer).register_forward_pre_hook(_head_hook(model, layer, size))
            try:
                mlp = architecture.mlp_output_projection(model, layer)
            except ValueError:  # a family without an adapter: heads only
                continue
            mlp.register_forward_pre_hook(_neuron_hook(model, layer))
        readout = architecture.readout(model)
        if readout is not None and readout.final_norm is not None:
            readout.final_norm.register_forward_pre_hook(_final_norm_hook(model))
        _hooked.add(model)


def _head_hook(model, layer: int, size: int):
    def hook(module, args):
        current = _active.get()
        if current is None or current[0] is not model:
            return None
        heads = [head for (where, head) in current[1].heads if where == layer]
        if not heads:
            return None
        concatenated = args[0].clone()  # (B, T, H·d_k): the heads' outputs side by side
        for h in heads:
            concatenated[..., h * size:(h + 1) * size] = 0
        return (concatenated, *args[1:])

    return hook


def _neuron_hook(model, layer: int):
    def hook(module, args):
        hidden = args[0]  # (B, T, D_ff): the MLP's activations after its nonlinearity
        current = _active.get()
        if current is not None and current[0] is model:
            blocks = [(a, b) for (where, a, b) in current[1].neurons if where == layer]
            if blocks:
                hidden = hidden.clone()
                for a, b in blocks:
                    hidden[..., a:b] = 0
        record = _recording.get()
        if record is not None and record[0] is model:
            record[1].setdefault("mlp", {})[layer] = hidden.detach()
        return None if hidden is args[0] else (hidden, *args[1:])

    return hook


def _final_norm_hook(model):
    def hook(module, args):
        record = _recording.get()
        if record is not None and record[0] is model:
            record[1]["before_final_norm"] = args[0].detach()  # (B, T, D)
        return None

    return hook


@contextmanager
def ablated(model: torch.nn.Module, ablation: Ablation = NOTHING) -> Iterator[None]:
    """Within the block, this thread's forward passes of ``model`` run with ``ablation`` switched off."""
    _install_hooks(model)
    token = _active.set((model, ablation))
    try:
        yield
    finally:
        _active.reset(token)


@contextmanager
def recording(model: torch.nn.Module) -> Iterator[dict]:
    """Within the block, this thread's forward passes of ``model`` leave in the yielded dict:
    ``"mlp"``: {layer: (B, T, D_ff) activations} and ``"before_final_norm"``: (B, T, D) when there is a final norm."""
    _install_hooks(model)
    record: dict = {}
    token = _recording.set((model, record))
    try:
        yield record
    finally:
        _recording.reset(token)


# ------------------------------------------------------------------ scores


@dataclass
class Scores:
    """One text under one model (maybe ablated)."""

    token_losses: np.ndarray  # (T,) −log p(token t), nats; NaN where unscored (a causal model's first token, specials)
    logits: np.ndarray  # (T, V) float32: row t is the distribution token t's loss is read from (causal: row t-1
    # of the forward pass, so row 0 is NaN; masked: the pass that hid token t)
    prediction_logits: np.ndarray  # (V,) the "next token" the pages show: after the last token, or at the [MASK]

    @property
    def mean_loss(self) -> float:
        scored = ~np.isnan(self.token_losses)
        return float(self.token_losses[scored].mean()) if scored.any() else float("nan")


def masked_rows(ids: torch.Tensor, scored: torch.Tensor, mask_id: int, groups: int = MASK_GROUPS) -> torch.Tensor:
    """(groups, T) copies of ``ids`` (T,): row g has the g-th, (g+groups)-th … scored positions replaced by ``mask_id``."""
    positions = torch.nonzero(scored).flatten()  # (P,)
    rows = ids.repeat(groups, 1)  # (G, T)
    for g in range(groups):
        rows[g, positions[g::groups]] = mask_id
    return rows


@torch.no_grad()
def scores(model: torch.nn.Module, causal: bool, ids: list[int], special: list[bool], prediction_position: int,
           mask_id: int | None = None, ablation: Ablation = NOTHING) -> Scores:
    """Each token's loss and the prediction at ``prediction_position`` for ``ids`` (T,), with ``ablation`` off.

    Causal: one forward pass; the prediction is row ``prediction_position``. Masked: one batch of ``MASK_GROUPS``
    rows (see ``masked_rows``) and one more row where the prediction position is hidden (unless it is a [MASK]).
    """
    tensor = torch.tensor(ids)  # (T,)
    with ablated(model, ablation):
        if causal:
            logits = model(input_ids=tensor[None].to(model.device)).logits[0].float().cpu()  # (T, V): row t predicts t+1
            shifted = torch.full_like(logits, float("nan"))
            shifted[1:] = logits[:-1]
            losses = torch.full((len(ids),), float("nan"))
            losses[1:] = torch.nn.functional.cross_entropy(logits[:-1], tensor[1:], reduction="none")
            return Scores(losses.numpy(), shifted.numpy(), logits[prediction_position].numpy())
        scored = ~torch.tensor(special)  # (T,)
        rows = masked_rows(tensor, scored, mask_id)  # (G, T)
        asked = tensor.clone()
        asked[prediction_position] = mask_id
        logits = model(input_ids=torch.cat([rows, asked[None]]).to(model.device)).logits.float().cpu()  # (G+1, T, V)
    hidden_in = (rows == mask_id) & scored  # (G, T): where each row hid a token
    group_of = hidden_in.float().argmax(dim=0)  # (T,) the row that hid each token
    by_position = logits[group_of, torch.arange(len(ids))]  # (T, V)
    losses = torch.nn.functional.cross_entropy(by_position, tensor, reduction="none")
    losses[~scored] = float("nan")
    by_position[~scored] = float("nan")
    return Scores(losses.numpy(), by_position.numpy(), logits[-1, prediction_position].numpy())


def kl_divergence(logits_p: np.ndarray, logits_q: np.ndarray) -> float:
    """KL(p ‖ q) in nats between softmax(logits_p) and softmax(logits_q) (V,) each: 0 only when they are equal."""
    log_p = torch.log_softmax(torch.as_tensor(logits_p, dtype=torch.float64), dim=-1)
    log_q = torch.log_softmax(torch.as_tensor(logits_q, dtype=torch.float64), dim=-1)
    return float(torch.sum(log_p.exp() * (log_p - log_q)).clamp(min=0.0))


def top1_agreement(logits_a: np.ndarray, logits_b: np.ndarray) -> float:
    """The share of rows of two (T, V) logit matrices whose argmax is the same (rows that are NaN are skipped)."""
    rows = ~np.isnan(logits_a).any(axis=1) & ~np.isnan(logits_b).any(axis=1)
    return float(np.mean(logits_a[rows].argmax(axis=1) == logits_b[rows].argmax(axis=1))) if rows.any() else float("nan")


def prediction_table(tokenizer, logits_before: np.ndarray, logits_after: np.ndarray, rows: int = 10) -> pd.DataFrame:
    """The ``rows`` most likely tokens before, then any of the top ``rows`` after that are not among them:
    token (readable), id, p_before, p_after."""
    before = torch.softmax(torch.as_tensor(logits_before, dtype=torch.float32), dim=-1)  # (V,)
    after = torch.softmax(torch.as_tensor(logits_after, dtype=torch.float32), dim=-1)  # (V,)
    ids = before.topk(rows).indices.tolist()
    ids += [i for i in after.topk(rows).indices.tolist() if i not in ids]
    return pd.DataFrame({"token": [token_label(tokenizer, i) for i in ids], "id": ids,
                         "p_before": before[ids].numpy(), "p_after": after[ids].numpy()})


# ------------------------------------------------------------------ effects


@dataclass
class Effect:
    """What an ablation changed on one text."""

    before: Scores
    after: Scores
    kl: float  # KL(before ‖ after) of the prediction, nats
    same_top: bool  # the prediction's top-1 token is unchanged

    @property
    def loss_change(self) -> np.ndarray:
        """(T,) loss after − loss before, per token (NaN where unscored)."""
        return self.after.token_losses - self.before.token_losses


def effect(model: torch.nn.Module, causal: bool, ids: list[int], special: list[bool], prediction_position: int,
           mask_id: int | None, ablation: Ablation) -> Effect:
    """The text's scores with and without ``ablation``."""
    before = scores(model, causal, ids, special, prediction_position, mask_id)
    after = scores(model, causal, ids, special, prediction_position, mask_id, ablation)
    return Effect(before, after, kl_divergence(before.prediction_logits, after.prediction_logits),
                  int(before.prediction_logits.argmax()) == int(after.prediction_logits.argmax()))


def head_ranking(model: torch.nn.Module, causal: bool, ids: list[int], special: list[bool], prediction_position: int,
                 mask_id: int | None = None) -> pd.DataFrame:
    """One row per head, most important first: layer, head, mean_loss (with the head off, nats), loss_increase
    (that minus the whole model's mean loss) and kl (the prediction's KL from the whole model's)."""
    before = scores(model, causal, ids, special, prediction_position, mask_id)
    rows = []
    for layer in range(_layers(model.config)):
        for head in range(_heads(model.config)):
            after = scores(model, causal, ids, special, prediction_position, mask_id,
                           Ablation(heads=frozenset({(layer, head)})))
            rows.append({"layer": layer, "head": head, "mean_loss": after.mean_loss,
                         "loss_increase": after.mean_loss - before.mean_loss,
                         "kl": kl_divergence(before.prediction_logits, after.prediction_logits)})
    table = pd.DataFrame(rows, columns=["layer", "head", "mean_loss", "loss_increase", "kl"])
    return table.sort_values("loss_increase", ascending=False, kind="stable").reset_index(drop=True)


# ------------------------------------------------------------ inside views


@dataclass
class Inside:
    """What flows through the model on one text."""

    mlp_activations: list[np.ndarray]  # (L,) of (T, D_ff) float32: each layer's MLP neurons after the nonlinearity
    residual_norms: np.ndarray  # (L+1, T) float32: ‖h‖ of the stream entering each block, and leaving the last
    # one (before any final norm)


@torch.no_grad()
def inside(model: torch.nn.Module, ids: list[int], ablation: Ablation = NOTHING) -> Inside:
    """MLP activations and residual-stream norms, layer by layer, for ``ids`` (T,), with ``ablation`` off."""
    with ablated(model, ablation), recording(model) as record:
        output = model(input_ids=torch.tensor([ids], device=model.device), output_hidden_states=True)
    states = [h[0].float().cpu() for h in output.hidden_states]  # (L+1,) of (T, D)
    if "before_final_norm" in record:  # Hugging Face's last hidden state is already normed: take the stream itself
        states[-1] = record["before_final_norm"][0].float().cpu()
    layers = _layers(model.config)
    mlp = [record.get("mlp", {}).get(layer) for layer in range(layers)]
    return Inside(
        mlp_activations=[m[0].float().cpu().numpy() if m is not None else np.zeros((len(ids), 0), np.float32) for m in mlp],
        residual_norms=torch.stack([s.norm(dim=-1) for s in states]).numpy(),
    )


def mlp_size(model: torch.nn.Module) -> int:
    """D_ff, the neurons in each MLP (0 when the family's MLP is unknown)."""
    try:
        projection = architecture_of(model.config).mlp_output_projection(model, 0)
    except ValueError:
        return 0
    weight = projection.weight  # Linear: (D, D_ff); GPT-2's Conv1D: (D_ff, D)
    return int(weight.shape[1] if isinstance(projection, torch.nn.Linear) else weight.shape[0])

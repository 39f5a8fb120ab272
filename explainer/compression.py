"""Make it smaller: quantization, magnitude pruning and head removal, measured on held-out text.

- **Quantization** (weight-only, per output channel, round to nearest, symmetric): each output channel c of a
  weight matrix gets a scale s_c = max|w_c| / q_max, with q_max = 2^(bits−1) − 1 (127 for int8, 7 for int4); a
  weight is stored as the integer q = round(w / s_c), clamped to [−q_max, q_max], and used as q · s_c. Every
  weight is then within s_c / 2 of the original. The matrices are those of the linear layers (GPT-2's ``Conv1D``
  included) and the embedding tables; biases and norms stay fp32. PyTorch's own dynamic int8 quantization
  (``dynamic_int8``) is the other way: int8 weights *and* activations quantized on the fly in the Linear layers.
- **Pruning**: in every matrix of the blocks (not the embedding tables or the output head) the given share of
  the weights with the smallest |w| is set to 0.
- **Head removal**: heads are switched off one by one, least important first (``explainer/ablation.py``).

Every measure is on a fixed slice of held-out text (``heldout_ids``, ``EVAL_TOKENS`` tokens), so a page update
stays fast and two measures are comparable.
"""

from __future__ import annotations

import copy
import io
import math
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from explainer.ablation import MASK_GROUPS, NOTHING, Ablation, ablated, masked_rows
from explainer.models import LoadedModel
from explainer.runtime import synchronize

EVAL_TOKENS = 2048  # held-out tokens behind every perplexity on the page
HEAD_EVAL_TOKENS = 1024  # the first held-out tokens behind the head removal (L × H + L × H evaluations)
PRECISIONS = {"fp32": 32, "int8": 8, "int4": 4}  # name -> bits per weight
SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


# --------------------------------------------------------------- held-out text


def heldout_ids(tokenizer, texts: list[str], tokens: int = EVAL_TOKENS) -> torch.Tensor:
    """(tokens,) ids: the start of every held-out text, an equal share of each, in order (the same every time)."""
    share = math.ceil(tokens / len(texts))
    ids: list[int] = []
    for text in texts:
        ids += tokenizer(text[: 12 * share], add_special_tokens=False)["input_ids"][:share]  # 12 characters a token is plenty
    return torch.tensor(ids[:tokens])


@dataclass
class HeldOut:
    """Held-out token ids and how a model of this kind is scored on them."""

    ids: torch.Tensor  # (N,)
    causal: bool
    window: int  # tokens per forward pass: the model's context, at most 256 (128 for a masked model)
    mask_id: int | None = None  # masked models: [MASK]
    ends: tuple[int, int] | None = None  # masked models: ([CLS], [SEP]) around each window

    def loss(self, model: nn.Module, ablation: Ablation = NOTHING) -> float:
        """``model``'s mean loss on these ids, nats per scored token (``heldout_loss``)."""
        return heldout_loss(model, self.causal, self.ids, self.window, self.mask_id, self.ends, ablation)

    def first(self, tokens: int) -> HeldOut:
        """The same, on the first ``tokens`` ids only."""
        return replace(self, ids=self.ids[:tokens])


def held_out(loaded: LoadedModel, texts: list[str], tokens: int = EVAL_TOKENS) -> HeldOut:
    """How ``loaded`` is scored on the start of ``texts`` (e.g. the Austen validation prose)."""
    tokenizer = loaded.tokenizer
    causal = loaded.spec.kind == "causal"
    if causal:
        return HeldOut(heldout_ids(tokenizer, texts, tokens), True, min(loaded.context_length, 256))
    return HeldOut(heldout_ids(tokenizer, texts, tokens), False, min(loaded.context_length, 128), tokenizer.mask_token_id,
                   (tokenizer.cls_token_id, tokenizer.sep_token_id))


@torch.no_grad()
def heldout_loss(model: nn.Module, causal: bool, ids: torch.Tensor, window: int, mask_id: int | None = None,
                 ends: tuple[int, int] | None = None, ablation: Ablation = NOTHING) -> float:
    """Mean loss (nats per scored token) on ``ids`` (N,) cut into windows of ``window`` tokens.

    Causal: −log p(next token) at every position of every window. Masked: each window is wrapped in ``ends``
    ([CLS], [SEP]) and one group in ``MASK_GROUPS`` of its tokens (about 14%, a different group in each window,
    see ``ablation.masked_rows``) is hidden and scored, as in training.
    """
    total, count = 0.0, 0
    with ablated(model, ablation):
        if causal:
            usable = len(ids) // window * window
            for batch in ids[:usable].view(-1, window).to(model.device).split(8):  # (B, window)
                logits = model(input_ids=batch).logits  # (B, window, V)
                losses = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), batch[:, 1:].flatten(),
                                                     reduction="sum")
                total, count = total + float(losses), count + batch[:, 1:].numel()
            return total / count
        inner = window - 2
        usable = len(ids) // inner * inner
        bodies = ids[:usable].view(-1, inner)  # (W, T-2)
        windows = torch.cat([torch.full((len(bodies), 1), ends[0]), bodies, torch.full((len(bodies), 1), ends[1])], 1)
        scored = torch.ones(window, dtype=torch.bool)
        scored[[0, -1]] = False
        rows = torch.stack([masked_rows(row, scored, mask_id)[w % MASK_GROUPS] for w, row in enumerate(windows)])
        rows, windows, scored = rows.to(model.device), windows.to(model.device), scored.to(model.device)
        for batch, originals in zip(rows.split(8), windows.split(8)):  # window w hides its (w mod G)-th group
            logits = model(input_ids=batch).logits  # (B, T, V)
            hidden = (batch == mask_id) & scored
            losses = nn.functional.cross_entropy(logits[hidden], originals[hidden], reduction="sum")
            total, count = total + float(losses), count + int(hidden.sum())
    return total / count



# ------------------------------------------------------------------ weights


@dataclass
class WeightMatrix:
    """One weight matrix of a model, with the axis that indexes its output channels."""

    name: str  # the parameter's name, e.g. "transformer.h.0.mlp.c_fc.weight"
    parameter: nn.Parameter
    output_axis: int  # nn.Linear and nn.Embedding: 0 (rows); GPT-2's Conv1D stores (in, out): 1
    embedding: bool  # an embedding table (maybe tied to the output head)


def weight_matrices(model: nn.Module) -> list[WeightMatrix]:
    """Every distinct weight matrix of the linear layers and embedding tables (a tied matrix once)."""
    found, seen = [], set()
    for module_name, module in model.named_modules():
        if not isinstance(module, (nn.Linear, Conv1D, nn.Embedding)) or id(module.weight) in seen:
            continue
        seen.add(id(module.weight))
        found.append(WeightMatrix(f"{module_name}.weight", module.weight, 1 if isinstance(module, Conv1D) else 0,
                                  isinstance(module, nn.Embedding)))
    return found


@dataclass
class Quantized:
    """A matrix stored as integers and one scale per output channel."""

    codes: torch.Tensor  # int8, the matrix's shape, in [−q_max, q_max]
    scales: torch.Tensor  # (C,) float32, one per output channel
    output_axis: int
    bits: int

    def dequantized(self) -> torch.Tensor:
        """codes × scale of their channel: the matrix the quantized model computes with (float32)."""
        codes = self.codes.movedim(self.output_axis, 0).float()  # (C, …)
        return (codes * self.scales.view(-1, *[1] * (codes.dim() - 1))).movedim(0, self.output_axis)


def quantize(weight: torch.Tensor, bits: int, output_axis: int = 0) -> Quantized:
    """Symmetric round-to-nearest quantization of ``weight`` with one scale per output channel."""
    q_max = 2 ** (bits - 1) - 1
    channels = weight.detach().float().movedim(output_axis, 0)  # (C, …)
    largest = channels.abs().flatten(1).amax(dim=1)  # (C,)
    scales = torch.where(largest > 0, largest / q_max, torch.ones_like(largest))  # (C,)
    codes = torch.round(channels / scales.view(-1, *[1] * (channels.dim() - 1))).clamp(-q_max, q_max)
    return Quantized(codes.to(torch.int8).movedim(0, output_axis), scales, output_axis, bits)


def fp32_bytes(model: nn.Module) -> int:
    """The model's size with every distinct parameter in float32."""
    return 4 * sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def quantized_bytes(model: nn.Module, bits: int) -> int:
    """The size with the weight matrices at ``bits`` per weight plus a float32 scale per output channel, the rest fp32."""
    if bits >= 32:
        return fp32_bytes(model)
    matrices = weight_matrices(model)
    packed = sum(m.parameter.numel() * bits // 8 + 4 * m.parameter.shape[m.output_axis] for m in matrices)
    return fp32_bytes(model) - 4 * sum(m.parameter.numel() for m in matrices) + packed


def quantized_copy(model: nn.Module, bits: int) -> nn.Module:
    """A copy of ``model`` whose weight matrices are replaced by their ``bits``-bit dequantized versions."""
    copied = copy.deepcopy(model).eval()
    if bits < 32:
        with torch.no_grad():
            for matrix in weight_matrices(copied):
                matrix.parameter.copy_(quantize(matrix.parameter, bits, matrix.output_axis).dequantized())
    return copied


def dynamic_int8(model: nn.Module) -> nn.Module:
    """PyTorch's dynamic int8 quantization of every Linear layer (GPT-2's Conv1D layers become Linear first).
    Its kernels are the CPU's: the copy is on the CPU whatever device ``model`` is on."""
    copied = copy.deepcopy(model).cpu().eval()
    for module in list(copied.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, Conv1D):  # y = x W + b with W (in, out) is a Linear with weight Wᵀ
                linear = nn.Linear(child.weight.shape[0], child.weight.shape[1])
                with torch.no_grad():
                    linear.weight.copy_(child.weight.T)
                    linear.bias.copy_(child.bias)
                setattr(module, child_name, linear)
    with warnings.catch_warnings():  # PyTorch announces that its quantized tensors will move to torchao
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(copied, {nn.Linear}, dtype=torch.qint8)


def saved_bytes(model: nn.Module) -> int:
    """The size of ``torch.save(model.state_dict())`` (how a dynamically quantized model is measured)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def forward_milliseconds(model: nn.Module, ids: torch.Tensor, repeats: int = 5) -> float:
    """The fastest of ``repeats`` timed forward passes over ``ids`` (1, T), in ms, on ``model``'s device, after one
    warm-up pass (on a shared CPU, other work only ever adds time, so the minimum is the pass's own cost)."""
    ids = ids.to(model.device)
    times = []
    with torch.no_grad():
        model(input_ids=ids)
        for _ in range(repeats):
            started = time.perf_counter()
            model(input_ids=ids)
            synchronize(ids.device)  # a GPU returns before it has finished
            times.append(time.perf_counter() - started)
    return 1000 * min(times)


def weight_histograms(model: nn.Module, name: str, bins: int = 80) -> pd.DataFrame:
    """Histograms of one weight matrix in fp32, int8 and int4 (dequantized), over the whole matrix and over its
    output channel 0: one row per (precision, scope, bin): precision, scope ("matrix"/"channel 0"), left, right, count.
    The bins are shared by the three precisions of a scope."""
    matrix = next(m for m in weight_matrices(model) if m.name == name)
    weight = matrix.parameter.detach().float()
    versions = {precision: quantize(weight, bits, matrix.output_axis).dequantized() if bits < 32 else weight
                for precision, bits in PRECISIONS.items()}
    rows = []
    for scope in ("matrix", "channel 0"):
        values = {p: (v if scope == "matrix" else v.movedim(matrix.output_axis, 0)[0]).flatten().cpu().numpy()
                  for p, v in versions.items()}
        edges = np.histogram_bin_edges(values["fp32"], bins=bins if scope == "matrix" else bins // 2)
        for precision, data in values.items():
            counts, __ = np.histogram(data, bins=edges)
            rows += [{"precision": precision, "scope": scope, "left": float(a), "right": float(b), "count": int(c)}
                     for a, b, c in zip(edges[:-1], edges[1:], counts)]
    return pd.DataFrame(rows, columns=["precision", "scope", "left", "right", "count"])


# ------------------------------------------------------------------ pruning


def prunable_matrices(model: nn.Module) -> list[WeightMatrix]:
    """The weight matrices of the blocks: every linear layer's, without the embedding tables and the output head."""
    head = model.get_output_embeddings()
    head_weight = id(head.weight) if head is not None else None
    return [m for m in weight_matrices(model) if not m.embedding and id(m.parameter) != head_weight]


def magnitude_order(weight: torch.Tensor) -> torch.Tensor:
    """(n,) the flat indices of ``weight``'s entries from the smallest |w| to the largest (ties in index order)."""
    return torch.argsort(weight.detach().abs().flatten(), stable=True)


def prune_(matrices: list[torch.Tensor], sparsity: float, orders: list[torch.Tensor] | None = None) -> int:
    """Zero, in place, the ``round(sparsity × n)`` weights of smallest |w| in each of ``matrices``; return how many.

    ``orders`` (each matrix's ``magnitude_order``) saves sorting again when one model is pruned at many sparsities.
    """
    zeroed = 0
    with torch.no_grad():
        for index, weight in enumerate(matrices):
            k = round(sparsity * weight.numel())
            if k:
                order = orders[index] if orders is not None else magnitude_order(weight)
                weight.view(-1)[order[:k]] = 0
            zeroed += k
    return zeroed


def pruned_copy(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy of ``model`` with ``sparsity`` of every block matrix's weights (the smallest) set to 0."""
    copied = copy.deepcopy(model).eval()
    prune_([m.parameter for m in prunable_matrices(copied)], sparsity)
    return copied


def pruning_curve(model: nn.Module, heldout: HeldOut, sparsities=SPARSITIES) -> pd.DataFrame:
    """Held-out perplexity at each sparsity: one row each: sparsity, zeroed_weights, loss (nats), perplexity."""
    copied = copy.deepcopy(model).eval()
    matrices = [m.parameter for m in prunable_matrices(copied)]
    originals = [m.detach().clone() for m in matrices]
    orders = [magnitude_order(m) for m in originals]
    rows = []
    for sparsity in sparsities:
        with torch.no_grad():
            for weight, original in zip(matrices, originals):
                weight.copy_(original)
        zeroed = prune_(matrices, sparsity, orders)
        loss = heldout.loss(copied)
        rows.append({"sparsity": sparsity, "zeroed_weights": zeroed, "loss": loss, "perplexity": float(np.exp(loss))})
    return pd.DataFrame(rows, columns=["sparsity", "zeroed_weights", "loss", "perplexity"])


def head_removal(model: nn.Module, heldout: HeldOut) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank the heads by how much switching each off alone raises the held-out loss, then switch them off
    cumulatively, least important first.

    Returns (importance, curve): importance has one row per head: layer, head, loss_increase (nats), ascending;
    curve has one row per number of heads removed (0 … L·H): heads_removed, removed ("layer.head" of the last
    one, "" for none), loss, perplexity.
    """
    layers, heads = int(model.config.num_hidden_layers), int(model.config.num_attention_heads)
    base = heldout.loss(model)
    importance = pd.DataFrame(
        [{"layer": layer, "head": head,
          "loss_increase": heldout.loss(model, Ablation(heads=frozenset({(layer, head)}))) - base}
         for layer in range(layers) for head in range(heads)],
        columns=["layer", "head", "loss_increase"],
    ).sort_values("loss_increase", kind="stable").reset_index(drop=True)
    rows = [{"heads_removed": 0, "removed": "", "loss": base, "perplexity": float(np.exp(base))}]
    removed: set[tuple[int, int]] = set()
    for row in importance.itertuples():
        removed.add((row.layer, row.head))
        loss = heldout.loss(model, Ablation(heads=frozenset(removed)))
        rows.append({"heads_removed": len(removed), "removed": f"{row.layer}.{row.head}", "loss": loss,
                     "perplexity": float(np.exp(loss))})
    return importance, pd.DataFrame(rows, columns=["heads_removed", "removed", "loss", "perplexity"])

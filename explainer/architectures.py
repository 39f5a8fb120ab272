"""What each stage needs to know about a model family, in one adapter per family.

The stages never test ``config.model_type`` and never spell out a module path:
they ask the model's adapter (``architecture_of(config)``). A new family is one
new class here.

- GPT-2: causal. Token table ``transformer.wte``, learned position table
  ``wpe`` added to it. Pre-norm: x = ``ln_1(h)`` enters attention; q, k, v
  come from one matrix ``attn.c_attn``; W_O is ``attn.c_proj``. Final norm
  ``ln_f``, then ``lm_head``.
- BERT: masked (reads both ways). Token table ``bert.embeddings.word_embeddings``;
  learned positions and token type 0 added, then a LayerNorm. Post-norm:
  x = h; ``query``, ``key``, ``value``; W_O is ``attention.output.dense``. No
  final norm; the head ``cls`` is dense, GELU, LayerNorm and decoder.
- Llama, Qwen2, SmolLM2: causal. Token table ``model.embed_tokens``, no
  position table: q and k are rotated by position in every layer (rotary).
  Pre-norm with RMSNorm: x = ``input_layernorm(h)``; ``q_proj``, ``k_proj``,
  ``v_proj``, where groups of query heads share one key and value head;
  W_O is ``self_attn.o_proj``. Final norm ``norm``, then ``lm_head``.
- Marian (MarianMT): seq2seq, an encoder–decoder that translates. The encoder
  reads the source both ways; the decoder reads its own output so far
  (causal) and, in every layer, the encoder's output (cross-attention).
  Fixed sinusoidal positions; the three attentions come back from the model
  as ``encoder_attentions``, ``decoder_attentions`` and ``cross_attentions``.

Shapes: T = tokens, D = hidden size, H = heads, d_k = D / H, V = vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from explainer.i18n import N_, _

ModelKind = Literal["causal", "masked", "seq2seq"]  # seq2seq: an encoder–decoder
PositionScheme = Literal["learned", "rotary", "other"]


class UnknownArchitecture(ValueError):
    """A model this app cannot explain; the message is meant for the user."""


@dataclass
class InputParts:
    """The vectors block 0 reads, taken apart: (T, D) each."""

    token: torch.Tensor  # row ids[t] of the token table
    position: torch.Tensor | None  # row t of the position table; None when positions are not added to the input
    block_input: torch.Tensor  # what block 0 reads
    name: str  # how block_input is made, marked with ``N_`` (shown with ``_()``)


@dataclass
class Readout:
    """How the residual stream becomes logits: head(norm(h)), and whether hidden_states[L] is already normed."""

    final_norm: nn.Module | None
    head: nn.Module  # (…, D) -> (…, V)
    last_state_normed: bool  # Hugging Face puts the final norm's output in hidden_states[L]


class Architecture:
    """A family this app knows nothing special about: the token table and the kind from its config."""

    family = "other"

    def __init__(self, config):
        self.config = config

    @property
    def position_scheme(self) -> PositionScheme:
        """How the model knows word order: 'learned' (a position table added to the input), 'rotary' (queries
        and keys turned by position in every layer) or 'other'."""
        return "rotary" if getattr(self.config, "rope_parameters", None) else "other"

    @property
    def kind(self) -> ModelKind:
        """'causal' (predicts the next token, attends only backwards) or 'masked' (fills blanks, attends both ways)."""
        architectures = " ".join(self.config.architectures or [])
        if "MaskedLM" in architectures:
            return "masked"
        if "CausalLM" in architectures or "LMHeadModel" in architectures:
            return "causal"
        raise UnknownArchitecture(_("This app explains language models; `{architectures}` is not one.").format(
            architectures=architectures or "unknown"))

    @property
    def causal(self) -> bool:
        return self.kind == "causal"

    # ---------------------------------------------------------- embeddings

    input_formula: str | None = None  # LaTeX of x_t, the input of block 0; None when unknown
    input_note: str | None = None  # what else goes into x_t, marked with ``N_``
    input_normalised = False  # x_t is normalised, so it is on another scale than its parts

    def token_table(self, model) -> nn.Embedding:
        """The token-embedding table E (V, D)."""
        return model.get_input_embeddings()

    def position_table(self, model) -> nn.Embedding | None:
        """The learned position table (P, D), or None when the family has none."""
        return None

    def input_parts(self, model, ids: torch.Tensor) -> InputParts | None:
        """The input of block 0 for ``ids`` (T,), rebuilt from its parts; None when the family's is not known."""
        return None

    def embedding_parameters(self, model) -> int:
        """How many parameters the token and position tables hold (Kaplan et al. leave them out of N)."""
        position = self.position_table(model)
        return self.token_table(model).weight.numel() + (position.weight.numel() if position is not None else 0)

    # ---------------------------------------------------------- attention

    def attention_steps_problem(self) -> str | None:
        """Why ``queries_keys_values`` cannot recompute this model's attention (a message for the user), or None."""
        return _("The step-by-step view supports GPT-2, BERT and Llama-style (Llama, Qwen2, SmolLM2) architectures; "
                 "this model is “{kind}”. Choose tiny-gpt-austen or tiny-bert-austen in the sidebar.").format(
            kind=self.config.model_type)

    def queries_keys_values(self, model, hidden: torch.Tensor, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K and V of every token in every head of ``layer`` from ``hidden`` (T, D), the stream entering it:
        (H, T, d_k) each, exactly as the model attends with them (positions applied, shared heads repeated)."""
        raise ValueError(self.attention_steps_problem())

    def output_projection(self, model, layer: int) -> nn.Module:
        """W_O of ``layer``: the linear map from the concatenated heads (D,) back to the hidden size (D,)."""
        raise ValueError(self.attention_steps_problem())

    def mlp_output_projection(self, model, layer: int) -> nn.Module:
        """The MLP's second linear map in ``layer``: its input (…, D_ff) is the MLP's hidden activations (after the
        nonlinearity), its output (…, D) is added to the residual stream. A forward pre-hook on it reads or edits
        the neurons."""
        raise ValueError(_("This view supports GPT-2, BERT and Llama-style (Llama, Qwen2, SmolLM2) architectures; "
                           "this model is “{kind}”.").format(kind=self.config.model_type))

    output_projection_name = ""  # W_O's name inside a layer, e.g. "attn.c_proj"
    attention_input = ""  # what x is in q = x W_Q, marked with ``N_``

    # ---------------------------------------------------------- output

    def readout(self, model) -> Readout | None:
        """The final norm and output head the logit lens reads the stream with; None when unknown."""
        return None

    # ---------------------------------------------------------- training

    def initialize(self, model, generator: torch.Generator) -> None:
        """Draw the model's initial weights from ``generator``, not from torch's global generator."""
        raise NotImplementedError(f"{self.family} models are not trained from scratch here")


def _split_heads(vectors: torch.Tensor, heads: int) -> torch.Tensor:
    """(T, heads × d_k) -> (heads, T, d_k)."""
    return vectors.view(len(vectors), heads, -1).transpose(0, 1)


class GPT2(Architecture):
    family = "gpt2"
    position_scheme = "learned"
    input_formula = r"x_t = E[\mathrm{id}_t] + P[t]"
    output_projection_name = "attn.c_proj"
    attention_input = N_("Here x is the hidden state entering the block after ln_1 (GPT-2 normalises first).")

    @property
    def kind(self) -> ModelKind:
        return "causal"

    def position_table(self, model) -> nn.Embedding:
        return model.transformer.wpe

    def input_parts(self, model, ids: torch.Tensor) -> InputParts:
        token = model.transformer.wte(ids)  # (T, D)
        position = model.transformer.wpe(torch.arange(len(ids), device=ids.device))  # (T, D); dropout is off in eval mode
        return InputParts(token, position, token + position, N_("token + position"))

    def attention_steps_problem(self) -> str | None:
        standard = self.config.scale_attn_weights and not self.config.scale_attn_by_inverse_layer_idx
        return None if standard else super().attention_steps_problem()  # scores scaled other than by 1/√d_k

    def queries_keys_values(self, model, hidden, layer):
        block = model.transformer.h[layer]
        q, k, v = block.attn.c_attn(block.ln_1(hidden)).split(self.config.n_embd, dim=-1)  # (T, D) each
        heads = self.config.n_head
        return _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads)

    def output_projection(self, model, layer):
        return model.transformer.h[layer].attn.c_proj

    def mlp_output_projection(self, model, layer):
        return model.transformer.h[layer].mlp.c_proj  # input: GELU(c_fc(ln_2(h))), (…, 4D)

    def readout(self, model) -> Readout:
        return Readout(model.transformer.ln_f, model.lm_head, last_state_normed=True)

    def initialize(self, model, generator: torch.Generator) -> None:
        """GPT-2's own scheme: every matrix N(0, 0.02²), the residual projections (c_proj) N(0, (0.02/√(2L))²);
        biases 0 and LayerNorm gains 1, as the constructor leaves them."""
        std = self.config.initializer_range
        residual_std = std / math.sqrt(2 * self.config.n_layer)  # two residual additions per block
        with torch.no_grad():
            for name, parameter in model.named_parameters():  # a tied output head is the token table: drawn once
                if parameter.dim() >= 2:
                    parameter.normal_(0.0, residual_std if name.endswith("c_proj.weight") else std, generator=generator)


class Bert(Architecture):
    family = "bert"
    position_scheme = "learned"
    input_formula = r"x_t = \mathrm{LayerNorm}\big(E[\mathrm{id}_t] + P[t] + S[0]\big)"
    input_note = N_("BERT also adds **S[0]**, the vector of the *token type* (sentence A; 0 for a single text), "
                    "and normalises the sum with a LayerNorm.")
    input_normalised = True
    output_projection_name = "attention.output.dense"
    attention_input = N_("Here x is the hidden state entering the layer (BERT normalises after attention).")

    @property
    def kind(self) -> ModelKind:
        return "masked"

    def position_table(self, model) -> nn.Embedding:
        return model.bert.embeddings.position_embeddings

    def embedding_parameters(self, model) -> int:
        return super().embedding_parameters(model) + model.bert.embeddings.token_type_embeddings.weight.numel()

    def input_parts(self, model, ids: torch.Tensor) -> InputParts:
        parts = model.bert.embeddings
        token = parts.word_embeddings(ids)  # (T, D)
        position = parts.position_embeddings(torch.arange(len(ids), device=ids.device))  # (T, D)
        token_type = parts.token_type_embeddings(torch.zeros_like(ids))  # (T, D), all rows of type 0
        return InputParts(token, position, parts.LayerNorm(token + position + token_type),
                          N_("LayerNorm(token + position + type)"))

    def attention_steps_problem(self) -> str | None:
        return None  # BERT scales by 1/√d_k

    def queries_keys_values(self, model, hidden, layer):
        attention = model.bert.encoder.layer[layer].attention.self
        heads = self.config.num_attention_heads
        return tuple(_split_heads(projection(hidden), heads) for projection in (attention.query, attention.key, attention.value))

    def output_projection(self, model, layer):
        return model.bert.encoder.layer[layer].attention.output.dense

    def mlp_output_projection(self, model, layer):
        return model.bert.encoder.layer[layer].output.dense  # input: GELU(intermediate.dense(h)), (…, D_ff)

    def readout(self, model) -> Readout:
        return Readout(None, model.cls, last_state_normed=False)  # no final norm outside the layers


class Llama(Architecture):
    """Llama and the families built like it: RMSNorm before each sublayer, rotary positions, grouped k and v."""

    family = "llama"
    position_scheme = "rotary"
    input_formula = r"x_t = E[\mathrm{id}_t]"
    output_projection_name = "self_attn.o_proj"
    attention_input = N_("Here x is the hidden state entering the block after input_layernorm (RMSNorm); "
                         "then q and k are rotated by their position (rotary embeddings): that is how the "
                         "head knows word order.")

    @property
    def kind(self) -> ModelKind:
        return "causal"

    def input_parts(self, model, ids: torch.Tensor) -> InputParts:
        token = model.model.embed_tokens(ids)  # (T, D): rotary models add nothing to it
        return InputParts(token, None, token, N_("the model's own embedding layer"))

    def attention_steps_problem(self) -> str | None:
        windowed = getattr(self.config, "use_sliding_window", False)  # a window hides distant keys the view would not
        return super().attention_steps_problem() if windowed else None

    def queries_keys_values(self, model, hidden, layer):
        block = model.model.layers[layer]
        attention = block.self_attn
        x = block.input_layernorm(hidden)  # (T, D)
        heads, shared = self.config.num_attention_heads, self.config.num_key_value_heads
        q = _split_heads(attention.q_proj(x), heads)  # (H, T, d_k)
        k = _split_heads(attention.k_proj(x), shared)  # (H_kv, T, d_k)
        v = _split_heads(attention.v_proj(x), shared)  # (H_kv, T, d_k)
        cos, sin = model.model.rotary_emb(x[None], torch.arange(len(x), device=x.device)[None])  # (1, T, d_k) each
        q, k = (t[0] for t in apply_rotary_pos_emb(q[None], k[None], cos, sin))  # turned by position
        group = heads // shared  # query heads that share one key/value head
        return q, k.repeat_interleave(group, dim=0), v.repeat_interleave(group, dim=0)  # (H, T, d_k) each

    def output_projection(self, model, layer):
        return model.model.layers[layer].self_attn.o_proj

    def mlp_output_projection(self, model, layer):
        return model.model.layers[layer].mlp.down_proj  # input: SiLU(gate_proj(x)) * up_proj(x), (…, D_ff)

    def readout(self, model) -> Readout:
        return Readout(model.model.norm, model.lm_head, last_state_normed=True)


class Marian(Architecture):
    """MarianMT: the encoder–decoder of the Helsinki-NLP translation models and of tiny-translate-numbers."""

    family = "marian"
    position_scheme = "other"  # fixed sinusoids added to the input, not a learned table

    @property
    def kind(self) -> ModelKind:
        return "seq2seq"

    def initialize(self, model, generator: torch.Generator) -> None:
        """Every matrix N(0, init_std²) from ``generator``; the sinusoidal position tables are fixed, not drawn, and
        biases stay 0 and LayerNorm gains 1, as the constructor leaves them."""
        with torch.no_grad():
            for name, parameter in model.named_parameters():  # the shared token table is drawn once
                if parameter.dim() >= 2 and "embed_positions" not in name:
                    parameter.normal_(0.0, self.config.init_std, generator=generator)


FAMILIES: dict[str, type[Architecture]] = {
    "gpt2": GPT2,
    "marian": Marian,
    "bert": Bert,
    **dict.fromkeys(("llama", "qwen2"), Llama),
}


def architecture_of(config) -> Architecture:
    """The adapter for a model's config (``model.config``); ``Architecture`` itself for families without one."""
    return FAMILIES.get(config.model_type, Architecture)(config)

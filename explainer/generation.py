"""Generation: the model writes, one token at a time.

Every strategy runs through ``model.generate`` itself (greedy, sampling with
temperature/top-k/top-p, beam search), and each step keeps the distribution
the token was chosen from, so what the page shows is what the library did.

Sampling draws from a private ``torch.Generator`` seeded by the learner, never
from torch's global one: every session of a server is a thread, and training
runs draw random numbers too, so the global generator's state is anyone's.
``generate(do_sample=True)`` would draw from it; instead the last logits
processor (``SeededDraw``) draws the token and leaves only it, and the
library's greedy step takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from explainer.i18n import _
from explainer.models import LoadedModel
from explainer.prediction import SamplingSettings
from explainer.tokenization import clean_text, token_label

Strategy = Literal["greedy", "sample", "beam"]
TOP_SHOWN = 10


@dataclass
class GenerationStep:
    """One generated token and the distribution it came from."""

    chosen_id: int
    chosen_token: str  # readable
    chosen_probability: float  # in the distribution it was picked from
    model_probability: float  # under the plain softmax (temperature 1, no filters)
    model_rank: int  # 1 = the model's top guess
    top_ids: list[int]  # (TOP_SHOWN,) of the distribution it was picked from, best first
    top_tokens: list[str]
    top_probabilities: list[float]


@dataclass
class Generation:
    """A prompt, what the model wrote after it, and how."""

    prompt_ids: list[int]  # (P,)
    generated_ids: list[int]  # (G,)
    steps: list[GenerationStep]  # (G,)
    prompt_truncated: bool  # the prompt was cut to leave room in the context
    text: str  # the decoded continuation

    @property
    def all_ids(self) -> list[int]:
        return self.prompt_ids + self.generated_ids


class SeededDraw(LogitsProcessor):
    """The last logits processor of a sampling run: draw the next token with a private generator.

    It receives the scores after temperature, top-k and top-p (B, V), keeps their
    softmax in ``distributions`` (one (B, V) tensor per step), draws one token per
    row from it with ``generator``, and returns scores that are −inf everywhere
    but at the drawn token, so ``generate``'s greedy step picks exactly that draw.
    """

    def __init__(self, generator: torch.Generator):
        self.generator = generator
        self.distributions: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probabilities = torch.softmax(scores.float(), dim=-1).cpu()  # (B, V), drawn on the CPU: same seed, same
        self.distributions.append(probabilities)  # tokens on every device
        drawn = torch.multinomial(probabilities, 1, generator=self.generator)  # (B, 1)
        return torch.full_like(scores, float("-inf")).scatter_(1, drawn.to(scores.device), 0.0)  # (B, V)


def sampling_options(settings: SamplingSettings, seed: int) -> tuple[dict, SeededDraw]:
    """Keyword arguments that make ``model.generate`` sample with ``settings`` from a generator seeded with
    ``seed``, and the ``SeededDraw`` that will hold each step's distribution."""
    draw = SeededDraw(torch.Generator().manual_seed(seed))
    processors = LogitsProcessorList([*settings.processors(), draw])  # generate's own warpers, in its order
    return {"do_sample": False, "num_beams": 1, "logits_processor": processors}, draw


def generate(
    loaded: LoadedModel,
    prompt: str,
    new_tokens: int,
    strategy: Strategy = "greedy",
    settings: SamplingSettings | None = None,
    seed: int = 0,
    beams: int = 3,
) -> Generation:
    """Generate ``new_tokens`` tokens after ``prompt``; return them with each step's distribution.

    Sampling is seeded, and each step draws once from the random generator, so
    the first n tokens of a longer run with the same seed are the same tokens.
    Raises ``ValueError`` for blank prompts and for masked (BERT) models.
    """
    if loaded.spec.kind != "causal":
        raise ValueError(_("{model} is a masked model; generation needs a causal (GPT) model.").format(model=loaded.spec.name))
    tokenizer, model = loaded.tokenizer, loaded.model
    ids = tokenizer(clean_text(prompt), add_special_tokens=False)["input_ids"]
    room = loaded.context_length - new_tokens
    truncated = len(ids) > room
    ids = ids[-room:]  # keep the end of the prompt: that is what the next token depends on
    if not ids:
        raise ValueError(_("The tokenizer produced no tokens for this text."))

    options, draw = {"do_sample": False, "num_beams": 1}, None
    if strategy == "sample":
        options, draw = sampling_options(settings or SamplingSettings(), seed)
    elif strategy == "beam":
        options = {"do_sample": False, "num_beams": beams, "early_stopping": False}
    with torch.no_grad():
        output = model.generate(
            torch.tensor([ids], device=model.device),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            output_scores=True,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=tokenizer.eos_token_id or 0,
            **options,
        )
    generated = output.sequences[0, len(ids) :].tolist()  # (G,)
    steps = []
    for step, chosen in enumerate(generated):
        row = int(output.beam_indices[0, step]) if strategy == "beam" else 0
        raw = output.logits[step][row].float().cpu()  # (V,) the model's own logits
        model_probabilities = torch.softmax(raw, -1)  # (V,)
        if draw is not None:  # sampled: the distribution after temperature, top-k and top-p
            picked_from = draw.distributions[step][row]
        elif strategy == "greedy":  # greedy: after generate's own processors (e.g. no end of text yet)
            picked_from = torch.softmax(output.scores[step][row].float().cpu(), -1)
        else:  # beam search ranks whole sequences; each step shows the plain distribution
            picked_from = model_probabilities
        steps.append(_step(tokenizer, chosen, model_probabilities, picked_from))
    return Generation(ids, generated, steps, truncated, tokenizer.decode(generated))


def _step(tokenizer, chosen: int, model_probs: torch.Tensor, picked_probs: torch.Tensor) -> GenerationStep:
    top = torch.topk(picked_probs, TOP_SHOWN)
    return GenerationStep(
        chosen_id=chosen,
        chosen_token=token_label(tokenizer, chosen),
        chosen_probability=float(picked_probs[chosen]),
        model_probability=float(model_probs[chosen]),
        model_rank=int((model_probs > model_probs[chosen]).sum()) + 1,
        top_ids=top.indices.tolist(),
        top_tokens=[token_label(tokenizer, int(i)) for i in top.indices],
        top_probabilities=top.values.tolist(),
    )


def attention_from_generated(loaded: LoadedModel, ids: list[int], prompt_length: int) -> np.ndarray:
    """Return (L, G, P+G): how much each generated token attends to every token, per layer, mean over heads."""
    with torch.no_grad():
        ids_on_device = torch.tensor([ids], device=loaded.model.device)  # (1, N)
        attentions = loaded.model(input_ids=ids_on_device, output_attentions=True).attentions  # L × (1, H, N, N)
    weights = torch.stack(attentions)[:, 0].mean(dim=1)  # (L, N, N)
    return weights[:, prompt_length:].cpu().numpy()

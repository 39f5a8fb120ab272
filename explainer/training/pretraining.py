"""Pretraining, live: a fresh GPT learns a corpus while the class watches.

The loop is the one that built the embedded model (``explainer/training/loop.py``):
forward, cross-entropy loss, backpropagation, optimizer step. A run records
the train and validation loss of the untrained model, then every
``eval_every`` steps, on the same fixed batches each time (so the curve
starts where learning starts, at ln V, and every point is measured on the
same text); and it writes a sample from a fixed prompt at step 0 and every
``sample_every`` steps, so the class sees gibberish turn into words.

Every run reads text with an embedded model's byte-level BPE tokenizer, so any
text can be learnt and a finished model works on every other page of the app
(it is kept with that tokenizer). ``tokenizer_for`` chooses it: tiny-gpt-zh's
(12,000 tokens, where a common Chinese character or word is one token) for the
built-in Chinese corpus and for a text that is mostly Chinese, else the Austen
GPT's (4,096 tokens, learnt from Austen, where a Chinese character takes two or
three byte tokens). ``SAMPLE_PROMPTS`` gives each its prompt to sample from.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from explainer.architectures import architecture_of
from explainer.generation import sampling_options
from explainer.i18n import N_, _
from explainer.models import EMBEDDED_GPT, EMBEDDED_ZH, LoadedModel
from explainer.prediction import SamplingSettings
from explainer.runtime import device
from explainer.training.loop import Evaluation, TrainingResult, TrainingSettings, causal_batches, fixed_batches, train

MIN_CORPUS_CHARACTERS = 2_000  # less than a page of text cannot teach a model anything
MAX_CORPUS_CHARACTERS = 5_000_000
MAX_CORPUS_BYTES = 3 * MAX_CORPUS_CHARACTERS  # UTF-8: a Chinese character is 3 bytes, a Latin letter 1
VALIDATION_FRACTION = 0.1  # the last 10% of a pasted text is held out

# The corpora a run can learn: the two built in, or the learner's own text.
AUSTEN_CORPUS, CHINESE_CORPUS, OWN_CORPUS = "austen", "chinese", "own"
# The prompt a run samples from, by the embedded model whose tokenizer it reads with.
SAMPLE_PROMPTS = {EMBEDDED_GPT: "It is a truth", EMBEDDED_ZH: "从前"}
CHINESE_MAJORITY = 0.5  # a text is "mostly Chinese" when more than half of its letters are Chinese characters
SHARE_SAMPLE = 100_000  # characters looked at, spread over the whole text, so a 5M-character paste is judged at once
_CHINESE_CHARACTER = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def chinese_share(text: str) -> float:
    """The share of Chinese characters (CJK ideographs) among the letters of ``text``; 0 when it has none.

    A Chinese character counts as one letter, like a Latin letter; digits, punctuation,
    spaces and emoji don't count. A long text is judged on ``SHARE_SAMPLE`` characters
    taken at an even stride through it.
    """
    if len(text) > SHARE_SAMPLE:
        text = text[:: math.ceil(len(text) / SHARE_SAMPLE)]
    letters = sum(character.isalpha() for character in text)
    return len(_CHINESE_CHARACTER.findall(text)) / letters if letters else 0.0


def tokenizer_for(corpus: str, text: str = "") -> str:
    """The embedded model whose tokenizer a run on ``corpus`` reads with (a pure function of its arguments).

    ``corpus`` is ``AUSTEN_CORPUS``, ``CHINESE_CORPUS`` or ``OWN_CORPUS`` (then ``text`` is the
    learner's text). tiny-gpt-zh's tokenizer for the Chinese corpus and for a text that is mostly
    Chinese, so a Chinese character is about one token; the Austen GPT's otherwise.
    """
    if corpus == CHINESE_CORPUS or (corpus == OWN_CORPUS and chinese_share(text) > CHINESE_MAJORITY):
        return EMBEDDED_ZH
    return EMBEDDED_GPT


def sample_prompt_for(corpus: str, text: str = "") -> str:
    """The default prompt to sample from: English ("It is a truth") or Chinese ("从前"), as the tokenizer reads."""
    return SAMPLE_PROMPTS[tokenizer_for(corpus, text)]


@dataclass(frozen=True)
class ModelSize:
    """A GPT-2 shape small enough to train on a laptop CPU in minutes."""

    name: str
    layers: int
    heads: int
    dims: int  # the width of the residual stream, d_model
    learning_rate: float  # peak; smaller models take larger steps
    context: int = 64

    def config(self, vocab_size: int, end_of_text: int) -> GPT2Config:
        return GPT2Config(
            vocab_size=vocab_size,
            n_positions=self.context,
            n_embd=self.dims,
            n_layer=self.layers,
            n_head=self.heads,
            bos_token_id=end_of_text,
            eos_token_id=end_of_text,
            resid_pdrop=0.0,  # short runs underfit; dropout would only slow them down
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            attn_implementation="eager",
        )

    def build(self, vocab_size: int, end_of_text: int, seed: int) -> GPT2LMHeadModel:
        """A freshly initialised model of this shape: the same weights for the same seed, drawn from a
        private generator, so other threads drawing random numbers meanwhile change nothing."""
        model = GPT2LMHeadModel(self.config(vocab_size, end_of_text))
        architecture_of(model.config).initialize(model, torch.Generator().manual_seed(seed))
        return model.to(device())  # drawn on the CPU, then moved: the same weights on every device

    def parameter_counts(self, vocab_size: int) -> tuple[int, int]:
        """Return (all parameters, non-embedding parameters), counted without allocating weights."""
        with torch.device("meta"):
            model = GPT2LMHeadModel(self.config(vocab_size, 0))
        total = sum(p.numel() for p in model.parameters())  # the output layer shares the token embedding
        return total, total - architecture_of(model.config).embedding_parameters(model)

    def describe(self, vocab_size: int) -> str:
        total, __ = self.parameter_counts(vocab_size)
        return _("{layers} layers × {heads} heads × {dims} dims, {millions:.2f}M parameters").format(
            layers=self.layers, heads=self.heads, dims=self.dims, millions=total / 1e6)


MODEL_SIZES = (
    ModelSize(N_("Tiny"), layers=1, heads=2, dims=32, learning_rate=1e-2),
    ModelSize(N_("Small"), layers=2, heads=2, dims=64, learning_rate=1e-2),
    ModelSize(N_("Medium"), layers=3, heads=4, dims=128, learning_rate=5e-3),
    ModelSize(N_("Large"), layers=4, heads=4, dims=192, learning_rate=3e-3),  # the embedded model's shape, at context 64
)


@dataclass
class Sample:
    """What the model wrote from the fixed prompt at one point of training."""

    step: int
    tokens_seen: int
    seconds: float
    text: str  # the continuation only, without the prompt


def split_token_ids(tokenizer, text: str, validation_fraction: float = VALIDATION_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenize a learner's corpus; return (train ids (N,), validation ids (M,)), the last part held out.

    Raises ``ValueError`` with a message for the learner when the text is too short or too long.
    """
    text = text.replace("\x00", "")
    if len(text.strip()) < MIN_CORPUS_CHARACTERS:
        raise ValueError(
            _("A model needs more text than that to learn from: paste or upload at least "
              "{minimum:,} characters (about a page); this is {length:,}.").format(
                minimum=MIN_CORPUS_CHARACTERS, length=len(text.strip()))
        )
    if len(text) > MAX_CORPUS_CHARACTERS:
        raise ValueError(_("That text is {length:,} characters; the limit is {limit:,}.").format(
            length=len(text), limit=MAX_CORPUS_CHARACTERS))
    ids = torch.tensor(tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)
    cut = int(len(ids) * (1 - validation_fraction))
    return ids[:cut], ids[cut:]


def join_token_ids(tokenizer, texts: list[str]) -> torch.Tensor:
    """Return one long (N,) tensor of token ids, the texts separated by <|endoftext|>."""
    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        ids.append(tokenizer.eos_token_id)
    return torch.tensor(ids, dtype=torch.long)


@dataclass
class PretrainingRun:
    """One live pretraining run: the settings, and the curves and samples as they arrive.

    ``execute`` is called on a training thread; the page reads ``evaluations``
    and ``samples`` while it runs (lists only grow, so reading them is safe).
    """

    size: ModelSize
    corpus_name: str  # marked with ``N_``: the title translates it
    train_ids: torch.Tensor  # (N,)
    val_ids: torch.Tensor  # (M,)
    tokenizer: object
    prompt: str = "It is a truth"
    max_steps: int = 100_000  # live runs are limited by time; the step budget is a backstop
    batch_size: int = 16
    eval_every: int = 10  # the Large size takes about 2 s for 10 steps on 2 CPUs: a new point at each redraw
    eval_batches: int = 2  # fixed batches: few are needed for a steady curve
    sample_every: int = 100
    sample_tokens: int = 24
    seed: int = 1337
    evaluations: list[Evaluation] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    model: GPT2LMHeadModel | None = None
    result: TrainingResult | None = None
    kept_as: str = ""  # the model's name on the other pages, once kept

    @property
    def title(self) -> str:
        """In the current language (the size and corpus names are catalog entries)."""
        return _("{size} model on {corpus}").format(size=_(self.size.name), corpus=_(self.corpus_name))

    @property
    def tokens_per_second(self) -> float:
        """Training throughput so far (tokens of batches per second, evaluations included)."""
        last = self.evaluations[-1] if self.evaluations else None
        return last.tokens_seen / last.seconds if last and last.seconds > 0 else float("nan")

    def execute(self, job) -> None:
        """Train a fresh model of ``size`` until the job says stop or its budget is spent."""
        model = self.size.build(len(self.tokenizer), self.tokenizer.eos_token_id, self.seed)
        self.model = model
        settings = TrainingSettings(
            max_steps=self.max_steps,
            batch_size=self.batch_size,
            learning_rate=self.size.learning_rate,
            min_learning_rate=self.size.learning_rate / 10,
            warmup_steps=30,
            eval_every=self.eval_every,
            eval_batches=self.eval_batches,
            eval_at_start=True,
            max_seconds=job.max_seconds,
        )
        batches = causal_batches(self.train_ids, self.val_ids, self.batch_size, self.size.context,
                                 torch.Generator().manual_seed(self.seed))
        evaluation_batches = fixed_batches(causal_batches(self.train_ids, self.val_ids, self.batch_size, self.size.context,
                                                          torch.Generator().manual_seed(self.seed + 1)), self.eval_batches)
        started = time.perf_counter()
        self.samples.append(self._sample(model, 0, 0.0))

        def after_step(step: int, loss: float) -> None:
            job.on_step(step, loss)
            if step % self.sample_every == 0:
                self.samples.append(self._sample(model, step, time.perf_counter() - started))

        self.result = train(model, batches, settings, on_evaluation=self.evaluations.append, should_stop=job.should_stop,
                            on_step=after_step, evaluation_batches=evaluation_batches)
        if self.samples[-1].step != self.result.steps:  # always end with a sample of the final model
            self.samples.append(self._sample(model, self.result.steps, self.result.seconds))
        model.eval()

    @torch.no_grad()
    def _sample(self, model: GPT2LMHeadModel, step: int, seconds: float) -> Sample:
        """Continue the fixed prompt (top-k 40, temperature 0.8, the same seed every time)."""
        was_training = model.training
        model.eval()
        prompt_ids = self.tokenizer(self.prompt, return_tensors="pt")["input_ids"][:, -self.size.context // 2 :]
        options, __ = sampling_options(SamplingSettings(temperature=0.8, top_k=40), self.seed)
        prompt_ids = prompt_ids.to(model.device)
        output = model.generate(
            prompt_ids,
            attention_mask=torch.ones_like(prompt_ids),
            max_new_tokens=self.sample_tokens,
            pad_token_id=self.tokenizer.eos_token_id,
            **options,
        )
        model.train(was_training)
        continuation = self.tokenizer.decode(output[0, prompt_ids.shape[1] :])
        return Sample(step, step * self.batch_size * self.size.context, seconds, continuation)


def embedded_training_history(model_dir: Path) -> pd.DataFrame:
    """The training history an embedded model was shipped with (its ``training_metrics.json``): one row per
    evaluation: step, tokens_seen, seconds, train_loss, val_loss (nats)."""
    metrics = json.loads((model_dir / "training_metrics.json").read_text())
    return pd.DataFrame(metrics["history"], columns=["step", "tokens_seen", "seconds", "train_loss", "val_loss"])


def untrained_copy(loaded: LoadedModel, seed: int = 0) -> LoadedModel:
    """``loaded``'s architecture and tokenizer with freshly drawn weights (from a private generator seeded with
    ``seed``): the same model before any training."""
    model = type(loaded.model)(loaded.model.config)
    loaded.architecture.initialize(model, torch.Generator().manual_seed(seed))
    return LoadedModel(replace(loaded.spec, name=f"{loaded.spec.name} (untrained)"), loaded.tokenizer,
                       model.to(device()).eval())

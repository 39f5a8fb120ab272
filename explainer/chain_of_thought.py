"""Chain of thought, measured: two tiny GPTs learn the remainder of an 8-digit number divided by 7, one answering at
once, one writing its intermediate steps first (a scratchpad): long division's running remainders.

The task, for 35829417 (35829417 = 7 × 5118488 + 1)::

    direct:  35829417=1
    steps:   35829417=3,0,1,5,3,6,5,1=1     (the remainder of 3, 35, 358, 3582, ... divided by 7; the last is the answer)

Both models read the number and ``=`` and write the rest, one character at a time, ending with ``<eos>``; the
answer is what follows the last ``=``. Every character is one token.

Why steps can help: a transformer does a fixed amount of computation per token it writes (one pass through its
layers). The direct model must settle the remainder of the whole number inside the one pass that writes it. Each
step of the other is one small move of long division, (10 × the last remainder + the next digit) mod 7, and reads
the last remainder back through attention.

Everything random draws from a private ``random.Random(seed)`` or ``torch.Generator``: the same seed gives the
same problems, the same held-out set and the same batches on any thread.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from explainer.architectures import architecture_of
from explainer.i18n import N_, _
from explainer.models import EMBEDDED_DIR, LoadedModel, ModelSpec, from_folder
from explainer.training.loop import IGNORE_INDEX, TrainingSettings, train

RESULTS_FILE = Path(__file__).resolve().parent.parent / "data" / "chain_of_thought" / "results.json"

SEED = 1337
EOS = "<eos>"
VOCABULARY = (EOS, *"0123456789", ",", "=")  # token id = index; <eos> also pads
DIGITS = 8  # of every number
DIVISOR = 7
HELD_OUT = 1000  # problems never trained on (of 10⁸)
CONTEXT = 32  # the longest: "35829417=3,0,5,2,2,5,2,1=1" and <eos>, 27 tokens
STYLES = ("direct", "steps")  # the two models, in the order they train
STYLE_NAMES = {"direct": N_("direct answer"), "steps": N_("steps first")}
MODEL_NAMES = {"direct": "tiny-cot-direct", "steps": "tiny-cot-steps"}  # their folders in models/
MAX_INPUT_CHARACTERS = 40


@dataclass(frozen=True)
class Problem:
    digits: tuple[int, ...]  # DIGITS digits, 0 to 9 (leading zeros allowed)

    @property
    def number(self) -> int:
        return int("".join(map(str, self.digits)))

    @property
    def prompt(self) -> str:
        """What the model reads before it writes: ``35829417=``."""
        return "".join(map(str, self.digits)) + "="

    @property
    def answer(self) -> int:
        return self.number % DIVISOR

    def steps(self) -> list[int]:
        """Long division's running remainders: of the first 1, 2, ... digits divided by 7; the last is the answer."""
        remainders, remainder = [], 0
        for digit in self.digits:
            remainder = (10 * remainder + digit) % DIVISOR
            remainders.append(remainder)
        return remainders

    def target(self, style: str) -> str:
        """What the model of ``style`` should write after the prompt (without <eos>)."""
        if style == "direct":
            return str(self.answer)
        return ",".join(map(str, self.steps())) + f"={self.answer}"


def split_problems(seed: int = SEED, held_out: int = HELD_OUT) -> tuple[set[int], list[Problem]]:
    """(the numbers never to train on, the held-out problems in order): ``held_out`` numbers drawn with
    ``random.Random(seed)`` from all 10⁸."""
    numbers = set(random.Random(seed).sample(range(10 ** DIGITS), held_out))
    return numbers, [Problem(tuple(int(d) for d in f"{n:0{DIGITS}d}")) for n in sorted(numbers)]


def parse_problem(text: str) -> Problem:
    """Read an 8-digit number (spaces allowed between digits); raise ``ValueError`` with a message for the learner."""
    text = (text or "")[: MAX_INPUT_CHARACTERS + 1]
    if not text.strip():
        raise ValueError(_("Type a number of {n} digits, such as 35829417.").format(n=DIGITS))
    digits = text.replace(" ", "")
    if len(text) > MAX_INPUT_CHARACTERS or not re.fullmatch(f"[0-9]{{{DIGITS}}}", digits):
        raise ValueError(_("Write exactly {n} digits (0 to 9), such as 35829417; spaces are allowed, nothing "
                           "else.").format(n=DIGITS))
    return Problem(tuple(int(d) for d in digits))


# ---------------------------------------------------------------- tokenizer and models


def character_tokenizer() -> PreTrainedTokenizerFast:
    """One token per character of ``VOCABULARY``; saved with ``save_pretrained``, read back by ``AutoTokenizer``."""
    core = Tokenizer(models.WordLevel({token: i for i, token in enumerate(VOCABULARY)}, unk_token=EOS))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("<eos>|."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS, pad_token=EOS, bos_token=EOS,
                                   model_max_length=CONTEXT)


def new_model(seed: int, layers: int = 3, heads: int = 4, dims: int = 128) -> GPT2LMHeadModel:
    """A small GPT-2 without dropout, its weights drawn from ``torch.Generator(seed)``."""
    config = GPT2Config(vocab_size=len(VOCABULARY), n_positions=CONTEXT, n_embd=dims, n_layer=layers, n_head=heads,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    config._attn_implementation = "eager"
    model = GPT2LMHeadModel(config)
    architecture_of(config).initialize(model, torch.Generator().manual_seed(seed))
    return model


def load_trained(style: str) -> LoadedModel:
    """The model of ``style`` trained by ``scripts/train_chain_of_thought.py``, loaded like every embedded model
    (``explainer.models.from_folder``: safetensors, eager attention, eval mode)."""
    spec = ModelSpec(MODEL_NAMES[style], "causal", STYLE_NAMES[style], embedded=True)
    tokenizer, model, kind = from_folder(spec, EMBEDDED_DIR / spec.name)
    return LoadedModel(spec, tokenizer, model)


def load_results(path: Path = RESULTS_FILE) -> dict:
    """What the training script measured (see ``scripts/train_chain_of_thought.py``)."""
    return json.loads(path.read_text(encoding="utf-8"))


def encode(text: str) -> list[int]:
    """Token ids of a text made of ``VOCABULARY`` characters."""
    return [VOCABULARY.index(character) for character in text]


def training_batches(held_out: set[int], style: str, batch_size: int, generator: torch.Generator):
    """A batch sampler for ``explainer.training.loop.train``: random problems (never a held-out one), each
    ``prompt + target + <eos>``, padded with <eos> to the batch's longest.

    Returns {"input_ids" (B, T), "labels" (B, T)}; the labels are -100 on the prompt and the padding, so the loss is
    only over what the model writes (its target and <eos>). Both splits draw training problems: the held-out
    problems are measured by ``accuracy`` instead, by generating.
    """

    def sample(split: str) -> dict[str, torch.Tensor]:
        rows = []
        while len(rows) < batch_size:
            problem = Problem(tuple(torch.randint(0, 10, (DIGITS,), generator=generator).tolist()))
            if problem.number not in held_out:
                rows.append((encode(problem.prompt), encode(problem.target(style)) + [0]))
        width = max(len(prompt) + len(written) for prompt, written in rows)
        ids = torch.zeros((batch_size, width), dtype=torch.long)  # <eos> pads
        labels = torch.full((batch_size, width), IGNORE_INDEX)
        for row, (prompt, written) in enumerate(rows):
            ids[row, : len(prompt) + len(written)] = torch.tensor(prompt + written)
            labels[row, len(prompt): len(prompt) + len(written)] = torch.tensor(written)
        return {"input_ids": ids, "labels": labels}

    return sample


def example_tokens(style: str) -> int:
    """How many tokens one example of ``style`` has: the number, `=`, what it writes and <eos>. Every problem has
    the same count (the number has a fixed width, and one remainder is one digit), so no batch is padded."""
    problem = Problem((0,) * DIGITS)
    return len(problem.prompt) + len(problem.target(style)) + 1


# ---------------------------------------------------------------- answering


@dataclass
class Answer:
    """One model's greedy answer to one problem, token by token."""

    problem: Problem
    prompt_tokens: list[str]  # the problem, as read
    tokens: list[str]  # what the model wrote, <eos> included when it stopped
    probabilities: list[float]  # the probability the model gave each written token when it chose it
    attention: np.ndarray  # (layers, heads, W, P + W): from each written token (row) to every token so far
    text: str  # the written tokens without <eos>

    @property
    def answer_text(self) -> str:
        """What follows the last ``=``."""
        return self.text.rsplit("=", 1)[-1]

    @property
    def correct(self) -> bool:
        return self.answer_text == str(self.problem.answer)

    @property
    def answer_positions(self) -> list[int]:
        """Indices, within ``tokens``, of the answer's digits."""
        start = len(self.text) - len(self.answer_text)
        return list(range(start, len(self.text)))


@torch.no_grad()
def answer(model: GPT2LMHeadModel, problem: Problem, max_tokens: int | None = None) -> Answer:
    """Let ``model`` write greedily after ``problem.prompt`` until <eos> (or the context is full).

    Each new token costs one full pass through the model over everything so far (no cache, for plainness); the
    pass also gives the token's probability and its attention to every earlier token.
    """
    device = next(model.parameters()).device
    ids = torch.tensor([encode(problem.prompt)], device=device)  # (1, P)
    prompt_length = ids.shape[1]
    budget = min(max_tokens or CONTEXT, CONTEXT - prompt_length)
    probabilities, rows = [], []
    for _step in range(budget):
        output = model(input_ids=ids, output_attentions=True)
        distribution = torch.softmax(output.logits[0, -1].float(), dim=-1)  # (V,)
        chosen = int(distribution.argmax())
        probabilities.append(float(distribution[chosen]))
        rows.append(torch.stack([layer[0, :, -1] for layer in output.attentions]).cpu().numpy())  # (L, H, T)
        ids = torch.cat([ids, torch.tensor([[chosen]], device=device)], dim=1)  # (1, T + 1)
        if chosen == 0:
            break
    written = ids[0, prompt_length:].tolist()
    width = ids.shape[1] - 1  # the last written token is read by no pass
    attention = np.zeros((rows[0].shape[0], rows[0].shape[1], len(rows), width), dtype=np.float32)
    for i, row in enumerate(rows):
        attention[:, :, i, : row.shape[-1]] = row
    tokens = [VOCABULARY[i] for i in written]
    return Answer(problem, list(problem.prompt), tokens, probabilities, attention,
                  "".join(t for t in tokens if t != EOS))


def writing_attention(result: Answer, layer: int | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """The attention of the passes that wrote every token up to the answer's last digit (the steps, then the
    answer), mean over heads (and over layers when ``layer`` is None): (matrix (W, K), row labels, column labels).

    The pass that wrote token i reads the token just before it: row i is labelled with that token, and its columns
    are every token up to it. K = the prompt and the written tokens before the answer's last digit, so
    ``explainer.plots.attention_rows`` draws it as it is; the answer's rows are the last ones.
    """
    written = result.answer_positions[-1] + 1
    everything = result.prompt_tokens + result.tokens
    width = len(result.prompt_tokens) + written - 1
    rows = result.attention[:, :, :written, :width]  # (L, H, W, K)
    matrix = rows.mean(axis=(0, 1)) if layer is None else rows[layer].mean(axis=0)  # (W, K)
    return matrix, everything[width - written: width], everything[:width]


@torch.no_grad()
def greedy_answers(model: GPT2LMHeadModel, problems: list[Problem], batch_size: int = 500) -> list[str]:
    """The answer each of ``problems`` gets by greedy decoding (what follows the written text's last `=`), generated
    in batches; one string per problem, in order.

    Every prompt has the same length, so a batch needs no padding: each pass appends every row's most likely token.
    A row that has written <eos> keeps appending <eos>, which leaves its text unchanged.
    """
    device = next(model.parameters()).device
    answers = []
    for start in range(0, len(problems), batch_size):
        chunk = problems[start: start + batch_size]
        ids = torch.tensor([encode(p.prompt) for p in chunk], device=device)  # (B, P)
        prompt_length = ids.shape[1]
        finished = torch.zeros(len(chunk), dtype=torch.bool, device=device)
        while ids.shape[1] < CONTEXT and not finished.all():
            following = model(input_ids=ids).logits[:, -1].argmax(dim=-1)  # (B,)
            following = torch.where(finished, torch.zeros_like(following), following)
            finished |= following == 0
            ids = torch.cat([ids, following[:, None]], dim=1)  # (B, T + 1)
        for row in ids[:, prompt_length:].tolist():
            answers.append("".join(VOCABULARY[i] for i in row).split(EOS)[0].rsplit("=", 1)[-1])
    return answers


def accuracy(model: GPT2LMHeadModel, problems: list[Problem], batch_size: int = 500) -> float:
    """The share of ``problems`` whose greedy answer is exactly right."""
    answers = greedy_answers(model, problems, batch_size)
    return sum(answer == str(problem.answer) for answer, problem in zip(answers, problems)) / len(problems)


# ---------------------------------------------------------------- training


@dataclass(frozen=True)
class Recipe:
    """What both models share: the architecture, the token budget, the batch of problems, the learning rate, the seed.

    ``steps`` is the budget in steps of the longest examples (steps first); a model with shorter examples trains for
    more steps, until it has seen as many tokens, and so spent about as much training computation.
    """

    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 3e-3
    layers: int = 2
    heads: int = 4
    dims: int = 64
    seed: int = SEED

    def steps_for(self, style: str) -> int:
        """The training steps that give ``style`` the token budget: ``steps`` × the longest example's tokens / its own."""
        longest = max(example_tokens(other) for other in STYLES)
        return round(self.steps * longest / example_tokens(style))

    def tokens(self, style: str) -> int:
        """The tokens ``style`` trains on: steps × problems per step × tokens per problem."""
        return self.steps_for(style) * self.batch_size * example_tokens(style)

    def settings(self, style: str, max_seconds: float = float("inf")) -> TrainingSettings:
        steps = self.steps_for(style)
        return TrainingSettings(max_steps=steps, batch_size=self.batch_size, learning_rate=self.learning_rate,
                                min_learning_rate=self.learning_rate / 20, warmup_steps=min(200, steps // 10),
                                weight_decay=0.01, eval_every=max(50, steps // 10), eval_batches=2,
                                max_seconds=max_seconds)


def train_one(style: str, recipe: Recipe, held_out: set[int], should_stop=None, on_step=None,
              max_seconds: float = float("inf")) -> tuple[GPT2LMHeadModel, float, int]:
    """Train the ``style`` model on the recipe's token budget; return (model in eval mode, seconds, steps done).
    Both styles start from the same weights and draw the same problems in the same order (the direct model, whose
    examples are shorter, draws on for more steps)."""
    model = new_model(recipe.seed, recipe.layers, recipe.heads, recipe.dims)
    batches = training_batches(held_out, style, recipe.batch_size, torch.Generator().manual_seed(recipe.seed))
    started = time.perf_counter()
    result = train(model, batches, recipe.settings(style, max_seconds), should_stop=should_stop, on_step=on_step)
    return model.eval(), time.perf_counter() - started, result.steps


@dataclass
class ChainOfThoughtRun:
    """A short live run for the job board: train both models with ``recipe``, one after the other, then measure
    each on ``sample`` held-out problems."""

    recipe: Recipe = Recipe(steps=800, batch_size=32)  # the steps model is halfway up its learning curve by then
    sample: int = 200
    models: dict[str, GPT2LMHeadModel] = field(default_factory=dict)
    accuracies: dict[str, float] = field(default_factory=dict)
    title: str = N_("direct vs steps, small")

    @property
    def max_steps(self) -> int:
        return sum(self.recipe.steps_for(style) for style in STYLES)

    def progress(self, step: int) -> float:
        """The share of the work done after ``step`` steps of both models, one after the other: each model's token
        budget is half of it."""
        done = 0.0
        for style in STYLES:
            steps = self.recipe.steps_for(style)
            done += min(max(step, 0), steps) / steps / len(STYLES)
            step -= steps
        return done

    def execute(self, job) -> None:
        numbers, held_out = split_problems(self.recipe.seed)
        offset = 0
        for style in STYLES:
            model, _seconds, steps = train_one(style, self.recipe, numbers, should_stop=job.should_stop,
                                               on_step=lambda step, loss, offset=offset: job.on_step(offset + step))
            offset += steps
            if job.should_stop():
                return
            self.models[style] = model
            self.accuracies[style] = accuracy(model, held_out[: self.sample])

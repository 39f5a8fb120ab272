"""The training loop: forward, cross-entropy loss, backpropagation, optimizer step.

One loop serves both the script that builds the embedded models and any page
that trains live. It is deliberately plain, in the style of nanoGPT:

    for step in range(steps):
        batch = sample_batch("train")        # input_ids (B, T), labels (B, T)
        loss = model(**batch).loss           # L = -mean log p(x_t | context)
        loss.backward()                      # gradients by backpropagation
        optimizer.step()                     # gradient descent (AdamW)

Batches come from a *batch sampler*, so the same loop trains a causal model
(predict the next token) and a masked model (predict the hidden tokens).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch

IGNORE_INDEX = -100  # label value that cross-entropy skips

BatchSampler = Callable[[str], dict[str, torch.Tensor]]  # split -> {"input_ids", "labels"}


@dataclass
class TrainingSettings:
    """How long and how fast to train."""

    max_steps: int
    batch_size: int = 32
    learning_rate: float = 3e-3
    min_learning_rate: float = 3e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    eval_every: int = 100
    eval_batches: int = 20
    eval_at_start: bool = False  # also evaluate the untrained model (step 0), so a curve starts where learning starts
    max_seconds: float = math.inf  # stop early when the wall-clock budget is spent


@dataclass
class Evaluation:
    """Mean losses (nats per predicted token) at one point of training."""

    step: int
    tokens_seen: int
    seconds: float
    train_loss: float
    val_loss: float

    @property
    def val_perplexity(self) -> float:
        return math.exp(self.val_loss)


def evaluation_table(evaluations: list[Evaluation]) -> pd.DataFrame:
    """One row per evaluation: step, tokens_seen, seconds, train_loss, val_loss (nats), val_perplexity."""
    rows = [vars(e) | {"val_perplexity": e.val_perplexity} for e in evaluations]
    return pd.DataFrame(rows, columns=["step", "tokens_seen", "seconds", "train_loss", "val_loss", "val_perplexity"])


@dataclass
class TrainingResult:
    """What a run produced: its evaluations in order and why it stopped."""

    evaluations: list[Evaluation] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped_because: str = "finished"


# ------------------------------------------------------------- batch samplers


def causal_batches(
    train_ids: torch.Tensor, val_ids: torch.Tensor, batch_size: int, context: int, generator: torch.Generator
) -> BatchSampler:
    """Random windows of ``context`` tokens; the labels are the inputs (the model shifts them)."""
    splits = {"train": train_ids, "val": val_ids}  # each (N,) token ids

    def sample(split: str) -> dict[str, torch.Tensor]:
        ids = splits[split]
        starts = torch.randint(0, len(ids) - context, (batch_size,), generator=generator)
        windows = torch.stack([ids[s : s + context] for s in starts.tolist()])  # (B, T)
        return {"input_ids": windows, "labels": windows.clone()}

    return sample


def masked_batches(
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    batch_size: int,
    context: int,
    generator: torch.Generator,
    mask_token_id: int,
    vocab_size: int,
    special_ids: tuple[int, int],
    mask_probability: float = 0.15,
) -> BatchSampler:
    """BERT's objective: hide 15% of tokens (80% [MASK], 10% random, 10% kept), predict them.

    Each window is ``[CLS] tokens... [SEP]`` with ``context`` tokens in all.
    """
    cls_id, sep_id = special_ids
    inner = context - 2
    splits = {"train": train_ids, "val": val_ids}

    def sample(split: str) -> dict[str, torch.Tensor]:
        ids = splits[split]
        starts = torch.randint(0, len(ids) - inner, (batch_size,), generator=generator)
        body = torch.stack([ids[s : s + inner] for s in starts.tolist()])  # (B, T-2)
        cls = torch.full((batch_size, 1), cls_id)
        sep = torch.full((batch_size, 1), sep_id)
        inputs = torch.cat([cls, body, sep], dim=1)  # (B, T)
        labels = inputs.clone()
        chosen = torch.rand(inputs.shape, generator=generator) < mask_probability
        chosen[:, 0] = chosen[:, -1] = False  # never predict [CLS] / [SEP]
        labels[~chosen] = IGNORE_INDEX
        roll = torch.rand(inputs.shape, generator=generator)
        inputs[chosen & (roll < 0.8)] = mask_token_id
        randomised = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[randomised] = torch.randint(0, vocab_size, (int(randomised.sum()),), generator=generator)
        return {"input_ids": inputs, "labels": labels}

    return sample


# ------------------------------------------------------------------ the loop


def switch_off_dropout(model: torch.nn.Module) -> torch.nn.Module:
    """Set every dropout module's probability to 0 (attention dropout reads it too); return ``model``."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


def learning_rate_at(step: int, seconds: float, settings: TrainingSettings) -> float:
    """Linear warm-up, then cosine decay to ``min_learning_rate``.

    Progress is the larger of the steps done and the time budget spent, so a
    run cut short by its time budget still ends with a low learning rate.
    """
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    step_progress = (step - settings.warmup_steps) / max(1, settings.max_steps - settings.warmup_steps)
    progress = min(1.0, max(step_progress, seconds / settings.max_seconds))
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return settings.min_learning_rate + cosine * (settings.learning_rate - settings.min_learning_rate)


def fixed_batches(sample_batch: BatchSampler, count: int) -> BatchSampler:
    """A sampler that hands out the same ``count`` batches of each split, in turn, drawn once from ``sample_batch``.

    An evaluation that draws ``count`` batches of a split then measures the model on the very same text every
    time it runs, whenever that is, and draws nothing from the training stream.
    """
    drawn = {split: [sample_batch(split) for _ in range(count)] for split in ("train", "val")}
    handed_out = {"train": 0, "val": 0}

    def sample(split: str) -> dict[str, torch.Tensor]:
        batch = drawn[split][handed_out[split] % count]
        handed_out[split] += 1
        return batch

    return sample


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """``batch`` with every tensor on ``device``. Batches are drawn on the CPU, from the sampler's own generator,
    so a seed gives the same batches on every device."""
    return {name: tensor.to(device) for name, tensor in batch.items()}


def device_of(model: torch.nn.Module) -> torch.device:
    """The device ``model``'s weights are on."""
    return next(model.parameters()).device


@torch.no_grad()
def estimate_loss(model: torch.nn.Module, sample_batch: BatchSampler, split: str, batches: int) -> float:
    """Return the mean loss over ``batches`` random batches of ``split``."""
    was_training = model.training
    model.eval()
    losses = [model(**to_device(sample_batch(split), device_of(model))).loss.item() for _ in range(batches)]
    model.train(was_training)
    return sum(losses) / len(losses)


@torch.no_grad()
def causal_loss_on(model: torch.nn.Module, ids: torch.Tensor, context: int, batch_size: int = 16) -> float:
    """Return the mean next-token loss over all of ``ids`` (N,), cut into non-overlapping windows."""
    model.eval()
    usable = (len(ids) - 1) // context * context
    windows = ids[:usable].view(-1, context).to(device_of(model))  # (W, T)
    total, count = 0.0, 0
    for batch in windows.split(batch_size):
        loss = model(input_ids=batch, labels=batch).loss  # mean over (B, T-1) predictions
        predictions = batch.shape[0] * (context - 1)
        total, count = total + loss.item() * predictions, count + predictions
    return total / count


def train(
    model: torch.nn.Module,
    sample_batch: BatchSampler,
    settings: TrainingSettings,
    on_evaluation: Callable[[Evaluation], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_step: Callable[[int, float], None] | None = None,
    evaluation_batches: BatchSampler | None = None,
) -> TrainingResult:
    """Train ``model`` in place with AdamW; return its evaluation history.

    Evaluations draw their batches from ``evaluation_batches`` (by default
    ``sample_batch``, the training stream itself). A live run passes its own
    ``fixed_batches``: every point of its curve is then measured on the same
    text, and how often it evaluates does not change what it trains on.

    ``on_evaluation`` is called after each evaluation (every ``eval_every``
    steps, at step 0 with ``eval_at_start``, and at the end);
    ``on_step(step, loss)`` after every step;
    ``should_stop`` is polled every step, so a caller can stop a run from
    another thread.

    The loop draws no random numbers itself: the batches come from the
    sampler's own generator. Dropout, if the model has any, draws from torch's
    global generator, which every thread of a server shares, so a run on a
    shared server must have none (``switch_off_dropout``) to give the same
    result for the same seed; a script that is the process's only user may
    seed the global generator and keep it.
    """
    decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices decay, biases and norms don't
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.learning_rate,
        betas=(0.9, 0.95),
    )
    result = TrainingResult()
    device = device_of(model)  # the batches go where the model is (``runtime.device()`` for the app's models)
    started = time.perf_counter()
    tokens_seen = 0

    def evaluate(step: int) -> None:
        evaluation = Evaluation(
            step=step,
            tokens_seen=tokens_seen,
            seconds=time.perf_counter() - started,
            train_loss=estimate_loss(model, evaluation_batches or sample_batch, "train", settings.eval_batches),
            val_loss=estimate_loss(model, evaluation_batches or sample_batch, "val", settings.eval_batches),
        )
        result.evaluations.append(evaluation)
        if on_evaluation:
            on_evaluation(evaluation)

    if settings.eval_at_start:
        evaluate(0)
    model.train()
    step = 0
    for step in range(1, settings.max_steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step - 1, time.perf_counter() - started, settings)
        batch = to_device(sample_batch("train"), device)
        loss = model(**batch).loss  # forward + cross-entropy
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # backpropagation
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()  # gradient step
        tokens_seen += batch["input_ids"].numel()
        if on_step:
            on_step(step, loss.item())

        if should_stop and should_stop():
            result.stopped_because = "stopped"
            break
        if time.perf_counter() - started > settings.max_seconds:
            result.stopped_because = "time budget spent"
            break
        if step % settings.eval_every == 0 and step < settings.max_steps:
            evaluate(step)
    evaluate(step)
    model.eval()
    result.steps = step
    result.seconds = time.perf_counter() - started
    return result

"""Distillation: a small student learns from a big teacher's whole distribution, not just the one right answer.

Two students of the same small shape (``STUDENT``: 2 layers × 2 heads × 64 dims, a GPT-2) start from the same
weights, see the same batches of Austen in the same order, with the same loop (``explainer/training/loop.py``),
learning rate and number of steps. Only the target differs:

- **soft targets**: at every position the teacher's next-token distribution at temperature T; the loss is
  T² · KL(softmax(z_teacher / T) ‖ softmax(z_student / T)) (Hinton et al. 2015; T² keeps the gradients' size as T
  changes). A higher T shows the student more of the teacher's second and third guesses;
- **hard labels**: the token that really came next, with the usual cross-entropy.

The loop asks ``model(**batch).loss``: ``Objective`` wraps a student so that this is the target's loss while
training, and the plain cross-entropy on the real next tokens in eval mode, which is what the loop's evaluations
(and so both curves) measure. Both final perplexities are on the same held-out Austen.

The teacher is only read (no gradients, eval mode): it can be the model the whole server shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import pandas as pd
import torch
from torch import nn

from explainer.compression import heldout_loss
from explainer.i18n import N_
from explainer.training.loop import Evaluation, TrainingSettings, causal_batches, switch_off_dropout, train
from explainer.training.pretraining import MODEL_SIZES

STUDENT = MODEL_SIZES[1]  # "Small": 2 layers × 2 heads × 64 dims, context 64
TARGETS = (N_("soft targets"), N_("hard labels"))  # the two students, in the order they train
TRAIN_CHARACTERS = 60_000  # of each novel's training prose: enough for a few hundred steps of 16 × 64 tokens


class Objective(nn.Module):
    """The student, with the loss of its target: the loop trains ``student`` only (the teacher is no submodule)."""

    def __init__(self, student: nn.Module, teacher: nn.Module, temperature: float, soft: bool):
        super().__init__()
        self.student = student
        self._teacher = (teacher,)  # a tuple: not registered, so not trained and not in parameters()
        self.temperature = temperature
        self.soft = soft

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> SimpleNamespace:
        """``.loss``: while training with soft targets, T²·KL(teacher ‖ student) per predicted token; otherwise
        (hard labels, or eval mode) the cross-entropy against the real next tokens. ``.logits``: (B, T, V)."""
        if not (self.training and self.soft):
            output = self.student(input_ids=input_ids, labels=labels)
            return SimpleNamespace(loss=output.loss, logits=output.logits)
        output = self.student(input_ids=input_ids)
        with torch.no_grad():
            teacher_logits = self._teacher[0](input_ids=input_ids).logits[:, :-1]  # (B, T-1, V)
        student_logits = output.logits[:, :-1]  # (B, T-1, V): positions that have a next token
        t = self.temperature
        kl = nn.functional.kl_div(
            torch.log_softmax(student_logits / t, dim=-1).flatten(0, 1),
            torch.log_softmax(teacher_logits.float() / t, dim=-1).flatten(0, 1),
            log_target=True, reduction="batchmean",  # Σ over the vocabulary, mean over the B·(T-1) positions
        )
        return SimpleNamespace(loss=kl * t * t, logits=output.logits)


def student(vocab_size: int, end_of_text: int, seed: int) -> nn.Module:
    """A fresh student: ``STUDENT``'s shape, weights from a private generator seeded with ``seed``, no dropout."""
    return switch_off_dropout(STUDENT.build(vocab_size, end_of_text, seed))


def training_ids(tokenizer, texts: list[str], characters: int = TRAIN_CHARACTERS) -> torch.Tensor:
    """(N,) ids of the start of every training text."""
    ids: list[int] = []
    for text in texts:
        ids += tokenizer(text[:characters], add_special_tokens=False)["input_ids"]
    return torch.tensor(ids)


@dataclass
class DistillationRun:
    """Train the soft-target student, then the hard-label one, with the same seed, data and budget."""

    teacher: nn.Module  # causal, eval mode; only read
    train_ids: torch.Tensor  # (N,) teacher-tokenized training text
    val_ids: torch.Tensor  # (M,) held-out text the final perplexities are measured on
    end_of_text: int
    steps: int = 200  # per student
    temperature: float = 2.0
    batch_size: int = 16
    eval_every: int = 20
    seed: int = 1337
    teacher_name: str = ""
    curves: dict[str, list[Evaluation]] = field(default_factory=dict)  # target -> its evaluations, while training
    perplexities: dict[str, float] = field(default_factory=dict)  # target -> final held-out perplexity
    teacher_perplexity: float | None = None  # the teacher on the same held-out windows
    title: str = N_("distillation vs hard labels")

    @property
    def max_steps(self) -> int:
        return self.steps * len(TARGETS)

    def held_out_perplexity(self, model: nn.Module) -> float:
        """exp(mean next-token loss) on ``val_ids`` in windows of the student's context."""
        return math.exp(heldout_loss(model, True, self.val_ids, STUDENT.context))

    def execute(self, job) -> None:
        vocab_size = self.teacher.get_output_embeddings().weight.shape[0]
        self.teacher_perplexity = self.held_out_perplexity(self.teacher)
        for index, target in enumerate(TARGETS):
            model = student(vocab_size, self.end_of_text, self.seed)
            objective = Objective(model, self.teacher, self.temperature, soft=target == "soft targets")
            curve = self.curves[target] = []
            settings = TrainingSettings(max_steps=self.steps, batch_size=self.batch_size,
                                        learning_rate=STUDENT.learning_rate, min_learning_rate=STUDENT.learning_rate / 10,
                                        warmup_steps=min(20, self.steps // 5), eval_every=self.eval_every, eval_batches=4)
            batches = causal_batches(self.train_ids, self.val_ids, self.batch_size, STUDENT.context,
                                     torch.Generator().manual_seed(self.seed))
            offset = index * self.steps
            train(objective, batches, settings, on_evaluation=curve.append, should_stop=job.should_stop,
                  on_step=lambda step, loss, offset=offset: job.on_step(offset + step, loss))
            self.perplexities[target] = self.held_out_perplexity(model)
            if job.should_stop():
                return


class Unattended:
    """A stand-in for a job board's job, for running a run in the foreground (tests, benchmarks): never stops."""

    step = 0

    def should_stop(self) -> bool:
        return False

    def on_step(self, step: int, loss: float | None = None) -> None:
        self.step = step


def curve_table(curves: dict[str, list[Evaluation]]) -> pd.DataFrame:
    """One row per evaluation of each student: target, step, train_loss, val_loss (cross-entropy, nats)."""
    rows = [{"target": target, "step": e.step, "train_loss": e.train_loss, "val_loss": e.val_loss}
            for target, evaluations in curves.items() for e in list(evaluations)]
    return pd.DataFrame(rows, columns=["target", "step", "train_loss", "val_loss"])

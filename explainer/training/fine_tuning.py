"""Fine-tuning: teach a pretrained model a new task, beside the same model trained from scratch.

The task is sentence sentiment (negative / positive), learnt from a small
hand-written set: English in ``data/sentiment/``, Chinese in
``data/sentiment_zh/`` (see their READMEs for their origin). Each set goes with
the embedded model that reads its language (``SENTIMENT_SETS``): the Austen GPT
for English, the bilingual ``tiny-gpt-zh`` for Chinese. Two classifiers of
that model's shape are trained with the same loop (``explainer/training/loop.py``),
data, seed and settings:

- *fine-tuned*: the embedded model's weights, pretrained to predict the next token;
- *from scratch*: the same architecture with random weights.

Both are ``GPT2ForSequenceClassification``: the transformer reads the sentence
and a new linear layer (``score``, d_model → 2) turns the final hidden state
of its last token into two class scores. Only pretraining differs, so any gap
between the two curves is what pretraining bought.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import GPT2Config, GPT2ForSequenceClassification

from explainer.architectures import architecture_of
from explainer.i18n import N_
from explainer.models import EMBEDDED_DIR, EMBEDDED_GPT, EMBEDDED_ZH
from explainer.runtime import device
from explainer.training.loop import BatchSampler, Evaluation, TrainingSettings, switch_off_dropout, to_device, train

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SENTIMENT_FILE = DATA_DIR / "sentiment" / "sentences.tsv"
SENTIMENT_ZH_FILE = DATA_DIR / "sentiment_zh" / "sentences.tsv"
LABELS = (N_("negative"), N_("positive"))  # class index -> name (as in the CSV; shown with ``_()``)
STARTS = (N_("fine-tuned"), N_("from scratch"))  # the two classifiers, in the order they train


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # index into LABELS


def load_sentiment(path: Path = SENTIMENT_FILE) -> tuple[list[Example], list[Example]]:
    """Return the (train, test) examples of the sentiment set."""
    splits: dict[str, list[Example]] = {"train": [], "test": []}
    with open(path, encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file, delimiter="\t"):
            splits[row["split"]].append(Example(row["text"], LABELS.index(row["label"])))
    return splits["train"], splits["test"]


@dataclass(frozen=True)
class SentimentSet:
    """One labelled set and the embedded model that reads its language, fine-tuned on it."""

    language: str  # the sentences' language code, as in explainer.i18n.LANGUAGES: the default set of that interface
    name: str  # what the page's choice shows, marked with ``N_`` (shown with ``_()``)
    path: Path  # the TSV: split, label, text (see load_sentiment)
    readme: str  # where the set's origin, licence and split are documented, relative to the repository
    base_model: str  # the embedded model: its tokenizer reads the set, its weights are the fine-tuned start
    pretrained_on: str  # what the base model was pretrained on, marked with ``N_``
    text_header: str  # the sentences' column header, marked with ``N_``
    sentence_label: str  # the label of the learner's sentence box, marked with ``N_``
    example: str  # the learner's sentence box's default, in the set's language (data: never translated)

    def load(self) -> tuple[list[Example], list[Example]]:
        """(train, test) examples."""
        return load_sentiment(self.path)


SENTIMENT_SETS: dict[str, SentimentSet] = {
    s.language: s
    for s in (
        SentimentSet("en", N_("English sentences (Austen GPT)"), SENTIMENT_FILE, "data/sentiment/README.md",
                     EMBEDDED_GPT, N_("Austen's novels"), N_("sentence (English)"), N_("Your sentence"),
                     "What a charming evening; everyone was so kind."),
        SentimentSet("zh", N_("Chinese sentences (tiny-gpt-zh)"), SENTIMENT_ZH_FILE, "data/sentiment_zh/README.md",
                     EMBEDDED_ZH, N_("Chinese news and product reviews, and some of Austen's novels"),
                     N_("sentence (Chinese)"), N_("Your sentence (in Chinese)"),
                     "这家店的菜很好吃，服务也热情。"),
    )
}


def default_sentiment_set(interface_language: str) -> SentimentSet:
    """The set in the interface's language when there is one (Chinese for a Chinese page), English otherwise."""
    return SENTIMENT_SETS.get(interface_language, SENTIMENT_SETS["en"])


def encode(tokenizer, texts: list[str]) -> dict[str, torch.Tensor]:
    """Tokenize and right-pad with <|endoftext|>; return input_ids and attention_mask, each (B, T)."""
    rows = [tokenizer(text, add_special_tokens=False)["input_ids"][:64] or [tokenizer.eos_token_id] for text in texts]
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), tokenizer.eos_token_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def sentence_batches(
    train_set: list[Example], test_set: list[Example], tokenizer, batch_size: int, generator: torch.Generator
) -> BatchSampler:
    """Random batches of labelled sentences: {"input_ids" (B, T), "attention_mask" (B, T), "labels" (B,)}."""
    splits = {"train": train_set, "val": test_set}

    def sample(split: str) -> dict[str, torch.Tensor]:
        examples = splits[split]
        chosen = torch.randint(0, len(examples), (batch_size,), generator=generator).tolist()
        batch = encode(tokenizer, [examples[i].text for i in chosen])
        batch["labels"] = torch.tensor([examples[i].label for i in chosen])
        return batch

    return sample


def classifier(start: str, tokenizer, seed: int, base_model: str = EMBEDDED_GPT) -> GPT2ForSequenceClassification:
    """A two-class classifier of ``base_model``'s shape (an embedded GPT): its pretrained weights ("fine-tuned")
    or random ones ("from scratch"), without dropout.

    Every random weight is drawn from a private generator seeded with ``seed`` (the new ``score`` layer the same
    either way), and dropout is off, so a run gives the same curves for the same seed whatever other threads draw.
    """
    source = EMBEDDED_DIR / base_model
    config = GPT2Config.from_pretrained(source, local_files_only=True)
    config.num_labels = len(LABELS)
    config.pad_token_id = tokenizer.eos_token_id
    config.attn_implementation = "eager"
    if start == "from scratch":
        model = GPT2ForSequenceClassification(config)
        architecture_of(config).initialize(model, torch.Generator().manual_seed(seed))
    else:
        model = GPT2ForSequenceClassification.from_pretrained(
            source, config=config, local_files_only=True, use_safetensors=True, dtype=torch.float32
        )
    with torch.no_grad():  # GPT-2's own initialisation of a linear layer, N(0, initializer_range²)
        model.score.weight.normal_(0.0, config.initializer_range, generator=torch.Generator().manual_seed(seed))
    return switch_off_dropout(model).to(device())  # drawn on the CPU, then moved: the same weights on every device


@torch.no_grad()
def class_probabilities(model: GPT2ForSequenceClassification, tokenizer, texts: list[str]) -> np.ndarray:
    """Return (N, 2) probabilities of (negative, positive) for each text."""
    was_training = model.training
    model.eval()
    logits = model(**to_device(encode(tokenizer, texts), model.device)).logits.cpu()  # (N, 2)
    model.train(was_training)
    return torch.softmax(logits, dim=-1).numpy()


def scores_on(model: GPT2ForSequenceClassification, tokenizer, examples: list[Example]) -> tuple[float, float]:
    """Return (accuracy, mean cross-entropy in nats) of ``model`` over all of ``examples``."""
    probabilities = class_probabilities(model, tokenizer, [e.text for e in examples])  # (N, 2)
    labels = np.array([e.label for e in examples])  # (N,)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    loss = float(np.mean(-np.log(probabilities[np.arange(len(labels)), labels])))
    return accuracy, loss


@dataclass
class Curve:
    """One classifier's history at each evaluation: the loop's losses, and its scores on the whole test set."""

    start: str
    evaluations: list[Evaluation] = field(default_factory=list)  # train_loss on training batches
    accuracies: list[float] = field(default_factory=list)  # test accuracy, one per evaluation
    test_losses: list[float] = field(default_factory=list)  # test cross-entropy (nats), one per evaluation

    def overfitting(self, margin: float = 0.05) -> Overfitting | None:
        """When the test loss has climbed more than ``margin`` nats above its lowest point while the training
        loss kept falling, the evidence: where the test loss was lowest, and where both stand now; else None."""
        losses, evaluations = list(self.test_losses), list(self.evaluations)[: len(self.test_losses)]
        if len(losses) < 3:
            return None
        best = min(range(len(losses)), key=losses.__getitem__)
        rising = losses[-1] > losses[best] + margin
        still_learning = evaluations[-1].train_loss < evaluations[best].train_loss
        if not (rising and still_learning):
            return None
        return Overfitting(best_step=evaluations[best].step, best_test_loss=losses[best], last_step=evaluations[-1].step,
                           last_test_loss=losses[-1], best_train_loss=evaluations[best].train_loss,
                           last_train_loss=evaluations[-1].train_loss)


@dataclass(frozen=True)
class Overfitting:
    """A classifier that learns its training sentences ever better while it gets worse on the test sentences."""

    best_step: int  # where the test loss was lowest
    best_test_loss: float
    last_step: int
    last_test_loss: float
    best_train_loss: float  # the training loss at best_step
    last_train_loss: float


@dataclass
class FineTuningRun:
    """Train the fine-tuned and the from-scratch classifier, one after the other, on the same data."""

    tokenizer: object
    train_set: list[Example]
    test_set: list[Example]
    steps: int = 100  # per classifier
    batch_size: int = 16
    learning_rate: float = 3e-4
    eval_every: int = 10
    seed: int = 1337
    base_model: str = EMBEDDED_GPT  # the embedded model fine-tuned (and whose shape is trained from scratch)
    curves: dict[str, Curve] = field(default_factory=dict)  # start -> its curve, filled while training
    models: dict[str, GPT2ForSequenceClassification] = field(default_factory=dict)
    title: str = "fine-tuning vs from scratch"

    @property
    def max_steps(self) -> int:
        return self.steps * len(STARTS)

    def execute(self, job) -> None:
        for index, start in enumerate(STARTS):
            model = classifier(start, self.tokenizer, self.seed, self.base_model)
            self.models[start] = model
            curve = self.curves[start] = Curve(start)
            settings = TrainingSettings(
                max_steps=self.steps,
                batch_size=self.batch_size,
                learning_rate=self.learning_rate,
                min_learning_rate=self.learning_rate / 10,
                warmup_steps=10,
                weight_decay=0.01,
                eval_every=self.eval_every,
                eval_batches=4,
            )
            generator = torch.Generator().manual_seed(self.seed)
            batches = sentence_batches(self.train_set, self.test_set, self.tokenizer, self.batch_size, generator)

            def record(evaluation: Evaluation, model=model, curve=curve) -> None:
                test_accuracy, test_loss = scores_on(model, self.tokenizer, self.test_set)
                curve.accuracies.append(test_accuracy)
                curve.test_losses.append(test_loss)
                curve.evaluations.append(evaluation)  # last: the page reads the lists up to this one's length

            offset = index * self.steps
            train(model, batches, settings, on_evaluation=record, should_stop=job.should_stop,
                  on_step=lambda step, loss, offset=offset: job.on_step(offset + step, loss))
            if job.should_stop():
                return


def run_on(sentiment_set: SentimentSet, tokenizer, **settings) -> FineTuningRun:
    """A run on ``sentiment_set`` with its base model; ``tokenizer`` must be that model's."""
    train_set, test_set = sentiment_set.load()
    return FineTuningRun(tokenizer, train_set, test_set, base_model=sentiment_set.base_model, **settings)


def curve_table(curves: dict[str, Curve]) -> pd.DataFrame:
    """One row per evaluation of each classifier: start, step, train_loss, test_loss, test_accuracy."""
    rows = [
        {"start": start, "step": e.step, "train_loss": e.train_loss, "test_loss": loss, "test_accuracy": accuracy}
        for start, curve in curves.items()
        for e, accuracy, loss in zip(list(curve.evaluations), list(curve.accuracies), list(curve.test_losses))
    ]
    return pd.DataFrame(rows, columns=["start", "step", "train_loss", "test_loss", "test_accuracy"])

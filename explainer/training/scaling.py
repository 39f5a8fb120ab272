"""The scaling law: how the loss falls as the model grows.

A *sweep* trains GPTs of several sizes (``explainer/training/pretraining.py``'s
``ModelSize``) on the same tokens with the same loop, and records each one's
final validation loss and its loss curve. ``fit_power_law`` then fits

    L(N) = (N_c / N)^α + L_∞

to loss against parameter count, as Kaplan et al. (2020) did: N counts the
non-embedding parameters, α is how fast the loss falls, and L_∞ is the loss
no size can beat on this data (the text's own unpredictability plus what a
fixed token budget leaves unlearnt).

``scripts/scaling_sweep.py`` runs the full sweep and commits its result to
``SWEEP_FILE``; the page can also run a mini sweep live.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from explainer.i18n import N_, _
from explainer.training.loop import TrainingSettings, causal_batches, causal_loss_on, train
from explainer.training.pretraining import ModelSize

SWEEP_FILE = Path(__file__).resolve().parents[2] / "data" / "scaling" / "sweep.json"
# A step takes about 12 ms + 0.05 µs per parameter on 2 CPU cores (the committed sweep: 20 ms at 146k parameters,
# 147 ms at 2.6M), so its fixed part weighs as much as 240k parameters.
STEP_OVERHEAD_PARAMETERS = 240_000


def _peak_learning_rate(dims: int) -> float:
    """Narrow models take larger steps: 3e-3 at 192 dims, rising as 1/width, at most 1e-2."""
    return min(1e-2, 3e-3 * 192 / dims)


def sweep_size(layers: int, heads: int, dims: int) -> ModelSize:
    return ModelSize(f"{layers}×{heads}×{dims}", layers, heads, dims, learning_rate=_peak_learning_rate(dims))


SWEEP_SIZES = tuple(sweep_size(*shape) for shape in ((1, 2, 16), (1, 2, 32), (2, 2, 64), (3, 4, 96), (4, 4, 128), (4, 4, 192)))
MINI_SWEEP_SIZES = tuple(sweep_size(*shape) for shape in ((1, 2, 8), (1, 2, 16), (1, 2, 32), (2, 2, 64)))


@dataclass(frozen=True)
class PowerLaw:
    """L(x) = (x_c / x)^alpha + l_inf."""

    x_c: float
    alpha: float
    l_inf: float

    def __call__(self, x: np.ndarray | float) -> np.ndarray | float:
        return (self.x_c / np.asarray(x, dtype=float)) ** self.alpha + self.l_inf


def fit_power_law(x: np.ndarray, loss: np.ndarray, grid: int = 2000) -> PowerLaw:
    """Least-squares fit of L(x) = (x_c / x)^α + L_∞ to points (x, loss); return the constants.

    For a fixed L_∞ the law is a straight line in log-log space,
    log(L − L_∞) = α log x_c − α log x, so each candidate L_∞ on a grid below
    the smallest loss gets its line by linear regression, and the candidate
    whose curve is closest to the losses (squared error) wins.
    """
    x, loss = np.asarray(x, dtype=float), np.asarray(loss, dtype=float)
    if len(x) < 3:
        raise ValueError(_("A power law with an offset needs at least three points."))
    best: tuple[float, PowerLaw] | None = None
    for l_inf in np.linspace(0.0, loss.min(), grid, endpoint=False):
        slope, intercept = np.polyfit(np.log(x), np.log(loss - l_inf), 1)
        alpha = -slope
        if alpha <= 0:
            continue
        law = PowerLaw(x_c=float(np.exp(intercept / alpha)), alpha=float(alpha), l_inf=float(l_inf))
        error = float(np.sum((law(x) - loss) ** 2))
        if best is None or error < best[0]:
            best = (error, law)
    if best is None:
        raise ValueError(_("The loss does not fall as the size grows, so no power law fits."))
    return best[1]


@dataclass
class SweepPoint:
    """One model of a sweep: its size, its budget and the loss it reached."""

    name: str
    layers: int
    heads: int
    dims: int
    parameters: int
    non_embedding_parameters: int
    tokens: int  # training tokens seen
    final_loss: float  # mean next-token loss (nats) over the whole validation text
    seconds: float
    curve: list[tuple[int, float]] = field(default_factory=list)  # (tokens seen, validation loss) during training


@dataclass
class ScalingSweepRun:
    """Train each size on ``token_budget`` tokens, one after another; ``points`` fill in as they finish."""

    sizes: tuple[ModelSize, ...]
    token_budget: int
    train_ids: torch.Tensor  # (N,)
    val_ids: torch.Tensor  # (M,)
    tokenizer: object
    batch_size: int = 16
    evaluations_per_model: int = 10
    seed: int = 1337
    points: list[SweepPoint] = field(default_factory=list)
    title: str = N_("a scaling sweep")  # shown with ``_()``

    @property
    def steps_per_model(self) -> int:
        return max(1, self.token_budget // (self.batch_size * self.sizes[0].context))

    @property
    def max_steps(self) -> int:
        return self.steps_per_model * len(self.sizes)

    @cached_property
    def step_costs(self) -> list[int]:
        """The relative time of one step of each size: its parameters plus a fixed overhead per step."""
        return [size.parameter_counts(len(self.tokenizer))[0] + STEP_OVERHEAD_PARAMETERS for size in self.sizes]

    def progress(self, step: int) -> float:
        """The share of the sweep's work done after ``step`` steps (counted across sizes): each size's steps
        weigh as ``step_costs`` says, so the time left is not underestimated while the small models run first."""
        costs = self.step_costs
        index, within = divmod(min(step, self.max_steps), self.steps_per_model)
        done = sum(costs[:index]) + (costs[index] * within / self.steps_per_model if index < len(costs) else 0)
        return done / sum(costs)

    def execute(self, job) -> None:
        vocab_size = len(self.tokenizer)
        for index, size in enumerate(self.sizes):
            model = size.build(vocab_size, self.tokenizer.eos_token_id, self.seed)
            settings = TrainingSettings(
                max_steps=self.steps_per_model,
                batch_size=self.batch_size,
                learning_rate=size.learning_rate,
                min_learning_rate=size.learning_rate / 10,
                warmup_steps=min(50, self.steps_per_model // 10),
                eval_every=max(1, self.steps_per_model // self.evaluations_per_model),
                eval_batches=4,
            )
            generator = torch.Generator().manual_seed(self.seed)
            batches = causal_batches(self.train_ids, self.val_ids, self.batch_size, size.context, generator)
            offset = index * self.steps_per_model
            result = train(model, batches, settings, should_stop=job.should_stop,
                           on_step=lambda step, loss, offset=offset: job.on_step(offset + step, loss))
            if result.stopped_because != "finished":
                return
            total, non_embedding = size.parameter_counts(vocab_size)
            self.points.append(SweepPoint(
                name=size.name, layers=size.layers, heads=size.heads, dims=size.dims,
                parameters=total, non_embedding_parameters=non_embedding,
                tokens=result.evaluations[-1].tokens_seen,
                final_loss=causal_loss_on(model, self.val_ids, size.context),
                seconds=result.seconds,
                curve=[(e.tokens_seen, e.val_loss) for e in result.evaluations],
            ))


def save_sweep(run: ScalingSweepRun, path: Path, command: str, corpus: str) -> dict:
    """Write a finished sweep, with the fit, the machine and the time taken, as JSON; return the record."""
    law = fit_power_law([p.non_embedding_parameters for p in run.points], [p.final_loss for p in run.points])
    record = {
        "command": command,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "corpus": corpus,
        "token_budget": run.token_budget,
        "context": run.sizes[0].context,
        "batch_size": run.batch_size,
        "seed": run.seed,
        "minutes": round(sum(p.seconds for p in run.points) / 60, 1),
        "fit": asdict(law),
        "points": [asdict(p) for p in run.points],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))
    return record


def load_sweep(path: Path = SWEEP_FILE) -> tuple[dict, list[SweepPoint], PowerLaw]:
    """Return a saved sweep's record, its points and its fitted power law."""
    record = json.loads(path.read_text())
    points = [SweepPoint(**{**p, "curve": [tuple(c) for c in p["curve"]]}) for p in record["points"]]
    return record, points, PowerLaw(**record["fit"])


def points_table(points: list[SweepPoint]) -> pd.DataFrame:
    """One row per model: name, layers, heads, dims, parameters, non_embedding_parameters, tokens, final_loss, seconds."""
    return pd.DataFrame([{k: v for k, v in asdict(p).items() if k != "curve"} for p in points])


def curves_table(points: list[SweepPoint]) -> pd.DataFrame:
    """Every model's validation loss during training: name, tokens_seen, val_loss."""
    rows = [{"name": p.name, "tokens_seen": t, "val_loss": loss} for p in points for t, loss in p.curve]
    return pd.DataFrame(rows, columns=["name", "tokens_seen", "val_loss"])


def fitted_line(law: PowerLaw, low: float, high: float, samples: int = 50) -> pd.DataFrame:
    """The law evaluated from ``low`` to ``high`` (log-spaced): columns x, loss."""
    x = np.logspace(np.log10(low), np.log10(high), samples)
    return pd.DataFrame({"x": x, "loss": law(x)})

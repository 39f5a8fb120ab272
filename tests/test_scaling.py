"""The scaling law: the fit recovers known constants, and the committed sweep is what the page shows."""

import numpy as np
import pytest
import torch

from explainer.corpus import shipped_prose
from explainer.training.jobs import JobBoard
from explainer.training.pretraining import join_token_ids
from explainer.training.scaling import (
    MINI_SWEEP_SIZES,
    PowerLaw,
    ScalingSweepRun,
    SweepPoint,
    fit_power_law,
    load_sweep,
)


def test_the_fit_recovers_known_constants_from_synthetic_data():
    sizes = np.logspace(3, 7, 9)
    truth = PowerLaw(x_c=2e4, alpha=0.3, l_inf=1.8)
    fitted = fit_power_law(sizes, truth(sizes))
    assert fitted.alpha == pytest.approx(0.3, rel=0.02)
    assert fitted.l_inf == pytest.approx(1.8, abs=0.01)
    assert fitted.x_c == pytest.approx(2e4, rel=0.1)


def test_the_fit_stays_close_under_noise():
    sizes = np.logspace(3, 7, 12)
    truth = PowerLaw(x_c=1e5, alpha=0.5, l_inf=3.0)
    noisy = truth(sizes) * (1 + np.random.default_rng(0).normal(0, 0.003, len(sizes)))
    fitted = fit_power_law(sizes, noisy)
    assert fitted.alpha == pytest.approx(0.5, rel=0.15) and fitted.l_inf == pytest.approx(3.0, abs=0.1)


def test_a_fit_needs_three_points_and_a_falling_loss():
    with pytest.raises(ValueError, match="three points"):
        fit_power_law([1, 2], [3, 2])
    with pytest.raises(ValueError, match="does not fall"):
        fit_power_law([1, 10, 100], [1.0, 2.0, 3.0])


def test_the_committed_sweep_has_at_least_five_sizes_and_its_fit_is_the_fit_of_its_points():
    record, points, law = load_sweep()
    assert len(points) >= 5 and record["machine"] and record["minutes"] > 0
    assert record["command"].startswith("python scripts/scaling_sweep.py")
    assert all(p.tokens >= record["token_budget"] * 0.9 for p in points)
    refit = fit_power_law([p.non_embedding_parameters for p in points], [p.final_loss for p in points])
    assert (refit.alpha, refit.l_inf) == pytest.approx((law.alpha, law.l_inf))
    assert points[-1].final_loss < points[0].final_loss  # bigger models reached a lower loss


@pytest.mark.slow
def test_a_mini_sweep_trains_every_size_on_the_same_budget(gpt):
    train_texts, val_texts = shipped_prose()
    run = ScalingSweepRun(MINI_SWEEP_SIZES[:3], 4_000, join_token_ids(gpt.tokenizer, [train_texts[0][:50_000]]),
                          join_token_ids(gpt.tokenizer, [val_texts[0][:5_000]]), gpt.tokenizer)
    job = JobBoard().start("test", run, max_seconds=120)
    job.thread.join(120)
    assert job.state == "finished", job.error
    assert [p.name for p in run.points] == [s.name for s in MINI_SWEEP_SIZES[:3]]
    assert len({p.tokens for p in run.points}) == 1 and all(p.curve for p in run.points)


def test_the_progress_of_a_sweep_weighs_each_size_by_the_time_its_steps_take(gpt):
    ids = torch.arange(5000) % 100
    run = ScalingSweepRun(MINI_SWEEP_SIZES, 4 * 16 * 64, ids, ids, gpt.tokenizer)  # 4 steps per size
    costs = run.step_costs
    assert costs == sorted(costs) and costs[-1] > 2 * costs[0]  # larger models take longer per step
    assert run.progress(0) == 0 and run.progress(run.max_steps) == 1
    assert run.progress(run.steps_per_model) == pytest.approx(costs[0] / sum(costs))  # the first size done
    assert run.progress(run.steps_per_model // 2) == pytest.approx(costs[0] / 2 / sum(costs))
    assert run.progress(run.steps_per_model) < 1 / len(MINI_SWEEP_SIZES)  # not a quarter: the small size is cheap


@pytest.mark.slow
def test_a_finished_mini_sweep_is_set_beside_the_committed_one_and_the_difference_explained(gpt):
    from pages.live_training import job_board
    from tests.app_harness import open_page

    ids = torch.arange(5000) % 100
    run = ScalingSweepRun(MINI_SWEEP_SIZES, 400_000, ids, ids, gpt.tokenizer)

    def finish_at_once(job) -> None:  # points shaped like a real mini sweep's, without the minutes of training
        for index, size in enumerate(MINI_SWEEP_SIZES):
            total, non_embedding = size.parameter_counts(len(gpt.tokenizer))
            run.points.append(SweepPoint(size.name, size.layers, size.heads, size.dims, total, non_embedding,
                                         400_000, 6.5 - 0.4 * index**0.8, 10.0, [(0, 8.3), (400_000, 6.5)]))

    run.execute = finish_at_once
    app = open_page("pages/scaling_law.py")
    job = job_board().start(app.session_state["training_owner"], run, 60)
    job.thread.join(60)
    app.run()
    assert not app.exception
    mini = fit_power_law([p.non_embedding_parameters for p in run.points], [p.final_loss for p in run.points])
    committed = load_sweep()[2]
    explained = next(m.value for m in app.markdown if "Why the two fits differ" in m.value)
    assert f"α = {mini.alpha:.3f}" in explained and f"α = {committed.alpha:.3f}" in explained

"""Generation runs through model.generate, and the page shows what it did."""

import html

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explainer.generation import attention_from_generated, generate
from explainer.prediction import SamplingSettings, reshape
from tests.app_harness import APP

PROMPT = "It is a truth universally acknowledged"


def test_greedy_picks_the_top_token_of_the_plain_softmax(gpt):
    result = generate(gpt, PROMPT, 4, "greedy")
    ids = torch.tensor([result.prompt_ids])
    with torch.no_grad():
        expected = gpt.model.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=0)[0, ids.shape[1] :]
    assert result.generated_ids == expected.tolist()
    assert all(step.model_rank == 1 and step.chosen_id == step.top_ids[0] for step in result.steps)


def test_sampling_is_seeded_and_prefix_stable(gpt):
    settings = SamplingSettings(temperature=0.9, top_k=30)
    short = generate(gpt, PROMPT, 3, "sample", settings, seed=5)
    long = generate(gpt, PROMPT, 6, "sample", settings, seed=5)
    assert long.generated_ids[:3] == short.generated_ids
    assert generate(gpt, PROMPT, 6, "sample", settings, seed=5).generated_ids == long.generated_ids


def test_each_step_shows_the_distribution_it_was_drawn_from(gpt):
    settings = SamplingSettings(temperature=0.7, top_k=20, top_p=0.9)
    result = generate(gpt, PROMPT, 3, "sample", settings, seed=1)
    ids = result.prompt_ids
    for step in result.steps:
        with torch.no_grad():
            logits = gpt.model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
        expected = reshape(logits, settings)  # the warped distribution, computed independently
        assert step.chosen_probability == pytest.approx(float(expected[step.chosen_id]), abs=1e-5)
        assert expected[step.chosen_id] > 0  # a filtered-out token is never drawn
        ids = ids + [step.chosen_id]


def test_beam_search_matches_generate(gpt):
    result = generate(gpt, PROMPT, 4, "beam", beams=3)
    ids = torch.tensor([result.prompt_ids])
    with torch.no_grad():
        expected = gpt.model.generate(ids, max_new_tokens=4, min_new_tokens=4, num_beams=3, do_sample=False,
                                      early_stopping=False, pad_token_id=0)
    assert result.generated_ids == expected[0, ids.shape[1] :].tolist()


def test_attention_of_generated_tokens_is_the_models_own_mean_over_heads(gpt):
    result = generate(gpt, PROMPT, 3, "greedy")
    weights = attention_from_generated(gpt, result.all_ids, len(result.prompt_ids))
    assert weights.shape == (gpt.model.config.n_layer, 3, len(result.all_ids))
    with torch.no_grad():  # an independent forward pass with the hooks off: the model's own attention
        own = gpt.model(input_ids=torch.tensor([result.all_ids]), output_attentions=True).attentions  # L × (1, H, N, N)
    for layer, attention in enumerate(own):
        expected = attention[0, :, len(result.prompt_ids):].mean(dim=0)  # (G, N): the generated rows, mean of heads
        np.testing.assert_allclose(weights[layer], expected.numpy(), atol=1e-6)
    assert weights.sum(axis=-1) == pytest.approx(1.0, abs=1e-5)
    assert (weights[:, 0, len(result.prompt_ids) + 1 :] == 0).all()  # the first new token can't see the later ones


def test_masked_models_cannot_generate(bert):
    with pytest.raises(ValueError, match="causal"):
        generate(bert, PROMPT, 2)


@pytest.mark.slow
def test_page_steps_forward_and_shows_the_generated_tokens(gpt):
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.text_area(key="prompt").set_value(PROMPT)
    app.switch_page("pages/generation.py").run()
    assert any("Press **Step**" in i.value for i in app.info)
    next(b for b in app.button if b.label == "Step").click().run()
    next(b for b in app.button if b.label.startswith("Run")).click().run()
    assert not app.exception and not app.error
    assert app.session_state["generation_steps"] == 11
    expected = generate(gpt, PROMPT, 11, "greedy")
    shown = [element.proto.body for element in app.get("html")]  # the text so far: escaped HTML, never Markdown
    assert any(html.escape(expected.text) in body for body in shown)


@pytest.mark.slow
def test_page_explains_that_bert_cannot_generate():
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.sidebar.selectbox(key="model_choice").set_value("tiny-bert-austen")
    app.switch_page("pages/generation.py").run()
    next(b for b in app.button if b.label == "Step").click().run()
    assert not app.exception
    assert any("masked model" in i.value for i in app.info)

"""Chain of thought: the task, the held-out split, parity of the token-by-token answers with plain transformers, and
the accuracies shown equal to a one-problem-at-a-time computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from explainer import chain_of_thought as cot
from explainer.models import EMBEDDED_DIR

EXAMPLE = cot.Problem((3, 5, 8, 2, 9, 4, 1, 7))


@pytest.fixture(scope="module")
def trained():
    return {style: cot.load_trained(style).model for style in cot.STYLES}


@pytest.fixture(scope="module")
def held_out():
    return cot.split_problems()[1]


def test_the_two_formats_are_long_division():
    assert EXAMPLE.prompt == "35829417=" and EXAMPLE.number == 35829417 == 7 * 5118488 + 1
    assert EXAMPLE.target("direct") == "1"
    assert EXAMPLE.target("steps") == "3,0,1,5,3,6,5,1=1"
    assert EXAMPLE.steps() == [int(str(EXAMPLE.number)[:k]) % 7 for k in range(1, 9)]
    assert len(EXAMPLE.prompt + EXAMPLE.target("steps")) + 1 <= cot.CONTEXT


@pytest.mark.parametrize("text", ["35829417", " 3582 9417 "])
def test_a_problem_is_read(text):
    assert cot.parse_problem(text) == EXAMPLE


@pytest.mark.parametrize("text", ["", "   ", "3582", "358294170", "3582941x", "<b>1</b>", "35829417🙂", "3582\x009417",
                                  "1" * 5000, "[a](http://x)", "３5829417", "-35829417", "3582.9417"])
def test_bad_input_gets_a_message(text):
    with pytest.raises(ValueError, match="."):
        cot.parse_problem(text)


def test_the_held_out_problems_are_never_trained_on():
    numbers, held_out = cot.split_problems()
    assert len(held_out) == cot.HELD_OUT >= 500 and {p.number for p in held_out} == numbers
    assert cot.split_problems()[1] == held_out  # the seed fixes them
    sample = cot.training_batches(numbers, "steps", 256, torch.Generator().manual_seed(0))
    for _ in range(4):
        for row in sample("train")["input_ids"].tolist():
            assert cot.Problem(tuple(int(cot.VOCABULARY[i]) for i in row[: cot.DIGITS])).number not in numbers


def test_the_loss_is_only_on_what_the_model_writes():
    batch = cot.training_batches(set(), "direct", 4, torch.Generator().manual_seed(0))("train")
    ids, labels = batch["input_ids"], batch["labels"]  # (B, T)
    prompt = len(EXAMPLE.prompt)
    assert (labels[:, :prompt] == -100).all()
    written = labels[0][labels[0] != -100].tolist()
    assert written == ids[0, prompt: prompt + len(written)].tolist() and written[-1] == 0  # ends with <eos>


def test_both_models_train_on_the_same_tokens_from_the_same_problems():
    recipe = cot.Recipe()
    assert (cot.example_tokens("direct"), cot.example_tokens("steps")) == (11, 27)  # "35829417=1" and <eos>; …
    batches = {style: cot.training_batches(set(), style, 64, torch.Generator().manual_seed(0))("train")["input_ids"]
               for style in cot.STYLES}
    for style, ids in batches.items():
        assert ids.shape[1] == cot.example_tokens(style)  # every problem as long as the next: no padding
    assert torch.equal(batches["direct"][:, : cot.DIGITS], batches["steps"][:, : cot.DIGITS])  # the same problems
    assert recipe.steps_for("steps") == recipe.steps and recipe.steps_for("direct") == 3682  # 1500 × 27 / 11
    assert abs(recipe.tokens("direct") - recipe.tokens("steps")) <= recipe.batch_size * cot.example_tokens("direct")


def test_the_saved_tokenizer_reads_one_character_per_token():
    tokenizer = AutoTokenizer.from_pretrained(EMBEDDED_DIR / cot.MODEL_NAMES["steps"], local_files_only=True)
    text = EXAMPLE.prompt + EXAMPLE.target("steps")
    assert tokenizer(text)["input_ids"] == cot.encode(text)
    assert tokenizer.decode(cot.encode(text)) == text and tokenizer.eos_token_id == 0


def test_the_models_are_small_gpt2s_with_eager_attention(trained):
    for model in trained.values():
        assert isinstance(model, GPT2LMHeadModel) and model.config._attn_implementation == "eager"
        assert sum(p.numel() for p in model.parameters()) < 500_000


@pytest.mark.slow
@pytest.mark.parametrize("style", cot.STYLES)
def test_answers_and_probabilities_equal_generate(trained, held_out, style):
    model = trained[style]
    for problem in [EXAMPLE, *held_out[:2]]:
        result = cot.answer(model, problem)
        prompt = torch.tensor([cot.encode(problem.prompt)])
        output = model.generate(prompt, max_new_tokens=cot.CONTEXT - prompt.shape[1], do_sample=False,
                                output_scores=True, return_dict_in_generate=True, pad_token_id=0, eos_token_id=0)
        written = output.sequences[0, prompt.shape[1]:].tolist()
        assert [cot.VOCABULARY[i] for i in written] == result.tokens
        chosen = [float(torch.softmax(score[0], -1)[i]) for score, i in zip(output.scores, written)]
        np.testing.assert_allclose(result.probabilities, chosen, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_the_attention_equals_one_forward_pass_over_the_whole_text(trained):
    model = trained["steps"]
    result = cot.answer(model, EXAMPLE)
    ids = torch.tensor([cot.encode(EXAMPLE.prompt + result.text)])  # without the final <eos>
    with torch.no_grad():
        attentions = torch.stack(model(input_ids=ids, output_attentions=True).attentions)[:, 0]  # (L, H, T, T)
    prompt = len(EXAMPLE.prompt)
    for i in range(len(result.text)):  # the pass that wrote token i reads the tokens up to position prompt + i - 1
        np.testing.assert_allclose(result.attention[:, :, i, : prompt + i], attentions[:, :, prompt + i - 1, : prompt + i],
                                   atol=1e-5)
    matrix, queries, keys = cot.writing_attention(result, layer=1)
    width = len(keys)
    assert width == prompt + len(result.text) - 1 and keys[:prompt] == list(EXAMPLE.prompt)
    assert len(queries) == len(matrix) == len(result.text) and queries[-1] == "="  # the last pass wrote the answer
    for i in range(len(result.text)):
        np.testing.assert_allclose(matrix[i, : prompt + i], attentions[1, :, prompt + i - 1, : prompt + i].mean(0), atol=1e-5)
    everything, _, _ = cot.writing_attention(result)
    np.testing.assert_allclose(everything[-1], attentions[:, :, width - 1, :width].mean((0, 1)), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("style", cot.STYLES)
def test_the_accuracy_shown_equals_greedy_generate_one_problem_at_a_time(trained, held_out, style):
    shown = cot.load_results()["models"][style]["held_out_accuracy"]
    assert cot.accuracy(trained[style], held_out) == shown  # the whole held-out set, in batches
    sample = held_out[:30]
    one_at_a_time = []
    for problem in sample:
        prompt = torch.tensor([cot.encode(problem.prompt)])
        out = trained[style].generate(prompt, max_new_tokens=cot.CONTEXT - prompt.shape[1], do_sample=False,
                                      pad_token_id=0, eos_token_id=0)[0, prompt.shape[1]:].tolist()
        text = "".join(cot.VOCABULARY[i] for i in out).split(cot.EOS)[0]
        one_at_a_time.append(text.rsplit("=", 1)[-1] == str(problem.answer))
    assert cot.accuracy(trained[style], sample, batch_size=64) == np.mean(one_at_a_time)


def test_the_results_say_what_was_equal_and_how_they_were_made():
    results = cot.load_results()
    assert results["command"].startswith("python scripts/train_chain_of_thought.py")
    assert results["held_out_problems"] == cot.HELD_OUT
    direct, steps = (results["models"][s] for s in cot.STYLES)
    recipe = cot.Recipe(**results["recipe"])
    assert steps["steps"] == recipe.steps < direct["steps"] == recipe.steps_for("direct")  # shorter examples, more steps
    for model in (direct, steps):
        assert model["problems_seen"] == model["steps"] * recipe.batch_size
    assert abs(direct["tokens_seen"] - steps["tokens_seen"]) <= recipe.batch_size * cot.example_tokens("direct")
    for style in cot.STYLES:
        folder = EMBEDDED_DIR / cot.MODEL_NAMES[style]
        assert (folder / "model.safetensors").stat().st_size == results["models"][style]["bytes"] < 2_000_000
        assert not list(folder.glob("*.bin"))


class FakeJob:
    def __init__(self):
        self.steps = []

    def should_stop(self):
        return False

    def on_step(self, step, loss=None):
        self.steps.append(step)


@pytest.mark.slow
def test_the_small_live_run_trains_both_on_the_same_seed_the_same_way():
    recipe = cot.Recipe(steps=3, batch_size=4)
    runs = [cot.ChainOfThoughtRun(recipe=recipe, sample=10) for _ in range(2)]
    for run in runs:
        job = FakeJob()
        run.execute(job)
        direct, steps = recipe.steps_for("direct"), recipe.steps_for("steps")
        assert (direct, steps) == (7, 3)  # 3 steps × 27 tokens ≈ 7 steps × 11 tokens
        assert job.steps == list(range(1, direct + steps + 1)) and set(run.accuracies) == set(cot.STYLES)
        assert run.progress(0) == 0 and run.progress(direct) == 0.5 and run.progress(direct + steps) == 1
        assert 0 < run.progress(1) < run.progress(direct - 1) < 0.5 < run.progress(direct + 1) < 1
    for style in cot.STYLES:
        for a, b in zip(runs[0].models[style].parameters(), runs[1].models[style].parameters()):
            assert torch.equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_answers_and_refuses_bad_input_in_both_languages(lang):
    from tests.app_harness import open_page

    app = open_page("pages/chain_of_thought.py", prompt=None, lang=lang)
    assert not app.exception
    assert len(app.get("plotly_chart")) >= 4
    for bad in ("<img src=x onerror=alert(1)>", "3582941🙂7", "1" * 39):
        app.text_input(key="cot_problem").set_value(bad).run()
        assert not app.exception and len(app.warning) == 1
    app.text_input(key="cot_problem").set_value("98765432").run()
    assert not app.exception and not app.warning
    assert any("98765432 = 7 × 14109347 + 3" in caption.value for caption in app.caption)

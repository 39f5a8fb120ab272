"""Train the two chain-of-thought models on CPU, one thread, with a fixed seed; measure them on held-out problems.

    python scripts/train_chain_of_thought.py             # both models, about three minutes in all on one thread
    python scripts/train_chain_of_thought.py --steps 300  # a quick, weaker rebuild (steps of the longer examples)

Writes models/tiny-cot-direct/ and models/tiny-cot-steps/ (GPT2LMHeadModel, fp16 safetensors, a character
tokenizer that AutoTokenizer reads) and data/chain_of_thought/results.json: each model's held-out accuracy, how
often it wrote each answer, parameters, bytes, training seconds, steps, problems and tokens seen, with the recipe,
the seed, the machine and this command. The accuracies are measured on the weights as saved (fp16), loaded back
the way the app loads them.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from collections import Counter

import torch

from explainer import chain_of_thought as cot
from explainer.models import EMBEDDED_DIR

EXAMPLE = cot.Problem((3, 5, 8, 2, 9, 4, 1, 7))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=cot.Recipe.steps)
    parser.add_argument("--seed", type=int, default=cot.SEED)
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    recipe = cot.Recipe(steps=arguments.steps, seed=arguments.seed)
    numbers, held_out = cot.split_problems(recipe.seed)
    report = {
        "task": f"the remainder of an {cot.DIGITS}-digit number divided by {cot.DIVISOR}",
        "formats": {style: EXAMPLE.prompt + EXAMPLE.target(style) for style in cot.STYLES},
        "equalised": "tokens trained on (and so about the same training computation, about 6 × parameters × tokens), "
                     "architecture, initial weights, batch size (problems per step), learning rate, seed and the "
                     "problems drawn in each batch; not steps: the direct model's examples are shorter, so it takes "
                     "more steps, and sees more problems, to train on as many tokens",
        "recipe": vars(recipe),
        "architecture": {"family": "GPT2LMHeadModel", "layers": recipe.layers, "heads": recipe.heads, "dims": recipe.dims,
                         "context": cot.CONTEXT, "vocabulary": len(cot.VOCABULARY)},
        "seed": recipe.seed,
        "held_out_problems": len(held_out),
        "held_out_rule": f"{cot.HELD_OUT} problems drawn by random.Random(seed) from all 10^{cot.DIGITS}; never in training",
        "models": {},
        "command": shlex.join(["python", "scripts/train_chain_of_thought.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {platform.processor() or 'CPU'}, torch {torch.__version__}, 1 thread",
        "date": time.strftime("%Y-%m-%d"),
    }
    tokenizer = cot.character_tokenizer()
    for style in cot.STYLES:
        model, seconds, steps = cot.train_one(style, recipe, numbers)
        folder = EMBEDDED_DIR / cot.MODEL_NAMES[style]
        model.half().save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        loaded = cot.load_trained(style).model  # the fp16 weights, as the app reads them
        answers = [cot.answer(loaded, problem) for problem in held_out[:3]]
        report["models"][style] = {
            "folder": f"models/{cot.MODEL_NAMES[style]}",
            "held_out_accuracy": cot.accuracy(loaded, held_out),
            "answers_written": dict(Counter(cot.greedy_answers(loaded, held_out)).most_common()),
            "parameters": sum(p.numel() for p in loaded.parameters()),
            "bytes": (folder / "model.safetensors").stat().st_size,
            "training_seconds": round(seconds, 1),
            "steps": steps,
            "problems_seen": steps * recipe.batch_size,
            "tokens_seen": steps * recipe.batch_size * cot.example_tokens(style),
            "tokens_seen_how": "problems seen × tokens per problem (number, =, what it writes, <eos>); no padding",
            "tokens_written_per_answer": cot.example_tokens(style) - len(held_out[0].prompt),
            "examples": {a.problem.prompt: a.text for a in answers},
        }
        print(style, json.dumps(report["models"][style]), flush=True)
    cot.RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    cot.RESULTS_FILE.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_cards(report)


def write_cards(report: dict) -> None:
    """Each model's README: what it learned, how it was made, and how often it is right on held-out problems."""
    for style, model in report["models"].items():
        other = next(s for s in report["models"] if s != style)
        recipe, shape = report["recipe"], report["architecture"]
        (EMBEDDED_DIR / cot.MODEL_NAMES[style] / "README.md").write_text(f"""# {cot.MODEL_NAMES[style]}

One of the two models of the explainer's Chain of thought page, trained from scratch in this repository by
`{report["command"]}` ({report["date"]}; {report["machine"]}).

## Task
{report["task"][0].upper() + report["task"][1:]}. This model writes `{report["formats"][style]}`; its twin,
`{cot.MODEL_NAMES[other]}`, writes `{report["formats"][other]}`. Problems are generated by `explainer/chain_of_thought.py`
with `random.Random({report["seed"]})`; {report["held_out_rule"]}.

## Model
- {shape["family"]}: {shape["layers"]} layers × {shape["heads"]} heads × {shape["dims"]} dims, context {shape["context"]},
  a {shape["vocabulary"]}-token character vocabulary; {model["parameters"]:,} parameters, fp16 safetensors
  ({model["bytes"]:,} bytes).
- Trained {model["steps"]:,} steps × {recipe["batch_size"]} problems, learning rate {recipe["learning_rate"]}, in
  {model["training_seconds"]} s on one CPU thread; {model["tokens_seen"]:,} tokens seen. Equal for both models:
  {report["equalised"]}.

## Held-out accuracy
{model["held_out_accuracy"]:.1%} of {report["held_out_problems"]:,} problems exactly right (greedy decoding), against
{report["models"][other]["held_out_accuracy"]:.1%} for `{cot.MODEL_NAMES[other]}`. Results:
`data/chain_of_thought/results.json`.

## Licence
MIT, like the code: generated problems, trained here.
""", encoding="utf-8")


if __name__ == "__main__":
    main()

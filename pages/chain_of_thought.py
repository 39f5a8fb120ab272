"""Chain of thought: two tiny GPTs trained here on long division (an 8-digit number mod 7), one answering at once, one
writing the steps first; and, online, an instruct model prompted three ways."""

import pandas as pd
import streamlit as st

from explainer import chain_of_thought as cot
from explainer import plots
from explainer.i18n import N_, _, labelled, lazy
from explainer.plots.style import source_line
from pages.live_training import live_panel, my_job, train_button
from pages.shared import chart, csv_download, literal, page_header

PROBLEM_INPUT = "cot_problem"
MEAN = -1  # the layer choice "mean of all layers"

page_header(_("Chain of thought"), _("Do intermediate steps help a model answer?"))


@st.cache_resource(show_spinner=lazy(N_("Loading the model…")))
def trained_model(style: str):
    return cot.load_trained(style)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_answer(style: str, digits: tuple[int, ...]) -> cot.Answer:
    return cot.answer(trained_model(style).model, cot.Problem(digits))


def offline_part() -> None:
    results = cot.load_results()
    example = cot.Problem((3, 5, 8, 2, 9, 4, 1, 7))
    st.markdown(_(
        """
**The task:** the remainder of an {n}-digit number divided by {divisor}, as in long division.
**The two students:** two small GPT-2 models of the same shape ({layers} layers × {heads} heads × {dims} dims,
{parameters:,} parameters each), trained here from the same random weights on the same problems in the same order,
each on as many tokens.
- **direct answer** learns to write the remainder at once: `{direct}`
- **steps first** learns to write long division's running remainders first (of {first}, {two}, {three}, … divided
  by {divisor}), then the answer: `{steps}`

Both read the number and `=`, and write the rest one character (one token) at a time.
"""
    ).format(n=cot.DIGITS, divisor=cot.DIVISOR, first=example.prompt[:1], two=example.prompt[:2],
             three=example.prompt[:3], layers=results["architecture"]["layers"], heads=results["architecture"]["heads"],
             dims=results["architecture"]["dims"], parameters=results["models"]["direct"]["parameters"],
             direct=example.prompt + example.target("direct"), steps=example.prompt + example.target("steps")))

    table = pd.DataFrame([{"model": _(cot.STYLE_NAMES[style]), "accuracy": results["models"][style]["held_out_accuracy"],
                           "problems": results["held_out_problems"]} for style in cot.STYLES])
    figure_box, numbers_box = st.columns([3, 2])
    with figure_box:
        chart(plots.cot_accuracy_bars(table), table, "chain_of_thought_accuracy",
              _("Right on {n:,} held-out problems").format(n=results["held_out_problems"]),
              source=" · ".join(cot.MODEL_NAMES.values()))
        st.caption(_("Chance, guessing a remainder from 0 to {top}: one time in {divisor} ({chance:.0%}).").format(
            top=cot.DIVISOR - 1, divisor=cot.DIVISOR, chance=1 / cot.DIVISOR))
        for style in cot.STYLES:
            written = results["models"][style]["answers_written"]  # {answer: how many held-out problems got it}
            if len(written) == 1:
                st.caption(_("**{model}** writes {answer} for every held-out problem: it has learnt what an answer "
                             "looks like, not how to find it. Its score is the share of problems whose remainder "
                             "happens to be {answer}.").format(model=_(cot.STYLE_NAMES[style]), answer=next(iter(written))))
    with numbers_box:
        direct, steps = (results["models"][style] for style in cot.STYLES)
        st.markdown(_(
            """
**What was equal:** the tokens each model trained on ({tokens:,}), and so about the same training computation; the
architecture, the starting weights, the learning rate, the seed, and the problems drawn, {batch} at each step.

**What was not:** a direct example is shorter, so the direct model took more steps to train on as many tokens:
{direct_steps:,} against {steps_steps:,}. It saw more problems ({direct_examples:,} against {steps_examples:,}), not
fewer. When it answers, the steps model does more computation per problem: one pass through the model per token
it writes.

Training took {direct_seconds:.0f} s and {steps_seconds:.0f} s on one CPU thread. Command: `{command}`
"""
        ).format(tokens=steps["tokens_seen"], batch=results["recipe"]["batch_size"],
                 direct_steps=direct["steps"], steps_steps=steps["steps"],
                 direct_examples=direct["problems_seen"], steps_examples=steps["problems_seen"],
                 direct_seconds=direct["training_seconds"], steps_seconds=steps["training_seconds"],
                 command=results["command"]))

    st.subheader(_("Try a problem"))
    text = st.text_input(_("A number of {n} digits").format(n=cot.DIGITS), example.prompt.rstrip("="),
                         max_chars=cot.MAX_INPUT_CHARACTERS, key=PROBLEM_INPUT)
    try:
        problem = cot.parse_problem(text)
    except ValueError as problem_text:
        st.warning(str(problem_text), icon=":material/edit:")
        return
    held_out = problem.number in cot.split_problems(results["seed"])[0]
    st.caption((_("{number} = {divisor} × {quotient} + {total}. This problem is one of the held-out ones: neither "
                  "model saw it in training.")
                if held_out else
                _("{number} = {divisor} × {quotient} + {total}. Training drew at most {examples:,} random problems "
                  "out of 100 million, so the models have most likely never seen this one either.")).format(
        number=problem.number, divisor=cot.DIVISOR, quotient=problem.number // cot.DIVISOR, total=problem.answer,
        examples=max(model["problems_seen"] for model in results["models"].values())))
    answers = {style: cached_answer(style, problem.digits) for style in cot.STYLES}
    for style, result in answers.items():
        mark = ":green[:material/check_circle:]" if result.correct else ":red[:material/cancel:]"
        st.markdown(_("{mark} **{model}** wrote {text}").format(
            mark=mark, model=_(cot.STYLE_NAMES[style]), text=literal(problem.prompt + result.text)))
        rows = pd.DataFrame({"position": range(1, len(result.tokens) + 1), "token": result.tokens,
                             "probability": result.probabilities})
        chart(plots.cot_token_probabilities(result.tokens, result.probabilities,
                                            result.answer_positions[0] if result.answer_positions else len(result.tokens)),
              rows, f"chain_of_thought_tokens_{style}",
              _("{model}: each written token and its probability").format(model=_(cot.STYLE_NAMES[style])),
              source=source_line(cot.MODEL_NAMES[style], problem.prompt))
    st.caption(_("Red: the answer's digits. Blue: the steps. Each bar is the probability the model gave the token it "
                 "chose (greedy: always the most likely one)."))

    st.subheader(_("Where the answer looks"))
    steps_answer = answers["steps"]
    if not steps_answer.answer_positions:
        st.info(_("The steps model wrote no answer after its steps for this problem."), icon=":material/info:")
    else:
        layers = steps_answer.attention.shape[0]
        options = [MEAN, *range(layers)]
        layer = st.radio(_("Layer"), options, horizontal=True, key="cot_layer", format_func=labelled(
            options, lambda i: _("mean of all layers") if i == MEAN else _("layer {i}").format(i=i)))
        matrix, queries, keys = cot.writing_attention(steps_answer, None if layer == MEAN else layer)
        data = pd.DataFrame(matrix, index=queries, columns=[f"{i}:{k}" for i, k in enumerate(keys)]).reset_index(
            names="query")
        chart(plots.attention_rows(matrix, queries, keys, ""), data, "chain_of_thought_attention",
              _("Steps model: where each pass looked while writing the steps and the answer (mean of the heads)"),
              source=source_line(cot.MODEL_NAMES["steps"], problem.prompt))
        st.caption(_("Each row is the pass that wrote one token; it reads the token before it, so the row is labelled "
                     "with that token. The last row wrote the answer. Dark cells: the earlier tokens that pass drew "
                     "the most from. A step that looks at the next digit of the number and at the last remainder is "
                     "doing long division; an answer that looks at the last remainder is read off the steps rather "
                     "than worked out again from the number."))

    st.subheader(_("Why steps help, and when they do not"))
    st.markdown(_(
        """
**Every token a model writes is one more full pass through all its layers.** A model of {layers} layers has
{layers} layers of computation to turn what it has read into its next token; no more. The direct model must find
the remainder of the whole {n}-digit number inside the one pass that writes it. The steps model does one move of
long division per step: the remainder of (10 × the last remainder + the next digit) divided by {divisor}, a small
table it can learn. Once written, a remainder is text that the next pass reads back through attention. The work of one hard
pass is spread over many easy ones; the written steps are the model's working memory.

**Steps do not help** when one pass is already enough: in a pilot we did not ship, the same pair learnt to *add*
{n} digits, and the direct model was right on 99% of 300 held-out problems too (one layer of attention can gather
all the digits at once, and adding needs no order). Nor do they help when the steps are wrong or the model has not
learnt to use them (a wrong remainder is carried into the answer), or when the problem needs knowledge, not
computation (a capital city is recalled, not worked out). And they cost time: here the steps model writes about
{ratio:.1f}× as many tokens per answer, and each token is a pass.
"""
    ).format(layers=results["architecture"]["layers"], n=cot.DIGITS, divisor=cot.DIVISOR,
             ratio=results["models"]["steps"]["tokens_written_per_answer"]
             / results["models"]["direct"]["tokens_written_per_answer"]))

    st.subheader(_("Retrain both, small"))
    small = cot.ChainOfThoughtRun.recipe
    st.markdown(_("Train both models again here, from the same seed, on {tokens:,} tokens each ({direct_steps:,} "
                  "steps of {batch} problems for the direct model, {steps:,} for the steps model; the models above "
                  "trained on {full_tokens:,}), "
                  "then measure them on {n} held-out problems. It takes about a minute on a free CPU "
                  "thread, longer when the server is busy.").format(
        tokens=small.tokens("steps"), steps=small.steps_for("steps"), direct_steps=small.steps_for("direct"),
        batch=small.batch_size, full_tokens=results["models"]["steps"]["tokens_seen"], n=cot.ChainOfThoughtRun.sample))
    train_button(_("Retrain both, small"), cot.ChainOfThoughtRun, max_seconds=240)
    job = my_job(cot.ChainOfThoughtRun)
    if job is not None:
        live_panel(job, draw_run)


def draw_run(run: cot.ChainOfThoughtRun) -> None:
    """The short run's held-out accuracies, as each model finishes."""
    if not run.accuracies:
        return
    table = pd.DataFrame([{"model": _(cot.STYLE_NAMES[style]), "accuracy": accuracy, "problems": run.sample}
                          for style, accuracy in run.accuracies.items()])
    columns = st.columns(len(cot.STYLES))
    for column, (style, accuracy) in zip(columns, run.accuracies.items()):
        column.metric(_("{model}: held-out accuracy").format(model=_(cot.STYLE_NAMES[style])), f"{accuracy:.1%}",
                      help=_("exactly right on {n} held-out problems").format(n=run.sample))
    csv_download(table, "chain_of_thought_small_run")


offline, online = st.tabs([_("Trained here (offline)"), _("Prompting a real model (online)")])
with offline:
    offline_part()
with online:
    from pages.cot_prompting_panel import draw_prompting

    draw_prompting()

"""Generation: watch the model write, one token at a time, and see each choice."""

import html

import pandas as pd
import streamlit as st

from explainer import generation, plots
from explainer.i18n import N_, _, labelled, lazy
from explainer.prediction import SamplingSettings
from explainer.tokenization import token_label
from pages.shared import active_model, cached_model, chart, layer_picker, literal, page_header

MAX_STEPS = 60
STRATEGIES = {"greedy": N_("Greedy (always the top token)"), "sample": N_("Sampling"), "beam": N_("Beam search")}


@st.cache_data(max_entries=32, show_spinner=lazy(N_("Generating…")))
def cached_generation(model_name: str, prompt: str, steps: int, strategy: str, settings: SamplingSettings,
                      seed: int, beams: int) -> generation.Generation:
    return generation.generate(cached_model(model_name), prompt, steps, strategy, settings, seed, beams)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_attention(model_name: str, ids: tuple[int, ...], prompt_length: int):
    return generation.attention_from_generated(cached_model(model_name), list(ids), prompt_length)


def _add_steps(count: int) -> None:
    st.session_state["generation_steps"] = min(MAX_STEPS, st.session_state.get("generation_steps", 0) + count)


def _reset() -> None:
    st.session_state["generation_steps"] = 0


page_header(_("Generation"), _("How does a model write a whole sentence, one token at a time?"))
model = active_model()
prompt = st.session_state.get("prompt", "")

left, right = st.columns([1, 1], gap="large")
with left:
    strategy = st.radio(_("Strategy"), list(STRATEGIES), format_func=labelled(STRATEGIES, lambda s: _(STRATEGIES[s])),
                        horizontal=True)
    settings = SamplingSettings()
    beams = 3
    if strategy == "sample":
        settings = SamplingSettings(
            temperature=st.slider(_("Temperature"), 0.1, 2.0, 0.8, 0.05),
            top_k=st.slider(_("Top-k (0 = off)"), 0, 100, 40),
            top_p=st.slider(_("Top-p (1 = off)"), 0.05, 1.0, 1.0, 0.05),
        )
        seed = st.number_input(_("Seed"), 0, 10_000, 42, help=_("The same seed gives the same text, for the whole class."))
    else:
        seed = 0
    if strategy == "beam":
        beams = st.slider(_("Beams"), 2, 8, 3, help=_("How many partial sentences are kept at every step."))
    count = st.number_input(_("Steps per run"), 1, MAX_STEPS, 10)
    step_column, run_column, reset_column = st.columns([1, 1.4, 1])
    step_column.button(_("Step"), on_click=_add_steps, args=(1,), type="primary", width="stretch")
    run_column.button(_("Run {n} steps").format(n=count), on_click=_add_steps, args=(int(count),), width="stretch")
    reset_column.button(_("Reset"), on_click=_reset, width="stretch")
with right:
    st.markdown(_(
        "At every step the model reads the whole text so far and gives a probability to every token of its "
        "vocabulary. **Greedy** takes the most likely one, **sampling** draws one at random from the reshaped "
        "distribution, and **beam search** keeps the few most likely *sentences* and extends each. "
        "Everything here runs through `model.generate`."
    ))

steps = st.session_state.get("generation_steps", 0)
if steps == 0:
    st.info(_("Press **Step** to generate the first token, or **Run** for several."), icon=":material/play_arrow:")
    st.stop()
if model.spec.kind != "causal":
    st.info(_("{model} is a masked model; generation needs a causal (GPT) model.").format(model=literal(model.spec.name)),
            icon=":material/info:")
    st.stop()
try:
    result = cached_generation(model.spec.name, prompt, steps, strategy, settings, int(seed), beams)
except ValueError as problem:
    st.info(str(problem), icon=":material/info:")
    st.stop()
if result.prompt_truncated:
    st.warning(_("The prompt was cut to its last {n} tokens to leave room for {steps} new ones.").format(
        n=len(result.prompt_ids), steps=steps))

st.subheader(_("The text so far"))
with st.container(border=True):  # the prompt and the model's words are shown as text, never as Markdown
    st.html(f"<div style='white-space:pre-wrap;font-size:1.05rem;line-height:1.6'>{html.escape(prompt.strip()[-400:])} "
            f"<b style='color:#c62828'>{html.escape(result.text)}</b></div>")
st.caption(_("{n} generated tokens in red. Strategy: {strategy}.").format(n=steps, strategy=_(STRATEGIES[strategy])))

table = pd.DataFrame(
    {
        "step": range(1, len(result.steps) + 1),
        "token": [s.chosen_token for s in result.steps],
        "id": result.generated_ids,
        "p_drawn_from": [s.chosen_probability for s in result.steps],
        "p_model": [s.model_probability for s in result.steps],
        "model_rank": [s.model_rank for s in result.steps],
    }
)
chart(
    plots.generated_probabilities(list(table["token"]), list(table["p_drawn_from"]), list(table["p_model"])),
    table,
    "generated_token_probabilities",
    _("The probability of each generated token"),
)

st.subheader(_("One step up close"))
chosen_step = st.slider(_("Step"), 1, len(result.steps), len(result.steps)) if len(result.steps) > 1 else 1
step = result.steps[chosen_step - 1]
picked_rank = step.top_ids.index(step.chosen_id) if step.chosen_id in step.top_ids else -1
st.caption(
    _("The distribution step {step} was drawn from; the picked token is red.").format(step=chosen_step) if picked_rank >= 0
    else _("The distribution step {step} was drawn from; the picked token is red (the picked token, {token}, is outside "
           "the top {n}).").format(step=chosen_step, token=literal(step.chosen_token), n=len(step.top_ids))
)
chart(
    plots.generation_step_bars(step.top_tokens, step.top_probabilities, picked_rank),
    pd.DataFrame({"rank": range(1, len(step.top_ids) + 1), "id": step.top_ids, "token": step.top_tokens,
                  "probability": step.top_probabilities}),
    f"generation_step_{chosen_step}",
    _("Step {step}: the distribution the token was drawn from").format(step=chosen_step),
)

st.subheader(_("Where the new tokens look"))
st.caption(_("Each row is a generated token; its colours show how much it attends to every earlier token "
             "(mean over the layer's heads). BertViz can't show tokens that are generated; this can."))
layer = layer_picker(model.model.config.num_hidden_layers)
weights = cached_attention(model.spec.name, tuple(result.all_ids), len(result.prompt_ids))[layer]  # (G, P+G)
labels = [token_label(model.tokenizer, i) for i in result.all_ids]
chart(
    plots.attention_rows(weights, labels[len(result.prompt_ids):], labels,
                         _("Layer {layer}, mean over heads").format(layer=layer)),
    pd.DataFrame(weights, index=labels[len(result.prompt_ids):], columns=labels).reset_index(names="generated token"),
    f"generated_attention_layer{layer}",
)

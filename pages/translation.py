"""Translation with an encoder–decoder: a number into Chinese numerals (or back), greedy and beam search, the
cross-attention over the source, the encoder's and decoder's self-attention, and the held-out BLEU."""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from explainer import plots, translation
from explainer.i18n import N_, _, labelled, lazy
from explainer.models import (
    EMBEDDED_TRANSLATOR,
    HUB_TRANSLATOR,
    REGISTRY,
    TRANSLATORS,
)
from pages.shared import LANGUAGE_KEY, cached_model, chart, head_picker, layer_picker, literal, model_problem, page_header

RESULTS = Path(__file__).resolve().parent.parent / "data" / "translation" / "results.json"
MODEL = "translation_model"  # session state: the model picker
DIRECTION = "translation_direction"  # session state: the direction picker
SOURCE = "translation_source"  # session state: the text box
EXAMPLES = {translation.TO_CHINESE: "30512", translation.TO_ARABIC: "三万零五百一十二"}
MAX_HUB_CHARACTERS = 200  # of an English sentence for the hub model
MAX_HUB_NEW_TOKENS = 160  # its translation's tokens at most
DECODINGS = {"greedy": N_("greedy"), "beam": N_("beam search, {beams} beams")}


@st.cache_data(max_entries=128, show_spinner=lazy(N_("Translating…")))
def cached_translation(name: str, source: str, num_beams: int, max_new_tokens: int) -> translation.Translation:
    loaded = cached_model(name, TRANSLATORS)
    return translation.translate(loaded.model, loaded.tokenizer, source, num_beams, max_new_tokens)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_beams(name: str, source: str, max_new_tokens: int) -> list[translation.Beam]:
    loaded = cached_model(name, TRANSLATORS)
    return translation.beams(loaded.model, loaded.tokenizer, source, translation.BEAMS, max_new_tokens)


def _set_example() -> None:
    st.session_state[SOURCE] = EXAMPLES.get(st.session_state.get(DIRECTION), "")


page_header(_("Translation: encoder and decoder"), _("How does an encoder–decoder translate?"))
st.markdown(_("A translation model has two halves. The **encoder** reads the whole source at once: each of its tokens "
              "may look at every other, before and after it. The **decoder** writes the translation one token at a "
              "time, like a GPT: it looks only back at what it has written so far, and, through **cross-attention**, "
              "at the encoder's output, to find the source tokens it is translating now."))

names = [EMBEDDED_TRANSLATOR, HUB_TRANSLATOR]
st.segmented_control(_("Translation model"), names, key=MODEL, default=EMBEDDED_TRANSLATOR, required=True,
                     format_func=labelled(names, lambda name: f"{name} — {_(REGISTRY[name].description)}"))
name = st.session_state.get(MODEL) or EMBEDDED_TRANSLATOR
problem = model_problem(name, st.session_state.get(LANGUAGE_KEY, "en"), TRANSLATORS)
if problem:
    st.error(_("{problem} Showing **{model}** instead.").format(problem=problem, model=EMBEDDED_TRANSLATOR),
             icon=":material/cloud_off:")
    name = EMBEDDED_TRANSLATOR
numbers = name == EMBEDDED_TRANSLATOR

if numbers:
    directions = list(translation.DIRECTIONS)
    direction = st.segmented_control(_("Direction"), directions, key=DIRECTION, default=directions[0],
                                       required=True, on_change=_set_example,
                                       format_func=labelled(directions, lambda d: _(translation.DIRECTIONS[d])))
    direction = direction or directions[0]
    st.session_state.setdefault(SOURCE, EXAMPLES[direction])
    box, _right = st.columns([2, 3])
    box.text_input(_("A number to translate"), key=SOURCE, max_chars=translation.MAX_SOURCE_CHARACTERS,
                   help=_("Whole numbers of up to {digits} digits, the kind the model was trained on.").format(
                       digits=translation.MAX_DIGITS))
    try:
        text = translation.check_source(st.session_state.get(SOURCE), direction)
    except ValueError as hint:
        st.warning(str(hint), icon=":material/edit:")
        st.stop()
    source = direction + text
    right = translation.reference(text, direction)
else:
    st.session_state.setdefault(SOURCE, "How are you?")
    text = st.text_input(_("An English sentence to translate"), key=SOURCE, max_chars=MAX_HUB_CHARACTERS).strip()
    if not text:
        st.warning(_("Type a sentence to translate."), icon=":material/edit:")
        st.stop()
    source, right = text, None

longest = translation.MAX_NEW_TOKENS if numbers else MAX_HUB_NEW_TOKENS
greedy = cached_translation(name, source, 1, longest)
found = cached_beams(name, source, longest)
st.subheader(_("The translations"))
first, second = st.columns(2)
with first:
    st.markdown(_("**Greedy**: at every step, the single most likely next token."))
    st.code(greedy.text or " ", language=None)
with second:
    st.markdown(_("**Beam search** with {beams} beams: keeps the {beams} most likely partial outputs at every step, "
                  "and returns the finished one with the best score.").format(beams=translation.BEAMS))
    st.code(found[0].text or " ", language=None)
if right is not None:
    verdicts = {True: _("right"), False: _("wrong")}
    st.caption(_("The right answer (by cn2an): {answer}. Greedy is {greedy}; beam search is {beam}.").format(
        answer=literal(right), greedy=verdicts[greedy.text == right], beam=verdicts[found[0].text == right]))
elif numbers:
    st.caption(_("cn2an does not read this as a well-formed number in Chinese numerals, so there is no right answer "
                 "to compare with; the model answers anyway."))

beam_table = pd.DataFrame({"rank": range(1, len(found) + 1), "output": [b.text for b in found],
                           "score": [b.score for b in found], "probability": [b.probability for b in found]})
figure_box, numbers_box = st.columns(2)
with figure_box:
    chart(plots.beam_probability_bars([b.text for b in found], [b.probability for b in found]), beam_table,
          "translation_beams", _("The {beams} finished beams").format(beams=translation.BEAMS),
          source=plots.source_line(name, source))
with numbers_box:
    st.caption(_("A beam's probability is the product of its tokens' probabilities. Beam search ranks by the score: "
                 "the sum of the log-probabilities divided by the length (so long outputs are not unfairly "
                 "penalised)."))
    st.dataframe(beam_table, hide_index=True, column_config={
        "rank": st.column_config.NumberColumn(_("rank")),
        "output": _("output"),
        "score": st.column_config.NumberColumn(_("score"), format="%.4f"),
        "probability": st.column_config.NumberColumn(_("probability"), format="%.4f"),
    })

st.subheader(_("Where the decoder looks"))
decodings = list(DECODINGS)
pick_decoding, pick_layer, pick_head = st.columns(3)
decoding = pick_decoding.selectbox(_("Output"), decodings, key="translation_decoding", format_func=labelled(
    decodings, lambda d: _(DECODINGS[d]).format(beams=translation.BEAMS)))
shown = greedy if decoding == "greedy" else cached_translation(name, source, translation.BEAMS, longest)
layers = min(len(shown.encoder_attention), len(shown.cross_attention))
if st.session_state.get("translation_layer") not in range(layers):  # start at the last layer: the clearest
    st.session_state["translation_layer"] = layers - 1
layer = layer_picker(layers, pick_layer, key="translation_layer")
head = head_picker(shown.cross_attention.shape[1], pick_head, key="translation_head", with_mean=True)


def of_head(attention):
    """One layer's (H, R, C) weights as (R, C): the chosen head's, or the mean of the heads."""
    weights = attention[layer]
    return (weights.mean(0) if head is None else weights[head]).numpy()


which = _("mean of the heads") if head is None else _("head {h}").format(h=head)
cross = of_head(shown.cross_attention)  # (T, S)
chart(plots.cross_attention_heatmap(cross, shown.output_tokens, shown.source_tokens,
                                    _("Cross-attention, layer {layer}, {which}").format(layer=layer, which=which)),
      pd.DataFrame(cross, index=shown.output_tokens, columns=shown.source_tokens).reset_index(names="output_token"),
      "translation_cross_attention", source=plots.source_line(name, source))
st.caption(_("Row t is the decoder while it writes output token t: the weights with which it reads each source token "
             "(each row sums to 1). For numbers, a good model reads the digit it is writing and the place (万, 亿) it "
             "stands in."))

self_attentions = [  # (weights of one head or their mean, the tokens, causal, title, file name)
    (of_head(shown.encoder_attention), shown.source_tokens, False, _("Encoder self-attention (both ways)"),  # (S, S)
     "translation_encoder_attention"),
    (of_head(shown.decoder_attention), shown.decoder_inputs, True, _("Decoder self-attention (causal)"),  # (T, T)
     "translation_decoder_attention"),
]
for column, (weights, tokens, causal, title, file_name) in zip(st.columns(2), self_attentions):
    with column:
        chart(plots.narrow_attention_heatmap(weights, tokens, causal, title),
              pd.DataFrame(weights, index=tokens, columns=tokens).reset_index(names="query"),
              file_name, source=plots.source_line(name, source))
st.caption(_("Left, the encoder: every source token may look at every other, before or after it. Right, the decoder: "
             "it reads the start token <pad> and then its own output so far, and each token may look only back; the "
             "grey cells above the diagonal are the future it cannot see (their weight is 0)."))

st.subheader(_("How well does it translate numbers it never saw?"))
results = json.loads(RESULTS.read_text())
rows = []
for direction_tag, key in translation.RESULT_KEYS.items():
    direction_name = _(translation.DIRECTIONS[direction_tag])
    for way in ("greedy", "beam"):
        figures = results[key][way]
        rows.append({"direction": direction_name, "decoding": _(DECODINGS[way]).format(beams=results["beams"]),
                     "bleu": figures["bleu"], "exact_match": figures["exact_match"] * 100})
held_out = pd.DataFrame(rows)
st.dataframe(held_out, hide_index=True, column_config={
    "direction": _("direction"),
    "decoding": _("decoding"),
    "bleu": st.column_config.NumberColumn(_("BLEU (0–100)"), format="%.1f"),
    "exact_match": st.column_config.NumberColumn(_("exact match"), format="%.1f%%"),
})
st.caption(_("On {n} held-out numbers, each in both directions, that the model never saw while it learned. BLEU is "
             "sacrebleu's corpus BLEU (0–100) over the whole set, counting matching runs of 1 to 4 characters "
             "(tokenize=\"char\"); exact match is the share of outputs that are exactly right. Model: {parameters:,} "
             "parameters, {megabytes:.1f} MB, trained for {minutes:.1f} minutes on one CPU thread.").format(
                 n=results["held_out_numbers"], parameters=results["parameters"], megabytes=results["bytes"] / 2**20,
                 minutes=results["training_seconds"] / 60))

with st.expander(_("Encoder, decoder, cross-attention: what is the difference?")):
    st.markdown(_("- The **encoder** turns the source into one vector per token. Its self-attention is "
                  "*bidirectional*: the whole source is known, so every token may use every other.\n"
                  "- The **decoder** is a GPT that writes the output. Its self-attention is *causal*: while it writes "
                  "token t, tokens after t do not exist yet.\n"
                  "- **Cross-attention** joins the two: in every decoder layer, the decoder's tokens ask questions "
                  "(queries) and the encoder's vectors answer (keys and values). Its weights show which source tokens "
                  "each output token was made from.\n"
                  "- GPT is a decoder alone, BERT an encoder alone; the original Transformer (2017) and translation "
                  "models such as MarianMT are both."))

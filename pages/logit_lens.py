"""Logit lens: what the model would predict if it stopped after each layer."""

import streamlit as st

from explainer import logit_lens, plots
from explainer.i18n import N_, _, lazy
from pages.shared import cached_analysis, cached_model, chart, literal, page_analysis, page_header, token_window

WINDOW = 40  # positions shown at a time: each cell has to hold a token


@st.cache_data(max_entries=32, show_spinner=lazy(N_("Reading out every layer…")))
def cached_lens(model_name: str, text: str) -> logit_lens.LogitLens | None:
    """The logit lens of ``text`` under ``model_name``, computed once per (model, text)."""
    return logit_lens.logit_lens(cached_model(model_name), cached_analysis(model_name, text))


def row_name(index: int) -> str:
    """The lens's row ``index`` as shown: the embeddings, then after layer 0, 1, … (``lens.row_names`` in English)."""
    return _("embeddings") if index == 0 else _("after layer {i}").format(i=index - 1)


page_header(_("Logit lens"), _("If the model stopped after layer 0, 1, 2…, what would it predict?"))
analysis = page_analysis()
lens = cached_lens(analysis.model_name, st.session_state.get("prompt", ""))
if lens is None:
    st.info(_("The logit lens here knows GPT-2, BERT and Llama-style models; {model} is none of these.").format(
        model=literal(analysis.model_name)))
    st.stop()
causal = analysis.kind == "causal"
tokens = analysis.tokens.display
shown_rows = {name: row_name(index) for index, name in enumerate(lens.row_names)}

formula, explanation = st.columns([2, 3])
with formula:
    if causal:
        st.latex(r"p_\ell(t) = \mathrm{softmax}\big(W_U\,\mathrm{LN}_f(h_\ell(t))\big)")
    else:
        st.latex(r"p_\ell(t) = \mathrm{softmax}\big(\mathrm{MLMHead}(h_\ell(t))\big)")
with explanation:
    st.markdown(_(
        "Every token carries a vector through the model (the *residual stream*, h); each layer adds to it. "
        "The **logit lens** sends the vector after each layer straight to the model's output head, skipping "
        "the layers still to come: what would the model say if it stopped there? "
        "Each cell shows that **top guess**; its colour is how sure that layer is of it (its probability). "
        "Hover a cell to see the probability the layer gives the model's **final** prediction too."
    ))
    st.caption(
        _("Row t guesses the token that comes after token t; the last column is the model's own output. "
          "The head is the final norm LN_f, then the output matrix W_U; in Hugging Face's outputs the last "
          "hidden state is already normalised, so it only goes through W_U.")
        if causal else
        _("Masked model: row t guesses the token at position t itself, seen in the whole text (at a [MASK], "
          "the hidden word). BERT has no final norm outside its layers: the lens is its masked-LM head "
          "(dense layer, LayerNorm, output layer), which is also how the last column is made.")
    )

begin, end = token_window(len(tokens), WINDOW, unit="positions", start_at_end=True)
table = logit_lens.lens_table(lens, tokens)
chart(
    plots.logit_lens_heatmap(lens.final_probabilities[:, begin:end], [row[begin:end] for row in lens.top_tokens],
                             lens.top_probabilities[:, begin:end], lens.final_tokens[begin:end], tokens[begin:end],
                             list(shown_rows.values()), offset=begin),
    table,
    "logit_lens",
    _("The logit lens: what each layer would predict"),
)
st.caption(_("Hover a cell for its top guess and both probabilities. Read a row from left to right to watch a "
             "guess form; the early layers often just echo the input token."))

st.subheader(_("One position up close"))
position = st.columns([1, 2])[0].selectbox(_("Position"), range(len(tokens)), index=analysis.prediction_position,
                                          format_func=lambda t: f"{t}: {tokens[t]}")
final = lens.final_tokens[position]
st.markdown(_("The model's final prediction at position {position} ({token}) is {final}. Layer by layer:").format(
    position=position, token=literal(tokens[position]), final=literal(final)))
rows = table[table["position"] == position][["layer", "top_token", "p_top", "p_final"]]
st.dataframe(
    rows.assign(layer=rows["layer"].map(shown_rows)),
    hide_index=True,
    column_config={
        "layer": _("layer"),
        "top_token": st.column_config.TextColumn(_("top guess")),
        "p_top": st.column_config.ProgressColumn(_("p(top guess)"), format="%.4f", min_value=0, max_value=1),
        "p_final": st.column_config.ProgressColumn(_("p(final: {token})").format(token=final), format="%.4f",
                                                   min_value=0, max_value=1),
    },
)

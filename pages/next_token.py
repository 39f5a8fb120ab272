"""Next token: the probability distribution after your text, and how sampling reshapes it."""

import streamlit as st

from explainer import plots, prediction
from explainer.i18n import _
from pages.shared import cached_model, chart, literal, page_analysis, page_header

page_header(_("3 · Next token"), _("What does the model think comes next, and how sure is it?"))
analysis = page_analysis()
tokenizer = cached_model(analysis.model_name).tokenizer

if analysis.kind == "masked":
    shown = analysis.tokens.display[analysis.prediction_position]
    st.info(_(
        "{model} is a masked model: it does not predict the next token but fills in a hidden one. "
        "Shown: its guesses for position {position} ({token}), hidden. Type [MASK] in your text to choose the position."
    ).format(model=literal(analysis.model_name), position=analysis.prediction_position, token=literal(shown)))
else:
    st.markdown(_("After **{n} tokens**, ending in {token}, the model's guesses:").format(
        n=len(analysis.tokens), token=literal(analysis.tokens.display[-1])))

left, right = st.columns([3, 2])
with right:
    st.latex(r"p_i=\frac{e^{z_i/T}}{\sum_j e^{z_j/T}}")
    st.caption(_("zᵢ is the logit (score) of token i and T the temperature. Top-k keeps the k best tokens; "
                 "top-p keeps the fewest whose probabilities add up to p. The rest get probability 0."))
    temperature = st.slider(_("Temperature T"), 0.1, 2.0, 1.0, 0.05, help=_("Below 1 sharpens, above 1 flattens."))
    top_k = st.slider(_("Top-k (0 = off)"), 0, 100, 0)
    top_p = st.slider(_("Top-p (1 = off)"), 0.05, 1.0, 1.0, 0.05)
    rows = st.slider(_("Tokens shown"), 5, 40, 15)
settings = prediction.SamplingSettings(temperature=temperature, top_k=top_k, top_p=top_p)
reshaped = settings != prediction.SamplingSettings()
table = prediction.distribution_table(analysis, tokenizer, settings, rows=rows)
with left:
    chart(plots.distribution_bars(table, reshaped), table, "next_token_distribution",
          _("The next token: the model's probabilities"))

st.dataframe(
    table,
    hide_index=True,
    column_config={
        "rank": st.column_config.NumberColumn(_("rank")),
        "id": st.column_config.NumberColumn(_("id")),
        "token": _("token"),
        "logit": st.column_config.NumberColumn(_("logit"), format="%.3f"),
        "scaled_logit": st.column_config.NumberColumn(_("logit / T"), format="%.3f"),
        "probability": st.column_config.ProgressColumn(_("p (softmax)"), format="%.4f", min_value=0, max_value=1),
        "sampling_probability": st.column_config.ProgressColumn(_("p (sampling)"), format="%.4f", min_value=0, max_value=1),
        "cumulative_probability": st.column_config.NumberColumn(_("cumulative p"), format="%.4f"),
    },
)

st.subheader(_("Walk the sentence forward"))


def _append(token_id: int) -> None:
    addition = prediction.continuation_text(tokenizer, token_id)
    if addition is None:
        st.session_state["append_problem"] = True
    else:
        st.session_state["prompt"] = st.session_state["prompt"] + addition


def _append_sampled(seed: int) -> None:
    _append(prediction.sample(prediction.reshape(analysis.next_token_logits, settings), seed))


if analysis.kind == "causal":
    pick, add, seed_box, roll = st.columns([3, 1, 1, 2], vertical_alignment="bottom")
    choice = pick.selectbox(_("Token to append"), list(table["id"]), format_func=lambda i: table.set_index("id").loc[i, "token"])
    add.button(_("Append"), on_click=_append, args=(int(choice),), type="primary", width="stretch")
    seed = seed_box.number_input(_("Random seed"), 0, 10_000, 0,
                                 help=_("The same seed and settings always draw the same token."))
    roll.button(_("Sample one with these settings"), on_click=_append_sampled, args=(int(seed),), width="stretch")
    if st.session_state.pop("append_problem", None):
        st.warning(_("That token is only part of a character (or a special token), so it can't be added as text."))
    st.caption(
        _("Appending changes the text in the sidebar, so every page follows. Sampling draws from the red bars: "
          "the distribution after temperature, top-k and top-p.") if reshaped else
        _("Appending changes the text in the sidebar, so every page follows. Sampling draws from the softmax above.")
    )
else:
    st.caption(_("Walking forward needs a causal model such as tiny-gpt-austen."))
